import Foundation
import ZooTensor

/// A model's inference pass compiled for one input shape on oneDNN: BatchNorm folded into the convolution before it,
/// a convolution's bias, activation and residual add fused into it as post-ops, concatenations as one kernel,
/// primitives built for inference once, activations kept between kernels in the layout the CPU's kernels run fastest
/// on (converted only where a layer needs plain NHWC), and each intermediate value released after its last reader.
/// Layers a plan cannot see into run as they are. Immutable once built, so any number of threads may run it at once.
public final class InferencePlan: @unchecked Sendable {
    enum Step {
        /// `addend`: the value the output starts from (a fused residual add).
        case kernel(PlannedKernel, inputs: [Int], output: Int, addend: Int?)
        case layer(Layer, inputs: [Int], output: Int)
        /// The same elements under the output value's shape (Flatten, Dropout at inference, global pooling's squeeze).
        case reshape(input: Int, output: Int)
    }

    /// The shape of each input the plan was built for (NHWC images).
    public let inputShapes: [[Int]]
    public var inputShape: [Int] { inputShapes[0] }
    let steps: [Step]
    /// The shape of the tensor holding each value (flat for blocked layouts).
    let storageShapes: [[Int]]
    let outputs: [Int]
    let taps: [String: Int]
    /// Per step, the values no later step reads.
    let releases: [[Int]]
    /// Where intermediate values live (see `PlanMemory`), and the kernel steps whose sum writes over its addend.
    let memory: PlanMemory
    let sumsInPlace: Set<Int>
    /// Concatenation steps whose inputs were written into their output already.
    let concatenationsInPlace: Set<Int>
    /// Bytes of the arena one run uses for its intermediate values.
    public var arenaBytes: Int { memory.arenaBytes }
    /// Every weight the plan read, with the storage and version it read, so a changed weight makes the plan stale.
    private let weightVersions: [(weight: Weight, storage: TensorStorage, version: UInt64)]

    /// How many layers were folded or fused away, and how many steps remain: for tests and profiles.
    public let fusedLayers: Int
    public var stepCount: Int { steps.count }
    /// How many concatenations cost nothing: their inputs were written into their places in the output.
    public var concatenationsWrittenInPlace: Int { concatenationsInPlace.count }
    /// How many concatenations are block copies: at batch 1, inputs in a layout whose channels are outermost (nChw8c,
    /// nChw16c, NCHW), which only these can be written in place. oneDNN's choice of layout decides: on AVX2 its
    /// convolutions run nChw8c, on AVX-512 NHWC, where channels interleave and a concatenation has to copy.
    public var blockCopyConcatenations: Int {
        steps.filter { if case .kernel(let k, _, _, _) = $0 { k.inputOffsetsInOutput != nil } else { false } }.count
    }
    /// The steps that convert a value between layouts.
    public var reorderCount: Int { steps.filter { if case .kernel(let k, _, _, _) = $0 { k.name == "reorder" } else { false } }.count }

    /// Whether every weight still has the value the plan was built from.
    public var isCurrent: Bool {
        weightVersions.allSatisfy { $0.weight.value.storage === $0.storage && $0.storage.version == $0.version }
    }

