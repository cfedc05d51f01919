import CDNNL
import Foundation

/// How a convolution pass runs on oneDNN: direct kernels on NHWC activations, direct kernels on activations reordered
/// into the layout oneDNN picks (blocked channels) and back, or Winograd kernels (on blocked activations too).
public enum ConvolutionForm: Hashable, Sendable {
    case nhwc, blocked, winograd

    var algorithm: dnnl_alg_kind_t { self == .winograd ? dnnl_convolution_winograd : dnnl_convolution_direct }
}

/// oneDNN (v2 C API) for convolution, pooling, batch normalization, LRN, matrix products and activations; everything
/// else falls back to the reference kernels. Activations stay plain NHWC; each weight is reordered once into the
/// layout its primitive prefers and kept until the weight changes.
///
/// Any number of threads may call it at once: the caches sit behind a lock held only to look up or insert, and
/// primitives run outside it (see `DNNLEngine` for what makes that safe).
public final class DNNLBackend: Backend, @unchecked Sendable {
    public let name = "dnnl"
    let engine: DNNLEngine
    private let lock = NSLock()
    private var primitives: [PrimitiveKey: DNNLPrimitive] = [:]
    private var reorders: [ReorderKey: ReorderedWeights] = [:]
    private var reorderPurgeThreshold = 64

    /// Eager convolutions of at least this many FLOPs run on activations reordered into the layout oneDNN prefers
    /// (blocked channels on AVX2) and back: backward weights always, forward and backward data only where each
    /// activation element carries enough work (`blockedMinimumFLOPsPerElement`) to repay the reorders. Smaller ones
    /// run on plain NHWC. Measured on an AVX2 machine (jit:avx2, batch 32), VGG16's 3×3 convolutions at 224 to 28
    /// pixels went from 17–38 to 78–93 GFLOPS backward weights, 76 to 120–130 forward, 92 to 120–138 backward data,
    /// reorders included; ResNet-50's 1×1 convolutions lost more to the reorders than the kernels gained, forward and
    /// backward data. The rule is fixed by shape and instruction set, not timed, so runs repeat bit for bit. See
    /// `defaultBlockedConvolutionMinimumFLOPs` for where it applies.
    public let blockedConvolutionMinimumFLOPs: Double
    static let blockedMinimumFLOPsPerElement = 500.0

    /// How each pass of a convolution runs. Winograd wherever it applies (`offersWinograd`); otherwise blocked
    /// activations for forward and backward data where the convolution is large and the work per input and output
    /// element (2·kh·kw·cin·cout / (cin + cout) at stride 1) is above the bar, so 3×3 and larger kernels with enough
    /// channels, not 1×1; for backward weights where it is large. The rest on NHWC.
    public func convolutionForms(_ g: ConvolutionGeometry) -> (forwardAndBackwardData: ConvolutionForm, backwardWeights: ConvolutionForm) {
        if let scratchpad = winogradScratchpadBytes(g), scratchpad <= winogradMaximumScratchpadBytes { return (.winograd, .winograd) }
        let large = g.flops >= blockedConvolutionMinimumFLOPs
        let elements = Double(g.inputShape.reduce(1, *) + g.outputShape.reduce(1, *))
        return (large && g.flops / elements >= Self.blockedMinimumFLOPsPerElement ? .blocked : .nhwc, large ? .blocked : .nhwc)
    }

    /// Convolutions of at least this many FLOPs run on oneDNN's Winograd kernels (F(4×4, 3×3), forward, backward data
    /// and backward weights) where oneDNN has them: 3×3, stride 1, no dilation, no groups, at least
    /// `winogradMinimumChannels` in and out, on CPUs with AVX-512 (oneDNN 2.6 has no AVX2 Winograd). Measured here
    /// (avx512_core, batch 32, reorders to and from blocked activations included) they ran 2–2.7× faster than the
    /// direct kernels on VGG16's and ResNet-50's 3×3 convolutions in every pass, at 2·10⁻⁶ relative deviation; with 3
    /// input channels (VGG's first convolution), or below 5·10⁸ FLOPs (DenseNet's at 14×14 and 7×7), they were no
    /// faster. Like the blocked rule it is fixed by shape and CPU, not timed.
    public let winogradMinimumFLOPs: Double
    static let winogradMinimumChannels = 16
    /// Eager convolutions whose Winograd kernel would need a larger scratchpad run on the direct kernels: the
    /// scratchpad holds the transformed input and output tiles, and at large maps it is what sets a training step's
    /// peak memory. Measured here (avx512_core_bf16, batch 32): VGG16's two 3×3 convolutions at 112×112 need 668 and
    /// 890 MB (the others 7–456); without Winograd there its fine-tuning step peaked at 4.15 GB resident against 4.50,
    /// at 7.37 against 8.28 images/s (still 1.7 times Keras's speed and 2.2 times PyTorch's, whose peaks were 5.5 and
    /// 4.2 GB). ResNet-50's and DenseNet-121's scratchpads are all below the bar. Inference plans are not bound by it.
    public let winogradMaximumScratchpadBytes: Int
    public static let defaultWinogradMaximumScratchpadBytes = 512 << 20
    /// The bar for inference plans: lower, because at batch 1 every 3×3 convolution is small. Measured here
    /// (avx512_core, runs alternated, best of each): ResNet-50 at batch 1 32.9 against 40.8 ms with the bar at 10⁸
    /// instead of 5·10⁸, DenseNet-121 31.3 against 36.0, InceptionV3 52.4 against 57.6; at batch 32 ResNet-50 900
    /// against 931 ms, DenseNet-121 984 against 1019. Bars of 5·10⁷ and 2·10⁷ measured the same as 10⁸.
    public static let plannedWinogradMinimumFLOPs = 1e8

    /// 1×1 convolutions run as matrix products (see `DNNLMatrixProductConvolution.swift`) from this many output
    /// pixels of the batch per weight, their weight gradients from a quarter of it: 1 on AVX2, where it was measured;
    /// never on AVX-512, whose brgemm kernels lose less there (145–240 GFLOPS at those shapes against sgemm's 181–214).
    public let matrixProductMinimumRatio: Double
    public static var defaultMatrixProductMinimumRatio: Double { hasAVX512 ? .infinity : 1 }
    /// Per shape that qualifies for Winograd: its forward kernel's scratchpad bytes, nil where oneDNN builds none.
    private var winogradScratchpads: [ConvolutionGeometry: Int?] = [:]

