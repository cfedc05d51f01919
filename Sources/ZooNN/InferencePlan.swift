import Foundation
import ZooTensor

/// A model's inference pass compiled for one input shape on oneDNN: BatchNorm folded into the convolution before it,
/// a convolution's bias, activation and residual add fused into it as post-ops, primitives built for inference once,
/// and each intermediate value released after its last reader. Layers a plan cannot see into run as they are.
/// Immutable once built, so any number of threads may run it at once.
public final class InferencePlan: @unchecked Sendable {
    enum Step {
        /// `addend`: the value the output starts from (a fused residual add).
        case kernel(PlannedKernel, input: Int, output: Int, addend: Int?)
        case layer(Layer, inputs: [Int], output: Int)
        /// The same elements under the output value's shape (Flatten, Dropout at inference, global pooling's squeeze).
        case reshape(input: Int, output: Int)
    }

    public let inputShape: [Int]
    let steps: [Step]
    let shapes: [[Int]]
    let outputs: [Int]
    let taps: [String: Int]
    /// Per step, the values no later step reads.
    let releases: [[Int]]
    /// Every weight the plan read, with the storage and version it read, so a changed weight makes the plan stale.
    private let weightVersions: [(weight: Weight, storage: TensorStorage, version: UInt64)]

    /// How many layers were folded or fused away, and how many steps remain: for tests and profiles.
    public let fusedLayers: Int
    public var stepCount: Int { steps.count }

    /// Whether every weight still has the value the plan was built from.
    public var isCurrent: Bool {
        weightVersions.allSatisfy { $0.weight.value.storage === $0.storage && $0.storage.version == $0.version }
    }

    public init(_ graph: LayerGraph, on backend: DNNLBackend) throws {
        let compiled = try PlanCompiler(graph, backend).compile()
        inputShape = graph.shapes[0]
        steps = compiled.steps
        shapes = graph.shapes
        outputs = graph.outputs
        taps = graph.taps
        fusedLayers = compiled.fused
        weightVersions = graph.nodes.flatMap { $0.layer.weights.map { ($0, $0.value.storage, $0.value.storage.version) } }
        var lastReader = [Int: Int]()
        for (index, step) in steps.enumerated() {
            for value in step.reads { lastReader[value] = index }
        }
        let kept = Set(outputs + taps.values)
        var releases = Array(repeating: [Int](), count: steps.count)
        for (value, index) in lastReader where !kept.contains(value) { releases[index].append(value) }
        self.releases = releases
    }

    /// Runs the plan on a batch of `inputShape`: the model's outputs and the tapped values.
    public func run(_ input: Tensor) throws -> (outputs: [Tensor], taps: [String: Tensor]) {
        guard input.shape == inputShape else {
            throw ShapeError("inference plan", "was built for \(describe(shape: inputShape)), got \(describe(shape: input.shape))")
        }
        var values = [Tensor?](repeating: nil, count: shapes.count)
        values[0] = input
        for (index, step) in steps.enumerated() {
            switch step {
            case let .kernel(kernel, input, output, addend):
                if let addend {
                    var sum = try values[addend]!.reshaped(shapes[output])
                    if releases[index].contains(addend) { values[addend] = nil }  // lets the kernel write in place
                    try sum.withUnsafeMutableBufferPointer { try kernel.run([values[input]!], into: $0.baseAddress!) }
                    values[output] = sum
                } else {
                    values[output] = try kernel([values[input]!]).reshaped(shapes[output])
                }
            case let .layer(layer, inputs, output):
                let arguments = inputs.map { Variable(values[$0]!) }
                values[output] = try Gradients.off {
                    if let merge = layer as? Merge { return try merge(arguments).value }
                    return try layer(arguments[0], training: false).value
                }
            case let .reshape(input, output):
                values[output] = try values[input]!.reshaped(shapes[output])
            }
            for value in releases[index] { values[value] = nil }
        }
        return (outputs.map { values[$0]! }, taps.mapValues { values[$0]! })
    }
}

extension InferencePlan.Step {
    var reads: [Int] {
        switch self {
        case let .kernel(_, input, _, addend): [input] + (addend.map { [$0] } ?? [])
        case let .layer(_, inputs, _): inputs
        case let .reshape(input, _): [input]
        }
    }
}

