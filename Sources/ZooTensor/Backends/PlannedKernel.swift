import CDNNL

/// One oneDNN primitive built for fixed shapes at inference: `forward_inference`, post-ops fused, its weights
/// reordered once into the layout it wants and kept. Runs on tensors the caller provides; any number of threads may
/// run it at once.
public final class PlannedKernel: @unchecked Sendable {
    public let name: String
    public let outputShape: [Int]
    private let primitive: DNNLPrimitive
    private let engine: DNNLEngine
    private let inputs: [(Int32, MemoryDescriptor)]
    private let output: (Int32, MemoryDescriptor)
    private let constants: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)]
    /// What keeps the constants' memory alive (reordered weights, folded parameters).
    private let owners: [AnyObject]

    init(_ primitive: DNNLPrimitive, engine: DNNLEngine, inputs: [(Int32, MemoryDescriptor)], output: (Int32, MemoryDescriptor),
         outputShape: [Int], constants: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [], owners: [AnyObject] = []) {
        self.name = primitive.name
        self.primitive = primitive
        self.engine = engine
        self.inputs = inputs
        self.output = output
        self.outputShape = outputShape
        self.constants = constants
        self.owners = owners
    }

    /// Runs on `sources` (one per input, in order) into `destination`, which holds the addend when the kernel ends
    /// with a sum post-op.
    public func run(_ sources: [Tensor], into destination: UnsafeMutablePointer<Float>) throws {
        precondition(sources.count == inputs.count, "\(name) takes \(inputs.count) inputs")
        var arguments = zip(inputs, sources).map { ($0.0.0, $0.0.1, UnsafeMutableRawPointer($0.1.storage.pointer) as UnsafeMutableRawPointer?) }
        arguments.append((output.0, output.1, UnsafeMutableRawPointer(destination)))
        arguments += constants.map { ($0.0, $0.1, Optional($0.2)) }
        try withExtendedLifetime((sources, owners)) { try primitive.execute(engine, arguments) }
    }

    /// Runs into a fresh tensor.
    public func callAsFunction(_ sources: [Tensor]) throws -> Tensor {
        try produce(outputShape) { try run(sources, into: $0) }
    }
}

