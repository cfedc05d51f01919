import Foundation
import ZooCore
import ZooNN
import ZooTensor

/// Zoo layers from Keras layer configs, every dialect's option names read (Keras 1's `nb_filter`, `border_mode`,
/// `subsample`, `output_dim`, `p` beside Keras 2 and 3's), in channels-last layout.
enum KerasLayerFactory {
    enum Built {
        case single(Layer)
        case merge(Merge)

        var layer: Layer {
            switch self {
            case .single(let layer): layer
            case .merge(let merge): merge
            }
        }
    }

    static let supported: Set<String> = [
        "InputLayer", "Conv2D", "Convolution2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "BatchNormalization",
        "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling2D", "Flatten", "Dropout", "Add", "Concatenate", "ZeroPadding2D", "Subtract", "Multiply", "Average",
        "Maximum", "Minimum", "Reshape", "Permute", "Cropping2D", "UpSampling2D", "Resizing", "Rescaling", "Normalization",
        "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Merge", "PReLU", "LayerNormalization", "Conv2DTranspose",
        "Deconvolution2D", "ActivityRegularization", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
        "RandomContrast", "RandomBrightness", "RandomCrop", "LayerScale", "CustomScaleLayer", "TrueDivide",
    ]

    /// Keras 1 Merge modes and the merge each is.
    static let mergeModes: [String: Merge.Operation] = [
        "sum": .add, "concat": .concatenate, "mul": .combination(.multiply), "ave": .combination(.average), "max": .combination(.maximum),
    ]

    /// Why `layer` cannot be built ("" when only its class is unknown), or nil when it can.
    static func unsupportedReason(_ layer: KerasLayerConfig) -> String? {
        guard supported.contains(layer.className) else {
            return layer.className == "Lambda" ? "its code is Python, which Zoo never runs" : ""
        }
        let o = layer.options
        if o["activation"] != nil, !(o["activation"] is NSNull), activationOption(o, dialect: .keras3) == nil {
            return "activation \(activationName(o) ?? "\(o["activation"]!)")"
        }
        switch layer.className {
        case "Normalization":
            if o["invert"] as? Bool == true { return "invert" }
        case "LayerNormalization":
            if o["center"] as? Bool == false || o["scale"] as? Bool == false || o["rms_scaling"] as? Bool == true {
                return "without center or scale, or with RMS scaling"
            }
        case "Conv2DTranspose", "Deconvolution2D":
            if let padding = o["output_padding"] as? [Any], padding.contains(where: { !($0 is NSNull) }) { return "output_padding" }
            if let dilation = pair(o["dilation_rate"]), dilation != [1, 1] { return "dilation \(dilation)" }
        case "TrueDivide":
            if o[KerasLayerConfig.constantsKey] == nil { return "a division of tensors" }
        case "Merge":
            if let mode = o["mode"] as? String, mergeModes[mode] == nil { return "mode \(mode)" }
            if o["mode"] is [String: Any] { return "its mode is Python code" }
        case "UpSampling2D", "Resizing":
            if let method = o["interpolation"] as? String, ResizeMethod(rawValue: method) == nil { return "\(method) interpolation" }
            if o["crop_to_aspect_ratio"] as? Bool == true || o["pad_to_aspect_ratio"] as? Bool == true { return "cropping or padding to the aspect ratio" }
            if o["antialias"] as? Bool == true { return "antialiasing" }
        case "Conv2D", "Convolution2D", "DepthwiseConv2D", "SeparableConv2D":
            if let strides = pair(o["strides"] ?? o["subsample"]), strides != [1, 1], let dilation = pair(o["dilation_rate"]), dilation != [1, 1] {
                return "both strides \(strides) and dilation \(dilation)"
            }
        default: break
        }
        for (key, value) in o.sorted(by: { $0.key < $1.key }) where key.hasSuffix("regularizer") && key != "activity_regularizer" {
            if case .some(nil) = regularizer(value) { return "\(key) \(value)" }
        }
        return nil
    }

