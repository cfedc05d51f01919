import CGzip
import Foundation
import ZooImaging

/// IDX files, the MNIST layout: a magic number (two zero bytes, a type code, the number of dimensions), the
/// dimensions as big-endian 32-bit counts, then the values. Read gzipped or plain.
public enum IDXFiles {
    /// An unsigned-byte IDX array: its dimensions and values.
    public struct Array: Sendable {
        public let dimensions: [Int]
        public let values: [UInt8]
    }

    public static func read(_ url: URL) throws(DatasetError) -> Array {
        let bytes = try readDecompressed(url)
        let name = url.path
        guard bytes.count >= 4 else { throw DatasetError(name, "\(bytes.count) bytes: too short for an IDX magic number") }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError(name, "not an IDX file: the magic number \(hex(bytes.prefix(4))) should start with two zero bytes")
        }
        guard bytes[2] == 0x08 else {
            throw DatasetError(name, "holds IDX type 0x\(String(bytes[2], radix: 16)); Zoo reads unsigned bytes (0x08), as MNIST stores them")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, bytes.count >= 4 + 4 * rank else { throw DatasetError(name, "the header of \(rank) dimensions is cut short") }
        let dimensions = (0..<rank).map { d in (0..<4).reduce(0) { $0 << 8 | Int(bytes[4 + 4 * d + $1]) } }
        let expected = dimensions.reduce(1, *), present = bytes.count - 4 - 4 * rank
        guard expected == present else {
            throw DatasetError(name, "the header says \(dimensions.map(String.init).joined(separator: "×")) = \(expected) values, the file holds \(present)")
        }
        return Array(dimensions: dimensions, values: Swift.Array(bytes[(4 + 4 * rank)...]))
    }

    /// Images (`count × height × width`) with their labels (`count`), every label below `classNames.count`.
    public static func dataset(images: URL, labels: URL, classNames: [String], name: String) throws(DatasetError) -> Dataset {
        let pixels = try read(images), tags = try read(labels)
        guard pixels.dimensions.count == 3 else {
            throw DatasetError(images.path, "has \(pixels.dimensions.count) dimensions; images need 3 (count, height, width)")
        }
        guard tags.dimensions.count == 1 else { throw DatasetError(labels.path, "has \(tags.dimensions.count) dimensions; labels need 1") }
        let (count, height, width) = (pixels.dimensions[0], pixels.dimensions[1], pixels.dimensions[2])
        guard tags.dimensions[0] == count else {
            throw DatasetError(labels.path, "holds \(tags.dimensions[0]) labels for the \(count) images of \(images.lastPathComponent)")
        }
        if let bad = tags.values.firstIndex(where: { Int($0) >= classNames.count }) {
            throw DatasetError(labels.path, "label \(tags.values[bad]) of image \(bad) is outside the \(classNames.count) classes 0…\(classNames.count - 1)")
        }
        let size = height * width
        let samples = (0..<count).map { i in
            Sample(.image(Image(width: width, height: height, channels: 1, pixels: Swift.Array(pixels.values[(i * size)..<((i + 1) * size)]))), label: Int(tags.values[i]))
        }
        return try Dataset(name: name, classNames: classNames, samples: samples)
    }

    public enum Split: String, Sendable {
        case train, test
        var prefix: String { self == .train ? "train" : "t10k" }
    }

    public static let fashionMNISTClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    public static let fashionMNISTFolder = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

    /// The MNIST-layout pair in `folder` (`train-images-idx3-ubyte[.gz]` and its labels, or `t10k-…`).
    public static func dataset(folder: URL, split: Split, classNames: [String]) throws(DatasetError) -> Dataset {
        func find(_ stem: String) throws(DatasetError) -> URL {
            for name in [stem + ".gz", stem] where FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
                return folder.appendingPathComponent(name)
            }
            throw DatasetError(folder.path, "has no \(stem) or \(stem).gz")
        }
        return try dataset(images: try find("\(split.prefix)-images-idx3-ubyte"), labels: try find("\(split.prefix)-labels-idx1-ubyte"),
                           classNames: classNames, name: "\(folder.lastPathComponent) \(split.rawValue)")
    }

    private static func readDecompressed(_ url: URL) throws(DatasetError) -> [UInt8] {
        guard let file = gzopen(url.path, "rb") else { throw DatasetError(url.path, "cannot be opened: \(String(cString: strerror(errno)))") }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 17)
        var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 {
                var code: Int32 = 0
                throw DatasetError(url.path, "cannot be decompressed: \(String(cString: gzerror(file, &code)))")
            }
            if n == 0 { break }
            bytes += chunk[..<Int(n)]
        }
        return bytes
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> String { "0x" + bytes.map { String(format: "%02x", $0) }.joined() }
}