    /// `blocked`: let convolutions keep activations in the layout oneDNN prefers on this CPU (default); false keeps
    /// every value plain NHWC.
    public init(_ graph: LayerGraph, on backend: DNNLBackend, blocked: Bool = true) throws {
        var compiler = PlanCompiler(graph, backend, blocked: blocked)
        try compiler.compile()
        inputShapes = graph.inputs.map { graph.shapes[$0] }
        steps = compiler.steps
        storageShapes = compiler.storageShapes
        outputs = compiler.outputs
        taps = compiler.taps
        fusedLayers = compiler.absorbed.count
        weightVersions = graph.nodes.flatMap { $0.layer.weights.map { ($0, $0.value.storage, $0.value.storage.version) } }
        var lastReader = [Int: Int]()
        for (index, step) in steps.enumerated() {
            for value in step.reads { lastReader[value] = index }
        }
        let kept = Set(outputs + taps.values)
        var releases = Array(repeating: [Int](), count: steps.count)
        for (value, index) in lastReader where !kept.contains(value) { releases[index].append(value) }
        self.releases = releases

        // Memory: reshapes share their input's; a sum writes over its addend when nothing reads the addend later,
        // the kernel itself included (a convolution reading the value it adds to would overwrite its own source);
        // the inputs, the outputs and taps, and what opaque layers return live outside the arena.
        var sharing = [Int: PlanMemory.Placement](), outside = kept.union(graph.inputs), inPlace = Set<Int>()
        for (index, step) in steps.enumerated() {
            switch step {
            case let .reshape(input, output): sharing[output] = .init(in: input)
            case let .layer(_, _, output): outside.insert(output)
            case let .kernel(_, inputs, output, addend?) where lastReader[addend] == index && !inputs.contains(addend) && !kept.contains(addend) && !graph.inputs.contains(addend)
                && !sharing.values.contains(where: { $0.host == addend }):
                sharing[output] = .init(in: addend)
                inPlace.insert(index)
            default: break
            }
        }
        // A concatenation whose inputs can be written straight into their places in its output (block copies at
        // batch 1; each input made by a kernel of this plan for this concatenation alone, and not summed over in
        // place) does nothing at all. Chains nest: DenseNet's block is one buffer its layers fill slice by slice.
        let addendsOverwritten = Set(inPlace.compactMap { if case let .kernel(_, _, _, addend) = compiler.steps[$0] { addend } else { nil } })
        var writer = [Int: Int]()
        for (index, step) in compiler.steps.enumerated() { writer[step.write] = index }
        var concatenated = Set<Int>()
        for (index, step) in compiler.steps.enumerated() {
            guard case let .kernel(kernel, inputs, output, nil) = step, let offsets = kernel.inputOffsetsInOutput,
                  !outside.contains(output), sharing[output] == nil, Set(inputs).count == inputs.count,
                  !sharing.contains(where: { $0.value.host == output && outside.contains($0.key) }),
                  inputs.allSatisfy({ input in
                      guard let w = writer[input], case .kernel = compiler.steps[w] else { return false }
                      return !outside.contains(input) && sharing[input] == nil && !addendsOverwritten.contains(input)
                  }) else { continue }
            for (input, offset) in zip(inputs, offsets) { sharing[input] = .init(in: output, at: offset * MemoryLayout<Float>.stride) }
            concatenated.insert(index)
        }
        memory = PlanMemory(sizes: storageShapes.map { $0.reduce(1, *) * MemoryLayout<Float>.stride },
                            steps: steps.map { ($0.reads, $0.write) }, sharing: sharing, outside: outside)
        sumsInPlace = inPlace
        concatenationsInPlace = concatenated
    }

    /// Time spent per kind of step ("planned convolution", "reorder", a layer's kind, …) and the FLOPs of each kind,
    /// added up over the runs it is passed to.
    public final class Profile {
        public private(set) var seconds: [String: Double] = [:]
        public private(set) var flops: [String: Double] = [:]
        public var total: Double { seconds.values.reduce(0, +) }
        public init() {}

        func add(_ kind: String, _ duration: Duration, flops: Double) {
            seconds[kind, default: 0] += duration.inSeconds
            self.flops[kind, default: 0] += flops
        }
    }

    /// Runs the plan on a batch of `inputShape`: the model's outputs and the tapped values. With `profile`, each
    /// step's time is added to it.
    public func run(_ input: Tensor, profile: Profile? = nil) throws -> (outputs: [Tensor], taps: [String: Tensor]) {
        try run([input], profile: profile)
    }

