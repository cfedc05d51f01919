import CDNNL
import Foundation

/// A oneDNN call failed: names the call and oneDNN's status.
public struct DNNLError: Error, CustomStringConvertible {
    public let call: String
    public let status: Int

    public var description: String {
        let meaning: String
        switch dnnl_status_t(rawValue: UInt32(status)) {
        case dnnl_out_of_memory: meaning = "out of memory"
        case dnnl_invalid_arguments: meaning = "invalid arguments"
        case dnnl_unimplemented: meaning = "no implementation for these shapes"
        case dnnl_runtime_error: meaning = "runtime error"
        default: meaning = "status \(status)"
        }
        return "oneDNN \(call) failed: \(meaning)"
    }
}

@inline(__always) func check(_ status: dnnl_status_t, _ call: String) throws(DNNLError) {
    if status != dnnl_success { throw DNNLError(call: call, status: Int(status.rawValue)) }
}

/// A memory descriptor: logical dims (always N, C, H, W order in oneDNN) plus a physical layout.
struct MemoryDescriptor {
    var raw = dnnl_memory_desc_t()

    init(_ dims: [Int], _ tag: dnnl_format_tag_t) throws(DNNLError) {
        let dims64 = dims.map(Int64.init)
        try check(dnnl_memory_desc_init_by_tag(&raw, Int32(dims.count), dims64, dnnl_f32, tag), "memory_desc_init_by_tag")
    }

    init(_ raw: dnnl_memory_desc_t) { self.raw = raw }

    var byteCount: Int { withUnsafePointer(to: raw) { dnnl_memory_desc_get_size($0) } }

    func equals(_ other: MemoryDescriptor) -> Bool {
        withUnsafePointer(to: raw) { a in withUnsafePointer(to: other.raw) { b in dnnl_memory_desc_equal(a, b) != 0 } }
    }
}

/// The CPU engine, the attributes every primitive is built with, and a pool of streams.
///
/// Primitives are cached and run on whichever thread asks next, and several threads may run them at once. oneDNN's
/// default scratchpad does not allow either: it is one buffer per thread, owned by the thread that *built* the
/// primitive but looked up on the thread that *runs* it, so a primitive run on another thread writes into that
/// thread's buffer (too small, or null: a crash) or into one another primitive is using. Every primitive here is
/// built with a user-managed scratchpad instead and gets its own scratch memory on each run.
final class DNNLEngine: @unchecked Sendable {
    let engine: dnnl_engine_t
    let attributes: dnnl_primitive_attr_t
    private let lock = NSLock()
    private var idleStreams: [dnnl_stream_t] = []

    init() throws(DNNLError) {
        var engine: dnnl_engine_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create")
        var attributes: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attributes), "primitive_attr_create")
        try check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "primitive_attr_set_scratchpad_mode")
        self.engine = engine!
        self.attributes = attributes!
    }

    deinit {
        for stream in idleStreams { dnnl_stream_destroy(stream) }
        dnnl_primitive_attr_destroy(attributes)
        dnnl_engine_destroy(engine)
    }

    /// The shared attributes plus post-ops; the caller destroys them.
    func attributes(with postOps: [PostOp]) throws(DNNLError) -> dnnl_primitive_attr_t {
        var copy: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_clone(&copy, attributes), "primitive_attr_clone")
        var ops: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&ops), "post_ops_create")
        defer { dnnl_post_ops_destroy(ops) }
        for op in postOps {
            switch op {
            case .sum: try check(dnnl_post_ops_append_sum(ops, 1), "post_ops_append_sum")
            case .activation(let kind):
                guard let form = kind.dnnl else { throw DNNLError(call: "post_ops_append_eltwise (\(kind))", status: Int(dnnl_unimplemented.rawValue)) }
                try check(dnnl_post_ops_append_eltwise(ops, 1, form.algorithm, form.alpha, form.beta), "post_ops_append_eltwise")
            }
        }
        try check(dnnl_primitive_attr_set_post_ops(copy, ops), "primitive_attr_set_post_ops")
        return copy!
    }

    /// OpenMP's thread count is a per-thread setting: every thread that calls into oneDNN sets it before the call.
    static func sizeThreadPool() { omp_set_num_threads(Int32(Threads.count)) }

    /// Runs `body` with a stream no other thread is using.
    func withStream<R>(_ body: (dnnl_stream_t) throws(DNNLError) -> R) throws(DNNLError) -> R {
        Self.sizeThreadPool()
        var stream = lock.withLock { idleStreams.popLast() }
        if stream == nil { try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream_create") }
        defer { lock.withLock { idleStreams.append(stream!) } }
        return try body(stream!)
    }
}

/// Work fused onto the end of a primitive: adding what the destination already holds, then an activation.
public enum PostOp: Hashable, Sendable {
    case sum
    case activation(Activation)
}

