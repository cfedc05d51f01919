import Foundation

/// What a model config may ask for. A config is untrusted input, like the file around it: every number it gives is
/// checked against what reaches the layer and against these bounds before anything is allocated, and a network whose
/// weights or activations would exceed them is refused with a message naming the layer.
public struct KerasBuildLimits: Sendable {
    /// The most weights (elements) the whole network may have. When the network is built to load a file, the file's
    /// own arrays bound it too: a network larger than its weights cannot load them.
    public var parameters: Int = 1 << 31
    /// The most elements one layer's output may hold for one sample (1 GiB of Float32 by default).
    public var activationElements: Int = 1 << 28
    /// The largest single size a layer option may give: units, filters, kernel sides, strides, spatial sizes.
    public var dimension: Int = 1 << 20

    public init() {}

    /// Whether `parameters` is what a file holds (a network larger than its file cannot load it).
    public var parametersFromFile = false

    /// Limits for a network that will load a file holding `arrayElements` weight elements in all.
    public init(loading arrayElements: Int) {
        parameters = min(parameters, max(arrayElements, 0))
        parametersFromFile = true
    }

    /// How the weight limit reads in a refusal.
    var parameterLimit: String { parametersFromFile ? "the \(parameters) weights the file holds" : "\(parameters) weights" }
}

