import Foundation
import ZooCore
import ZooNN
import ZooTensor

/// Builds a `Model` from a Keras model config: any Sequential or Functional CNN made of the layers
/// `KerasLayerFactory` knows, with the config's layer names so that the file's arrays load by name.
public enum KerasModel {
    /// The model for `config` at `inputSize` (needed when the config leaves the height or width free). Every layer
    /// Zoo cannot build is named in one error; the weights start random (seeded) until loaded. `classes` resizes the
    /// classifier (the Dense layer the output comes from); `logits` leaves out its softmax; without the top, the
    /// model ends with what the classifier reads (its features).
    ///
    /// The config is untrusted: every number is checked against `limits` and against what reaches each layer before
    /// the layer is made, and the sizing pass runs on the shape-only backend, so no config allocates or computes
    /// without bound.
    public static func build(config: KerasModelConfig, inputSize: (Int, Int)? = nil, seed: UInt64 = 0,
                             classes: Int? = nil, logits: Bool = false, includeTop: Bool = true,
                             limits: KerasBuildLimits = KerasBuildLimits()) throws -> Model {
        let classifier = classifier(of: config)
        if classes != nil && classifier == nil {
            throw KerasConfigError("\(config.name): its output does not come from a Dense classifier, so it cannot be given new classes; "
                + "train a head on one of its layers instead (--mode features --tap LAYER)")
        }
        // A classifier given new classes may hold more weights than the file it came from.
        var limits = limits
        if let classes, let classifier, let dense = try? layer(named: classifier.name, in: config),
           classes != (dense.options["units"] ?? dense.options["output_dim"]) as? Int {
            limits.parameters = max(limits.parameters, KerasBuildLimits().parameters)
            limits.parametersFromFile = false
        }
        var config = adjusted(config, classifier: classifier, classes: classes, logits: logits)
        if !includeTop, let classifier {
            config = config.pruned(outputs: try layer(named: classifier.name, in: config).calls[0])
        }
        let unsupported = config.layers.compactMap { layer in
            KerasLayerFactory.unsupportedReason(layer).map { "\(layer.name) (\(layer.className)\($0.isEmpty ? "" : ": \($0)"))" }
        }
        guard unsupported.isEmpty else {
            throw KerasConfigError("\(config.name): Zoo cannot build \(unsupported.count == 1 ? "this layer" : "these layers"): "
                + unsupported.joined(separator: ", ") + "; `zoo convert --arch none` still converts the file's arrays")
        }
        let mixed = config.channelsFirst ? config.layers.filter { $0.dataFormat == .channelsLast && $0.className != "Flatten" } : []
        guard mixed.isEmpty else {
            throw KerasConfigError("\(config.name) mixes channels-first layers with channels-last ones (\(mixed.map(\.name).joined(separator: ", "))); "
                + "Zoo builds models in one layout")
        }
        let inputShapes = try resolvedInputShapes(config, inputSize: inputSize)
        for (input, shape) in zip(config.inputs, inputShapes) {
            guard shape.allSatisfy({ $0 >= 1 && $0 <= limits.dimension }) else {
                throw KerasConfigError("\(config.name): its input \(input.layer) has the shape \(shape); each size must lie in 1…\(limits.dimension)")
            }
            let layer = KerasLayerConfig(className: "InputLayer", name: input.layer, options: [:], calls: [])
            _ = try KerasLayerCheck.product(shape, layer, limits.activationElements, "the input")
        }

        // Each call runs once while building, on the shape-only backend at batch 1: weighted layers take their sizes
        // from what reaches them, and the calls are put in an order where every input is ready.
        var generator = SeededGenerator(seed: seed)
        var built: [String: KerasLayerFactory.Built] = [:], order: [String] = []
        var parameters = 0
        let shapesOnly = ShapeOnlyBackend()
        var values = Dictionary(zip(config.inputs, inputShapes.map { Variable(Tensor(reservedZeros: [1] + $0)) })) { first, _ in first }
        var steps: [Step] = []
        let callCounts = Dictionary(config.layers.map { ($0.name, $0.calls.count) }) { $1 }
        func key(_ reference: KerasTensorReference) -> KerasTensorReference? { resolved(reference, in: values, callCounts: callCounts) }
        var pending = config.layers.flatMap { layer in layer.calls.indices.map { (layer, $0) } }
        while !pending.isEmpty {
            let before = pending.count
            for (layer, call) in pending {
                let references = layer.calls[call].compactMap(key)
                guard references.count == layer.calls[call].count else { continue }
                let inputs = references.map { values[$0]! }
                if built[layer.name] == nil {
                    let shapes = inputs.map { Array($0.shape.dropFirst()) }
                    parameters += try KerasLayerCheck.check(layer, inputShapes: shapes, limits: limits)
                    guard parameters <= limits.parameters else {
                        throw KerasConfigError("\(config.name): with \(layer.name) (\(layer.className)) the network needs more than "
                            + "\(limits.parameterLimit); the config may be damaged or crafted")
                    }
                    built[layer.name] = try KerasLayerFactory.make(layer, dialect: config.dialect, channelsFirst: config.channelsFirst, inputShapes: shapes, generator: &generator)
                    order.append(layer.name)
                }
                let output = KerasTensorReference(layer: layer.name, node: call, tensor: 0)
                let step = Step(operation: built[layer.name]!, inputs: references, output: output)
                do {
                    let value = try Runtime.using(shapesOnly) { try Gradients.off { try step.run(inputs, context: nil) } }
                    guard value.value.count <= limits.activationElements else {
                        throw KerasConfigError("its output \(Array(value.shape.dropFirst())) holds more than \(limits.activationElements) values per sample")
                    }
                    values[output] = value
                } catch {
                    throw KerasConfigError("\(config.name): layer \(layer.name) (\(layer.className)) on input "
                        + inputs.map { "\(Array($0.shape.dropFirst()))" }.joined(separator: ", ") + ": \(error)")
                }
                steps.append(step)
            }
            pending.removeAll { layer, call in values[KerasTensorReference(layer: layer.name, node: call, tensor: 0)] != nil }
            guard pending.count < before else {
                throw KerasConfigError("\(config.name): layers \(pending.map(\.0.name).joined(separator: ", ")) read tensors no layer makes")
            }
        }
        let outputs = try config.outputs.map { output in
            guard let found = key(output) else { throw KerasConfigError("\(config.name): the output \(output) is not made by any layer") }
            return found
        }

        let layers = order.map { built[$0]!.layer }
        let inputs = config.inputs
        let model = Model(name: config.name, inputShapes: inputShapes, layers: layers, tapNames: order) { context, xs in
            var values = Dictionary(zip(inputs, xs)) { first, _ in first }
            for step in steps { values[step.output] = try step.run(step.inputs.map { values[$0]! }, context: context) }
            return outputs.map { values[$0]! }
        }
        model.classifierLayers = includeTop ? classifier.map { [$0.name] } ?? [] : []
        model.inputNames = inputs.map(\.layer)
        model.outputNames = outputs.map(\.layer)
        return model
    }