extension Activation {
    /// oneDNN 2.6's form of the activation: algorithm, alpha and beta; nil for the kinds it has no kernel for.
    var dnnl: (algorithm: dnnl_alg_kind_t, alpha: Float, beta: Float)? {
        switch self {
        case .relu: (dnnl_eltwise_relu, 0, 0)
        case .tanh: (dnnl_eltwise_tanh_use_dst_for_bwd, 0, 0)
        case .sigmoid: (dnnl_eltwise_logistic_use_dst_for_bwd, 0, 0)
        case let .rectifier(slope, nil, 0): (dnnl_eltwise_relu, slope, 0)
        case let .rectifier(0, maxValue?, 0): (dnnl_eltwise_clip, 0, maxValue)
        case .elu(let alpha): (dnnl_eltwise_elu, alpha, 0)
        case .gelu(let approximate): (approximate ? dnnl_eltwise_gelu_tanh : dnnl_eltwise_gelu_erf, 0, 0)
        case .swish: (dnnl_eltwise_swish, 1, 0)
        case .softplus: (dnnl_eltwise_soft_relu, 0, 0)
        case .hardSwish: (dnnl_eltwise_hardswish, 0, 0)
        case .rectifier, .selu, .hardSigmoid, .softsign: nil
        }
    }

    /// Whether oneDNN computes the activation (fused onto a convolution or alone); the others run on the reference
    /// kernels.
    public var hasDNNLKernel: Bool { dnnl != nil }

    /// Whether oneDNN's backward reads the output instead of the input.
    var dnnlBackwardReadsOutput: Bool { self == .tanh || self == .sigmoid }
}

/// A primitive descriptor and the primitive built from it.
final class DNNLPrimitive: @unchecked Sendable {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    let name: String
    let scratchpad: MemoryDescriptor

    /// Takes ownership of `pd` and builds its primitive.
    init(adopting pd: dnnl_primitive_desc_t, name: String) throws(DNNLError) {
        var primitive: dnnl_primitive_t?
        let status = dnnl_primitive_create(&primitive, pd)
        if status != dnnl_success { dnnl_primitive_desc_destroy(pd) }
        try check(status, "\(name) primitive_create")
        self.descriptor = pd
        self.primitive = primitive!
        self.name = name
        scratchpad = MemoryDescriptor(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).pointee)
    }

    /// `opDescriptor` points to an initialized oneDNN operation descriptor; `postOps` are fused into the primitive.
    convenience init(_ name: String, _ opDescriptor: UnsafeRawPointer, engine: DNNLEngine, hint: DNNLPrimitive? = nil,
                     postOps: [PostOp] = []) throws(DNNLError) {
        var pd: dnnl_primitive_desc_t?
        let fused = postOps.isEmpty ? nil : try engine.attributes(with: postOps)
        defer { if let fused { dnnl_primitive_attr_destroy(fused) } }
        try check(dnnl_primitive_desc_create(&pd, opDescriptor, fused ?? engine.attributes, engine.engine, hint?.descriptor),
                  "\(name) primitive_desc_create")
        try self.init(adopting: pd!, name: name)
    }

    /// A reorder from `source` to `target`.
    convenience init(reorderFrom source: MemoryDescriptor, to target: MemoryDescriptor, engine: DNNLEngine) throws(DNNLError) {
        var pd: dnnl_primitive_desc_t?
        var (src, dst) = (source.raw, target.raw)
        try check(dnnl_reorder_primitive_desc_create(&pd, &src, engine.engine, &dst, engine.engine, engine.attributes),
                  "reorder primitive_desc_create")
        try self.init(adopting: pd!, name: "reorder")
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// oneDNN's name for the kernel it chose, e.g. "jit_1x1:avx512_core"; "ref:any" is its slow reference code.
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return "" }
        return String(cString: name)
    }

    func memoryDescriptor(_ query: dnnl_query_t, _ index: Int32 = 0) -> MemoryDescriptor {
        MemoryDescriptor(dnnl_primitive_desc_query_md(descriptor, query, index).pointee)
    }

    /// Runs the primitive with each argument's memory wrapped around the given buffer, and waits for it. Safe to call
    /// from several threads at once: each run has its own scratch memory and stream.
    func execute(_ engine: DNNLEngine, _ arguments: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer?)]) throws(DNNLError) {
        let scratch = scratchpad.byteCount > 0 ? AlignedBuffer(byteCount: scratchpad.byteCount, scratch: true) : nil
        var memories: [dnnl_memory_t?] = []
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        var args: [dnnl_exec_arg_t] = []
        for (index, descriptor, pointer) in arguments + (scratch.map { [(DNNL_ARG_SCRATCHPAD, scratchpad, $0.pointer)] } ?? []) {
            var memory: dnnl_memory_t?
            var md = descriptor.raw
            try check(dnnl_memory_create(&memory, &md, engine.engine, pointer), "\(name) memory_create")
            memories.append(memory)
            args.append(dnnl_exec_arg_t(arg: index, memory: memory))
        }
        try engine.withStream { stream throws(DNNLError) in
            try check(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "\(name) execute")
            try check(dnnl_stream_wait(stream), "\(name) stream_wait")
        }
        withExtendedLifetime(scratch) {}
    }
}

/// A 64-byte-aligned scratch buffer (reordered weights, workspaces, scratchpads); large ones come from the buffer pool,
/// since the same sizes recur on every run.
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    /// `scratch`: lives within one kernel call (see `BufferPool.allocate`).
    init(byteCount: Int, scratch: Bool = false) {
        self.byteCount = max(byteCount, 64)
        pointer = BufferPool.shared.allocate(byteCount: self.byteCount, scratch: scratch)
    }

    deinit { BufferPool.shared.release(pointer, byteCount: byteCount) }
}