    /// The option naming each weight's regularizer, by the weight's name (Keras 1's W_ and b_ besides).
    static let regularizerOptions: [String: [String]] = [
        "kernel": ["kernel_regularizer", "W_regularizer"], "bias": ["bias_regularizer", "b_regularizer"],
        "depthwise_kernel": ["depthwise_regularizer"], "pointwise_kernel": ["pointwise_regularizer"],
        "gamma": ["gamma_regularizer"], "beta": ["beta_regularizer"], "alpha": ["alpha_regularizer"],
    ]

    /// A regularizer option: nil for none, .some(nil) for one Zoo cannot read (a custom class). Keras 2 and 3 write
    /// `{"class_name": "L2", "config": {"l2": …}}` (or L1, L1L2, or a bare name with Keras's default 0.01), Keras 1
    /// `{"name": "WeightRegularizer", "l1": …, "l2": …}`.
    static func regularizer(_ value: Any?) -> (l1: Float, l2: Float)?? {
        if value == nil || value is NSNull { return nil }
        if let name = value as? String {
            switch name.lowercased() {
            case "l1": return .some((0.01, 0))
            case "l2": return .some((0, 0.01))
            case "l1_l2", "l1l2": return .some((0.01, 0.01))
            default: return .some(nil)
            }
        }
        guard let object = value as? [String: Any] else { return .some(nil) }
        let kind = (object["class_name"] ?? object["name"]) as? String ?? ""
        guard ["L1", "L2", "L1L2", "l1", "l2", "l1_l2", "WeightRegularizer", "L1L2Regularizer"].contains(kind) else { return .some(nil) }
        let parameters = object["config"] as? [String: Any] ?? object
        return .some((Float(number(parameters["l1"]) ?? 0), Float(number(parameters["l2"]) ?? 0)))
    }

    /// The layer for `config` (see `build`), its weights given the config's regularizers.
    static func make(_ config: KerasLayerConfig, dialect: KerasModelConfig.Dialect, channelsFirst: Bool, inputShapes: [[Int]],
                     generator: inout SeededGenerator) throws -> Built {
        let built = try build(config, dialect: dialect, channelsFirst: channelsFirst, inputShapes: inputShapes, generator: &generator)
        for weight in built.layer.weights {
            for key in regularizerOptions[weight.name] ?? [] {
                if case let .some(.some(r)) = regularizer(config.options[key]), r.l1 != 0 || r.l2 != 0 { weight.regularizer = r }
            }
        }
        return built
    }