/// Kernels for inference plans: each built once per shape and kept by the plan.
extension DNNLBackend {
    /// A convolution with its (already folded) kernel and bias, and post-ops.
    public func plannedConvolution(_ g: ConvolutionGeometry, kernel: Tensor, bias: Tensor?, postOps: [PostOp]) throws -> PlannedKernel {
        let d = try ConvolutionDescriptors(g)
        var desc = dnnl_convolution_desc_t()
        var (src, weights, dst) = (d.source.raw, d.anyWeights.raw, d.destination.raw)
        var biasDesc = bias != nil ? d.bias.raw : dnnl_memory_desc_t()
        try check(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &weights,
                                                             &biasDesc, &dst, d.strides, d.dilates, d.paddingLeft, d.paddingRight),
                  "convolution_forward_desc_init")
        let p = try DNNLPrimitive("planned convolution", &desc, engine: engine, postOps: postOps)
        let wanted = p.memoryDescriptor(dnnl_query_weights_md)
        let reordered = try reorderOnce(kernel, from: d.userWeights, to: wanted)
        var constants = [(DNNL_ARG_WEIGHTS, wanted, reordered.pointer)]
        var owners: [AnyObject] = [reordered, kernel.storage]
        if let bias {
            constants.append((DNNL_ARG_BIAS, d.bias, UnsafeMutableRawPointer(bias.storage.pointer)))
            owners.append(bias.storage)
        }
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, d.source)], output: (DNNL_ARG_DST, d.destination),
                             outputShape: g.outputShape, constants: constants, owners: owners)
    }

    /// Dense: [batch, inputs] · kernel [inputs, units] + bias, with post-ops.
    public func plannedInnerProduct(batch: Int, kernel: Tensor, bias: Tensor?, postOps: [PostOp]) throws -> PlannedKernel {
        let (inputs, units) = (kernel.shape[0], kernel.shape[1])
        let source = try MemoryDescriptor([batch, inputs], dnnl_ab), destination = try MemoryDescriptor([batch, units], dnnl_ab)
        let user = try MemoryDescriptor([units, inputs], dnnl_ba), any = try MemoryDescriptor([units, inputs], dnnl_format_tag_any)
        let biasMemory = try MemoryDescriptor([units], dnnl_a)
        var desc = dnnl_inner_product_desc_t()
        var (src, weights, dst) = (source.raw, any.raw, destination.raw)
        var biasDesc = bias != nil ? biasMemory.raw : dnnl_memory_desc_t()
        try check(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &weights, &biasDesc, &dst),
                  "inner_product_forward_desc_init")
        let p = try DNNLPrimitive("planned inner product", &desc, engine: engine, postOps: postOps)
        let wanted = p.memoryDescriptor(dnnl_query_weights_md)
        let reordered = try reorderOnce(kernel, from: user, to: wanted)
        var constants = [(DNNL_ARG_WEIGHTS, wanted, reordered.pointer)]
        var owners: [AnyObject] = [reordered, kernel.storage]
        if let bias {
            constants.append((DNNL_ARG_BIAS, biasMemory, UnsafeMutableRawPointer(bias.storage.pointer)))
            owners.append(bias.storage)
        }
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, source)], output: (DNNL_ARG_DST, destination),
                             outputShape: [batch, units], constants: constants, owners: owners)
    }

    public func plannedPooling(_ kind: PoolingKind, _ g: PoolingGeometry) throws -> PlannedKernel {
        let d = try PoolingDescriptors(kind, g)
        var desc = dnnl_pooling_desc_t()
        var (src, dst) = (d.source.raw, d.destination.raw)
        try check(dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, d.algorithm, &src, &dst, d.strides, d.kernel,
                                                 d.paddingLeft, d.paddingRight), "pooling_forward_desc_init")
        let p = try DNNLPrimitive("planned \(kind) pooling", &desc, engine: engine)
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, d.source)], output: (DNNL_ARG_DST, d.destination),
                             outputShape: g.outputShape)
    }

    /// Inference BatchNorm over the last axis with the given statistics, optionally followed by ReLU in the same pass.
    public func plannedBatchNorm(shape: [Int], gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
                                 relu: Bool) throws -> PlannedKernel {
        let data = try channelsLastMemory(Tensor(reservedZeros: shape)), vector = try MemoryDescriptor([shape.last ?? 1], dnnl_a)
        var desc = dnnl_batch_normalization_desc_t()
        var md = data.raw
        let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | dnnl_use_global_stats.rawValue | (relu ? dnnl_fuse_norm_relu.rawValue : 0)
        try check(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference, &md, epsilon, flags),
                  "batch_normalization_forward_desc_init")
        let p = try DNNLPrimitive("planned batch normalization", &desc, engine: engine)
        let parameters = [(DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance), (DNNL_ARG_SCALE, gamma), (DNNL_ARG_SHIFT, beta)]
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, data)], output: (DNNL_ARG_DST, data), outputShape: shape,
                             constants: parameters.map { ($0.0, vector, UnsafeMutableRawPointer($0.1.storage.pointer)) },
                             owners: parameters.map { $0.1.storage })
    }

    public func plannedActivation(_ kind: Activation, shape: [Int]) throws -> PlannedKernel {
        let md = try MemoryDescriptor([shape.reduce(1, *)], dnnl_a)
        var desc = dnnl_eltwise_desc_t()
        var data = md.raw
        try check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, kind.dnnlAlgorithm, &data, 0, 0), "eltwise_forward_desc_init")
        let p = try DNNLPrimitive("planned \(kind)", &desc, engine: engine)
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, md)], output: (DNNL_ARG_DST, md), outputShape: shape)
    }

    public func plannedLRN(_ parameters: LRNParameters, shape: [Int]) throws -> PlannedKernel {
        let md = try channelsLastMemory(Tensor(reservedZeros: shape))
        var desc = dnnl_lrn_desc_t()
        var data = md.raw
        try check(dnnl_lrn_forward_desc_init(&desc, dnnl_forward_inference, dnnl_lrn_across_channels, &data, Int64(parameters.size),
                                             parameters.alpha * Float(parameters.size), parameters.beta, parameters.k), "lrn_forward_desc_init")
        let p = try DNNLPrimitive("planned lrn", &desc, engine: engine)
        return PlannedKernel(p, engine: engine, inputs: [(DNNL_ARG_SRC, md)], output: (DNNL_ARG_DST, md), outputShape: shape)
    }

    /// `tensor` (laid out as `user`) copied into the layout `wanted`, for a kernel to keep.
    private func reorderOnce(_ tensor: Tensor, from user: MemoryDescriptor, to wanted: MemoryDescriptor) throws -> AlignedBuffer {
        let buffer = AlignedBuffer(byteCount: wanted.byteCount)
        if wanted.equals(user) {
            buffer.pointer.copyMemory(from: tensor.storage.pointer, byteCount: tensor.count * MemoryLayout<Float>.stride)
            return buffer
        }
        let reorder = try DNNLPrimitive(reorderFrom: user, to: wanted, engine: engine)
        try reorder.execute(engine, [(DNNL_ARG_FROM, user, UnsafeMutableRawPointer(tensor.storage.pointer)), (DNNL_ARG_TO, wanted, buffer.pointer)])
        return buffer
    }
}