    /// Runs the plan on one batch per input (see `inputShapes`).
    public func run(_ inputs: [Tensor], profile: Profile? = nil) throws -> (outputs: [Tensor], taps: [String: Tensor]) {
        guard inputs.map(\.shape) == inputShapes else {
            throw ShapeError("inference plan", "was built for \(inputShapes.map(describe(shape:)).joined(separator: " and ")), got "
                + inputs.map { describe(shape: $0.shape) }.joined(separator: " and "))
        }
        // One arena per run, so that runs on several threads never share memory.
        let arena = Tensor(uninitializedShape: [max(1, memory.arenaBytes / MemoryLayout<Float>.stride)]) { _ in }
        let base = arena.storage.pointer
        var values = [Tensor?](repeating: nil, count: storageShapes.count)
        for (index, input) in inputs.enumerated() { values[index] = input }
        for (index, step) in steps.enumerated() {
            let start = profile == nil ? nil : ContinuousClock.now
            defer { if let start { profile?.add(step.kind, ContinuousClock.now - start, flops: step.flops) } }
            switch step {
            case let .kernel(kernel, inputs, output, addend):
                let sources = inputs.map { values[$0]! }
                if let offset = memory.offsets[output] {
                    let destination = base + offset / MemoryLayout<Float>.stride
                    if concatenationsInPlace.contains(index) {
                        values[output] = Tensor(shape: storageShapes[output], borrowing: destination, owner: arena.storage)
                        for value in releases[index] { values[value] = nil }
                        continue
                    }
                    if let addend, !sumsInPlace.contains(index) {
                        values[addend]!.withUnsafeBufferPointer { destination.update(from: $0.baseAddress!, count: $0.count) }
                    }
                    try kernel.run(sources, into: destination)
                    values[output] = Tensor(shape: storageShapes[output], borrowing: destination, owner: arena.storage)
                } else if let addend {
                    var sum = values[addend]!
                    try sum.withUnsafeMutableBufferPointer { try kernel.run(sources, into: $0.baseAddress!) }
                    values[output] = sum
                } else {
                    values[output] = try kernel(sources)
                }
            case let .layer(layer, inputs, output):
                let arguments = inputs.map { values[$0]! }
                var result = try Gradients.off {
                    let variables = arguments.map { Variable($0) }
                    if let merge = layer as? Merge { return try merge(variables).value }
                    return try layer(variables[0], training: false).value
                }
                // What leaves the arena must not be arena memory a later step overwrites.
                if arguments.contains(where: { $0.storage === result.storage }) { result.withUnsafeMutableBufferPointer { _ in } }
                values[output] = result
            case let .reshape(input, output):
                values[output] = try values[input]!.reshaped(storageShapes[output])
            }
            for value in releases[index] { values[value] = nil }
        }
        return (outputs.map { values[$0]! }, taps.mapValues { values[$0]! })
    }
}

extension InferencePlan.Step {
    var kind: String {
        switch self {
        case let .kernel(kernel, _, _, _): kernel.name
        case let .layer(layer, _, _): "layer \(layer.kind)"
        case .reshape: "reshape"
        }
    }

    var flops: Double {
        if case let .kernel(kernel, _, _, _) = self { return kernel.flops }
        return 0
    }

    var write: Int {
        switch self {
        case let .kernel(_, _, output, _), let .layer(_, _, output), let .reshape(_, output): output
        }
    }

    var reads: [Int] {
        switch self {
        case let .kernel(_, inputs, _, addend): inputs + (addend.map { [$0] } ?? [])
        case let .layer(_, inputs, _): inputs
        case let .reshape(input, _): [input]
        }
    }
}

/// Turns a layer graph into plan steps: decides which layers fold or fuse into which, builds the kernels, and
/// inserts layout conversions where a reader needs another layout than its value has.
private struct PlanCompiler {
    let graph: LayerGraph
    let backend: DNNLBackend
    let blocked: Bool
    let readers: [[Int]]
    /// Values that must exist as they are: the model's outputs and taps.
    let kept: Set<Int>
    /// Value → the node that produced it.
    var producer: [Int: Int] = [:]

    var steps: [InferencePlan.Step] = []
    var absorbed = Set<Int>()
    /// Per value (graph values first, then values the plan adds), its layout once produced.
    var layouts: [PlannedLayout?]
    var storageShapes: [[Int]]
    /// Value → the layouts it was converted to, each with the value holding that copy.
    var converted: [Int: [(PlannedLayout, Int)]] = [:]
    var outputs: [Int] = []
    var taps: [String: Int] = [:]

    init(_ graph: LayerGraph, _ backend: DNNLBackend, blocked: Bool) {
        self.graph = graph
        self.backend = backend
        self.blocked = blocked
        readers = graph.consumers()
        kept = Set(graph.outputs + graph.taps.values)
        for (index, node) in graph.nodes.enumerated() { producer[node.output] = index }
        layouts = Array(repeating: nil, count: graph.shapes.count)
        storageShapes = graph.shapes
        for input in graph.inputs { layouts[input] = try? PlannedLayout.plain(graph.shapes[input]) }
    }

    /// The one node reading `value`, when nothing else needs it.
    func soleReader(of value: Int) -> Int? {
        guard !kept.contains(value), readers[value].count == 1 else { return nil }
        return readers[value][0]
    }

    /// Marks `node` as fused into the step being built and returns its output, which that step now produces.
    mutating func absorb(_ node: Int) -> Int {
        absorbed.insert(node)
        return graph.nodes[node].output
    }

