import Foundation
import ZooTensor

/// What one call of a model produced: its outputs (the main one first; auxiliary heads follow in training) and the
/// feature taps that were asked for.
public struct ModelOutput {
    public let outputs: [Variable]
    public let taps: [String: Variable]
    public var main: Variable { outputs[0] }
}

/// One layer's line in a model's profile.
public struct LayerProfile: Sendable {
    public let name: String
    public let kind: String
    public let outputShape: [Int]
    public let parameters: Int
    /// Multiply-adds × 2 for one image.
    public let flops: Double
}

/// Passed through a forward pass: layers are called through it so that taps and profiles see every output.
public final class ForwardContext {
    public let training: Bool
    /// Whether auxiliary heads (GoogLeNet's) run: in training by default.
    public let auxiliaryOutputs: Bool
    fileprivate(set) var wantedTaps: Set<String>
    fileprivate(set) var taps: [String: Variable] = [:]
    fileprivate var profile: [LayerProfile]?
    fileprivate var recorder: GraphRecorder?
    /// In a training pass, the outputs of the frozen prefix's layers, computed by its plan.
    fileprivate var frozenPrefix: FrozenPrefixResults?
    /// In a training pass on oneDNN, the batch normalizations that run with their ReLU fused in.
    fileprivate var reluFusion: ReLUFusionPass?

    init(training: Bool, auxiliaryOutputs: Bool? = nil, taps: Set<String>, profiling: Bool) {
        self.training = training
        self.auxiliaryOutputs = auxiliaryOutputs ?? training
        wantedTaps = taps
        profile = profiling ? [] : nil
    }

    /// Calls `layer`, recording its output as a tap when asked for and in the profile when profiling.
    public func call(_ layer: Layer, _ x: Variable) throws -> Variable {
        if let y = try prefixOutput(of: layer, reading: [x]) { return y }
        let y = try reluFusion?.call(layer, [x]) ?? layer(x, training: training)
        try recorder?.record(layer, [x], y)
        record(layer, y)
        return y
    }

    /// Calls a layer with several inputs.
    public func call(_ merge: Merge, _ inputs: [Variable]) throws -> Variable {
        if let y = try prefixOutput(of: merge, reading: inputs) { return y }
        let y = try reluFusion?.call(merge, inputs) ?? merge(inputs)
        try recorder?.record(merge, inputs, y)
        record(merge, y)
        return y
    }

    /// The frozen prefix's output for a layer inside it (the layer is not called).
    private func prefixOutput(of layer: Layer, reading inputs: [Variable]) throws -> Variable? {
        guard let y = try frozenPrefix?.output(of: layer, reading: inputs) else { return nil }
        record(layer, y)
        return y
    }

    func record(_ layer: Layer, _ y: Variable) {
        if wantedTaps.contains(layer.name) { taps[layer.name] = y }
        guard profile != nil else { return }
        var flops = 0.0
        let perImage = Double(y.value.count / max(1, y.shape.first ?? 1))
        if let conv = layer as? Conv2D {
            flops = 2 * perImage * Double(conv.kernel.value.count / max(1, conv.convolutionKernelShape[3]))
        } else if let dense = layer as? Dense {
            flops = 2 * Double(dense.kernel.value.count)
        }
        profile!.append(LayerProfile(name: layer.name, kind: layer.kind, outputShape: Array(y.shape.dropFirst()),
                                     parameters: layer.parameterCount, flops: flops))
    }
}

/// A network with Keras layer names: its layers in Keras's `model.layers` order, a forward pass, and the names of
/// the layers whose outputs can be tapped as features.
public final class Model {
    public let name: String
    /// The shape of one sample of each input, without the batch axis: height, width, channels for an image.
    public let inputShapes: [[Int]]
    /// The first (usually only) input's: height, width, channels of one image.
    public var inputShape: [Int] { inputShapes[0] }
    public let layers: [Layer]
    public let tapNames: [String]
    private let body: (ForwardContext, [Variable]) throws -> [Variable]
    /// What names each input and output (Keras's input and output layers), when the model says.
    public var inputNames: [String] = []
    public var outputNames: [String] = []
    /// Names an older generation of published weight files used for some layers (new name → old name; the others
    /// kept theirs), and the BatchNorm epsilon those files were trained with when it differs.
    public var legacyNames: [String: String] = [:]
    public var legacyBatchNormEpsilon: Float?
    /// The Dense layers that classify (main and auxiliary heads).
    public var classifierLayers: [String] = []
    /// The memory its training steps run in (see `StepMemory`): a caller wraps forward and backward of each step in
    /// `stepMemory.run(key:)`, as `Trainer` does.
    public let stepMemory = StepMemory()
    private let plans = InferencePlanCache()
    private let prefixes = FrozenPrefixCache()

