import CDNNL

/// How a value inside an inference plan lies in memory: plain (NHWC, or [N, C]) as a `Tensor` holds it, or a blocked
/// layout a kernel chose for the CPU it runs on (nChw8c on AVX2, nChw16c on AVX-512). A blocked value travels as a
/// flat tensor of `elementCount` floats, channels padded to the block.
public struct PlannedLayout: Equatable, @unchecked Sendable {
    let descriptor: MemoryDescriptor
    /// The logical shape, NHWC or [N, C].
    public let shape: [Int]
    public let isPlain: Bool

    init(_ descriptor: MemoryDescriptor, shape: [Int]) {
        self.descriptor = descriptor
        self.shape = shape
        isPlain = (try? PlannedLayout.plain(shape).descriptor.equals(descriptor)) ?? false
    }

    /// The plain layout of a 4-D NHWC or 2-D [N, C] shape.
    public static func plain(_ shape: [Int]) throws -> PlannedLayout {
        let descriptor = shape.count == 4
            ? try MemoryDescriptor([shape[0], shape[3], shape[1], shape[2]], dnnl_nhwc)
            : try MemoryDescriptor(shape, dnnl_ab)
        return PlannedLayout(descriptor: descriptor, shape: shape, isPlain: true)
    }

    private init(descriptor: MemoryDescriptor, shape: [Int], isPlain: Bool) {
        self.descriptor = descriptor; self.shape = shape; self.isPlain = isPlain
    }

    /// `shape` in this layout's format (its channel blocks), when it has one of the 4-D formats plans use: how a
    /// binary kernel takes its second operand (given plain NCHW for a broadcast one, oneDNN 2.6 fell back to its
    /// reference kernel).
    public func sameFormat(_ shape: [Int]) throws -> PlannedLayout? {
        for tag in [dnnl_aBcd8b, dnnl_aBcd16b, dnnl_nhwc, dnnl_nchw] where try descriptor.equals(MemoryDescriptor(Self.dims(self.shape), tag)) {
            return PlannedLayout(try MemoryDescriptor(Self.dims(shape), tag), shape: shape)
        }
        return nil
    }

    public var elementCount: Int { descriptor.byteCount / MemoryLayout<Float>.stride }
    /// The shape of the tensor that holds a value in this layout.
    public var storageShape: [Int] { isPlain ? shape : [elementCount] }

    public static func == (a: PlannedLayout, b: PlannedLayout) -> Bool { a.shape == b.shape && a.descriptor.equals(b.descriptor) }

    /// The layout of the concatenation of `inputs` along channels when every input is in the same layout with
    /// channels outermost in each image (NCHW, or nChw8c/nChw16c with whole channel blocks): then each image's
    /// inputs lie one after another in the output. Nil otherwise.
    static func channelOuter(_ inputs: [PlannedLayout], concatenatedShape shape: [Int]) throws -> PlannedLayout? {
        guard shape.count == 4 else { return nil }
        for (tag, block) in [(dnnl_aBcd8b, 8), (dnnl_aBcd16b, 16), (dnnl_nchw, 1)] {
            let fits = try inputs.allSatisfy { input in
                try input.shape[3] % block == 0 && input.descriptor.equals(MemoryDescriptor(dims(input.shape), tag))
            }
            if fits { return PlannedLayout(try MemoryDescriptor(dims(shape), tag), shape: shape) }
        }
        return nil
    }

    /// oneDNN's dims of a logical shape: N, C, H, W (or N, C).
    static func dims(_ shape: [Int]) -> [Int] { shape.count == 4 ? [shape[0], shape[3], shape[1], shape[2]] : shape }
    static func any(_ shape: [Int]) throws -> MemoryDescriptor { try MemoryDescriptor(dims(shape), dnnl_format_tag_any) }
}