    /// A new value of the plan's own.
    mutating func newValue(_ layout: PlannedLayout) -> Int {
        layouts.append(layout)
        storageShapes.append(layout.storageShape)
        return layouts.count - 1
    }

    mutating func emit(_ kernel: PlannedKernel, inputs: [Int], output: Int, addend: Int? = nil) {
        layouts[output] = kernel.outputLayout
        storageShapes[output] = kernel.outputLayout.storageShape
        steps.append(.kernel(kernel, inputs: inputs, output: output, addend: addend))
    }

    /// `value` in `layout`: itself, or a converted copy (made once).
    mutating func value(_ value: Int, in layout: PlannedLayout) throws -> Int {
        let current = layouts[value]!
        if current == layout { return value }
        if let done = converted[value]?.first(where: { $0.0 == layout }) { return done.1 }
        let copy = newValue(layout)
        emit(try backend.plannedReorder(from: current, to: layout), inputs: [value], output: copy)
        converted[value, default: []].append((layout, copy))
        return copy
    }

    mutating func plain(_ value: Int) throws -> Int { try self.value(value, in: try PlannedLayout.plain(layouts[value]!.shape)) }

    /// Whether every element of `value` is ≥ 0 whatever the input: it comes out of a ReLU, or is a maximum or a
    /// concatenation of such values.
    func isNonNegative(_ value: Int) -> Bool {
        guard let node = producer[value].map({ graph.nodes[$0] }) else { return false }
        switch node.layer.computation {
        case .activation(.relu): return true
        case .convolution(let conv): return conv.activation == .relu
        case .dense(let dense): return dense.activation == .relu
        case .pooling(.max, _, _, _), .globalPooling(.max, _), .identity, .flatten: return isNonNegative(node.inputs[0])
        case .concatenate: return node.inputs.allSatisfy(isNonNegative)
        default: return false
        }
    }