/// The checks behind `KerasBuildLimits`, one layer at a time, given the shapes that reach it (without the batch axis,
/// channels last). Each returns the number of weights the layer will hold; the factory builds only after this passed.
enum KerasLayerCheck {
    /// Checks `layer`'s options and the size of what it makes; returns how many weights it holds at least (what a
    /// file must hold for it), counting only those whose size its options set.
    static func check(_ layer: KerasLayerConfig, inputShapes: [[Int]], limits: KerasBuildLimits) throws -> Int {
        let o = Options(layer: layer, limits: limits)
        let shape = inputShapes.first ?? []
        func fail(_ message: String) -> KerasConfigError { KerasConfigError("\(layer.name) (\(layer.className)): \(message)") }
        func output(_ dimensions: [Int]) throws { _ = try product(dimensions, layer, limits.activationElements, "its output") }
        func channels() throws -> Int {
            guard let last = shape.last, !shape.isEmpty else { throw fail("it is given a scalar") }
            return last
        }
        func spatial(_ what: String) throws -> (Int, Int, Int) {
            guard shape.count == 3 else { throw fail("it needs a feature map (height, width, channels), gets \(shape)") }
            return (shape[0], shape[1], shape[2])
        }
        /// A window's output side: the window's dilated extent must fit a 'valid' input (as Keras requires).
        func side(_ input: Int, kernel: Int, stride: Int, dilation: Int, same: Bool, axis: String) throws -> Int {
            let extent = (kernel - 1) * dilation + 1
            if same { return (input + stride - 1) / stride }
            guard extent <= input else {
                throw fail("its \(axis) window of \(extent) (kernel \(kernel), dilation \(dilation)) is larger than its input's \(axis) \(input)")
            }
            return (input - extent) / stride + 1
        }

        switch layer.className {
        case "Conv2D", "Convolution2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Deconvolution2D":
            let (height, width, inputChannels) = try spatial("a convolution")
            let kernel = try o.pair(["kernel_size"], else: [try o.int("nb_row", default: 1) ?? 1, try o.int("nb_col", default: 1) ?? 1])
            let strides = try o.pair(["strides", "subsample"], else: [1, 1])
            let dilation = try o.pair(["dilation_rate"], else: [1, 1])
            let same = KerasLayerFactory.padding(layer.options) == .same
            let transposed = layer.className == "Conv2DTranspose" || layer.className == "Deconvolution2D"
            let depthwise = layer.className == "DepthwiseConv2D"
            let multiplier = try o.int("depth_multiplier", default: 1) ?? 1
            let filters = depthwise ? inputChannels * multiplier : try o.required(["filters", "nb_filter"])
            let groups = try o.int("groups", default: 1) ?? 1
            guard inputChannels % groups == 0 && filters % groups == 0 else {
                throw fail("\(groups) groups do not divide its \(inputChannels) input channels and \(filters) filters")
            }
            let useBias = (layer.options["use_bias"] ?? layer.options["bias"]) as? Bool ?? true
            var weights: [[Int]]
            switch layer.className {
            case "DepthwiseConv2D": weights = [kernel + [inputChannels, multiplier]]
            case "SeparableConv2D": weights = [kernel + [inputChannels, multiplier], [1, 1, inputChannels * multiplier, filters]]
            case _ where transposed: weights = [kernel + [filters, inputChannels]]
            default: weights = [kernel + [inputChannels / groups, filters]]
            }
            if useBias { weights.append([filters]) }
            let outputSides: [Int]
            if transposed {
                // Keras: input × stride, plus max(kernel − stride, 0) for 'valid'.
                outputSides = try zip([height, width], zip(kernel, strides)).map { input, window in
                    try checkedAdd(try checkedMultiply(input, window.1, layer), same ? 0 : max(window.0 - window.1, 0), layer)
                }
            } else {
                outputSides = [try side(height, kernel: kernel[0], stride: strides[0], dilation: dilation[0], same: same, axis: "height"),
                               try side(width, kernel: kernel[1], stride: strides[1], dilation: dilation[1], same: same, axis: "width")]
            }
            try output(outputSides + [filters])
            return try weights.reduce(0) { try checkedAdd($0, try weightCount($1, layer, limits), layer) }
        case "Dense":
            let inputs = try channels()
            let units = try o.required(["units", "output_dim"])
            try output(shape.dropLast() + [units])
            let useBias = (layer.options["use_bias"] ?? layer.options["bias"]) as? Bool ?? true
            return try checkedAdd(try weightCount([inputs, units], layer, limits), useBias ? units : 0, layer)
        case "MaxPooling2D", "AveragePooling2D":
            let (height, width, _) = try spatial("pooling")
            let size = try o.pair(["pool_size"], else: [2, 2]), strides = try o.pair(["strides"], else: size)
            let same = KerasLayerFactory.padding(layer.options) == .same
            _ = try side(height, kernel: size[0], stride: strides[0], dilation: 1, same: same, axis: "height")
            _ = try side(width, kernel: size[1], stride: strides[1], dilation: 1, same: same, axis: "width")
            return 0
        case "UpSampling2D":
            let (height, width, channels) = try spatial("upsampling")
            let factor = try o.pair(["size"], else: [2, 2])
            try output([height, factor[0], width, factor[1], channels])
            return 0
        case "Resizing", "RandomCrop":
            let (_, _, channels) = try spatial("resizing")
            try output([try o.required(["height"]), try o.required(["width"]), channels])
            return 0
        case "ZeroPadding2D", "Cropping2D":
            let (height, width, channels) = try spatial("padding")
            let key = layer.className == "ZeroPadding2D" ? "padding" : "cropping"
            let (top, bottom, left, right) = try KerasLayerFactory.paddings(layer.options[key], layer: layer.name)
            guard [top, bottom, left, right].allSatisfy({ $0 >= 0 && $0 <= limits.dimension }) else {
                throw fail("its \(key) \([top, bottom, left, right]) must be whole numbers from 0 to \(limits.dimension)")
            }
            if layer.className == "Cropping2D" {
                guard top + bottom < height && left + right < width else {
                    throw fail("cropping \([top, bottom, left, right]) leaves nothing of a \(height)×\(width) input")
                }
            } else {
                try output([height + top + bottom, width + left + right, channels])
            }
            return 0
        case "Reshape":
            guard let target = (layer.options["target_shape"] ?? layer.options["dims"]) as? [Any], !target.isEmpty,
                  let sizes = target.map({ $0 as? Int }) as? [Int], sizes.allSatisfy({ $0 >= 1 || $0 == -1 }),
                  sizes.filter({ $0 == -1 }).count <= 1 else {
                throw fail("its target_shape must be a list of positive whole numbers (one may be -1)")
            }
            let count = try product(shape, layer, limits.activationElements, "its input")
            let known = try product(sizes.filter { $0 != -1 }, layer, limits.activationElements, "its target shape")
            guard sizes.contains(-1) ? count % known == 0 : known == count else {
                throw fail("cannot reshape \(count) values of \(shape) into \(sizes)")
            }
            return 0
        case "Permute":
            guard let order = layer.options["dims"] as? [Any], let dims = order.map({ $0 as? Int }) as? [Int],
                  dims.sorted() == Array(1...max(1, shape.count)), dims.count == shape.count else {
                throw fail("its dims must order the axes 1…\(shape.count) of a \(shape) input")
            }
            return 0
        case "BatchNormalization", "LayerNormalization":
            let channels = try channels()
            if let epsilon = KerasLayerFactory.number(layer.options["epsilon"]), !(epsilon >= 0 && epsilon.isFinite) {
                throw fail("its epsilon \(epsilon) must be a finite number ≥ 0")
            }
            // The moving statistics at least (center and scale may be left out): never more than the file must hold.
            return layer.className == "BatchNormalization" ? try checkedMultiply(channels, 2, layer) : 0
        case "Dropout", "SpatialDropout2D", "GaussianDropout":
            if let rate = KerasLayerFactory.number(layer.options["rate"] ?? layer.options["p"]), !(rate >= 0 && rate < 1) {
                throw fail("its rate \(rate) must lie in [0, 1)")
            }
            return 0
        case "Concatenate", "Merge":
            let total = try inputShapes.reduce(0) { try checkedAdd($0, try product($1, layer, limits.activationElements, "an input"), layer) }
            guard total <= limits.activationElements else { throw fail("its output of \(total) values per sample is over the limit \(limits.activationElements)") }
            return 0
        default:
            return 0
        }
    }

