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

    public var path: String {
        switch self {
        case .recognize(let path), .read(_, let path): path
        }
    }

    var arguments: [String] {
        switch self {
        case .recognize(let path): ["recognize", path]
        case .read(let format, let path): ["read", format, path]
        }
    }

    public init?(arguments: [String]) {
        switch arguments.first {
        case "recognize" where arguments.count == 2: self = .recognize(path: arguments[1])
        case "read" where arguments.count == 3: self = .read(format: arguments[1], path: arguments[2])
        default: return nil
        }
    }
}

/// The reply `zoo-reader` writes into an in-memory file its parent created: "ZOOREAD1", the JSON header's length as a
/// little-endian UInt64, the header, then each array's Float32 values at a 64-byte-aligned offset from the data's
/// start (itself 64-byte aligned). The parent checks every offset and size against the file before it borrows them.
public enum ReaderWire {
    static let magic = Array("ZOOREAD1".utf8)
    static let alignment = 64

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
        var offset: Int
    }

    struct Failure: Codable {
        var file: String
        var location: String?
        var message: String
    }

    /// Answers one request about a file image and writes the reply to `descriptor`: the child's whole job once it is
    /// sandboxed. A file that cannot be read is an error in the reply, not a failure here.
    public static func serve(_ request: ReaderRequest, image: UnsafeRawBufferPointer, to descriptor: Int32) throws {
        var header = Header()
        var tensors: [Tensor] = []
        do {
            switch request {
            case .recognize(let path):
                let file = try hdf5 { try HDF5File.open(image: image, path: path) }
                header.recognized = isolatedFormats.filter { $0.recognizes(file) }.map(\.name)
            case .read(let name, let path):
                guard let format = isolatedFormats.first(where: { $0.name == name }) else {
                    throw WeightFileError(file: path, location: nil, message: "the isolated reader has no HDF5 format named '\(name)'")
                }
                let bundle = try format.decode(try hdf5 { try HDF5File.open(image: image, path: path) })
                var offset = 0
                let layers = try bundle.layers.map { layer in
                    Layer(name: layer.name, path: layer.path, arrays: try layer.arrays.map { array in
                        let tensor = try array.tensor()
                        defer { offset += aligned(tensor.count * 4) }
                        tensors.append(tensor)
                        return Entry(name: array.name, shape: array.shape, storedType: array.storedType, offset: offset)
                    })
                }
                header.bundle = Bundle(format: bundle.format, metadata: bundle.metadata, layers: layers)
            }
        } catch let error as WeightFileError {
            header.error = Failure(file: error.file, location: error.location, message: error.message)
            tensors = []
        }
        try write(header, tensors, to: descriptor)
    }

    private static func aligned(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    private static func write(_ header: Header, _ tensors: [Tensor], to descriptor: Int32) throws {
        let json = try JSONEncoder().encode(header)
        var prefix = Data(magic)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(json)
        prefix.append(Data(count: aligned(prefix.count) - prefix.count))
        try prefix.withUnsafeBytes { try writeAll(descriptor, $0) }
        let padding = [UInt8](repeating: 0, count: alignment)
        for tensor in tensors {
            try tensor.withUnsafeBufferPointer { try writeAll(descriptor, UnsafeRawBufferPointer($0)) }
            try padding.withUnsafeBytes { try writeAll(descriptor, UnsafeRawBufferPointer(rebasing: $0.prefix(aligned(tensor.count * 4) - tensor.count * 4))) }
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw WeightFileError(file: "reply", location: nil, message: "cannot write: \(String(cString: strerror(errno)))") }
            done += written
        }
    }

    /// Reads a reply, trusting nothing in it: a reader that misbehaves yields an error, never a bad memory access.
    static func decode(_ reply: MappedFile, for url: URL) throws -> Header {
        let bytes = reply.bytes
        func malformed(_ what: String) -> WeightFileError { WeightFileError(url, "the isolated reader sent a malformed reply: \(what)") }
        guard bytes.count >= 16, bytes.starts(with: magic) else { throw malformed("no ZOOREAD1 header") }
        let length = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
        guard length <= UInt64(bytes.count - 16) else { throw malformed("its header claims more bytes than it sent") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<16 + Int(length)])) } catch {
            throw malformed("its header is not the expected JSON (\(error))")
        }
        return header
    }

    /// The bundle a reply carries, its arrays borrowing the reply's memory.
    static func bundle(_ wire: Bundle, in reply: MappedFile, for url: URL) throws -> WeightBundle {
        let bytes = reply.bytes
        let length = Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian)
        let dataStart = aligned(16 + length)
        let dataSize = max(0, bytes.count - dataStart)
        let layers = try wire.layers.map { layer in
            LayerWeights(name: layer.name, path: layer.path, arrays: try layer.arrays.map { array in
                var count = 1
                for dimension in array.shape {
                    let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                    guard dimension >= 0, !overflow else { throw WeightFileError(url, "the isolated reader sent an impossible shape \(array.shape)") }
                    count = product
                }
                guard array.offset >= 0, array.offset % alignment == 0, count <= (dataSize - min(dataSize, array.offset)) / 4 else {
                    throw WeightFileError(url, "the isolated reader sent an array outside its reply", at: "\(layer.name)/\(array.name)")
                }
                let pointer = (reply.pointer + dataStart + array.offset).assumingMemoryBound(to: Float.self)
                return WeightArray(name: array.name, shape: array.shape, storedType: array.storedType,
                                   tensor: Tensor(shape: array.shape, borrowing: pointer, owner: reply))
            })
        }
        return WeightBundle(format: wire.format, metadata: wire.metadata, layers: layers)
    }
}
