import CDNNL

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

/// The CPU engine and one in-order stream.
final class DNNLEngine: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    init() throws(DNNLError) {
        var engine: dnnl_engine_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create")
        var stream: dnnl_stream_t?
        try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream_create")
        self.engine = engine!
        self.stream = stream!
    }

    deinit {
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }
}

/// A primitive descriptor and the primitive built from it.
final class DNNLPrimitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    let name: String

    /// Takes ownership of `pd` and builds its primitive.
    init(adopting pd: dnnl_primitive_desc_t, name: String) throws(DNNLError) {
        var primitive: dnnl_primitive_t?
        let status = dnnl_primitive_create(&primitive, pd)
        if status != dnnl_success { dnnl_primitive_desc_destroy(pd) }
        try check(status, "\(name) primitive_create")
        self.descriptor = pd
        self.primitive = primitive!
        self.name = name
    }

    /// `opDescriptor` points to an initialized oneDNN operation descriptor.
    convenience init(_ name: String, _ opDescriptor: UnsafeRawPointer, engine: DNNLEngine, hint: DNNLPrimitive? = nil) throws(DNNLError) {
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, opDescriptor, nil, engine.engine, hint?.descriptor), "\(name) primitive_desc_create")
        try self.init(adopting: pd!, name: name)
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    func memoryDescriptor(_ query: dnnl_query_t, _ index: Int32 = 0) -> MemoryDescriptor {
        MemoryDescriptor(dnnl_primitive_desc_query_md(descriptor, query, index).pointee)
    }

    /// Runs the primitive with each argument's memory wrapped around the given buffer, and waits for it.
    func execute(_ engine: DNNLEngine, _ arguments: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer?)]) throws(DNNLError) {
        var memories: [dnnl_memory_t?] = []
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        var args: [dnnl_exec_arg_t] = []
        for (index, descriptor, pointer) in arguments {
            var memory: dnnl_memory_t?
            var md = descriptor.raw
            try check(dnnl_memory_create(&memory, &md, engine.engine, pointer), "\(name) memory_create")
            memories.append(memory)
            args.append(dnnl_exec_arg_t(arg: index, memory: memory))
        }
        try check(dnnl_primitive_execute(primitive, engine.stream, Int32(args.count), args), "\(name) execute")
        try check(dnnl_stream_wait(engine.stream), "\(name) stream_wait")
    }
}

/// A 64-byte-aligned scratch buffer owned by a cache entry.
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 64), alignment: 64)
    }

    deinit { pointer.deallocate() }
}