    /// Whether `g` runs on oneDNN's Winograd kernels: its shape qualifies and oneDNN builds the primitive on this CPU.
    public func offersWinograd(_ g: ConvolutionGeometry, minimumFLOPs: Double? = nil) -> Bool {
        winogradScratchpadBytes(g, minimumFLOPs: minimumFLOPs) != nil
    }

    /// The scratchpad of `g`'s Winograd forward kernel where `g` runs on one (`offersWinograd`), else nil.
    private func winogradScratchpadBytes(_ g: ConvolutionGeometry, minimumFLOPs: Double? = nil) -> Int? {
        let w = g.window
        guard g.flops >= minimumFLOPs ?? winogradMinimumFLOPs, w.kernelHeight == 3, w.kernelWidth == 3, w.strideHeight == 1, w.strideWidth == 1,
              w.dilationHeight == 1, w.dilationWidth == 1, g.groups == 1,
              min(g.inputChannels, g.outputChannels) >= Self.winogradMinimumChannels else { return nil }
        if let known = locked({ winogradScratchpads[g] }) { return known }
        let primitive = (try? ConvolutionDescriptors(g)).flatMap { try? convolutionForward(g, $0, bias: false, form: .winograd) }
        let bytes = primitive?.scratchpad.byteCount
        locked { winogradScratchpads[g] = bytes }
        return bytes
    }

    /// Blocked activations pay on AVX2 only. With AVX-512, oneDNN's brgemm kernels take NHWC directly and the
    /// reorders are pure cost. Measured here (avx512_core, batch 32, kernel time per fine-tuning step, runs
    /// alternated): ResNet-50 backward weights 1233 ms blocked, 1013 ms NHWC, the other passes equal; VGG16 backward
    /// data 3510–3570 ms blocked, 3130–3145 NHWC, forward 3180–3700 against 3000–3025, backward weights 3840–3945
    /// against 3685–3735 (blocked only where the work per element is high: no better). Capped at AVX2 the same
    /// ResNet-50 step was 3% faster blocked. So the bar is 5·10⁷ FLOPs on AVX2 and none is high enough on AVX-512.
    public static var defaultBlockedConvolutionMinimumFLOPs: Double { hasAVX512 ? .infinity : 5e7 }

    static var hasAVX512: Bool {
        dnnl_get_effective_cpu_isa().rawValue & dnnl_cpu_isa_avx512_core.rawValue == dnnl_cpu_isa_avx512_core.rawValue
    }

    public init(blockedConvolutionMinimumFLOPs: Double = DNNLBackend.defaultBlockedConvolutionMinimumFLOPs,
                winogradMinimumFLOPs: Double = 5e8, matrixProductMinimumRatio: Double = DNNLBackend.defaultMatrixProductMinimumRatio,
                winogradMaximumScratchpadBytes: Int = DNNLBackend.defaultWinogradMaximumScratchpadBytes) throws {
        engine = try DNNLEngine()
        self.blockedConvolutionMinimumFLOPs = blockedConvolutionMinimumFLOPs
        self.winogradMinimumFLOPs = winogradMinimumFLOPs
        self.winogradMaximumScratchpadBytes = winogradMaximumScratchpadBytes
        self.matrixProductMinimumRatio = matrixProductMinimumRatio
    }

    /// The widest instruction set oneDNN's kernels use on this CPU, e.g. "avx2" or "avx512_core".
    public static var instructionSet: String {
        let names: [dnnl_cpu_isa_t: String] = [
            dnnl_cpu_isa_sse41: "sse41", dnnl_cpu_isa_avx: "avx", dnnl_cpu_isa_avx2: "avx2", dnnl_cpu_isa_avx2_vnni: "avx2_vnni",
            dnnl_cpu_isa_avx512_core: "avx512_core", dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni",
            dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16", dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx",
        ]
        let isa = dnnl_get_effective_cpu_isa()
        return names[isa] ?? "isa \(isa.rawValue)"
    }