/// One oneDNN primitive built for fixed shapes and layouts at inference: `forward_inference`, post-ops fused, its
/// weights reordered once into the layout it wants and kept. Runs on tensors the caller provides, which must be in
/// `inputLayouts`; any number of threads may run it at once.
public final class PlannedKernel: @unchecked Sendable {
    public let name: String
    /// Multiply-adds × 2 of one run (convolutions and inner products; 0 for the rest), for profiles.
    public internal(set) var flops: Double = 0
    public let inputLayouts: [PlannedLayout]
    public let outputLayout: PlannedLayout
    private let primitive: DNNLPrimitive?
    private let engine: DNNLEngine?
    private let inputArguments: [Int32]
    private let outputArgument: Int32
    private let constants: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)]
    /// What keeps the constants' memory alive (reordered weights, folded parameters).
    private let owners: [AnyObject]
    /// For a kernel that copies instead of calling oneDNN: which input, from where, to where, how many floats.
    private let copies: [(input: Int, from: Int, to: Int, count: Int)]

    init(_ primitive: DNNLPrimitive, engine: DNNLEngine, inputs: [(Int32, PlannedLayout)], output: (Int32, PlannedLayout),
         constants: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [], owners: [AnyObject] = []) {
        self.name = primitive.name
        self.primitive = primitive
        self.engine = engine
        inputArguments = inputs.map(\.0)
        inputLayouts = inputs.map(\.1)
        (outputArgument, outputLayout) = output
        self.constants = constants
        self.owners = owners
        copies = []
    }

    /// A channel concatenation in a layout where channels are the outermost axis of each image (`channelOuter`):
    /// every image of the output is its inputs' images one after another, so the kernel is a set of block copies.
    /// oneDNN's own concatenation of such layouts ran at about 2.4 GB/s (1 ms for DenseNet-121's first one at
    /// batch 1, ten times its BatchNorm over the same data).
    init(concatenating inputs: [PlannedLayout], into output: PlannedLayout) {
        name = "planned concatenation"
        primitive = nil
        engine = nil
        inputArguments = []
        inputLayouts = inputs
        outputArgument = 0
        outputLayout = output
        constants = []
        owners = []
        let batch = output.shape[0]
        let perImage = inputs.map { $0.elementCount / batch }, outputPerImage = perImage.reduce(0, +)
        // Pieces of at most 64 Ki floats, so that both threads copy even at batch 1.
        let piece = 1 << 16
        var copies: [(input: Int, from: Int, to: Int, count: Int)] = []
        for image in 0..<batch {
            var at = image * outputPerImage
            for (input, count) in perImage.enumerated() {
                for start in stride(from: 0, to: count, by: piece) {
                    copies.append((input, image * count + start, at + start, min(piece, count - start)))
                }
                at += count
            }
        }
        self.copies = copies
    }

    /// For a concatenation of block copies at batch 1: where each input lies in the output, in floats. Writing each
    /// input there in the first place makes the concatenation itself nothing to do.
    public var inputOffsetsInOutput: [Int]? {
        guard !copies.isEmpty, outputLayout.shape[0] == 1 else { return nil }
        return copies.filter { $0.from == 0 }.map(\.to)  // each input's first piece
    }

    /// Runs on `sources` (one per input, in order) into `destination`, which holds the addend when the kernel ends
    /// with a sum post-op.
    public func run(_ sources: [Tensor], into destination: UnsafeMutablePointer<Float>) throws {
        precondition(sources.count == inputLayouts.count, "\(name) takes \(inputLayouts.count) inputs")
        guard let primitive, let engine else {
            let pointers = sources.map { UnsafePointer($0.storage.pointer) }
            withExtendedLifetime(sources) {
                parallelFor(copies.count) { range in
                    for copy in copies[range] { (destination + copy.to).update(from: pointers[copy.input] + copy.from, count: copy.count) }
                }
            }
            return
        }
        var arguments: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer?)] = []
        for (index, source) in sources.enumerated() {
            arguments.append((inputArguments[index], inputLayouts[index].descriptor, UnsafeMutableRawPointer(source.storage.pointer)))
        }
        arguments.append((outputArgument, outputLayout.descriptor, UnsafeMutableRawPointer(destination)))
        arguments += constants.map { ($0.0, $0.1, Optional($0.2)) }
        try withExtendedLifetime((sources, owners)) { try primitive.execute(engine, arguments) }
    }

    /// Runs into a fresh tensor shaped as `outputLayout` stores it.
    public func callAsFunction(_ sources: [Tensor]) throws -> Tensor {
        try produce(outputLayout.storageShape) { try run(sources, into: $0) }
    }
}

/// What a planned binary kernel computes.
public enum BinaryOperation: String, Sendable {
    case add, subtract, multiply, maximum, minimum
}

