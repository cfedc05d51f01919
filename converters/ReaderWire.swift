import Foundation
import ZooCore
import ZooHDF5
import ZooTensor

/// What `zoo-reader` is asked to do with one file.
public enum ReaderRequest: Sendable, Equatable {
    /// Which of the isolated HDF5 formats recognize the file.
    case recognize(path: String)
    /// The file's weights, decoded by the named format.
    case read(format: String, path: String)
    /// Which formats recognize the file, and its weights when the named format is one of them.
    case readIfRecognized(format: String, path: String)

    public var path: String {
        switch self {
        case .recognize(let path), .read(_, let path), .readIfRecognized(_, let path): path
        }
    }

    var arguments: [String] {
        switch self {
        case .recognize(let path): ["recognize", path]
        case .read(let format, let path): ["read", format, path]
        case .readIfRecognized(let format, let path): ["read-if-recognized", format, path]
        }
    }

    public init?(arguments: [String]) {
        switch arguments.first {
        case "recognize" where arguments.count == 2: self = .recognize(path: arguments[1])
        case "read" where arguments.count == 3: self = .read(format: arguments[1], path: arguments[2])
        case "read-if-recognized" where arguments.count == 3: self = .readIfRecognized(format: arguments[1], path: arguments[2])
        default: return nil
        }
    }
}

/// The reply `zoo-reader` writes into an in-memory file its parent created. The first 64 bytes hold "ZOOREAD2" and the
/// JSON header's offset and length (little-endian UInt64s); the arrays' Float32 values follow from byte 64, each at a
/// 64-byte-aligned offset (libhdf5 decodes straight into them, see `ReplyArena`); the header comes last. Arrays the
/// input file stores as plain Float32 are not copied: their entry gives where they lie in the input, which the
/// parent maps itself. The parent checks every offset and size against the file it maps before its tensors borrow them.
public enum ReaderWire {
    static let magic = Array("ZOOREAD2".utf8)
    static let alignment = 64

    /// The most a reply may hold for an input of `inputSize` bytes: float16 values double and 8-bit integers
    /// quadruple when decoded to Float32, so 8× leaves room, plus the header. The sandbox's file-size limit.
    public static func capacity(forInput inputSize: Int) -> Int { 64 << 20 + 8 * inputSize }

    struct Header: Codable {
        var recognized: [String]?
        var bundle: Bundle?
        var error: Failure?
    }

    struct Bundle: Codable {
        var format: String
        var metadata: [String: String]
        var layers: [Layer]
    }

    struct Layer: Codable {
        var name: String
        var path: String?
        var arrays: [Entry]
    }

    struct Entry: Codable {
        var name: String
        var shape: [Int]
        var storedType: String
        var source: Source
        var offset: Int
    }

    /// The file an array's values are in.
    enum Source: String, Codable {
        case reply, input
    }

    struct Failure: Codable {
        var file: String
        var location: String?
        var message: String
    }

    /// Answers one request about a file image and writes the reply into the in-memory file `descriptor`: the child's
    /// whole job once it is sandboxed. A file that cannot be read is an error in the reply, not a failure here.
    public static func serve(_ request: ReaderRequest, image: UnsafeRawBufferPointer, to descriptor: Int32) throws {
        let arena = try ReplyArena(descriptor: descriptor, capacity: capacity(forInput: image.count), input: image)
        ReplyArena.active = arena
        defer { ReplyArena.active = nil }
        var header = Header()
        do {
            let file = try hdf5 { try HDF5File.open(image: image, path: request.path) }
            switch request {
            case .read(let name, _):
                header.bundle = try decode(file, as: name, into: arena)
            case .recognize, .readIfRecognized:
                let recognized = isolatedFormats.filter { $0.recognizes(file) }.map(\.name)
                header.recognized = recognized
                if case .readIfRecognized(let name, _) = request, recognized.contains(name) {
                    header.bundle = try decode(file, as: name, into: arena)
                }
            }
        } catch let error as WeightFileError {
            header = Header(error: Failure(file: error.file, location: error.location, message: error.message))
        }
        try arena.finish(with: try JSONEncoder().encode(header))
    }

    /// Decodes the file with the named isolated format, its arrays in the reply.
    private static func decode(_ file: HDF5File, as name: String, into arena: ReplyArena) throws -> Bundle {
        guard let format = isolatedFormats.first(where: { $0.name == name }) else {
            throw WeightFileError(file: file.path, location: nil, message: "the isolated reader has no HDF5 format named '\(name)'")
        }
        let bundle = try format.decode(file)
        let layers = try bundle.layers.map { layer in
            Layer(name: layer.name, path: layer.path, arrays: try layer.arrays.map { array in
                let (source, offset) = try arena.place(of: try array.tensor(), in: file.path)
                return Entry(name: array.name, shape: array.shape, storedType: array.storedType, source: source, offset: offset)
            })
        }
        return Bundle(format: bundle.format, metadata: bundle.metadata, layers: layers)
    }

    /// Reads a reply's header, trusting nothing in it: a reader that misbehaves yields an error, never a bad access.
    static func decode(_ reply: MappedFile, for url: URL) throws -> Header {
        let bytes = reply.bytes
        guard bytes.count >= alignment, bytes.starts(with: magic) else { throw malformed("no \(String(decoding: magic, as: UTF8.self)) header", url) }
        let offset = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
        let length = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian
        guard offset >= UInt64(alignment), offset <= UInt64(bytes.count), length <= UInt64(bytes.count) - offset else {
            throw malformed("its header lies outside the reply", url)
        }
        do { return try JSONDecoder().decode(Header.self, from: Data(bytes[Int(offset)..<Int(offset + length)])) } catch {
            throw malformed("its header is not the expected JSON (\(error))", url)
        }
    }