    /// oneDNN's version, e.g. "2.6.3".
    public static var version: String {
        let v = dnnl_version().pointee
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    enum PrimitiveKey: Hashable {
        case convolution(ConvolutionGeometry, bias: Bool, form: ConvolutionForm)
        case convolutionBackwardData(ConvolutionGeometry, form: ConvolutionForm)
        case convolutionBackwardWeights(ConvolutionGeometry, bias: Bool, form: ConvolutionForm)
        case pooling(PoolingKind, PoolingGeometry, training: Bool)
        case poolingBackward(PoolingKind, PoolingGeometry)
        case eltwise(Activation, count: Int)
        case eltwiseBackward(Activation, count: Int)
        case lrn(LRNParameters, shape: [Int], training: Bool)
        case lrnBackward(LRNParameters, shape: [Int])
        /// `relu`: with oneDNN's fused ReLU on the output (`dnnl_fuse_norm_relu`).
        case batchNorm(shape: [Int], epsilon: Float, globalStatistics: Bool, relu: Bool = false)
        case batchNormBackward(shape: [Int], epsilon: Float, globalStatistics: Bool, relu: Bool = false)
        indirect case reorder(PrimitiveKey, argument: Int32, toUser: Bool)
    }

    struct ReorderKey: Hashable {
        let storage: UInt64
        let primitive: PrimitiveKey
        let argument: Int32
    }

    final class ReorderedWeights {
        weak var storage: TensorStorage?
        let version: UInt64
        let buffer: AlignedBuffer

        init(storage: TensorStorage, buffer: AlignedBuffer) {
            self.storage = storage
            version = storage.version
            self.buffer = buffer
        }
    }

    /// The cached primitive for `key`, built on first use. Two threads may both build it; the first to finish wins.
    private func primitive(_ key: PrimitiveKey, _ make: () throws -> DNNLPrimitive) rethrows -> DNNLPrimitive {
        if let cached = locked({ primitives[key] }) { return cached }
        let made = try make()
        return locked {
            if let raced = primitives[key] { return raced }
            primitives[key] = made
            return made
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Reorders

    private func reorderPrimitive(_ key: PrimitiveKey, argument: Int32, from source: MemoryDescriptor, to target: MemoryDescriptor,
                                  toUser: Bool) throws -> DNNLPrimitive {
        try primitive(.reorder(key, argument: argument, toUser: toUser)) {
            try DNNLPrimitive(reorderFrom: source, to: target, engine: engine)
        }
    }

    /// An argument's memory in the layout a primitive wants; `owner` keeps a reordered copy alive while it is used.
    struct ArgumentMemory {
        let pointer: UnsafeMutableRawPointer
        let owner: AlignedBuffer?
    }

    /// The weight in the layout the primitive wants: the tensor itself when layouts agree, otherwise a cached reorder.
    func weights(_ tensor: Tensor, user: MemoryDescriptor, wanted: MemoryDescriptor, for key: PrimitiveKey,
                         argument: Int32) throws -> ArgumentMemory {
        let raw = UnsafeMutableRawPointer(tensor.storage.pointer)
        if wanted.equals(user) { return ArgumentMemory(pointer: raw, owner: nil) }
        let reorderKey = ReorderKey(storage: tensor.storage.identity, primitive: key, argument: argument)
        let cached = locked { reorders[reorderKey] }
        if let cached, cached.storage === tensor.storage, cached.version == tensor.storage.version {
            return ArgumentMemory(pointer: cached.buffer.pointer, owner: cached.buffer)
        }
        let entry = ReorderedWeights(storage: tensor.storage, buffer: AlignedBuffer(byteCount: wanted.byteCount))
        let reorder = try reorderPrimitive(key, argument: argument, from: user, to: wanted, toUser: false)
        try reorder.execute(engine, [(DNNL_ARG_FROM, user, raw), (DNNL_ARG_TO, wanted, entry.buffer.pointer)])
        locked {
            reorders[reorderKey] = entry
            if reorders.count > reorderPurgeThreshold {
                reorders = reorders.filter { $0.value.storage != nil }
                reorderPurgeThreshold = max(64, reorders.count * 2)
            }
        }
        return ArgumentMemory(pointer: entry.buffer.pointer, owner: entry.buffer)
    }

    /// An activation in the layout the primitive wants: the tensor itself when layouts agree, otherwise a copy
    /// reordered for this call.
    func activation(_ tensor: Tensor, user: MemoryDescriptor, wanted: MemoryDescriptor, for key: PrimitiveKey,
                    argument: Int32) throws -> ArgumentMemory {
        if wanted.equals(user) { return ArgumentMemory(pointer: mutable(tensor), owner: nil) }
        let buffer = AlignedBuffer(byteCount: wanted.byteCount)
        let reorder = try reorderPrimitive(key, argument: argument, from: user, to: wanted, toUser: false)
        try reorder.execute(engine, [(DNNL_ARG_FROM, user, mutable(tensor)), (DNNL_ARG_TO, wanted, buffer.pointer)])
        return ArgumentMemory(pointer: buffer.pointer, owner: buffer)
    }

    /// Runs `body` writing a result in the primitive's layout `produced` straight into `destination` when that is
    /// the user's layout, otherwise into a scratch buffer reordered into `destination` afterwards.
    func writing(_ produced: MemoryDescriptor, as user: MemoryDescriptor, into destination: UnsafeMutableRawPointer,
                 for key: PrimitiveKey, argument: Int32, _ body: (UnsafeMutableRawPointer) throws -> Void) throws {
        if produced.equals(user) { return try body(destination) }
        let scratch = AlignedBuffer(byteCount: produced.byteCount)
        // The buffer is reached only through its raw pointer: it must outlive both runs, not just the last Swift use.
        try withExtendedLifetime(scratch) {
            try body(scratch.pointer)
            let back = try reorderPrimitive(key, argument: argument, from: produced, to: user, toUser: true)
            try back.execute(engine, [(DNNL_ARG_FROM, produced, scratch.pointer), (DNNL_ARG_TO, user, destination)])
        }
    }

    // MARK: Convolution

    struct ConvolutionDescriptors {
        /// `source` and `destination` describe the NHWC tensors; `anySource` and `anyDestination` leave their layout to
        /// oneDNN.
        var source, anySource, userWeights, anyWeights, bias, destination, anyDestination: MemoryDescriptor
        let strides, dilates, paddingLeft, paddingRight: [Int64]

        init(_ g: ConvolutionGeometry) throws {
            let w = g.window
            let sourceDims = [g.batch, g.inputChannels, w.inputHeight, w.inputWidth]
            let destinationDims = [g.batch, g.outputChannels, w.outputHeight, w.outputWidth]
            source = try MemoryDescriptor(sourceDims, dnnl_nhwc)
            anySource = try MemoryDescriptor(sourceDims, dnnl_format_tag_any)
            destination = try MemoryDescriptor(destinationDims, dnnl_nhwc)
            anyDestination = try MemoryDescriptor(destinationDims, dnnl_format_tag_any)
            let weightDims = g.groups == 1
                ? [g.outputChannels, g.inputChannels, w.kernelHeight, w.kernelWidth]
                : [g.groups, g.outputChannels / g.groups, g.inputChannels / g.groups, w.kernelHeight, w.kernelWidth]
            userWeights = try MemoryDescriptor(weightDims, g.groups == 1 ? dnnl_hwio : dnnl_hwigo)
            anyWeights = try MemoryDescriptor(weightDims, dnnl_format_tag_any)
            bias = try MemoryDescriptor([g.outputChannels], dnnl_a)
            strides = [w.strideHeight, w.strideWidth].map(Int64.init)
            dilates = [w.dilationHeight - 1, w.dilationWidth - 1].map(Int64.init)
            paddingLeft = [w.padTop, w.padLeft].map(Int64.init)
            paddingRight = [w.padBottom, w.padRight].map(Int64.init)
        }

        /// An NHWC shape in nChw16c, oneDNN's layout of whole 16-channel blocks.
        func channelBlocks16(_ nhwc: [Int]) throws -> MemoryDescriptor {
            try MemoryDescriptor([nhwc[0], nhwc[3], nhwc[1], nhwc[2]], dnnl_nChw16c)
        }

        /// Source, weights and destination as a primitive's descriptor takes them: weights in the layout oneDNN picks,
        /// activations NHWC or, `blocked`, in the layout oneDNN picks too.
        func raw(blocked: Bool) -> (source: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, destination: dnnl_memory_desc_t) {
            blocked ? (anySource.raw, anyWeights.raw, anyDestination.raw) : (source.raw, anyWeights.raw, destination.raw)
        }
    }

    /// Also the hint a backward pass of the same form is built with.
    private func convolutionForward(_ g: ConvolutionGeometry, _ d: ConvolutionDescriptors, bias: Bool, form: ConvolutionForm) throws -> DNNLPrimitive {
        try primitive(.convolution(g, bias: bias, form: form)) {
            var desc = dnnl_convolution_desc_t()
            var (src, weights, dst) = d.raw(blocked: form != .nhwc)
            var biasDesc = bias ? d.bias.raw : dnnl_memory_desc_t()
            try check(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training, form.algorithm, &src, &weights,
                                                                 &biasDesc, &dst, d.strides, d.dilates, d.paddingLeft, d.paddingRight),
                      "convolution_forward_desc_init")
            return try DNNLPrimitive("convolution forward", &desc, engine: engine)
        }
    }

    /// How a strided 1×1 convolution runs: oneDNN's strided kernel, or a subsample of the input followed by a stride-1
    /// kernel. Which is faster depends on the shape and the CPU (measured here at ResNet-50's shortcuts, batch 32: the
    /// subsample wins 206 to 172 GFLOPS at 28×28×512→1024 and loses 120 to 199 at 56×56×256→128), so by default the
    /// first call of each shape times both and keeps the faster.
    public enum StridedPointwiseStrategy: Sendable { case measure, native, subsample }
    public var stridedPointwiseStrategy: StridedPointwiseStrategy {
        get { locked { strategy } }
        set { locked { strategy = newValue } }
    }
    private var strategy = StridedPointwiseStrategy.measure
    private var measuredSubsampleWins: [ConvolutionGeometry: Bool] = [:]

    public func conv2d(_ x: Tensor, _ kernel: Tensor, bias: Tensor?, _ g: ConvolutionGeometry) throws -> Tensor {
        guard g.window.isPointwise, g.window.strideHeight * g.window.strideWidth > 1 else { return try convolve(x, kernel, bias: bias, g) }
        let native = { try self.convolve(x, kernel, bias: bias, g) }
        let subsampled = {
            let sampled = self.subsample(x, g)
            return try self.convolve(sampled, kernel, bias: bias, ConvolutionGeometry(input: sampled.shape, kernel: kernel.shape, groups: g.groups))
        }
        let (chosen, known) = locked { (strategy, measuredSubsampleWins[g]) }
        switch (chosen, known) {
        case (.native, _), (.measure, false?): return try native()
        case (.subsample, _), (.measure, true?): return try subsampled()
        case (.measure, nil):
            // Second runs are timed: the first ones build primitives and reorder weights.
            _ = try native()
            let (nativeTime, result) = try timed(native)
            _ = try subsampled()
            let (subsampleTime, _) = try timed(subsampled)
            locked { measuredSubsampleWins[g] = subsampleTime < nativeTime }
            return result
        }
    }

    private func timed(_ body: () throws -> Tensor) rethrows -> (Duration, Tensor) {
        let start = ContinuousClock.now
        let result = try body()
        return (ContinuousClock.now - start, result)
    }

    private func convolve(_ x: Tensor, _ kernel: Tensor, bias: Tensor?, _ g: ConvolutionGeometry) throws -> Tensor {
        if runsAsMatrixProduct(g) { return try pointwiseConvolutionAsMatrixProduct(x, kernel, bias: bias, g) }
        let d = try ConvolutionDescriptors(g)
        let form = convolutionForms(g).forwardAndBackwardData
        let key = PrimitiveKey.convolution(g, bias: bias != nil, form: form)
        let p = try convolutionForward(g, d, bias: bias != nil, form: form)
        let wanted = p.memoryDescriptor(dnnl_query_weights_md)
        let w = try weights(kernel, user: d.userWeights, wanted: wanted, for: key, argument: DNNL_ARG_WEIGHTS)
        let sourceLayout = p.memoryDescriptor(dnnl_query_src_md), outputLayout = p.memoryDescriptor(dnnl_query_dst_md)
        let source = try activation(x, user: d.source, wanted: sourceLayout, for: key, argument: DNNL_ARG_SRC)
        return try withExtendedLifetime((w.owner, source.owner)) {
            try produce(g.outputShape) { y in
                try writing(outputLayout, as: d.destination, into: UnsafeMutableRawPointer(y), for: key, argument: DNNL_ARG_DST) { out in
                    var args = [(DNNL_ARG_SRC, sourceLayout, source.pointer), (DNNL_ARG_WEIGHTS, wanted, w.pointer), (DNNL_ARG_DST, outputLayout, out)]
                    if let bias { args.append((DNNL_ARG_BIAS, d.bias, mutable(bias))) }
                    try p.execute(engine, args)
                }
            }
        }
    }

    public func conv2dBackwardData(_ dy: Tensor, _ kernel: Tensor, _ g: ConvolutionGeometry) throws -> Tensor {
        if runsAsMatrixProduct(g) { return try pointwiseBackwardDataAsMatrixProduct(dy, kernel, g) }
        let d = try ConvolutionDescriptors(g)
        let form = convolutionForms(g).forwardAndBackwardData
        let key = PrimitiveKey.convolutionBackwardData(g, form: form)
        let forward = try convolutionForward(g, d, bias: false, form: form)
        let p = try primitive(key) {
            var desc = dnnl_convolution_desc_t()
            var (diffSrc, weights, diffDst) = d.raw(blocked: form != .nhwc)
            try check(dnnl_dilated_convolution_backward_data_desc_init(&desc, form.algorithm, &diffSrc, &weights, &diffDst,
                                                                       d.strides, d.dilates, d.paddingLeft, d.paddingRight),
                      "convolution_backward_data_desc_init")
            return try DNNLPrimitive("convolution backward data", &desc, engine: engine, hint: forward)
        }
        let wanted = p.memoryDescriptor(dnnl_query_weights_md)
        let w = try weights(kernel, user: d.userWeights, wanted: wanted, for: key, argument: DNNL_ARG_WEIGHTS)
        let gradientLayout = p.memoryDescriptor(dnnl_query_diff_dst_md), inputLayout = p.memoryDescriptor(dnnl_query_diff_src_md)
        let gradient = try activation(dy, user: d.destination, wanted: gradientLayout, for: key, argument: DNNL_ARG_DIFF_DST)
        return try withExtendedLifetime((w.owner, gradient.owner)) {
            try produce(g.inputShape) { dx in
                try writing(inputLayout, as: d.source, into: UnsafeMutableRawPointer(dx), for: key, argument: DNNL_ARG_DIFF_SRC) { out in
                    try p.execute(engine, [(DNNL_ARG_DIFF_DST, gradientLayout, gradient.pointer), (DNNL_ARG_WEIGHTS, wanted, w.pointer),
                                           (DNNL_ARG_DIFF_SRC, inputLayout, out)])
                }
            }
        }
    }

    public func conv2dBackwardWeights(_ dy: Tensor, _ x: Tensor, _ g: ConvolutionGeometry, withBias: Bool) throws -> (kernel: Tensor, bias: Tensor?) {
        if computesWeightGradientAsMatrixProduct(g) { return try pointwiseWeightGradientAsMatrixProduct(dy, x, g, withBias: withBias) }
        let d = try ConvolutionDescriptors(g)
        let form = convolutionForms(g).backwardWeights
        let key = PrimitiveKey.convolutionBackwardWeights(g, bias: withBias, form: form)
        let forward = try convolutionForward(g, d, bias: withBias, form: form)
        let p = try primitive(key) {
            var desc = dnnl_convolution_desc_t()
            var (src, diffWeights, diffDst) = d.raw(blocked: form != .nhwc)
            var diffBias = withBias ? d.bias.raw : dnnl_memory_desc_t()
            try check(dnnl_dilated_convolution_backward_weights_desc_init(&desc, form.algorithm, &src, &diffWeights, &diffBias,
                                                                          &diffDst, d.strides, d.dilates, d.paddingLeft, d.paddingRight),
                      "convolution_backward_weights_desc_init")
            return try DNNLPrimitive("convolution backward weights", &desc, engine: engine, hint: forward)
        }
        let sourceLayout = p.memoryDescriptor(dnnl_query_src_md), gradientLayout = p.memoryDescriptor(dnnl_query_diff_dst_md)
        let source = try activation(x, user: d.source, wanted: sourceLayout, for: key, argument: DNNL_ARG_SRC)
        let gradient = try activation(dy, user: d.destination, wanted: gradientLayout, for: key, argument: DNNL_ARG_DIFF_DST)
        let produced = p.memoryDescriptor(dnnl_query_diff_weights_md)
        var bias = withBias ? Tensor(zeros: [g.outputChannels]) : nil
        let kernel = try produce(g.kernelShape) { dw in
            try writing(produced, as: d.userWeights, into: UnsafeMutableRawPointer(dw), for: key, argument: DNNL_ARG_DIFF_WEIGHTS) { out in
                var args = [(DNNL_ARG_SRC, sourceLayout, source.pointer), (DNNL_ARG_DIFF_DST, gradientLayout, gradient.pointer),
                            (DNNL_ARG_DIFF_WEIGHTS, produced, out)]
                if bias != nil { args.append((DNNL_ARG_DIFF_BIAS, d.bias, bias!.withUnsafeMutableBufferPointer { UnsafeMutableRawPointer($0.baseAddress!) })) }
                try p.execute(engine, args)
            }
        }
        withExtendedLifetime((source.owner, gradient.owner)) {}
        return (kernel, bias)
    }

    /// The input pixels a strided 1×1 convolution reads: rows and columns 0, s, 2s, …
    func subsample(_ x: Tensor, _ g: ConvolutionGeometry) -> Tensor {
        let w = g.window, c = g.inputChannels
        return produce([g.batch, w.outputHeight, w.outputWidth, c]) { out in
            let source = ptr(x)
            parallelFor(g.batch * w.outputHeight) { rows in
                for row in rows {
                    let n = row / w.outputHeight, ih = (row % w.outputHeight) * w.strideHeight
                    for ow in 0..<w.outputWidth {
                        (out + (row * w.outputWidth + ow) * c)
                            .update(from: source + ((n * w.inputHeight + ih) * w.inputWidth + ow * w.strideWidth) * c, count: c)
                    }
                }
            }
        }
    }

    // MARK: Matrix product

    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws -> Tensor {
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let n = transposeB ? b.shape[0] : b.shape[1]
        return try produce([m, n]) { c in
            try sgemm(transposeA: transposeA, transposeB: transposeB, m, n, k, ptr(a), ptr(b), beta: 0, c)
        }
    }

    // MARK: Activations

    private func eltwiseForward(_ form: (algorithm: dnnl_alg_kind_t, alpha: Float, beta: Float), _ kind: Activation,
                                _ md: MemoryDescriptor, count: Int) throws -> DNNLPrimitive {
        try primitive(.eltwise(kind, count: count)) {
            var desc = dnnl_eltwise_desc_t()
            var data = md.raw
            try check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, form.algorithm, &data, form.alpha, form.beta), "eltwise_forward_desc_init")
            return try DNNLPrimitive("\(kind) forward", &desc, engine: engine)
        }
    }