    mutating func compile() throws {
        // Zero padding read only by a 'valid' convolution becomes that convolution's own padding; read only by a
        // 'valid' max pooling of values ≥ 0, the pooling's (oneDNN's padded cells never win, and with every value
        // ≥ 0 a zero never changes a maximum of a window that holds at least one real cell).
        var paddingOf: [Int: (node: Int, top: Int, bottom: Int, left: Int, right: Int)] = [:]
        for (index, node) in graph.nodes.enumerated() {
            guard case let .zeroPadding(top, bottom, left, right) = node.layer.computation,
                  let reader = soleReader(of: node.output) else { continue }
            switch graph.nodes[reader].layer.computation {
            case .convolution(let conv) where conv.padding == .valid: break
            case .separableConvolution(let conv) where conv.padding == .valid: break
            case let .pooling(.max, size, _, .valid) where isNonNegative(node.inputs[0]) && max(top, bottom) < size.0 && max(left, right) < size.1: break
            default: continue
            }
            paddingOf[reader] = (index, top, bottom, left, right)
            absorbed.insert(index)
        }
        for (index, node) in graph.nodes.enumerated() where !absorbed.contains(index) {
            let input = node.inputs.first ?? 0
            let shape = graph.shapes[input]
            switch node.layer.computation {
            case .convolution(let conv) where conv.activation?.elementwise?.hasDNNLKernel ?? (conv.activation == nil):
                var source = input, padding = conv.padding
                if let pad = paddingOf[index] {
                    source = graph.nodes[pad.node].inputs[0]
                    padding = .explicit(top: pad.top, bottom: pad.bottom, left: pad.left, right: pad.right)
                }
                let g = try ConvolutionGeometry(input: graph.shapes[source], kernel: conv.convolutionKernelShape, strides: conv.strides,
                                                dilation: conv.dilation, padding: padding, groups: conv.groups)
                try convolution(g, source: source, kernel: conv.convolutionKernel, bias: conv.bias?.value, activation: conv.activation,
                                node: index)
            case .separableConvolution(let conv) where conv.activation?.elementwise?.hasDNNLKernel ?? (conv.activation == nil):
                // The depthwise step into a value of the plan's own, then the 1×1 step with what follows fused in.
                var source = input, padding = conv.padding
                if let pad = paddingOf[index] {
                    source = graph.nodes[pad.node].inputs[0]
                    padding = .explicit(top: pad.top, bottom: pad.bottom, left: pad.left, right: pad.right)
                }
                let spread = try ConvolutionGeometry(input: graph.shapes[source], kernel: conv.depthwiseConvolutionKernelShape,
                                                     strides: conv.strides, dilation: conv.dilation, padding: padding, groups: conv.depthwiseGroups)
                let depthwise = try backend.plannedConvolution(spread, kernel: try conv.depthwiseKernel.value.reshaped(conv.depthwiseConvolutionKernelShape),
                                                               bias: nil, postOps: [], blocked: blocked)
                let from = try value(source, in: depthwise.inputLayouts[0])
                let middle = newValue(depthwise.outputLayout)
                emit(depthwise, inputs: [from], output: middle)
                let g = try ConvolutionGeometry(input: spread.outputShape, kernel: conv.pointwiseKernel.shape)
                try convolution(g, source: middle, kernel: conv.pointwiseKernel.value, bias: conv.bias?.value, activation: conv.activation,
                                node: index)
            case .dense(let dense) where shape.count == 2 && (dense.activation?.elementwise?.hasDNNLKernel ?? true):
                let postOps = dense.activation?.elementwise.map { [PostOp.activation($0)] } ?? []
                let planned = try backend.plannedInnerProduct(batch: shape[0], kernel: dense.kernel.value, bias: dense.bias?.value, postOps: postOps)
                if dense.activation == .softmax {
                    // A classifier's softmax runs after the product, on what it wrote.
                    let logits = newValue(planned.outputLayout)
                    emit(planned, inputs: [try plain(input)], output: logits)
                    steps.append(.layer(Layers.softmax(node.layer.name), inputs: [logits], output: node.output))
                    layouts[node.output] = planned.outputLayout
                } else {
                    emit(planned, inputs: [try plain(input)], output: node.output)
                }
            case .batchNormalization(let bn) where shape.count == 4:
                var output = node.output, relu = false
                if let next = soleReader(of: output), case .activation(.relu) = graph.nodes[next].layer.computation {
                    relu = true
                    output = absorb(next)
                }
                let planned = try backend.plannedBatchNorm(gamma: bn.gamma.value, beta: bn.beta.value, mean: bn.movingMean.value,
                                                           variance: bn.movingVariance.value, epsilon: bn.epsilon, relu: relu,
                                                           input: layouts[input]!)
                emit(planned, inputs: [input], output: output)
            case .activation(let kind) where kind.hasDNNLKernel:
                emit(try backend.plannedActivation(kind, input: layouts[input]!), inputs: [input], output: node.output)
            case let .pooling(kind, size, strides, padding) where padding == .valid || padding == .same:
                var source = input, padding = padding
                if let pad = paddingOf[index] {
                    source = graph.nodes[pad.node].inputs[0]
                    padding = .explicit(top: pad.top, bottom: pad.bottom, left: pad.left, right: pad.right)
                }
                let g = try PoolingGeometry(op: node.layer.name, input: graph.shapes[source], size: size, strides: strides, padding: padding)
                emit(try backend.plannedPooling(kind, g, input: layouts[source]!), inputs: [source], output: node.output)
            case .globalPooling(let kind, _) where shape.count == 4:
                let g = try PoolingGeometry(op: node.layer.name, input: shape, size: (shape[1], shape[2]), strides: (1, 1), padding: .valid)
                let pooled = try backend.plannedPooling(kind, g, input: layouts[input]!)
                let value = newValue(pooled.outputLayout)
                emit(pooled, inputs: [input], output: value)
                try reshape(try plain(value), to: node.output)
            case .lrn(let parameters) where shape.count == 4:
                emit(try backend.plannedLRN(parameters, input: layouts[input]!), inputs: [input], output: node.output)
            case .concatenate where shape.count == 4 && node.inputs.count > 1:
                // oneDNN joins the inputs in whatever layouts they have.
                emit(try backend.plannedConcatenation(node.inputs.map { layouts[$0]! }), inputs: node.inputs, output: node.output)
            case .add where node.inputs.count == 2 && shape.count == 4, .combination where node.inputs.count == 2 && shape.count == 4:
                try binary(node)
            case .channelAffine(var scale, var offset) where shape.count == 4 && Self.fits(scale, offset, channels: shape[3]):
                // Affine maps in a row (Rescaling, then Normalization) as one. Coefficients that fit no channel count
                // are the layer's to refuse, as it runs.
                var output = node.output
                while let next = soleReader(of: output), case let .channelAffine(nextScale, nextOffset) = graph.nodes[next].layer.computation,
                      Self.fits(nextScale, nextOffset, channels: shape[3]) {
                    (scale, offset) = Folding.compose(scale, offset, then: nextScale, nextOffset)
                    output = absorb(next)
                }
                try channelAffine(scale: scale, offset: offset, input: input, output: output)
            case .layerScale(let layer) where shape.count == 4 && layer.gamma.value.count == shape[3]:
                try channelAffine(scale: layer.gamma.value.scalars, offset: [0], input: input, output: node.output)
            case .reshape:
                // Keras reshapes in NHWC element order: plain memory as it lies.
                try reshape(try plain(input), to: node.output)
            case .identity:
                // The same value under another name, in its layout.
                steps.append(.reshape(input: input, output: node.output))
                layouts[node.output] = layouts[input]
                storageShapes[node.output] = storageShapes[input]
            case .flatten:
                try reshape(try plain(input), to: node.output)
            default:
                try opaque(node)
            }
        }
        outputs = try graph.outputs.map { try plain($0) }
        taps = try graph.taps.mapValues { try plain($0) }
    }