/// Turns a layer graph into plan steps: decides which layers fold or fuse into which, then builds the kernels.
private struct PlanCompiler {
    let graph: LayerGraph
    let backend: DNNLBackend
    let readers: [[Int]]
    /// Values that must exist as they are: the model's outputs and taps.
    let kept: Set<Int>
    /// Node index → the node whose output it produces (the value it was read from).
    var producer: [Int: Int] = [:]

    init(_ graph: LayerGraph, _ backend: DNNLBackend) {
        self.graph = graph
        self.backend = backend
        readers = graph.consumers()
        kept = Set(graph.outputs + graph.taps.values)
        for (index, node) in graph.nodes.enumerated() { producer[node.output] = index }
    }

    /// The one node reading `value`, when nothing else needs it.
    func soleReader(of value: Int) -> Int? {
        guard !kept.contains(value), readers[value].count == 1 else { return nil }
        return readers[value][0]
    }

    func compile() throws -> (steps: [InferencePlan.Step], fused: Int) {
        var steps: [InferencePlan.Step] = []
        var absorbed = Set<Int>()
        // Zero padding read only by a 'valid' convolution becomes that convolution's own padding.
        var paddingOf: [Int: (node: Int, top: Int, bottom: Int, left: Int, right: Int)] = [:]
        for (index, node) in graph.nodes.enumerated() {
            guard case let .zeroPadding(top, bottom, left, right) = node.layer.computation,
                  let reader = soleReader(of: node.output), case let .convolution(conv) = graph.nodes[reader].layer.computation,
                  conv.padding == .valid else { continue }
            paddingOf[reader] = (index, top, bottom, left, right)
            absorbed.insert(index)
        }
        for (index, node) in graph.nodes.enumerated() where !absorbed.contains(index) {
            let input = node.inputs.first ?? 0
            let shape = graph.shapes[input]
            switch node.layer.computation {
            case .convolution(let conv):
                var source = input, padding = conv.padding
                if let pad = paddingOf[index] {
                    source = graph.nodes[pad.node].inputs[0]
                    padding = .explicit(top: pad.top, bottom: pad.bottom, left: pad.left, right: pad.right)
                }
                let g = try ConvolutionGeometry(input: graph.shapes[source], kernel: conv.kernel.shape, strides: conv.strides,
                                                padding: padding, groups: conv.groups)
                var kernel = conv.kernel.value, bias = conv.bias?.value
                var postOps: [PostOp] = []
                var output = node.output, addend: Int?
                if let activation = conv.activation {
                    guard let kind = activation.elementwise else { steps.append(.layer(node.layer, inputs: node.inputs, output: node.output)); continue }
                    postOps.append(.activation(kind))
                } else {
                    if let next = soleReader(of: output), case .batchNormalization(let bn) = graph.nodes[next].layer.computation {
                        (kernel, bias) = Folding.batchNorm(bn, into: kernel, bias: bias)
                        absorbed.insert(next)
                        output = graph.nodes[next].output
                    }
                    if let next = soleReader(of: output), case .add = graph.nodes[next].layer.computation, graph.nodes[next].inputs.count == 2,
                       let other = graph.nodes[next].inputs.first(where: { $0 != output }), (producer[other] ?? -1) < index {
                        postOps.append(.sum)
                        addend = other
                        absorbed.insert(next)
                        output = graph.nodes[next].output
                    }
                    if let next = soleReader(of: output), case .activation(let kind) = graph.nodes[next].layer.computation {
                        postOps.append(.activation(kind))
                        absorbed.insert(next)
                        output = graph.nodes[next].output
                    }
                }
                let planned = try backend.plannedConvolution(g, kernel: kernel, bias: bias, postOps: postOps)
                steps.append(.kernel(planned, input: source, output: output, addend: addend))
            case .dense(let dense) where shape.count == 2 && (dense.activation == nil || dense.activation?.elementwise != nil):
                let postOps = dense.activation?.elementwise.map { [PostOp.activation($0)] } ?? []
                let planned = try backend.plannedInnerProduct(batch: shape[0], kernel: dense.kernel.value, bias: dense.bias?.value, postOps: postOps)
                steps.append(.kernel(planned, input: input, output: node.output, addend: nil))
            case .batchNormalization(let bn) where shape.count == 4:
                var output = node.output, relu = false
                if let next = soleReader(of: output), case .activation(.relu) = graph.nodes[next].layer.computation {
                    relu = true
                    absorbed.insert(next)
                    output = graph.nodes[next].output
                }
                let planned = try backend.plannedBatchNorm(shape: shape, gamma: bn.gamma.value, beta: bn.beta.value, mean: bn.movingMean.value,
                                                           variance: bn.movingVariance.value, epsilon: bn.epsilon, relu: relu)
                steps.append(.kernel(planned, input: input, output: output, addend: nil))
            case .activation(let kind):
                steps.append(.kernel(try backend.plannedActivation(kind, shape: shape), input: input, output: node.output, addend: nil))
            case let .pooling(kind, size, strides, padding) where padding == .valid || padding == .same:
                let g = try PoolingGeometry(op: node.layer.name, input: shape, size: size, strides: strides, padding: padding)
                steps.append(.kernel(try backend.plannedPooling(kind, g), input: input, output: node.output, addend: nil))
            case .globalPooling(let kind) where shape.count == 4:
                let g = try PoolingGeometry(op: node.layer.name, input: shape, size: (shape[1], shape[2]), strides: (1, 1), padding: .valid)
                steps.append(.kernel(try backend.plannedPooling(kind, g), input: input, output: node.output, addend: nil))
            case .lrn(let parameters) where shape.count == 4:
                steps.append(.kernel(try backend.plannedLRN(parameters, shape: shape), input: input, output: node.output, addend: nil))
            case .flatten, .identity:
                steps.append(.reshape(input: input, output: node.output))
            default:
                steps.append(.layer(node.layer, inputs: node.inputs, output: node.output))
            }
        }
        return (steps, absorbed.count)
    }
}