    /// Gives every classifier head `classes` outputs, freshly initialized (transfer learning); the rest is untouched.
    public func resetClassifier(classes: Int, seed: UInt64 = 0) throws {
        guard classes > 0 else { throw ShapeError(name, "classes must be positive, got \(classes)") }
        let heads = classifierLayers.compactMap { layer(named: $0) as? Dense }
        guard !heads.isEmpty else { throw ShapeError(name, "has no classifier head to reset (built without its top?)") }
        var generator = SeededGenerator(seed: seed)
        for head in heads { head.reset(units: classes, generator: &generator) }
    }

    /// A model with one input.
    public convenience init(name: String, inputShape: [Int], layers: [Layer], tapNames: [String],
                            body: @escaping (ForwardContext, Variable) throws -> [Variable]) {
        self.init(name: name, inputShapes: [inputShape], layers: layers, tapNames: tapNames) { context, inputs in try body(context, inputs[0]) }
    }

    /// A model with several inputs, given to `body` in the order of `inputShapes`.
    public init(name: String, inputShapes: [[Int]], layers: [Layer], tapNames: [String],
                body: @escaping (ForwardContext, [Variable]) throws -> [Variable]) {
        precondition(!inputShapes.isEmpty, "a model has at least one input")
        self.name = name
        self.inputShapes = inputShapes
        self.layers = layers
        self.tapNames = tapNames
        self.body = body
    }

    /// A model that applies `layers` in order.
    public static func sequential(name: String, inputShape: [Int], layers: [Layer], tapNames: [String]) -> Model {
        Model(name: name, inputShape: inputShape, layers: layers, tapNames: tapNames) { context, x in
            [try layers.reduce(x) { try context.call($1, $0) }]
        }
    }

    /// Runs the model on an NHWC batch; `taps` names layers whose outputs to return too (see `tapNames`). Auxiliary
    /// heads run in training unless `auxiliaryOutputs` says otherwise (to evaluate them without dropout).
    ///
    /// Inference on oneDNN with gradients off runs through an inference plan compiled for the input's shape (see
    /// `plan(for:taps:)`). A training pass on oneDNN runs its frozen prefix (see `FrozenPrefix`) through a plan too
    /// and the rest eagerly, recording gradients, with each training BatchNorm's ReLU fused in where the traced graph
    /// allows (see `ReLUFusions`); everything else, and `ZOO_PLANS=0`, runs eagerly layer by layer.
    public func callAsFunction(_ x: Variable, training: Bool = false, auxiliaryOutputs: Bool? = nil, taps: Set<String> = []) throws -> ModelOutput {
        try self([x], training: training, auxiliaryOutputs: auxiliaryOutputs, taps: taps)
    }

    /// Runs a model with several inputs: one batch per input, in the order of `inputShapes`; planned as above when
    /// the first is a batch of images.
    public func callAsFunction(_ inputs: [Variable], training: Bool = false, auxiliaryOutputs: Bool? = nil, taps: Set<String> = []) throws -> ModelOutput {
        guard inputs.count == inputShapes.count else {
            throw ShapeError(name, "takes \(inputShapes.count) input\(inputShapes.count == 1 ? "" : "s") (\(inputDescription)), got \(inputs.count)")
        }
        let known = Set(layers.map(\.name))
        if let unknown = taps.sorted().first(where: { !known.contains($0) }) {
            throw ShapeError(name, "no layer named '\(unknown)' to tap; feature taps: " + tapNames.joined(separator: ", "))
        }
        // Plans are for image models (a head on feature vectors is too small to gain from one).
        let shapes = inputs.map(\.shape), plannable = shapes[0].count == 4
        if !training, auxiliaryOutputs != true, !Gradients.recorded, InferencePlanCache.enabled, Runtime.planningBackend != nil,
           plannable, let plan = try cachedPlan(for: shapes, taps: taps) {
            let result = try plan.run(inputs.map(\.value))
            return ModelOutput(outputs: result.outputs.map { Variable($0) }, taps: result.taps.mapValues { Variable($0) })
        }
        let context = ForwardContext(training: training, auxiliaryOutputs: auxiliaryOutputs, taps: taps, profiling: false)
        if training || Gradients.recorded {
            plans.release()
            if InferencePlanCache.enabled, let backend = Runtime.planningBackend, plannable {
                if !inputs.contains(where: \.requiresGrad) {
                    context.frozenPrefix = try frozenPrefix(of: inputs, auxiliaryOutputs: context.auxiliaryOutputs, taps: taps, on: backend)
                }
                if training, let graph = try prefixes.graph(for: inputs.map(\.shape), auxiliaryOutputs: context.auxiliaryOutputs, taps: taps,
                                                            trace: { try trace(inputs: inputs.map(\.shape), taps: taps, auxiliaryOutputs: context.auxiliaryOutputs) }) {
                    context.reluFusion = ReLUFusionPass(ReLUFusions(of: graph))
                }
            }
        }
        return ModelOutput(outputs: try body(context, inputs), taps: context.taps)
    }