    public func activation(_ kind: Activation, _ x: Tensor) throws -> Tensor {
        guard let form = kind.dnnl else { return try Runtime.reference.activation(kind, x) }
        guard x.count > 0 else { return x }
        let md = try MemoryDescriptor([x.count], dnnl_a)
        let p = try eltwiseForward(form, kind, md, count: x.count)
        return try produce(x.shape) { y in
            try p.execute(engine, [(DNNL_ARG_SRC, md, mutable(x)), (DNNL_ARG_DST, md, UnsafeMutableRawPointer(y))])
        }
    }

    public func activationBackward(_ kind: Activation, _ dy: Tensor, x: Tensor, y: Tensor) throws -> Tensor {
        guard let form = kind.dnnl else { return try Runtime.reference.activationBackward(kind, dy, x: x, y: y) }
        guard x.count > 0 else { return x }
        let md = try MemoryDescriptor([x.count], dnnl_a)
        let forward = try eltwiseForward(form, kind, md, count: x.count)
        let p = try primitive(.eltwiseBackward(kind, count: x.count)) {
            var desc = dnnl_eltwise_desc_t()
            var (diff, data) = (md.raw, md.raw)
            try check(dnnl_eltwise_backward_desc_init(&desc, form.algorithm, &diff, &data, form.alpha, form.beta), "eltwise_backward_desc_init")
            return try DNNLPrimitive("\(kind) backward", &desc, engine: engine, hint: forward)
        }
        let saved = kind.dnnlBackwardReadsOutput ? (DNNL_ARG_DST, md, mutable(y)) : (DNNL_ARG_SRC, md, mutable(x))
        return try produce(x.shape) { dx in
            try p.execute(engine, [saved, (DNNL_ARG_DIFF_DST, md, mutable(dy)), (DNNL_ARG_DIFF_SRC, md, UnsafeMutableRawPointer(dx))])
        }
    }

