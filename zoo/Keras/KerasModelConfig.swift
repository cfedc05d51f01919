import Foundation
import ZooCore

/// One output of one call of a layer, as Keras names it: (layer, node index, tensor index).
public struct KerasTensorReference: Hashable, Sendable, CustomStringConvertible {
    public let layer: String
    public let node: Int
    public let tensor: Int

    public var description: String { "\(layer)[\(node)][\(tensor)]" }
}

/// One layer of a Keras model config, whatever the dialect: its class, name, options (the layer's own `config`
/// object), and the inputs of each of its calls.
public struct KerasLayerConfig {
    public let className: String
    public let name: String
    public let options: [String: Any]
    /// Per call of the layer, the tensors it reads (InputLayer: none).
    public let calls: [[KerasTensorReference]]
}

/// A Keras model config (the `model_config` of a full-model HDF5 file, a `.keras` archive's config.json, or what
/// `model.to_json()` wrote) as a graph of layers, read from every dialect Keras has written: Keras 1 and 2.0–2.2
/// Sequential (a bare layer list), Keras 2 and tf.keras (`inbound_nodes` as nested lists, `Model` or `Functional`),
/// and Keras 3 (`inbound_nodes` of `args` holding `__keras_tensor__` objects with their `keras_history`).
public struct KerasModelConfig {
    /// Which Keras wrote the config, where the same name means different things (hard_sigmoid's slope).
    public enum Dialect: Sendable { case keras2, keras3 }

    public let className: String
    public let name: String
    public let layers: [KerasLayerConfig]
    public let inputs: [KerasTensorReference]
    public let outputs: [KerasTensorReference]
    /// Keras 1, 2 and tf.keras read as `keras2`.
    public let dialect: Dialect

    /// Each input's shape without the batch axis, in the channels-last order Zoo runs every model in (nil entries
    /// are free; nil when the config declares none).
    public var inputShapes: [[Int?]?] {
        inputs.map { input in
            guard let declared = layers.first(where: { $0.name == input.layer })?.batchShape else { return nil }
            return channelsFirst && declared.count == 3 ? [declared[1], declared[2], declared[0]] : declared
        }
    }

    /// The first input's shape (see `inputShapes`).
    public var inputShape: [Int?]? { inputShapes.first ?? nil }

    /// Whether the model's feature maps are channels-first (NCHW: `data_format` channels_first, or Keras 1's
    /// `dim_ordering` th). Zoo runs them channels-last and reorders where the order shows (Flatten).
    public var channelsFirst: Bool { layers.contains { $0.dataFormat == .channelsFirst && $0.className != "Flatten" } }

    init(className: String, name: String, layers: [KerasLayerConfig], inputs: [KerasTensorReference], outputs: [KerasTensorReference],
         dialect: Dialect) {
        self.className = className; self.name = name; self.layers = layers; self.inputs = inputs; self.outputs = outputs
        self.dialect = dialect
    }

