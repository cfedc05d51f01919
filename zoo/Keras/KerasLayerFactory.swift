import Foundation
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
        "InputLayer", "Conv2D", "Convolution2D", "Dense", "BatchNormalization", "Activation", "ReLU", "Softmax",
        "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dropout",
        "Add", "Concatenate", "ZeroPadding2D",
    ]

    /// Why `layer` cannot be built ("" when only its class is unknown), or nil when it can.
    static func unsupportedReason(_ layer: KerasLayerConfig) -> String? {
        guard supported.contains(layer.className) else {
            return layer.className == "Lambda" ? "its code is Python, which Zoo never runs" : ""
        }
        let o = layer.options
        if let format = (o["data_format"] ?? o["dim_ordering"]) as? String, !["channels_last", "tf"].contains(format) {
            return "\(format) layout"
        }
        if let dilation = pair(o["dilation_rate"]), dilation != [1, 1] { return "dilation \(dilation)" }
        if let name = activationName(o), activation(name) == nil, ["Conv2D", "Convolution2D", "Dense", "Activation"].contains(layer.className) {
            return "activation \(name)"
        }
        switch layer.className {
        case "BatchNormalization":
            if o["center"] as? Bool == false || o["scale"] as? Bool == false { return "without center or scale" }
            if let axis = axis(o), axis != -1, axis != 3 { return "axis \(axis)" }
        case "ReLU":
            if number(o["max_value"]) != nil || number(o["negative_slope"]) ?? 0 != 0 || number(o["threshold"]) ?? 0 != 0 {
                return "max_value, negative_slope or threshold"
            }
        case "Concatenate", "Softmax":
            if let axis = axis(o), axis != -1, axis != 3 { return "axis \(axis)" }
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            if o["keepdims"] as? Bool == true { return "keepdims" }
        default: break
        }
        return nil
    }

    /// The layer for `config`, sized for what reaches it (shapes without the batch axis).
    static func make(_ config: KerasLayerConfig, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Built {
        let o = config.options, name = config.name, shape = inputShapes.first ?? []
        switch config.className {
        case "Conv2D", "Convolution2D":
            guard shape.count == 3 else { throw KerasConfigError("\(name) needs a feature map, gets \(shape)") }
            let kernel = pair(o["kernel_size"]) ?? [o["nb_row"] as? Int ?? 1, o["nb_col"] as? Int ?? 1]
            let strides = pair(o["strides"] ?? o["subsample"]) ?? [1, 1]
            return .single(Conv2D(name, inputChannels: shape[2], filters: o["filters"] as? Int ?? o["nb_filter"] as? Int ?? 0,
                                  kernelSize: (kernel[0], kernel[1]), strides: (strides[0], strides[1]), padding: padding(o),
                                  groups: o["groups"] as? Int ?? 1, useBias: o["use_bias"] as? Bool ?? o["bias"] as? Bool ?? true,
                                  activation: activationName(o).flatMap(activation) ?? nil, generator: &generator))
        case "Dense":
            guard shape.count == 1 else { throw KerasConfigError("\(name) (Dense) on a \(shape) input: Zoo applies Dense to vectors; flatten first") }
            return .single(Dense(name, inputs: shape[0], units: o["units"] as? Int ?? o["output_dim"] as? Int ?? 0,
                                 useBias: o["use_bias"] as? Bool ?? o["bias"] as? Bool ?? true,
                                 activation: activationName(o).flatMap(activation) ?? nil, generator: &generator))
        case "BatchNormalization":
            return .single(BatchNormalization(name, channels: shape.last ?? 0, epsilon: Float(number(o["epsilon"]) ?? 1e-3),
                                              momentum: Float(number(o["momentum"]) ?? 0.99)))
        case "Activation", "ReLU", "Softmax":
            let kind = config.className == "Activation" ? activationName(o) ?? "linear" : config.className.lowercased()
            switch activation(kind) {
            case .some(.some(.softmax)): return .single(Layers.softmax(name))
            case .some(.some(let other)): return .single(Layers.activation(name, Activation(rawValue: other.rawValue)!))
            default: return .single(Lambda(name, kind: "Activation", computation: .identity) { x, _ in x })
            }
        case "MaxPooling2D", "AveragePooling2D":
            let size = pair(o["pool_size"]) ?? [2, 2], strides = pair(o["strides"]) ?? size
            let make = config.className == "MaxPooling2D" ? Layers.maxPooling : Layers.averagePooling
            return .single(make(name, (size[0], size[1]), (strides[0], strides[1]), padding(o)))
        case "GlobalAveragePooling2D": return .single(Layers.globalAveragePooling(name))
        case "GlobalMaxPooling2D": return .single(Layers.globalMaxPooling(name))
        case "Flatten": return .single(Layers.flatten(name))
        case "Dropout": return .single(Dropout(name, rate: Float(number(o["rate"] ?? o["p"]) ?? 0.5)))
        case "Add": return .merge(Merge(name, .add))
        case "Concatenate": return .merge(Merge(name, .concatenate))
        case "ZeroPadding2D":
            let (top, bottom, left, right) = try paddings(o["padding"], layer: name)
            return .single(Layers.zeroPadding(name, top: top, bottom: bottom, left: left, right: right))
        default:
            throw KerasConfigError("\(name): Zoo cannot build a \(config.className)")
        }
    }

    /// Keras's activation names Zoo's layers apply: nil for an unknown one, .some(nil) for linear.
    static func activation(_ name: String) -> LayerActivation?? {
        switch name {
        case "linear": .some(nil)
        case "relu", "tanh", "sigmoid", "softmax": .some(LayerActivation(rawValue: name))
        default: nil
        }
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