    // MARK: Pooling

    struct PoolingDescriptors {
        var source, destination: MemoryDescriptor
        let strides, kernel, paddingLeft, paddingRight: [Int64]
        let algorithm: dnnl_alg_kind_t

        init(_ kind: PoolingKind, _ g: PoolingGeometry) throws {
            let w = g.window
            source = try MemoryDescriptor([g.batch, g.channels, w.inputHeight, w.inputWidth], dnnl_nhwc)
            destination = try MemoryDescriptor([g.batch, g.channels, w.outputHeight, w.outputWidth], dnnl_nhwc)
            strides = [w.strideHeight, w.strideWidth].map(Int64.init)
            kernel = [w.kernelHeight, w.kernelWidth].map(Int64.init)
            paddingLeft = [w.padTop, w.padLeft].map(Int64.init)
            paddingRight = [w.padBottom, w.padRight].map(Int64.init)
            algorithm = kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding
        }
    }

    private func poolingForward(_ kind: PoolingKind, _ g: PoolingGeometry, _ d: PoolingDescriptors, training: Bool) throws -> DNNLPrimitive {
        try primitive(.pooling(kind, g, training: training)) {
            var desc = dnnl_pooling_desc_t()
            var (src, dst) = (d.source.raw, d.destination.raw)
            try check(dnnl_pooling_forward_desc_init(&desc, training ? dnnl_forward_training : dnnl_forward_inference, d.algorithm,
                                                     &src, &dst, d.strides, d.kernel, d.paddingLeft, d.paddingRight),
                      "pooling_forward_desc_init")
            return try DNNLPrimitive("\(kind) pooling forward", &desc, engine: engine)
        }
    }