    public init(json text: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw KerasConfigError("the model config is not a JSON object")
        }
        try self.init(object)
    }

    /// Reads a config; models nested as layers (a Sequential inside a Functional, and so on at any depth) are
    /// replaced by their own layers, so the graph holds only layers that compute.
    public init(_ object: [String: Any]) throws {
        try self.init(nested: object)
        self = try inliningNestedModels()
    }

    private init(nested object: [String: Any]) throws {
        guard let className = object["class_name"] as? String else { throw KerasConfigError("the model config has no class_name") }
        self.className = className
        let config = object["config"]
        switch className {
        case "Sequential":
            // Keras 1 and 2.0–2.2 store the layer list itself as the config.
            let list = (config as? [String: Any])?["layers"] as? [Any] ?? config as? [Any]
            guard let list else { throw KerasConfigError("the Sequential config has no layer list") }
            name = (config as? [String: Any])?["name"] as? String ?? "sequential"
            var layers: [KerasLayerConfig] = [], previous: KerasTensorReference?
            for (index, item) in list.enumerated() {
                guard let item = item as? [String: Any], let className = item["class_name"] as? String else {
                    throw KerasConfigError("layer \(index) of the Sequential config has no class_name")
                }
                let options = item["config"] as? [String: Any] ?? [:]
                let layerName = options["name"] as? String ?? item["name"] as? String ?? "\(className.lowercased())_\(index)"
                if previous == nil {
                    // The input: an InputLayer, or the batch shape the first layer declares (Keras 1 and 2).
                    let input = className == "InputLayer" ? layerName : "\(name)_input"
                    if className != "InputLayer" { layers.append(KerasLayerConfig(className: "InputLayer", name: input, options: options, calls: [])) }
                    previous = KerasTensorReference(layer: input, node: 0, tensor: 0)
                    if className == "InputLayer" {
                        layers.append(KerasLayerConfig(className: className, name: layerName, options: options, calls: []))
                        continue
                    }
                }
                layers.append(KerasLayerConfig(className: className, name: layerName, options: options, calls: [[previous!]]))
                previous = KerasTensorReference(layer: layerName, node: 0, tensor: 0)
            }
            guard let first = layers.first, let last = previous else { throw KerasConfigError("the Sequential config has no layers") }
            self.layers = layers
            inputs = [KerasTensorReference(layer: first.name, node: 0, tensor: 0)]
            outputs = [last]
        case "Functional", "Model":
            guard let config = config as? [String: Any], let list = config["layers"] as? [[String: Any]] else {
                throw KerasConfigError("the \(className) config has no layer list")
            }
            name = config["name"] as? String ?? "model"
            layers = try list.enumerated().map { index, item in
                guard let className = item["class_name"] as? String else { throw KerasConfigError("layer \(index) has no class_name") }
                var options = item["config"] as? [String: Any] ?? [:]
                guard let layerName = item["name"] as? String ?? options["name"] as? String else {
                    throw KerasConfigError("layer \(index) (\(className)) has no name")
                }
                let nodes = item["inbound_nodes"] as? [Any] ?? []
                let calls = try nodes.map { try Self.references(inNode: $0, of: layerName) }
                // Keras 3 records `x + 3.0` as an Add op whose call holds the number beside the tensor.
                if let first = nodes.first, case let constants = Self.constants(inNode: first), !constants.isEmpty {
                    options[KerasLayerConfig.constantsKey] = constants
                }
                return KerasLayerConfig(className: className, name: layerName, options: options, calls: calls)
            }
            inputs = try Self.endpoints(config["input_layers"], "input_layers")
            outputs = try Self.endpoints(config["output_layers"], "output_layers")
        default:
            throw KerasConfigError("a \(className) is not a Keras model (Sequential, Functional or Model)")
        }
        // Keras 3 writes an input's `batch_shape` and dtype policies as objects; earlier versions neither.
        dialect = layers.contains { $0.options["batch_shape"] != nil || $0.options["dtype"] is [String: Any] } ? .keras3 : .keras2
    }

    /// The graph with each nested model's layers in its place: the nested model's inputs become the tensors its
    /// call reads, and what reads the nested model's outputs reads its inner layers' instead.
    func inliningNestedModels() throws -> KerasModelConfig {
        var inlined: [String: KerasModelConfig] = [:]
        for layer in layers where ModelConfigSummary.modelClasses.contains(layer.className) {
            guard layer.calls.count == 1 else {
                throw KerasConfigError("\(name): the nested model \(layer.name) is called \(layer.calls.count) times; Zoo builds nested models called once")
            }
            let inner = try KerasModelConfig(["class_name": layer.className, "config": layer.options])
            guard inner.inputs.count == layer.calls[0].count else {
                throw KerasConfigError("\(name): the nested model \(layer.name) takes \(inner.inputs.count) inputs but is given \(layer.calls[0].count)")
            }
            inlined[layer.name] = inner
        }
        if inlined.isEmpty { return self }

        // Each nested input stands for the tensor its call reads; each nested model's output for its inner layer's.
        var substitutes: [KerasTensorReference: KerasTensorReference] = [:]
        var nestedOutputs: [String: [KerasTensorReference]] = [:]
        for (outer, inner) in inlined {
            let call = layers.first { $0.name == outer }!.calls[0]
            for (input, source) in zip(inner.inputs, call) { substitutes[KerasTensorReference(layer: input.layer, node: 0, tensor: 0)] = source }
            nestedOutputs[outer] = inner.outputs
        }
        func resolve(_ reference: KerasTensorReference) throws -> KerasTensorReference {
            var current = reference, seen = 0
            while seen < 64 {
                if let outputs = nestedOutputs[current.layer] {
                    guard current.tensor < outputs.count else {
                        throw KerasConfigError("\(name): \(current) reads output \(current.tensor) of the nested model \(current.layer), which has \(outputs.count)")
                    }
                    current = outputs[current.tensor]
                } else if let source = substitutes[KerasTensorReference(layer: current.layer, node: 0, tensor: 0)] {
                    current = source
                } else {
                    return current
                }
                seen += 1
            }
            throw KerasConfigError("\(name): the nested models' inputs and outputs refer to each other in a loop at \(reference)")
        }

        var flat: [KerasLayerConfig] = []
        for layer in layers {
            if let inner = inlined[layer.name] {
                let inputs = Set(inner.inputs.map(\.layer))
                flat += inner.layers.filter { !inputs.contains($0.name) }
            } else {
                flat.append(layer)
            }
        }
        var seen: [String: Int] = [:]
        for layer in flat { seen[layer.name, default: 0] += 1 }
        if let twice = seen.filter({ $0.value > 1 }).keys.sorted().first {
            throw KerasConfigError("\(name): two layers are named \(twice) once the nested models are opened; Zoo addresses layers by name")
        }
        flat = try flat.map { layer in
            KerasLayerConfig(className: layer.className, name: layer.name, options: layer.options,
                             calls: try layer.calls.map { try $0.map(resolve) })
        }
        return KerasModelConfig(className: className, name: name, layers: flat, inputs: inputs, outputs: try outputs.map(resolve), dialect: dialect)
    }

    /// The graph ending at `outputs`, without the layers they do not depend on.
    func pruned(outputs: [KerasTensorReference]) -> KerasModelConfig {
        let byName = Dictionary(layers.map { ($0.name, $0) }) { first, _ in first }
        var needed = Set(inputs.map(\.layer)), pending = outputs.map(\.layer)
        while let name = pending.popLast() {
            guard needed.insert(name).inserted, let layer = byName[name] else { continue }
            pending += layer.calls.flatMap { $0.map(\.layer) }
        }
        return KerasModelConfig(className: className, name: name, layers: layers.filter { needed.contains($0.name) }, inputs: inputs,
                                outputs: outputs, dialect: dialect)
    }

    /// The numbers a Keras 3 call passes beside its tensors, as [position among the arguments, value] pairs.
    static func constants(inNode node: Any) -> [[Double]] {
        guard let call = node as? [String: Any], let args = call["args"] as? [Any] else { return [] }
        return args.enumerated().compactMap { index, value in
            guard let number = value as? NSNumber else { return nil }
            return [Double(index), number.doubleValue]
        }
    }

    /// `input_layers` / `output_layers`: a list of [name, node, tensor], or one of them alone.
    static func endpoints(_ value: Any?, _ key: String) throws -> [KerasTensorReference] {
        guard let list = value as? [Any], !list.isEmpty else { throw KerasConfigError("the config has no \(key)") }
        if list.first is String { return [try reference(list, key)] }
        return try list.map { try reference($0, key) }
    }

    static func reference(_ value: Any, _ context: String) throws -> KerasTensorReference {
        guard let parts = value as? [Any], parts.count >= 3, let layer = parts[0] as? String,
              let node = parts[1] as? Int, let tensor = parts[2] as? Int else {
            throw KerasConfigError("\(context): cannot read the tensor reference \(value)")
        }
        return KerasTensorReference(layer: layer, node: node, tensor: tensor)
    }

    /// The tensors one call reads: Keras 1/2 write a list of [name, node, tensor, kwargs]; Keras 3 an object whose
    /// `args` hold `__keras_tensor__` objects (a list of them for merging layers).
    static func references(inNode node: Any, of layer: String) throws -> [KerasTensorReference] {
        if let list = node as? [Any] { return try list.map { try reference($0, "\(layer)'s inbound node") } }
        guard let call = node as? [String: Any], let args = call["args"] as? [Any] else {
            throw KerasConfigError("\(layer): cannot read its inbound node \(node)")
        }
        func tensors(_ value: Any) throws -> [KerasTensorReference] {
            if let list = value as? [Any] { return try list.flatMap(tensors) }
            guard let object = value as? [String: Any], object["class_name"] as? String == "__keras_tensor__",
                  let history = (object["config"] as? [String: Any])?["keras_history"] else { return [] }
            return [try reference(history, "\(layer)'s inbound node")]
        }
        return try args.flatMap(tensors)
    }
}

extension KerasLayerConfig {
    /// The options key under which a layer's constant call arguments are kept (see `KerasModelConfig.constants`).
    static let constantsKey = "__zoo_constant_arguments"

    public enum DataFormat { case channelsFirst, channelsLast }

    /// The layer's own `data_format` (or Keras 1 `dim_ordering`), when it states one.
    public var dataFormat: DataFormat? {
        switch (options["data_format"] ?? options["dim_ordering"]) as? String {
        case "channels_first", "th": .channelsFirst
        case "channels_last", "tf": .channelsLast
        default: nil
        }
    }

    /// An input's shape without the batch axis, from `batch_shape` (Keras 3) or `batch_input_shape` (Keras 1 and
    /// 2); nil entries are free.
    public var batchShape: [Int?]? {
        guard let shape = (options["batch_shape"] ?? options["batch_input_shape"]) as? [Any] else { return nil }
        return shape.dropFirst().map { $0 as? Int }
    }
}

/// A model config Zoo cannot read or build, with what is wrong.
public struct KerasConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