    /// The elements of a weight of `shape`, refused past what the limits allow.
    static func weightCount(_ shape: [Int], _ layer: KerasLayerConfig, _ limits: KerasBuildLimits) throws -> Int {
        try product(shape, layer, limits.parameters, "its weights", exceeding: limits.parameterLimit)
    }

    /// The product of `dimensions`, each checked to be positive, refused past `limit` (naming `what`, and the limit
    /// as `exceeding` says it).
    static func product(_ dimensions: [Int], _ layer: KerasLayerConfig, _ limit: Int, _ what: String, exceeding: String? = nil) throws -> Int {
        var total = 1
        for dimension in dimensions {
            guard dimension >= 1 else {
                throw KerasConfigError("\(layer.name) (\(layer.className)): \(what) would have a size of \(dimension) in \(dimensions)")
            }
            let (next, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow, next <= limit else {
                throw KerasConfigError("\(layer.name) (\(layer.className)): \(what) \(dimensions) would hold more than \(exceeding ?? "\(limit) values"); "
                    + "Zoo refuses a network that large (the config may be damaged or crafted)")
            }
            total = next
        }
        return total
    }

    static func checkedMultiply(_ a: Int, _ b: Int, _ layer: KerasLayerConfig) throws -> Int {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw KerasConfigError("\(layer.name) (\(layer.className)): its sizes overflow") }
        return value
    }

    static func checkedAdd(_ a: Int, _ b: Int, _ layer: KerasLayerConfig) throws -> Int {
        let (value, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw KerasConfigError("\(layer.name) (\(layer.className)): its sizes overflow") }
        return value
    }

    /// A layer's numeric options, each a whole number from 1 to the limits' `dimension` or an error naming it.
    struct Options {
        let layer: KerasLayerConfig
        let limits: KerasBuildLimits

        func fail(_ key: String, _ value: Any) -> KerasConfigError {
            KerasConfigError("\(layer.name) (\(layer.className)): its \(key) \(value) must be whole numbers from 1 to \(limits.dimension)")
        }

        func valid(_ value: Any, _ key: String) throws -> Int {
            guard let number = value as? Int, number >= 1, number <= limits.dimension else { throw fail(key, value) }
            return number
        }

        /// The option `key` when present (null counts as absent), else `default`.
        func int(_ key: String, default: Int?) throws -> Int? {
            guard let value = layer.options[key], !(value is NSNull) else { return `default` }
            return try valid(value, key)
        }

        /// The first of `keys` present; an error when none is.
        func required(_ keys: [String]) throws -> Int {
            for key in keys { if let value = try int(key, default: nil) { return value } }
            throw KerasConfigError("\(layer.name) (\(layer.className)): it gives no \(keys[0])")
        }

        /// An int or a pair of ints under the first of `keys` present, else `fallback`.
        func pair(_ keys: [String], else fallback: [Int]) throws -> [Int] {
            for key in keys {
                guard let value = layer.options[key], !(value is NSNull) else { continue }
                if let list = value as? [Any] {
                    guard list.count == 2 else { throw fail(key, value) }
                    return try list.map { try valid($0, key) }
                }
                let single = try valid(value, key)
                return [single, single]
            }
            return fallback
        }
    }
}