    public func pool2d(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
        let d = try PoolingDescriptors(kind, g)
        let p = try poolingForward(kind, g, d, training: false)
        return try produce(g.outputShape) { y in
            try p.execute(engine, [(DNNL_ARG_SRC, d.source, mutable(x)), (DNNL_ARG_DST, d.destination, UnsafeMutableRawPointer(y))])
        }
    }

    /// What a training pass keeps of a pooling in place of its input: max pooling's workspace (where each maximum
    /// was); average pooling's backward reads nothing.
    final class PoolingWorkspace {
        let memory: (descriptor: MemoryDescriptor, buffer: AlignedBuffer)?
        init(_ memory: (descriptor: MemoryDescriptor, buffer: AlignedBuffer)?) { self.memory = memory }
    }

    public func pool2dTraining(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> (y: Tensor, workspace: AnyObject?) {
        let d = try PoolingDescriptors(kind, g)
        let forward = try poolingForward(kind, g, d, training: true)
        var workspace: (descriptor: MemoryDescriptor, buffer: AlignedBuffer)?
        let y = try produce(g.outputShape) { y in
            workspace = try runWithWorkspace(forward, [(DNNL_ARG_SRC, d.source, mutable(x)), (DNNL_ARG_DST, d.destination, UnsafeMutableRawPointer(y))])
        }
        return (y, PoolingWorkspace(workspace))
    }

    public func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, workspace: AnyObject, _ g: PoolingGeometry) throws -> Tensor {
        guard let workspace = workspace as? PoolingWorkspace else {
            throw ShapeError("pool2dBackward", "the workspace comes from another backend than \(name)")
        }
        let d = try PoolingDescriptors(kind, g)
        return try poolingBackward(kind, dy, g, d, forward: try poolingForward(kind, g, d, training: true), workspace: workspace.memory)
    }