    /// The layer for `config`, sized for what reaches it (shapes without the batch axis, channels last). In a
    /// channels-first model, axes name NCHW positions, and Flatten reorders to Keras's element order.
    static func build(_ config: KerasLayerConfig, dialect: KerasModelConfig.Dialect, channelsFirst: Bool, inputShapes: [[Int]],
                      generator: inout SeededGenerator) throws -> Built {
        let o = config.options, name = config.name, shape = inputShapes.first ?? []
        let concatenating = config.className == "Concatenate" || (config.className == "Merge" && o["mode"] as? String == "concat")
        if ["BatchNormalization", "Softmax", "Normalization", "LayerNormalization"].contains(config.className) || concatenating,
           let axis = axis(o) ?? o["concat_axis"] as? Int {
            // The channel axis of what reaches the layer, counted with the batch axis as Keras counts.
            let rank = shape.count + 1, channel = channelsFirst && rank == 4 ? 1 : rank - 1
            guard axis == channel || axis == channel - rank else {
                throw KerasConfigError("\(name) (\(config.className)): axis \(axis) of a \(rank)-D \(channelsFirst ? "channels-first " : "")input "
                    + "is not its channel axis; Zoo applies it to channels only")
            }
        }
        if channelsFirst && shape.count == 3 && ["Reshape", "Permute", "PReLU", "Dense", "LayerScale"].contains(config.className) {
            throw KerasConfigError("\(name) (\(config.className)): Zoo reshapes channels-first feature maps only through Flatten")
        }
        let layerActivation = activationOption(o, dialect: dialect) ?? nil
        if let constants = o[KerasLayerConfig.constantsKey] as? [[Double]] {
            return .single(try constantArithmetic(config, constants, inputs: inputShapes.count))
        }
        switch config.className {
        case "Conv2D", "Convolution2D", "DepthwiseConv2D", "SeparableConv2D":
            guard shape.count == 3 else { throw KerasConfigError("\(name) needs a feature map, gets \(shape)") }
            let kernel = pair(o["kernel_size"]) ?? [o["nb_row"] as? Int ?? 1, o["nb_col"] as? Int ?? 1]
            let strides = pair(o["strides"] ?? o["subsample"]) ?? [1, 1], dilation = pair(o["dilation_rate"]) ?? [1, 1]
            let useBias = o["use_bias"] as? Bool ?? o["bias"] as? Bool ?? true
            let multiplier = o["depth_multiplier"] as? Int ?? 1, filters = o["filters"] as? Int ?? o["nb_filter"] as? Int ?? 0
            switch config.className {
            case "DepthwiseConv2D":
                return .single(Conv2D(depthwise: name, channels: shape[2], multiplier: multiplier, kernelSize: (kernel[0], kernel[1]),
                                      strides: (strides[0], strides[1]), padding: padding(o), dilation: (dilation[0], dilation[1]),
                                      useBias: useBias, activation: layerActivation, generator: &generator))
            case "SeparableConv2D":
                return .single(SeparableConv2D(name, inputChannels: shape[2], filters: filters, kernelSize: (kernel[0], kernel[1]),
                                               multiplier: multiplier, strides: (strides[0], strides[1]), padding: padding(o),
                                               dilation: (dilation[0], dilation[1]), useBias: useBias, activation: layerActivation,
                                               generator: &generator))
            default:
                return .single(Conv2D(name, inputChannels: shape[2], filters: filters, kernelSize: (kernel[0], kernel[1]),
                                      strides: (strides[0], strides[1]), padding: padding(o), dilation: (dilation[0], dilation[1]),
                                      groups: o["groups"] as? Int ?? 1, useBias: useBias, activation: layerActivation, generator: &generator))
            }
        case "Dense":
            guard !shape.isEmpty else { throw KerasConfigError("\(name) (Dense) on a scalar input") }
            return .single(Dense(name, inputs: shape[shape.count - 1], units: o["units"] as? Int ?? o["output_dim"] as? Int ?? 0,
                                 useBias: o["use_bias"] as? Bool ?? o["bias"] as? Bool ?? true,
                                 activation: layerActivation, generator: &generator))
        case "BatchNormalization":
            return .single(BatchNormalization(name, channels: shape.last ?? 0, epsilon: Float(number(o["epsilon"]) ?? 1e-3),
                                              momentum: Float(number(o["momentum"]) ?? 0.99),
                                              center: o["center"] as? Bool ?? true, scale: o["scale"] as? Bool ?? true))
        case "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax":
            switch config.className == "Activation" ? layerActivation : try layerForm(config) {
            case .softmax: return .single(Layers.softmax(name))
            case .function(let kind):
                return .single(Lambda(name, kind: config.className, computation: .activation(kind)) { x, _ in try ZooTensor.activation(kind, x) })
            case nil: return .single(Lambda(name, kind: "Activation", computation: .identity) { x, _ in x })
            }
        case "MaxPooling2D", "AveragePooling2D":
            let size = pair(o["pool_size"]) ?? [2, 2], strides = pair(o["strides"]) ?? size
            let make = config.className == "MaxPooling2D" ? Layers.maxPooling : Layers.averagePooling
            return .single(make(name, (size[0], size[1]), (strides[0], strides[1]), padding(o)))
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            let keep = o["keepdims"] as? Bool == true
            return .single(config.className == "GlobalMaxPooling2D" ? Layers.globalMaxPooling(name, keepDimensions: keep)
                : Layers.globalAveragePooling(name, keepDimensions: keep))
        case "Flatten":
            // Keras flattens an NCHW map in C, H, W order unless the layer says channels_first (it then moves the
            // channels last first, as Zoo holds them).
            guard channelsFirst, shape.count == 3, config.dataFormat != .channelsFirst else { return .single(Layers.flatten(name)) }
            return .single(Lambda(name, kind: "Flatten", computation: .flattenChannelsFirst) { x, _ in try flatten(permute(x, [3, 1, 2])) })
        case "Dropout": return .single(Dropout(name, rate: Float(number(o["rate"] ?? o["p"]) ?? 0.5)))
        case "Merge": return .merge(Merge(name, mergeModes[o["mode"] as? String ?? "sum"]!))
        case "ActivityRegularization":
            return .single(ActivityRegularization(name, l1: Float(number(o["l1"]) ?? 0), l2: Float(number(o["l2"]) ?? 0)))
        case "PReLU":
            var alpha = shape
            for axis in (o["shared_axes"] as? [Int] ?? []) where axis >= 1 && axis <= alpha.count { alpha[axis - 1] = 1 }
            return .single(PReLU(name, alphaShape: alpha))
        case "LayerNormalization":
            return .single(LayerNormalization(name, channels: shape.last ?? 0, epsilon: Float(number(o["epsilon"]) ?? 1e-3)))
        case "Conv2DTranspose", "Deconvolution2D":
            guard shape.count == 3 else { throw KerasConfigError("\(name) needs a feature map, gets \(shape)") }
            let kernel = pair(o["kernel_size"]) ?? [o["nb_row"] as? Int ?? 1, o["nb_col"] as? Int ?? 1]
            let strides = pair(o["strides"] ?? o["subsample"]) ?? [1, 1]
            return .single(Conv2DTranspose(name, inputChannels: shape[2], filters: o["filters"] as? Int ?? o["nb_filter"] as? Int ?? 0,
                                           kernelSize: (kernel[0], kernel[1]), strides: (strides[0], strides[1]), padding: padding(o),
                                           useBias: o["use_bias"] as? Bool ?? o["bias"] as? Bool ?? true, activation: layerActivation,
                                           generator: &generator))
        case "Add": return .merge(Merge(name, .add))
        case "Concatenate": return .merge(Merge(name, .concatenate))
        case "Subtract", "Multiply", "Average", "Maximum", "Minimum":
            return .merge(Merge(name, .combination(ElementwiseCombination(rawValue: config.className.lowercased())!)))
        case "Reshape":
            guard let target = (o["target_shape"] ?? o["dims"]) as? [Int] else { throw KerasConfigError("\(name): Reshape without a target_shape") }
            return .single(Lambda(name, kind: "Reshape", computation: target.count == 1 ? .flatten : .reshape(target)) { x, _ in
                try reshape(x, [x.shape[0]] + target)
            })
        case "Permute":
            guard let order = o["dims"] as? [Int] else { throw KerasConfigError("\(name): Permute without dims") }
            return .single(Lambda(name, kind: "Permute", computation: .permute(order)) { x, _ in try permute(x, order) })
        case "Cropping2D":
            let (top, bottom, left, right) = try paddings(o["cropping"], layer: name)
            return .single(Lambda(name, kind: "Cropping2D", computation: .cropping(top: top, bottom: bottom, left: left, right: right)) { x, _ in
                try crop2d(x, top: top, bottom: bottom, left: left, right: right)
            })
        case "UpSampling2D", "Resizing":
            guard shape.count == 3 else { throw KerasConfigError("\(name) needs a feature map, gets \(shape)") }
            let method = ResizeMethod(rawValue: o["interpolation"] as? String ?? (config.className == "Resizing" ? "bilinear" : "nearest"))!
            let factor = pair(o["size"]) ?? [2, 2]
            let size = config.className == "Resizing" ? (o["height"] as? Int ?? 0, o["width"] as? Int ?? 0) : (shape[0] * factor[0], shape[1] * factor[1])
            return .single(Lambda(name, kind: config.className, computation: .resizing(height: size.0, width: size.1, method: method)) { x, _ in
                try resize2d(x, to: size, method: method)
            })
        case "Rescaling":
            return .single(ChannelAffine(rescaling: name, scale: numbers(o["scale"]) ?? [1], offset: numbers(o["offset"]) ?? [0]))
        case "Normalization":
            if let mean = numbers(o["mean"]), let variance = numbers(o["variance"]) {
                // Statistics given in the config rather than adapted: constants.
                let scale = variance.map { 1 / max($0.squareRoot(), 1e-7) }
                return .single(ChannelAffine(rescaling: name, scale: scale, offset: zip(mean, scale).map { -$0 * $1 }))
            }
            return .single(ChannelAffine(normalization: name, channels: shape.last ?? 0))
        case "SpatialDropout2D": return .single(TrainingNoise(name, .spatialDropout(rate: Float(number(o["rate"]) ?? 0.5))))
        case "GaussianNoise": return .single(TrainingNoise(name, .gaussianNoise(standardDeviation: Float(number(o["stddev"]) ?? 0))))
        case "GaussianDropout": return .single(TrainingNoise(name, .gaussianDropout(rate: Float(number(o["rate"]) ?? 0))))
        case "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness", "RandomCrop":
            return .single(try randomImageLayer(config))
        case "LayerScale":
            return .single(LayerScale(name, channels: shape.last ?? 0, initialValue: Float(number(o["init_values"]) ?? 1e-6)))
        case "CustomScaleLayer":
            return .merge(Merge(name, .scaledSum(Float(number(o["scale"]) ?? 1))))
        case "ZeroPadding2D":
            let (top, bottom, left, right) = try paddings(o["padding"], layer: name)
            return .single(Layers.zeroPadding(name, top: top, bottom: bottom, left: left, right: right))
        default:
            throw KerasConfigError("\(name): Zoo cannot build a \(config.className)")
        }
    }