    /// The Dense layer the first output comes from, through activations and dropout, and the softmax layers after
    /// it.
    static func classifier(of config: KerasModelConfig) -> (name: String, after: [String])? {
        var name = config.outputs.first?.layer, after: [String] = []
        while let current = name, let layer = config.layers.first(where: { $0.name == current }) {
            switch layer.className {
            // One unit is a score or a regression, not classes to rank.
            case "Dense": return (layer.options["units"] ?? layer.options["output_dim"]) as? Int == 1 ? nil : (current, after)
            case "Activation", "Softmax", "Dropout":
                guard layer.calls.count == 1 && layer.calls[0].count == 1 else { return nil }
                if layer.className == "Softmax" || KerasLayerFactory.activationName(layer.options) == "softmax" { after.append(current) }
                name = layer.calls[0][0].layer
            default: return nil
            }
        }
        return nil
    }

    /// The config with its classifier resized to `classes` and, for logits, its softmax left out.
    static func adjusted(_ config: KerasModelConfig, classifier: (name: String, after: [String])?, classes: Int?, logits: Bool) -> KerasModelConfig {
        guard let classifier, classes != nil || logits else { return config }
        let layers = config.layers.map { layer -> KerasLayerConfig in
            var options = layer.options, className = layer.className
            if layer.name == classifier.name {
                if let classes { options["units"] = classes; options["output_dim"] = classes }
                if logits, KerasLayerFactory.activationName(options) == "softmax" { options["activation"] = "linear" }
            } else if logits, classifier.after.contains(layer.name) {
                className = "Activation"
                options["activation"] = "linear"
            }
            return KerasLayerConfig(className: className, name: layer.name, options: options, calls: layer.calls)
        }
        return KerasModelConfig(className: config.className, name: config.name, layers: layers, inputs: config.inputs, outputs: config.outputs,
                                dialect: config.dialect)
    }