    /// Runs an inference pass (no gradients, inference mode) on a batch of images: the main output.
    public func predict(_ images: Tensor) throws -> Tensor {
        try Gradients.off { try self(Variable(images)).main.value }
    }

    /// The inference plan for input batches of `shape` (NHWC) with `taps` kept, compiled on first use and again
    /// when a weight has changed since. Throws `GraphTraceError` for a model whose forward pass computes between its
    /// layers; inference then runs eagerly.
    public func plan(for shape: [Int], taps: Set<String> = []) throws -> InferencePlan {
        try plan(for: [shape], taps: taps)
    }

    /// The inference plan for a model with several inputs: one batch shape per input.
    public func plan(for shapes: [[Int]], taps: Set<String> = []) throws -> InferencePlan {
        guard let plan = try cachedPlan(for: shapes, taps: taps) else { return try compilePlan(for: shapes, taps: taps) }
        return plan
    }

    private func cachedPlan(for shapes: [[Int]], taps: Set<String>) throws -> InferencePlan? {
        try plans.plan(for: shapes, taps: taps) { try compilePlan(for: shapes, taps: taps) }
    }

    private func compilePlan(for shapes: [[Int]], taps: Set<String>) throws -> InferencePlan {
        guard let backend = Runtime.planningBackend else {
            throw ShapeError(name, "inference plans run on oneDNN; the current backend is \(Runtime.backend.name)")
        }
        return try InferencePlan(trace(inputs: shapes, taps: taps), on: backend, blocked: InferencePlanCache.blockedLayouts)
    }

    /// The layers a training pass over batches of `shape` runs through an inference plan, in the order they run: the
    /// frozen prefix (see `FrozenPrefix`) under the current freezing; empty when it holds no layer with weights.
    public func frozenPrefixLayers(for shape: [Int], auxiliaryOutputs: Bool = true, taps: Set<String> = []) throws -> [String] {
        try frozenPrefixLayers(for: [shape], auxiliaryOutputs: auxiliaryOutputs, taps: taps)
    }

    /// The frozen prefix of a model with several inputs: one batch shape per input.
    public func frozenPrefixLayers(for shapes: [[Int]], auxiliaryOutputs: Bool = true, taps: Set<String> = []) throws -> [String] {
        let graph = try trace(inputs: shapes, taps: taps, auxiliaryOutputs: auxiliaryOutputs)
        return FrozenPrefix(of: graph)?.graph.nodes.map(\.layer.name) ?? []
    }

    private func frozenPrefix(of inputs: [Variable], auxiliaryOutputs: Bool, taps: Set<String>, on backend: DNNLBackend) throws -> FrozenPrefixResults? {
        let shapes = inputs.map(\.shape)
        guard let (prefix, plan) = try prefixes.prefix(
            for: shapes, auxiliaryOutputs: auxiliaryOutputs, taps: taps,
            trace: { try trace(inputs: shapes, taps: taps, auxiliaryOutputs: auxiliaryOutputs) },
            compile: { try InferencePlan($0, on: backend, blocked: InferencePlanCache.blockedLayouts) }) else { return nil }
        return FrozenPrefixResults(prefix, inputs: inputs, computed: try plan.run(inputs.map(\.value)).outputs)
    }

    public func layer(named name: String) -> Layer? { layers.first { $0.name == name } }

    /// The inputs as Keras prints them, with their names when known: `image (None, 32, 32, 3), meta (None, 5)`.
    public var inputDescription: String {
        inputShapes.enumerated().map { index, shape in
            (inputNames.count == inputShapes.count ? inputNames[index] + " " : "") + "(None, " + shape.map(String.init).joined(separator: ", ") + ")"
        }.joined(separator: ", ")
    }

    /// Throws unless the model takes one batch of images (height, width, channels), saying that `purpose` needs it.
    public func requireOneImageInput(for purpose: String) throws {
        guard inputShapes.count == 1, inputShape.count == 3 else {
            throw ShapeError(name, "takes \(inputShapes.count == 1 ? "the input" : "\(inputShapes.count) inputs") \(inputDescription); "
                + "\(purpose) feeds images to a network with one image input")
        }
    }