    /// A Keras 3 arithmetic op with a number beside its one tensor (`x + 3.0`, `x * (1 / 6)`, `1 - x`, `x / 255`),
    /// as a channel affine map.
    static func constantArithmetic(_ config: KerasLayerConfig, _ constants: [[Double]], inputs: Int) throws -> Layer {
        func fail(_ message: String) -> KerasConfigError { KerasConfigError("\(config.name) (\(config.className)): \(message)") }
        guard constants.count == 1, constants[0].count == 2, inputs == 1, constants[0][1].isFinite else {
            throw fail("Zoo builds arithmetic of one tensor and one number")
        }
        let (first, c) = (constants[0][0] == 0, Float(constants[0][1]))
        let (scale, offset): (Float, Float)
        switch config.className {
        case "Add": (scale, offset) = (1, c)
        case "Subtract": (scale, offset) = first ? (-1, c) : (1, -c)
        case "Multiply": (scale, offset) = (c, 0)
        case "TrueDivide" where !first && c != 0: (scale, offset) = (1 / c, 0)
        default: throw fail("Zoo builds +, −, × and division by a number")
        }
        return ChannelAffine(rescaling: config.name, scale: [scale], offset: [offset])
    }

    /// Keras's augmentation layers with their options (factors as a number or a [lower, upper] pair, fill mode,
    /// interpolation, value range).
    static func randomImageLayer(_ config: KerasLayerConfig) throws -> RandomImageLayer {
        let o = config.options
        func fail(_ message: String) -> KerasConfigError { KerasConfigError("\(config.name) (\(config.className)): \(message)") }
        /// A factor: one number f for -f…f (or 1-f…1+f with `around`), or a [lower, upper] pair.
        func range(_ key: String, around: Bool = false) throws -> ClosedRange<Float>? {
            guard let value = o[key], !(value is NSNull) else { return nil }
            let bounds: (Float, Float)
            if let single = number(value) {
                bounds = around ? (Float(1 - single), Float(1 + single)) : (Float(-single), Float(single))
            } else if let pair = numbers(value), pair.count == 2 {
                bounds = around ? (1 - pair[0], 1 + pair[1]) : (pair[0], pair[1])
            } else {
                throw fail("cannot read its \(key) \(value)")
            }
            guard bounds.0.isFinite, bounds.1.isFinite, bounds.0 <= bounds.1, abs(bounds.0) <= 1e3, abs(bounds.1) <= 1e3 else {
                throw fail("its \(key) \(value) is not a range of moderate numbers")
            }
            return bounds.0...bounds.1
        }
        let values = numbers(o["value_range"]) ?? [0, 255]
        guard values.count == 2, values[0] < values[1] else { throw fail("its value_range must be two increasing numbers") }
        let valueRange = values[0]...values[1]
        let fill: TransformFill
        switch o["fill_mode"] as? String ?? "reflect" {
        case "reflect": fill = .reflect
        case "wrap": fill = .wrap
        case "nearest": fill = .nearest
        case "constant": fill = .constant(Float(number(o["fill_value"]) ?? 0))
        case let mode: throw fail("fill_mode \(mode)")
        }
        guard let interpolation = ResizeMethod(rawValue: o["interpolation"] as? String ?? "bilinear") else {
            throw fail("interpolation \(o["interpolation"]!)")
        }
        let transform: RandomImageLayer.Transform
        switch config.className {
        case "RandomFlip":
            let mode = o["mode"] as? String ?? "horizontal_and_vertical"
            guard ["horizontal", "vertical", "horizontal_and_vertical"].contains(mode) else { throw fail("mode \(mode)") }
            transform = .flip(horizontal: mode != "vertical", vertical: mode != "horizontal")
        case "RandomRotation": transform = try range("factor").map { .rotation(lower: $0.lowerBound, upper: $0.upperBound) } ?? .rotation(lower: 0, upper: 0)
        case "RandomZoom": transform = .zoom(height: try range("height_factor") ?? 0...0, width: try range("width_factor"))
        case "RandomTranslation": transform = .translation(height: try range("height_factor") ?? 0...0, width: try range("width_factor") ?? 0...0)
        case "RandomContrast": transform = .contrast(try range("factor", around: true) ?? 1...1, valueRange: valueRange)
        case "RandomBrightness": transform = .brightness(try range("factor") ?? 0...0, valueRange: valueRange)
        default:
            guard let (height, width) = ImageSide.checked(o["height"] as? Int, o["width"] as? Int) else {
                throw fail("its height and width must be whole numbers from 1 to \(ImageSide.maximum)")
            }
            transform = .crop(height: height, width: width)
        }
        return RandomImageLayer(config.name, transform, interpolation: interpolation, fill: fill)
    }