    private static func malformed(_ what: String, _ url: URL) -> WeightFileError {
        WeightFileError(url, "the isolated reader sent a malformed reply: \(what)")
    }

    /// The bundle a reply carries, its arrays borrowing the reply's memory between the first 64 bytes and the header,
    /// or the input file's (`input`, mapped when some array is there).
    static func bundle(_ wire: Bundle, in reply: MappedFile, input: MappedFile?, for url: URL) throws -> WeightBundle {
        let dataEnd = Int(reply.bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian)
        let layers = try wire.layers.map { layer in
            LayerWeights(name: layer.name, path: layer.path, arrays: try layer.arrays.map { array in
                guard let count = elementCount(ofShape: array.shape) else { throw malformed("an impossible shape \(array.shape)", url) }
                let file: MappedFile, start: Int, end: Int, alignment: Int
                switch array.source {
                case .reply: (file, start, end, alignment) = (reply, Self.alignment, dataEnd, Self.alignment)
                case .input:
                    guard let input else { throw malformed("array \(layer.name)/\(array.name) is in an input it was not given", url) }
                    (file, start, end, alignment) = (input, 0, input.size, MemoryLayout<Float>.alignment)
                }
                guard array.offset >= start, array.offset % alignment == 0, array.offset <= end, count <= (end - array.offset) / 4 else {
                    throw malformed("array \(layer.name)/\(array.name) lies outside the \(array.source) file", url)
                }
                let pointer = (file.pointer + array.offset).assumingMemoryBound(to: Float.self)
                return WeightArray(name: array.name, shape: array.shape, storedType: array.storedType,
                                   tensor: Tensor(shape: array.shape, borrowing: pointer, owner: file))
            })
        }
        return WeightBundle(format: wire.format, metadata: wire.metadata, layers: layers)
    }
}

/// The reply file mapped shared in the child: decoded arrays are allocated in it (see `HDF5Dataset.weightArray`), so
/// they reach the parent without a copy. Pages exist only where written; the file is cut to what was used at the end.
/// Arrays that lie in the input as they are stay there: the reply says where.
final class ReplyArena: @unchecked Sendable {
    /// The arena of the reply being served in this process (only ever set in `zoo-reader`, which is single-threaded).
    nonisolated(unsafe) static var active: ReplyArena?

    private let descriptor: Int32
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private let input: UnsafeRawBufferPointer
    private var used = ReaderWire.alignment

    init(descriptor: Int32, capacity: Int, input: UnsafeRawBufferPointer) throws {
        func failure(_ what: String) -> WeightFileError {
            WeightFileError(file: "reply", location: nil, message: "\(what): \(String(cString: strerror(errno)))")
        }
        guard ftruncate(descriptor, off_t(capacity)) == 0 else { throw failure("cannot size the reply") }
        guard let mapped = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), mapped != MAP_FAILED else {
            throw failure("cannot map the reply")
        }
        self.descriptor = descriptor
        self.capacity = capacity
        self.input = input
        base = mapped
    }

    deinit { munmap(base, capacity) }

    private static func aligned(_ count: Int) -> Int { (count + ReaderWire.alignment - 1) / ReaderWire.alignment * ReaderWire.alignment }

    /// Room for `count` floats, or nil when the reply is full.
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float>? {
        let size = Self.aligned(count * 4)
        guard size <= capacity - used else { return nil }
        defer { used += size }
        return (base + used).assumingMemoryBound(to: Float.self)
    }

    /// Where a tensor's values sit, in the input or the reply, copying them into the reply if they were made elsewhere
    /// (a converted array).
    func place(of tensor: Tensor, in path: String) throws -> (ReaderWire.Source, Int) {
        try tensor.withUnsafeBufferPointer { values in
            func within(_ region: UnsafeRawBufferPointer) -> Int? {
                guard let start = values.baseAddress.map(UnsafeRawPointer.init), let regionStart = region.baseAddress,
                      start >= regionStart, start + values.count * 4 <= regionStart + region.count else { return nil }
                return start - regionStart
            }
            if let offset = within(input) { return (.input, offset) }
            if let offset = within(UnsafeRawBufferPointer(start: base, count: used)) { return (.reply, offset) }
            guard let memory = allocate(values.count) else {
                throw WeightFileError(file: path, location: nil, message: "decodes to more than \(capacity >> 20) MiB, more than a file of its size can hold")
            }
            if let start = values.baseAddress { memory.update(from: start, count: values.count) }
            return (.reply, UnsafeRawPointer(memory) - UnsafeRawPointer(base))
        }
    }

    /// Writes the header after the arrays and the prefix pointing at it, and cuts the file to its end.
    func finish(with header: Data) throws {
        let offset = Self.aligned(used)
        guard header.count <= capacity - offset else {
            throw WeightFileError(file: "reply", location: nil, message: "a \(header.count)-byte header does not fit the reply")
        }
        header.copyBytes(to: (base + offset).assumingMemoryBound(to: UInt8.self), count: header.count)
        var prefix = ReaderWire.magic
        withUnsafeBytes(of: UInt64(offset).littleEndian) { prefix += $0 }
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix += $0 }
        prefix.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard ftruncate(descriptor, off_t(offset + header.count)) == 0 else {
            throw WeightFileError(file: "reply", location: nil, message: "cannot cut the reply: \(String(cString: strerror(errno)))")
        }
    }
}