    /// A convolution of `source` for graph node `index` (whose output it writes), with a BatchNorm after it folded
    /// in and a residual add and an activation fused, or the layer's own activation.
    mutating func convolution(_ g: ConvolutionGeometry, source: Int, kernel: Tensor, bias: Tensor?, activation: LayerActivation?,
                              node index: Int) throws {
        var kernel = kernel, bias = bias
        var postOps: [PostOp] = []
        var output = graph.nodes[index].output, addend: Int?
        if let kind = activation?.elementwise {
            postOps.append(.activation(kind))
        } else {
            if let next = soleReader(of: output), case .batchNormalization(let bn) = graph.nodes[next].layer.computation {
                (kernel, bias) = Folding.batchNorm(bn, into: kernel, bias: bias)
                output = absorb(next)
            }
            // Dropout before a residual add (EfficientNet's) is nothing at inference.
            while let next = soleReader(of: output), case .identity = graph.nodes[next].layer.computation { output = absorb(next) }
            if let next = soleReader(of: output), case .add = graph.nodes[next].layer.computation, graph.nodes[next].inputs.count == 2,
               let other = graph.nodes[next].inputs.first(where: { $0 != output }), (producer[other] ?? -1) < index,
               graph.shapes[other] == graph.shapes[output] {
                postOps.append(.sum)
                addend = other
                output = absorb(next)
            }
            if let next = soleReader(of: output), case .activation(let kind) = graph.nodes[next].layer.computation, kind.hasDNNLKernel {
                postOps.append(.activation(kind))
                output = absorb(next)
            }
        }
        let planned = try backend.plannedConvolution(g, kernel: kernel, bias: bias, postOps: postOps, blocked: blocked)
        let from = try value(source, in: planned.inputLayouts[0])
        if let other = addend {
            // The addend is consumed: a copy in the output's layout unless it already is in it.
            addend = try value(other, in: planned.outputLayout)
        }
        emit(planned, inputs: [from], output: output, addend: addend)
    }

    /// Two 4-D values combined elementwise, one broadcast over height and width (squeeze-and-excitation) or both of
    /// one shape: the full one stays in its layout, the other comes in the same format. Where oneDNN has no kernel (a
    /// broadcast first operand of a subtraction, shapes it does not broadcast) the layer runs as it is.
    mutating func binary(_ node: LayerGraph.Node) throws {
        let operation: BinaryOperation? = switch node.layer.computation {
        case .add: .add
        case .combination(.subtract): .subtract
        case .combination(.multiply): .multiply
        case .combination(.maximum): .maximum
        case .combination(.minimum): .minimum
        default: nil
        }
        let output = graph.shapes[node.output]
        var (a, b) = (node.inputs[0], node.inputs[1])
        if graph.shapes[a] != output, operation != .subtract { (a, b) = (b, a) }
        let scale = graph.shapes[b]
        guard let operation, graph.shapes[a] == output, layouts[a] != nil,
              let kernel = try? backend.plannedBinary(operation, layouts[a]!, try layouts[a]!.sameFormat(scale) ?? PlannedLayout.plain(scale)) else {
            return try opaque(node)
        }
        emit(kernel, inputs: [a, try value(b, in: kernel.inputLayouts[1])], output: node.output)
    }