    /// The activation of Keras's activation layers (ReLU, LeakyReLU, ELU, Softmax) from their options.
    static func layerForm(_ config: KerasLayerConfig) throws -> LayerActivation {
        let o = config.options
        switch config.className {
        case "ReLU":
            let slope = Float(number(o["negative_slope"]) ?? 0), threshold = Float(number(o["threshold"]) ?? 0)
            let maxValue = number(o["max_value"]).map(Float.init)
            return slope == 0 && threshold == 0 && maxValue == nil ? .relu
                : .function(.rectifier(negativeSlope: slope, maxValue: maxValue, threshold: threshold))
        case "LeakyReLU":
            return .function(.rectifier(negativeSlope: Float(number(o["negative_slope"] ?? o["alpha"]) ?? 0.3), maxValue: nil, threshold: 0))
        case "ELU": return .function(.elu(alpha: Float(number(o["alpha"]) ?? 1)))
        case "Softmax": return .softmax
        default: throw KerasConfigError("\(config.name): \(config.className) is not an activation layer")
        }
    }

    /// Keras's activation names: nil for one Zoo lacks, .some(nil) for linear.
    static func activation(_ name: String, dialect: KerasModelConfig.Dialect) -> LayerActivation?? {
        switch name {
        case "linear": .some(nil)
        case "softmax": .softmax
        case "relu": .relu
        case "tanh": .tanh
        case "sigmoid": .sigmoid
        case "relu6": .function(.relu6)
        case "leaky_relu": .function(.rectifier(negativeSlope: 0.2, maxValue: nil, threshold: 0))
        case "elu": .function(.elu(alpha: 1))
        case "selu": .function(.selu)
        case "gelu": .function(.gelu(approximate: false))
        case "swish", "silu": .function(.swish)
        case "hard_sigmoid": .function(.hardSigmoid(slope: dialect == .keras3 ? 1 / 6 : 0.2))
        case "hard_silu", "hard_swish": .function(.hardSwish)
        case "softplus": .function(.softplus)
        case "softsign": .function(.softsign)
        default: nil
        }
    }