    /// Every weight, layer by layer in model order.
    public var weights: [Weight] { layers.flatMap(\.weights) }
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Each layer's output shape, parameters and FLOPs for one image of `size` (default: the model's input size),
    /// measured by running the model on a backend that computes shapes only (training mode off, so auxiliary heads
    /// that only train are left out).
    public func profile(size: (Int, Int)? = nil) throws -> [LayerProfile] {
        let context = ForwardContext(training: false, taps: [], profiling: true)
        let inputs = batchShapes(batch: 1, size: size).map { Variable(Tensor(reservedZeros: $0)) }
        _ = try Runtime.using(ShapeOnlyBackend()) { try body(context, inputs) }
        return context.profile!
    }

    /// Each input's batch shape; `size` sets the first input's height and width.
    private func batchShapes(batch: Int, size: (Int, Int)?) -> [[Int]] {
        var shapes = inputShapes.map { [batch] + $0 }
        if let size, shapes[0].count == 4 { shapes[0][1] = size.0; shapes[0][2] = size.1 }
        return shapes
    }

    /// Runs the model's layers inside another model's forward pass (a backbone under a new head), so that the outer
    /// pass sees, traces and profiles every layer; with `tap`, that layer's output too.
    public func forward(in context: ForwardContext, _ x: Variable, tap: String? = nil) throws -> (outputs: [Variable], tap: Variable?) {
        try requireOneImageInput(for: "a new head")
        guard let tap, !context.wantedTaps.contains(tap) else {
            return (try body(context, [x]), tap.flatMap { context.taps[$0] })
        }
        guard layer(named: tap) != nil else { throw ShapeError(name, "no layer named '\(tap)' to tap; feature taps: " + tapNames.joined(separator: ", ")) }
        context.wantedTaps.insert(tap)
        defer { context.wantedTaps.remove(tap); context.taps[tap] = nil }
        let outputs = try body(context, [x])
        return (outputs, context.taps[tap])
    }

    /// The layer graph of an inference pass over `batch` images of `size` (default: the model's input size), with
    /// `taps` as extra outputs (and auxiliary heads when asked for). Traced on the shape-only backend with one image
    /// (every layer treats images independently), so it costs what a profile costs.
    public func trace(batch: Int, size: (Int, Int)? = nil, taps: Set<String> = [], auxiliaryOutputs: Bool = false) throws -> LayerGraph {
        try trace(inputs: batchShapes(batch: batch, size: size), taps: taps, auxiliaryOutputs: auxiliaryOutputs)
    }

    /// The layer graph of an inference pass over input batches of `shapes` (one per input, the same batch size).
    func trace(inputs shapes: [[Int]], taps: Set<String> = [], auxiliaryOutputs: Bool = false) throws -> LayerGraph {
        let inputs = shapes.map { Variable(Tensor(reservedZeros: [1] + $0.dropFirst())) }
        let recorder = GraphRecorder(inputs: inputs)
        let context = ForwardContext(training: false, auxiliaryOutputs: auxiliaryOutputs, taps: taps, profiling: false)
        context.recorder = recorder
        let outputs = try Runtime.using(ShapeOnlyBackend()) { try Gradients.off { try body(context, inputs) } }
        return try recorder.graph(batch: shapes[0][0], outputs: outputs, taps: context.taps)
    }

    /// A Keras-style table: layer, output shape, parameters; then the totals.
    public func summary(size: (Int, Int)? = nil) throws -> String {
        let rows = try profile(size: size)
        let header = "Layer (type)".padding(toLength: 40, withPad: " ", startingAt: 0)
            + "Output Shape".padding(toLength: 24, withPad: " ", startingAt: 0) + "Param #"
        var lines = ["Model: \(name)", header, String(repeating: "─", count: 76)]
        for row in rows {
            lines.append("\(row.name) (\(row.kind))".padding(toLength: 40, withPad: " ", startingAt: 0)
                + describe(shape: row.outputShape).padding(toLength: 24, withPad: " ", startingAt: 0) + "\(row.parameters)")
        }
        let trainable = weights.filter { $0.isTrainableKind }.reduce(0) { $0 + $1.value.count }
        lines += [String(repeating: "─", count: 76), "Total params: \(parameterCount)", "Trainable params: \(trainable)",
                  "Non-trainable params: \(parameterCount - trainable)"]
        return lines.joined(separator: "\n")
    }
}