    /// `x · scale + offset` per channel of a 4-D value, in its layout: oneDNN's inference BatchNorm with mean 0 and
    /// variance + ε = 1 computes exactly that (ε = 2⁻¹⁰ and variance 1 − 2⁻¹⁰, both exact in Float, sum to 1
    /// exactly). ε must not be 0: in the padded channels of a blocked layout the kernel divides by √ε, and 0 · ∞ made
    /// NaNs there that later convolutions kept (MobileNetV3's squeeze-and-excitation, 120 channels).
    mutating func channelAffine(scale: [Float], offset: [Float], input: Int, output: Int) throws {
        let channels = graph.shapes[input][3]
        func perChannel(_ values: [Float]) -> Tensor { Tensor(shape: [channels]) { out in for c in 0..<channels { out[c] = values.count == 1 ? values[0] : values[c] } } }
        let planned = try backend.plannedBatchNorm(gamma: perChannel(scale), beta: perChannel(offset), mean: Tensor(zeros: [channels]),
                                                   variance: Tensor(shape: [channels], repeating: 1 - 0x1p-10), epsilon: 0x1p-10, relu: false,
                                                   input: layouts[input]!)
        emit(planned, inputs: [input], output: output)
    }

    /// Whether per-channel coefficients are one for all channels or one per channel.
    static func fits(_ scale: [Float], _ offset: [Float], channels: Int) -> Bool {
        [scale, offset].allSatisfy { $0.count == 1 || $0.count == channels }
    }

    /// A layer the plan cannot see into, run as it is on plain inputs.
    mutating func opaque(_ node: LayerGraph.Node) throws {
        let inputs = try node.inputs.map { try plain($0) }
        steps.append(.layer(node.layer, inputs: inputs, output: node.output))
        layouts[node.output] = try PlannedLayout.plain(graph.shapes[node.output])
    }

    mutating func reshape(_ input: Int, to output: Int) throws {
        steps.append(.reshape(input: input, output: output))
        layouts[output] = try PlannedLayout.plain(graph.shapes[output])
    }
}

/// Rewrites of weights that leave a layer's output unchanged.
enum Folding {
    /// `(x · a + b) · c + d` as one map `x · ac + (bc + d)`, per channel (a single value stands for every channel).
    static func compose(_ a: [Float], _ b: [Float], then c: [Float], _ d: [Float]) -> (scale: [Float], offset: [Float]) {
        let channels = max(a.count, b.count, c.count, d.count)
        func at(_ values: [Float], _ i: Int) -> Float { values.count == 1 ? values[0] : values[i] }
        return ((0..<channels).map { at(a, $0) * at(c, $0) }, (0..<channels).map { at(b, $0) * at(c, $0) + at(d, $0) })
    }

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
/// plan may both compile it, and the second result is kept. A model whose forward pass cannot be traced (it
/// computes between its layers, or calls another model) is remembered as such and runs eagerly.
final class InferencePlanCache: @unchecked Sendable {
    /// ZOO_PLANS=0 runs inference eagerly (the reference path for comparisons).
    static let enabled = ProcessInfo.processInfo.environment["ZOO_PLANS"] != "0"
    /// ZOO_PLAN_LAYOUT=plain keeps every value plain NHWC (see `InferencePlan.init`).
    static let blockedLayouts = ProcessInfo.processInfo.environment["ZOO_PLAN_LAYOUT"] != "plain"

    private struct Key: Hashable {
        let shapes: [[Int]]
        let taps: Set<String>
    }
    private let lock = NSLock()
    private var plans: [Key: InferencePlan] = [:]
    private var untraceable = false

    /// Forgets every plan: a pass that records gradients or trains precedes changes to the weights, which would make
    /// the plans stale while their folded copies of the weights kept memory until the next inference.
    func release() { lock.withLock { plans.removeAll() } }

    /// The plan, or nil for a model that cannot be traced.
    func plan(for shapes: [[Int]], taps: Set<String>, compile: () throws -> InferencePlan) throws -> InferencePlan? {
        let key = Key(shapes: shapes, taps: taps)
        let (cached, skip) = lock.withLock { (plans[key], untraceable) }
        if skip { return nil }
        if let cached, cached.isCurrent { return cached }
        do {
            let plan = try compile()
            lock.withLock { plans[key] = plan }
            return plan
        } catch is GraphTraceError {
            lock.withLock { untraceable = true }
            return nil
        }
    }
}