    /// A layer's `activation` option: a name, a serialized function (Keras 3), or an activation layer given as the
    /// activation (`activation=LeakyReLU(0.2)`, serialized as the layer's config). nil for one Zoo lacks, .some(nil)
    /// for linear or none.
    static func activationOption(_ options: [String: Any], dialect: KerasModelConfig.Dialect) -> LayerActivation?? {
        if let object = options["activation"] as? [String: Any], let className = object["class_name"] as? String,
           ["ReLU", "LeakyReLU", "ELU", "Softmax"].contains(className) {
            let layer = KerasLayerConfig(className: className, name: className, options: object["config"] as? [String: Any] ?? [:], calls: [])
            guard let form = try? layerForm(layer) else { return nil }
            return .some(form)
        }
        guard let name = activationName(options) else { return .some(nil) }
        return activation(name, dialect: dialect)
    }

    /// A layer's activation option: a name, or (Keras 3) a serialized function object.
    static func activationName(_ options: [String: Any]) -> String? {
        if let name = options["activation"] as? String { return name }
        if let object = options["activation"] as? [String: Any] { return (object["config"] as? String) ?? (object["class_name"] as? String)?.lowercased() }
        return nil
    }

    static func padding(_ options: [String: Any]) -> Padding {
        (options["padding"] ?? options["border_mode"]) as? String == "same" ? .same : .valid
    }