/// Kernels for inference plans: each built once per shape and kept by the plan.
extension DNNLBackend {
    /// A convolution with its (already folded) kernel and bias, and post-ops. `blocked` lets oneDNN choose the
    /// activation layouts it runs fastest on, and the Winograd kernels where they apply (`offersWinograd`);
    /// otherwise input and output are plain NHWC.
    ///
    /// Blocked on AVX-512, oneDNN picks NHWC for its direct kernels but nChw16c for the Winograd ones, so a plan mixing
    /// them would reorder at every boundary (32 reorders, 6% of a ResNet-50 pass at batch 32). Its direct kernels on
    /// nChw16c ran as fast or faster here (ResNet-50's 1×1 convolutions: 80 against 85 ms in all, batch 32), so
    /// there they are asked for nChw16c wherever there are 16 channels or more (the last block padded): left to
    /// choose, oneDNN ran MobileNetV2's 24- and 144-channel 1×1 convolutions NHWC between nChw16c depthwise ones,
    /// and the reorders between took 15% of a batch-32 pass (4.0 against 9.0 ms at batch 1, 250 against 206
    /// images/s at 32 when asked). A first convolution's few input channels stay as they come.
    public func plannedConvolution(_ g: ConvolutionGeometry, kernel: Tensor, bias: Tensor?, postOps: [PostOp], blocked: Bool) throws -> PlannedKernel {
        let d = try ConvolutionDescriptors(g)
        let build = { (algorithm: dnnl_alg_kind_t, source: MemoryDescriptor, destination: MemoryDescriptor) throws -> DNNLPrimitive in
            var desc = dnnl_convolution_desc_t()
            var (src, weights, dst) = (source.raw, d.anyWeights.raw, destination.raw)
            var biasDesc = bias != nil ? d.bias.raw : dnnl_memory_desc_t()
            try check(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, algorithm, &src, &weights,
                                                                 &biasDesc, &dst, d.strides, d.dilates, d.paddingLeft, d.paddingRight),
                      "convolution_forward_desc_init")
            return try DNNLPrimitive("planned convolution", &desc, engine: self.engine, postOps: postOps)
        }
        let p: DNNLPrimitive
        if !blocked {
            p = try build(dnnl_convolution_direct, d.source, d.destination)
        } else if offersWinograd(g, minimumFLOPs: Self.plannedWinogradMinimumFLOPs), let winograd = try? build(dnnl_convolution_winograd, d.anySource, d.anyDestination) {
            p = winograd
        } else if Self.hasAVX512, g.outputChannels >= 16, g.inputChannels >= 16 || g.groups == 1,
                  let sixteen = try? build(dnnl_convolution_direct, g.inputChannels >= 16 ? d.channelBlocks16(g.inputShape) : d.anySource,
                                           d.channelBlocks16(g.outputShape)),
                  !sixteen.implementation.hasPrefix("ref") {
            p = sixteen
        } else {
            p = try build(dnnl_convolution_direct, d.anySource, d.anyDestination)
        }
        let wanted = p.memoryDescriptor(dnnl_query_weights_md)
        let (pointer, owner) = try keptWeights(kernel, from: d.userWeights, to: wanted)
        var constants = [(DNNL_ARG_WEIGHTS, wanted, pointer)]
        var owners = [owner]
        if let bias {
            constants.append((DNNL_ARG_BIAS, d.bias, UnsafeMutableRawPointer(bias.storage.pointer)))
            owners.append(bias.storage)
        }
        let planned = PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, layout(p, dnnl_query_src_md, g.inputShape))],
                                    output: (DNNL_ARG_DST, layout(p, dnnl_query_dst_md, g.outputShape)), constants: constants, owners: owners)
        planned.flops = g.flops
        return planned
    }

    /// Dense: [batch, inputs] · kernel [inputs, units] + bias, with post-ops; plain input and output.
    public func plannedInnerProduct(batch: Int, kernel: Tensor, bias: Tensor?, postOps: [PostOp]) throws -> PlannedKernel {
        let (inputs, units) = (kernel.shape[0], kernel.shape[1])
        let source = try PlannedLayout.plain([batch, inputs]), destination = try PlannedLayout.plain([batch, units])
        let user = try MemoryDescriptor([units, inputs], dnnl_ba), any = try MemoryDescriptor([units, inputs], dnnl_format_tag_any)
        let biasMemory = try MemoryDescriptor([units], dnnl_a)
        var desc = dnnl_inner_product_desc_t()
        var (src, weights, dst) = (source.descriptor.raw, any.raw, destination.descriptor.raw)
        var biasDesc = bias != nil ? biasMemory.raw : dnnl_memory_desc_t()
        try check(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &weights, &biasDesc, &dst),
                  "inner_product_forward_desc_init")
        let p = try DNNLPrimitive("planned inner product", &desc, engine: engine, postOps: postOps)
        let wanted = p.memoryDescriptor(dnnl_query_weights_md)
        let (pointer, owner) = try keptWeights(kernel, from: user, to: wanted)
        var constants = [(DNNL_ARG_WEIGHTS, wanted, pointer)]
        var owners = [owner]
        if let bias {
            constants.append((DNNL_ARG_BIAS, biasMemory, UnsafeMutableRawPointer(bias.storage.pointer)))
            owners.append(bias.storage)
        }
        let planned = PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, source)], output: (DNNL_ARG_DST, destination),
                                    constants: constants, owners: owners)
        planned.flops = 2 * Double(batch * inputs * units)
        return planned
    }

    /// Pooling of a value in `input`'s layout; the output takes the layout oneDNN pairs with it.
    public func plannedPooling(_ kind: PoolingKind, _ g: PoolingGeometry, input: PlannedLayout) throws -> PlannedKernel {
        let d = try PoolingDescriptors(kind, g)
        var desc = dnnl_pooling_desc_t()
        var (src, dst) = (input.descriptor.raw, try PlannedLayout.any(g.outputShape).raw)
        try check(dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, d.algorithm, &src, &dst, d.strides, d.kernel,
                                                 d.paddingLeft, d.paddingRight), "pooling_forward_desc_init")
        let p = try DNNLPrimitive("planned \(kind) pooling", &desc, engine: engine)
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, input)], output: (DNNL_ARG_DST, layout(p, dnnl_query_dst_md, g.outputShape)))
    }

    /// Inference BatchNorm over the channels with the given statistics, optionally followed by ReLU in the same pass.
    public func plannedBatchNorm(gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float, relu: Bool,
                                 input: PlannedLayout) throws -> PlannedKernel {
        let vector = try MemoryDescriptor([gamma.count], dnnl_a)
        var desc = dnnl_batch_normalization_desc_t()
        var md = input.descriptor.raw
        let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | dnnl_use_global_stats.rawValue | (relu ? dnnl_fuse_norm_relu.rawValue : 0)
        try check(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference, &md, epsilon, flags),
                  "batch_normalization_forward_desc_init")
        let p = try DNNLPrimitive("planned batch normalization", &desc, engine: engine)
        let parameters = [(DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance), (DNNL_ARG_SCALE, gamma), (DNNL_ARG_SHIFT, beta)]
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, input)], output: (DNNL_ARG_DST, input),
                             constants: parameters.map { ($0.0, vector, UnsafeMutableRawPointer($0.1.storage.pointer)) },
                             owners: parameters.map { $0.1.storage })
    }

    public func plannedActivation(_ kind: Activation, input: PlannedLayout) throws -> PlannedKernel {
        guard let form = kind.dnnl else { throw DNNLError(call: "eltwise_forward_desc_init (\(kind))", status: Int(dnnl_unimplemented.rawValue)) }
        var desc = dnnl_eltwise_desc_t()
        var data = input.descriptor.raw
        try check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, form.algorithm, &data, form.alpha, form.beta), "eltwise_forward_desc_init")
        let p = try DNNLPrimitive("planned \(kind)", &desc, engine: engine)
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, input)], output: (DNNL_ARG_DST, input))
    }

    public func plannedLRN(_ parameters: LRNParameters, input: PlannedLayout) throws -> PlannedKernel {
        var desc = dnnl_lrn_desc_t()
        var data = input.descriptor.raw
        try check(dnnl_lrn_forward_desc_init(&desc, dnnl_forward_inference, dnnl_lrn_across_channels, &data, Int64(parameters.size),
                                             parameters.alpha * Float(parameters.size), parameters.beta, parameters.k), "lrn_forward_desc_init")
        let p = try DNNLPrimitive("planned lrn", &desc, engine: engine)
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, input)], output: (DNNL_ARG_DST, input))
    }

    /// Channel concatenation of 4-D values in their layouts: block copies when they share a layout whose channels
    /// are outermost in each image, else oneDNN's concatenation, whose output takes the layout it picks.
    public func plannedConcatenation(_ inputs: [PlannedLayout]) throws -> PlannedKernel {
        let shape = inputs[0].shape.dropLast() + [inputs.reduce(0) { $0 + $1.shape[3] }]
        if let output = try PlannedLayout.channelOuter(inputs, concatenatedShape: Array(shape)) {
            return PlannedKernel(concatenating: inputs, into: output)
        }
        var sources = inputs.map(\.descriptor.raw)
        var destination = try PlannedLayout.any(Array(shape)).raw
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_concat_primitive_desc_create(&pd, &destination, Int32(inputs.count), 1, &sources, engine.attributes, engine.engine),
                  "concat primitive_desc_create")
        let p = try DNNLPrimitive(adopting: pd!, name: "planned concatenation")
        return PlannedKernel(p, engine: engine, inputs: inputs.enumerated().map { (DNNL_ARG_MULTIPLE_SRC + Int32($0.offset), $0.element) },
                             output: (DNNL_ARG_DST, layout(p, dnnl_query_dst_md, Array(shape))))
    }

    /// Elementwise `a ∘ b` of two 4-D values, `b` broadcast where its height and width (or every axis but the
    /// channels) are 1, as a squeeze-and-excitation scale is: the output in `a`'s layout. Throws where oneDNN has only
    /// its reference kernel for the layouts (88 ms instead of 9 for EfficientNetB0's at batch 1), so that the caller
    /// runs the layer as it is instead.
    public func plannedBinary(_ operation: BinaryOperation, _ a: PlannedLayout, _ b: PlannedLayout) throws -> PlannedKernel {
        var desc = dnnl_binary_desc_t()
        var (first, second, destination) = (a.descriptor.raw, b.descriptor.raw, a.descriptor.raw)
        let algorithm = switch operation {
        case .add: dnnl_binary_add
        case .subtract: dnnl_binary_sub
        case .multiply: dnnl_binary_mul
        case .maximum: dnnl_binary_max
        case .minimum: dnnl_binary_min
        }
        try check(dnnl_binary_desc_init(&desc, algorithm, &first, &second, &destination), "binary_desc_init")
        let p = try DNNLPrimitive("planned \(operation)", &desc, engine: engine)
        guard !p.implementation.hasPrefix("ref") else {
            throw DNNLError(call: "binary_desc_init (\(p.implementation))", status: Int(dnnl_unimplemented.rawValue))
        }
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC_0, a), (DNNL_ARG_SRC_1, b)], output: (DNNL_ARG_DST, a))
    }

    /// A copy of a value from one layout into another.
    public func plannedReorder(from source: PlannedLayout, to target: PlannedLayout) throws -> PlannedKernel {
        let p = try DNNLPrimitive(reorderFrom: source.descriptor, to: target.descriptor, engine: engine)
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_FROM, source)], output: (DNNL_ARG_TO, target))
    }

    private func layout(_ p: DNNLPrimitive, _ query: dnnl_query_t, _ shape: [Int]) -> PlannedLayout {
        PlannedLayout(p.memoryDescriptor(query), shape: shape)
    }

    /// `tensor` in the layout `wanted`: the tensor's own memory when it already is (a plan notices a later write by
    /// the storage's version), otherwise a reordered copy for the kernel to keep.
    private func keptWeights(_ tensor: Tensor, from user: MemoryDescriptor, to wanted: MemoryDescriptor) throws -> (UnsafeMutableRawPointer, AnyObject) {
        if wanted.equals(user) { return (UnsafeMutableRawPointer(tensor.storage.pointer), tensor.storage) }
        let buffer = AlignedBuffer(byteCount: wanted.byteCount)
        let reorder = try DNNLPrimitive(reorderFrom: user, to: wanted, engine: engine)
        try reorder.execute(engine, [(DNNL_ARG_FROM, user, UnsafeMutableRawPointer(tensor.storage.pointer)), (DNNL_ARG_TO, wanted, buffer.pointer)])
        return (buffer.pointer, buffer)
    }
}