    /// Without a workspace from the forward pass, max pooling runs its forward again to get one.
    public func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
        let d = try PoolingDescriptors(kind, g)
        let forward = try poolingForward(kind, g, d, training: true)
        let workspace = try runForWorkspace(forward, [(DNNL_ARG_SRC, d.source, mutable(x))], output: (DNNL_ARG_DST, d.destination))
        return try poolingBackward(kind, dy, g, d, forward: forward, workspace: workspace)
    }

    /// `forward`: the training-mode forward primitive, the backward's hint.
    private func poolingBackward(_ kind: PoolingKind, _ dy: Tensor, _ g: PoolingGeometry, _ d: PoolingDescriptors, forward: DNNLPrimitive,
                                 workspace: (descriptor: MemoryDescriptor, buffer: AlignedBuffer)?) throws -> Tensor {
        let p = try primitive(.poolingBackward(kind, g)) {
            var desc = dnnl_pooling_desc_t()
            var (diffSrc, diffDst) = (d.source.raw, d.destination.raw)
            try check(dnnl_pooling_backward_desc_init(&desc, d.algorithm, &diffSrc, &diffDst, d.strides, d.kernel,
                                                      d.paddingLeft, d.paddingRight), "pooling_backward_desc_init")
            return try DNNLPrimitive("\(kind) pooling backward", &desc, engine: engine, hint: forward)
        }
        return try produce(g.inputShape) { dx in
            var args = [(DNNL_ARG_DIFF_DST, d.destination, mutable(dy)), (DNNL_ARG_DIFF_SRC, d.source, UnsafeMutableRawPointer(dx))]
            if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace.descriptor, workspace.buffer.pointer)) }
            try withExtendedLifetime(workspace?.buffer) { try p.execute(engine, args) }
        }
    }

    /// Runs a training-mode forward primitive into scratch memory and returns its workspace, if it has one.
    private func runForWorkspace(_ forward: DNNLPrimitive, _ inputs: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer?)],
                                 output: (Int32, MemoryDescriptor)) throws -> (descriptor: MemoryDescriptor, buffer: AlignedBuffer)? {
        guard forward.memoryDescriptor(dnnl_query_workspace_md).byteCount > 0 else { return nil }
        let scratch = AlignedBuffer(byteCount: output.1.byteCount)
        return try withExtendedLifetime(scratch) { try runWithWorkspace(forward, inputs + [(output.0, output.1, scratch.pointer)]) }
    }

    /// Runs a training-mode forward primitive on `arguments` plus a workspace of its own, if it has one, and returns
    /// that workspace.
    private func runWithWorkspace(_ forward: DNNLPrimitive, _ arguments: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer?)])
        throws -> (descriptor: MemoryDescriptor, buffer: AlignedBuffer)? {
        let descriptor = forward.memoryDescriptor(dnnl_query_workspace_md)
        let buffer = descriptor.byteCount > 0 ? AlignedBuffer(byteCount: descriptor.byteCount) : nil
        try withExtendedLifetime(buffer) {
            try forward.execute(engine, arguments + (buffer.map { [(DNNL_ARG_WORKSPACE, descriptor, $0.pointer)] } ?? []))
        }
        return buffer.map { (descriptor, $0) }
    }

    // MARK: Local response normalization

    /// oneDNN divides α by the window size; Zoo's α (TensorFlow's and the AlexNet paper's) multiplies the sum directly.
    private func lrnDescriptor(_ p: LRNParameters, _ md: MemoryDescriptor, training: Bool) throws -> DNNLPrimitive {
        try primitive(.lrn(p, shape: dims(md), training: training)) {
            var desc = dnnl_lrn_desc_t()
            var data = md.raw
            try check(dnnl_lrn_forward_desc_init(&desc, training ? dnnl_forward_training : dnnl_forward_inference, dnnl_lrn_across_channels,
                                                 &data, Int64(p.size), p.alpha * Float(p.size), p.beta, p.k), "lrn_forward_desc_init")
            return try DNNLPrimitive("lrn forward", &desc, engine: engine)
        }
    }

    /// NHWC tensors keep their real dims (oneDNN picks its channels-last kernels); others become [positions, C, 1, 1].
    func channelsLastMemory(_ x: Tensor) throws -> MemoryDescriptor {
        if x.rank == 4 { return try MemoryDescriptor([x.shape[0], x.shape[3], x.shape[1], x.shape[2]], dnnl_nhwc) }
        let (positions, channels) = x.positionsAndChannels
        return try MemoryDescriptor([positions, channels, 1, 1], dnnl_nhwc)
    }

    private func dims(_ md: MemoryDescriptor) -> [Int] {
        withUnsafeBytes(of: md.raw.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(md.raw.ndims))).map(Int.init) }
    }

    public func lrn(_ x: Tensor, _ p: LRNParameters) throws -> Tensor {
        let md = try channelsLastMemory(x)
        let forward = try lrnDescriptor(p, md, training: false)
        return try produce(x.shape) { y in
            try forward.execute(engine, [(DNNL_ARG_SRC, md, mutable(x)), (DNNL_ARG_DST, md, UnsafeMutableRawPointer(y))])
        }
    }

    public func lrnBackward(_ dy: Tensor, x: Tensor, _ p: LRNParameters) throws -> Tensor {
        let md = try channelsLastMemory(x)
        let forward = try lrnDescriptor(p, md, training: true)
        let backward = try primitive(.lrnBackward(p, shape: dims(md))) {
            var desc = dnnl_lrn_desc_t()
            var (diff, data) = (md.raw, md.raw)
            try check(dnnl_lrn_backward_desc_init(&desc, dnnl_lrn_across_channels, &diff, &data, Int64(p.size),
                                                  p.alpha * Float(p.size), p.beta, p.k), "lrn_backward_desc_init")
            return try DNNLPrimitive("lrn backward", &desc, engine: engine, hint: forward)
        }
        let workspace = try runForWorkspace(forward, [(DNNL_ARG_SRC, md, mutable(x))], output: (DNNL_ARG_DST, md))
        return try produce(x.shape) { dx in
            var args = [(DNNL_ARG_SRC, md, mutable(x)), (DNNL_ARG_DIFF_DST, md, mutable(dy)), (DNNL_ARG_DIFF_SRC, md, UnsafeMutableRawPointer(dx))]
            if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace.descriptor, workspace.buffer.pointer)) }
            try withExtendedLifetime(workspace?.buffer) { try backward.execute(engine, args) }
        }
    }

    // MARK: Batch normalization

    private func batchNormForward(shape: [Int], epsilon: Float, globalStatistics: Bool, relu: Bool = false,
                                  _ data: MemoryDescriptor) throws -> DNNLPrimitive {
        try primitive(.batchNorm(shape: shape, epsilon: epsilon, globalStatistics: globalStatistics, relu: relu)) {
            var desc = dnnl_batch_normalization_desc_t()
            var md = data.raw
            try check(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &md, epsilon,
                                                                 Self.batchNormFlags(globalStatistics: globalStatistics, relu: relu)),
                      "batch_normalization_forward_desc_init")
            return try DNNLPrimitive("batch normalization forward", &desc, engine: engine)
        }
    }

    private static func batchNormFlags(globalStatistics: Bool, relu: Bool) -> UInt32 {
        dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | (globalStatistics ? dnnl_use_global_stats.rawValue : 0)
            | (relu ? dnnl_fuse_norm_relu.rawValue : 0)
    }

    public func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor {
        let (positions, channels) = x.positionsAndChannels
        guard positions > 0 else { return x }
        let data = try channelsLastMemory(x), vector = try MemoryDescriptor([channels], dnnl_a)
        let p = try batchNormForward(shape: x.shape, epsilon: epsilon, globalStatistics: true, data)
        return try produce(x.shape) { y in
            try p.execute(engine, [(DNNL_ARG_SRC, data, mutable(x)), (DNNL_ARG_DST, data, UnsafeMutableRawPointer(y)),
                                   (DNNL_ARG_MEAN, vector, mutable(mean)), (DNNL_ARG_VARIANCE, vector, mutable(variance)),
                                   (DNNL_ARG_SCALE, vector, mutable(gamma)), (DNNL_ARG_SHIFT, vector, mutable(beta))])
        }
    }

    public func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor) {
        let result = try batchNormTraining(x, gamma: gamma, beta: beta, epsilon: epsilon, relu: false)
        return (result.y, result.mean, result.variance)
    }

    /// oneDNN's ReLU fused into training batch normalization writes, beside the output, a workspace saying where
    /// the ReLU passed its input; the backward pass reads it.
    public func batchNormReLUTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: AnyObject?) {
        try batchNormTraining(x, gamma: gamma, beta: beta, epsilon: epsilon, relu: true)
    }

    private func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float,
                                   relu: Bool) throws -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: AnyObject?) {
        let channels = x.positionsAndChannels.channels
        let data = try channelsLastMemory(x), vector = try MemoryDescriptor([channels], dnnl_a)
        let p = try batchNormForward(shape: x.shape, epsilon: epsilon, globalStatistics: false, relu: relu, data)
        let workspaceLayout = p.memoryDescriptor(dnnl_query_workspace_md)
        let workspace = relu ? AlignedBuffer(byteCount: workspaceLayout.byteCount) : nil
        var mean = Tensor(zeros: [channels]), variance = Tensor(zeros: [channels])
        let y = try produce(x.shape) { y in
            var args = [(DNNL_ARG_SRC, data, mutable(x)), (DNNL_ARG_DST, data, UnsafeMutableRawPointer(y)),
                        (DNNL_ARG_MEAN, vector, writable(&mean)), (DNNL_ARG_VARIANCE, vector, writable(&variance)),
                        (DNNL_ARG_SCALE, vector, mutable(gamma)), (DNNL_ARG_SHIFT, vector, mutable(beta))]
            if let workspace { args.append((DNNL_ARG_WORKSPACE, workspaceLayout, workspace.pointer)) }
            try withExtendedLifetime(workspace) { try p.execute(engine, args) }
        }
        return (y, mean, variance, workspace)
    }

    public func batchNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
                                  batchStatistics: Bool, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        try batchNormBackward(dy, x: x, gamma: gamma, mean: mean, variance: variance, epsilon: epsilon,
                              batchStatistics: batchStatistics, inputGradient: inputGradient, reluWorkspace: nil)
    }

    public func batchNormReLUBackward(_ dy: Tensor, x: Tensor, y: Tensor?, workspace: AnyObject?, gamma: Tensor, mean: Tensor, variance: Tensor,
                                      epsilon: Float, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        guard let workspace = workspace as? AlignedBuffer else {
            throw ShapeError("batchNormReLU", "the backward pass needs the workspace oneDNN's forward pass wrote")
        }
        return try batchNormBackward(dy, x: x, gamma: gamma, mean: mean, variance: variance, epsilon: epsilon, batchStatistics: true,
                                     inputGradient: inputGradient, reluWorkspace: workspace)
    }

    private func batchNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, epsilon: Float, batchStatistics: Bool,
                                   inputGradient: Bool, reluWorkspace: AlignedBuffer?) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        let channels = x.positionsAndChannels.channels
        let data = try channelsLastMemory(x), vector = try MemoryDescriptor([channels], dnnl_a)
        let relu = reluWorkspace != nil
        let forward = try batchNormForward(shape: x.shape, epsilon: epsilon, globalStatistics: !batchStatistics, relu: relu, data)
        let p = try primitive(.batchNormBackward(shape: x.shape, epsilon: epsilon, globalStatistics: !batchStatistics, relu: relu)) {
            var desc = dnnl_batch_normalization_desc_t()
            var (diff, md) = (data.raw, data.raw)
            try check(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &diff, &md, epsilon,
                                                                  Self.batchNormFlags(globalStatistics: !batchStatistics, relu: relu)),
                      "batch_normalization_backward_desc_init")
            return try DNNLPrimitive("batch normalization backward", &desc, engine: engine, hint: forward)
        }
        var dgamma = Tensor(zeros: [channels]), dbeta = Tensor(zeros: [channels])
        var unusedShift = Tensor(zeros: [channels])  // oneDNN asks for it; gradients do not depend on it
        let dx = try produce(x.shape) { dx in
            var args = [(DNNL_ARG_SRC, data, mutable(x)), (DNNL_ARG_DIFF_DST, data, mutable(dy)),
                        (DNNL_ARG_MEAN, vector, mutable(mean)), (DNNL_ARG_VARIANCE, vector, mutable(variance)),
                        (DNNL_ARG_SCALE, vector, mutable(gamma)), (DNNL_ARG_SHIFT, vector, writable(&unusedShift)),
                        (DNNL_ARG_DIFF_SRC, data, UnsafeMutableRawPointer(dx)),
                        (DNNL_ARG_DIFF_SCALE, vector, writable(&dgamma)), (DNNL_ARG_DIFF_SHIFT, vector, writable(&dbeta))]
            if let reluWorkspace { args.append((DNNL_ARG_WORKSPACE, p.memoryDescriptor(dnnl_query_workspace_md), reluWorkspace.pointer)) }
            try withExtendedLifetime(reluWorkspace) { try p.execute(engine, args) }
        }
        return (inputGradient ? dx : nil, dgamma, dbeta)
    }
}

/// oneDNN takes every buffer as `void *`; inputs are only read.
@inline(__always) private func mutable(_ t: Tensor) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(t.storage.pointer) }

/// The buffer of a tensor about to be written by a primitive (unique, so no copy-on-write happens later).
@inline(__always) private func writable(_ t: inout Tensor) -> UnsafeMutableRawPointer {
    t.withUnsafeMutableBufferPointer { UnsafeMutableRawPointer($0.baseAddress!) }
}