    /// An int or a pair of ints.
    static func pair(_ value: Any?) -> [Int]? {
        if let single = value as? Int { return [single, single] }
        guard let list = value as? [Any], list.count == 2, let a = list[0] as? Int, let b = list[1] as? Int else { return nil }
        return [a, b]
    }

    /// A JSON number (null and absent are nil).
    static func number(_ value: Any?) -> Double? { value is NSNull ? nil : (value as? NSNumber)?.doubleValue }

    /// A JSON number or list of numbers, as Floats.
    static func numbers(_ value: Any?) -> [Float]? {
        if let single = number(value) { return [Float(single)] }
        guard let list = value as? [Any] else { return nil }
        let values = list.compactMap { number($0).map(Float.init) }
        return values.count == list.count ? values : nil
    }

    static func axis(_ options: [String: Any]) -> Int? {
        if let axis = options["axis"] as? Int { return axis }
        if let list = options["axis"] as? [Any], list.count == 1 { return list[0] as? Int }
        return nil
    }

    /// ZeroPadding2D's `padding`: one int, a symmetric (rows, columns) pair, or ((top, bottom), (left, right)).
    static func paddings(_ value: Any?, layer: String) throws -> (Int, Int, Int, Int) {
        if let single = value as? Int { return (single, single, single, single) }
        if let pair = pair(value) { return (pair[0], pair[0], pair[1], pair[1]) }
        if let list = value as? [Any], list.count == 2, let rows = pair(list[0]), let columns = pair(list[1]) {
            return (rows[0], rows[1], columns[0], columns[1])
        }
        throw KerasConfigError("\(layer): cannot read its padding \(value.map { "\($0)" } ?? "nil")")
    }
}