extension LayerActivation {
    /// The elementwise activation a kernel can apply; softmax is not one.
    var elementwise: Activation? {
        switch self {
        case .relu: .relu
        case .tanh: .tanh
        case .sigmoid: .sigmoid
        case .softmax: nil
        }
    }
}

/// Rewrites of weights that leave a layer's output unchanged.
enum Folding {
    /// A convolution followed by inference BatchNorm as one convolution: each output channel's kernel scaled by
    /// γ/√(σ²+ε), its bias (b − μ)·γ/√(σ²+ε) + β.
    static func batchNorm(_ bn: BatchNormalization, into kernel: Tensor, bias: Tensor?) -> (kernel: Tensor, bias: Tensor) {
        let channels = kernel.shape.last!
        let gamma = bn.gamma.value.scalars, beta = bn.beta.value.scalars
        let mean = bn.movingMean.value.scalars, variance = bn.movingVariance.value.scalars
        let scale = (0..<channels).map { gamma[$0] / (variance[$0] + bn.epsilon).squareRoot() }
        let oldBias = bias?.scalars ?? Array(repeating: 0, count: channels)
        let folded = Tensor(shape: kernel.shape) { out in
            kernel.withUnsafeBufferPointer { w in
                for i in 0..<w.count { out[i] = w[i] * scale[i % channels] }
            }
        }
        let newBias = Tensor(shape: [channels]) { out in
            for c in 0..<channels { out[c] = (oldBias[c] - mean[c]) * scale[c] + beta[c] }
        }
        return (folded, newBias)
    }
}

/// A model's plans by input shape and taps. Compiling happens outside the lock; two threads asking for the same new
/// plan may both compile it, and the second result is kept.
final class InferencePlanCache: @unchecked Sendable {
    /// ZOO_PLANS=0 runs inference eagerly (the reference path for comparisons).
    static let enabled = ProcessInfo.processInfo.environment["ZOO_PLANS"] != "0"

    private struct Key: Hashable {
        let shape: [Int]
        let taps: Set<String>
    }
    private let lock = NSLock()
    private var plans: [Key: InferencePlan] = [:]

    func plan(for shape: [Int], taps: Set<String>, compile: () throws -> InferencePlan) throws -> InferencePlan {
        let key = Key(shape: shape, taps: taps)
        if let cached = lock.withLock({ plans[key] }), cached.isCurrent { return cached }
        let plan = try compile()
        lock.withLock { plans[key] = plan }
        return plan
    }
}
