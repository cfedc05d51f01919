import Foundation
import ZooTensor

/// NumPy's `.npy` files (format versions 1–3), for arrays exchanged with Python: little-endian float32 or float64
/// in C order are read (float64 narrowed to float32); float32 is written.
public enum NumPyArray {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func read(_ url: URL) throws -> Tensor {
        try decode(Data(contentsOf: url), name: url.path)
    }

    /// An array from `.npy` bytes (a file's, or a request's body); `name` names them in errors. Every size in the
    /// header is checked against the bytes there are before anything is allocated.
    public static func decode(_ data: Data, name: String) throws -> Tensor {
        func fail(_ message: String) -> WeightFileError { WeightFileError(file: name, location: nil, message: message) }
        guard data.count >= 10, Array(data.prefix(6)) == magic else { throw fail("is not a NumPy .npy file") }
        let major = data[data.startIndex + 6]
        let lengthBytes = major == 1 ? 2 : 4
        guard [1, 2, 3].contains(major), data.count >= 8 + lengthBytes else { throw fail("has an unknown .npy version \(major)") }
        let headerLength = data[(data.startIndex + 8)..<(data.startIndex + 8 + lengthBytes)].reversed().reduce(0) { $0 << 8 | Int($1) }
        let start = 8 + lengthBytes + headerLength
        guard data.count >= start, let header = String(data: data[(data.startIndex + 8 + lengthBytes)..<(data.startIndex + start)], encoding: .utf8) else {
            throw fail("has a damaged .npy header")
        }
        func field(_ key: String) -> String? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr").flatMap({ $0.split(separator: "'").first }).map(String.init),
              ["<f4", "<f8"].contains(descr) else {
            throw fail("holds \(field("descr")?.prefix(8) ?? "?") values; Zoo reads little-endian float32 or float64 arrays")
        }
        guard field("fortran_order")?.hasPrefix("False") == true else { throw fail("is in Fortran order; save it in C order") }
        guard let tuple = field("shape").flatMap({ $0.split(separator: ")").first }) else { throw fail("has no shape in its header") }
        let shape = tuple.dropFirst().split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let width = descr == "<f4" ? 4 : 8
        // A crafted header's dimensions could overflow their product; any that do cannot match the bytes there are.
        guard let count = elementCount(ofShape: shape), count <= data.count, data.count - start == count * width else {
            throw fail("holds \(data.count - start) bytes of values, which its shape \(shape) does not fit")
        }
        // Copied byte-wise: a crafted header's length can leave the values unaligned.
        let bytes = data[(data.startIndex + start)...]
        func copied<Scalar>(_: Scalar.Type) -> [Scalar] {
            [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
                _ = bytes.copyBytes(to: UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            }
        }
        let values = width == 4 ? copied(Float.self) : copied(Double.self).map { Float($0) }
        return try Tensor(shape: shape, scalars: values)
    }

    /// `tensor` as a float32 `.npy` file (version 1.0), written atomically.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        let data = encode(tensor)
        try writeAtomically(to: url) { try data.write(to: $0) }
    }

    /// `tensor` as the bytes of a float32 `.npy` file (version 1.0).
    public static func encode(_ tensor: Tensor) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + tensor.shape.map(String.init).joined(separator: ", ")
            + (tensor.shape.count == 1 ? ",), }" : "), }")
        // The header, with the magic and its length, ends on a multiple of 64 bytes, with a newline.
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data(magic + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        tensor.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        return data
    }
}