    /// One call of a layer in the built model.
    struct Step {
        let operation: KerasLayerFactory.Built
        let inputs: [KerasTensorReference]
        let output: KerasTensorReference

        func run(_ inputs: [Variable], context: ForwardContext?) throws -> Variable {
            switch operation {
            case .single(let layer):
                guard inputs.count == 1 else { throw KerasConfigError("\(layer.name) (\(layer.kind)) takes one input, its call gives \(inputs.count)") }
                return try context.map { try $0.call(layer, inputs[0]) } ?? layer(inputs[0], training: false)
            case .merge(let merge):
                guard !inputs.isEmpty else { throw KerasConfigError("\(merge.name) (\(merge.kind)): its call gives no input") }
                return try context.map { try $0.call(merge, inputs) } ?? merge(inputs)
            }
        }
    }

    /// The key under which a reference's tensor is made, once it is. Node indices count a layer's calls within this
    /// model; a layer called once answers to any node index (Keras 2 numbers a nested model's calls after the one
    /// that built it). Resolved while building, so the forward pass looks nothing up.
    static func resolved(_ reference: KerasTensorReference, in values: [KerasTensorReference: Variable],
                         callCounts: [String: Int]) -> KerasTensorReference? {
        guard reference.tensor == 0 else { return nil }
        if values[reference] != nil { return reference }
        let first = KerasTensorReference(layer: reference.layer, node: 0, tensor: 0)
        return callCounts[reference.layer] ?? 0 <= 1 && values[first] != nil ? first : nil
    }

    static func layer(named name: String, in config: KerasModelConfig) throws -> KerasLayerConfig {
        guard let layer = config.layers.first(where: { $0.name == name }) else {
            throw KerasConfigError("\(config.name): no layer is named \(name)")
        }
        return layer
    }

    /// Each input's shape: a first input that is a feature map (height, width, channels) takes its height and width
    /// from `inputSize` when given (needed when the config leaves them free); every other size is the config's, of
    /// any rank.
    static func resolvedInputShapes(_ config: KerasModelConfig, inputSize: (Int, Int)?) throws -> [[Int]] {
        let model = config.name
        return try zip(config.inputs, config.inputShapes).enumerated().map { index, item in
            let (input, declared) = item
            guard let declared, !declared.isEmpty else { throw KerasConfigError("\(model): its input \(input.layer) declares no shape") }
            var shape = declared
            if index == 0, shape.count == 3, let inputSize { shape[0] = inputSize.0; shape[1] = inputSize.1 }
            guard let fixed = shape.map({ $0 }) as? [Int] else {
                throw KerasConfigError(index == 0 && shape.count == 3 && shape[2] != nil
                    ? "\(model): its input's height and width are free \(describe(shape)); give the input size (--input HxW), or arrays of the size to run"
                    : "\(model): its input \(input.layer) has free dimensions \(describe(shape)); Zoo builds such inputs at a fixed shape")
            }
            return fixed
        }
    }

    private static func describe(_ shape: [Int?]) -> String { "(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")" }
}
