import Foundation
import ZooCore
import ZooTensor

/// Zoo's native format, safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. Tensors are named `<layer>/<variable>` and stored
/// in Keras layouts; `__metadata__` carries the bundle's metadata and, under `zoo.layers`, the layer order and the
/// source's own array names. Reading maps the file and copies a tensor only when it is used.
public struct SafetensorsFormat: WeightFormat {
    public init() {}

    public let name = "safetensors"
    public let summary = "safetensors (.safetensors): Zoo's native format, memory-mapped"
    public let signature = "an 8-byte little-endian header length followed by a JSON header"
    public var canWrite: Bool { true }

    static let layersKey = "zoo.layers"
    static let maximumHeader = 100_000_000

    public func sniff(_ probe: FileProbe) -> Bool {
        guard probe.header.count >= 10 else { return false }
        let length = probe.header.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return length > 1 && length < UInt64(Self.maximumHeader) && probe.header[8] == UInt8(ascii: "{")
    }

    struct Entry {
        let key: String
        let dtype: String
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    static let elementSizes = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8]

    public func read(_ url: URL) throws -> WeightBundle {
        _ = try FileProbe(url)
        let file = try MappedFile(url)
        guard file.size >= 8 else { throw WeightFileError(url, "\(file.size) bytes: too short for the 8-byte safetensors header length") }
        let length = file.pointer.loadUnaligned(as: UInt64.self).littleEndian
        guard length <= UInt64(file.size - 8) else {
            throw WeightFileError(url, "the header claims \(length) bytes but only \(file.size - 8) follow", at: "header")
        }
        guard length <= UInt64(Self.maximumHeader) else { throw WeightFileError(url, "a \(length)-byte header is implausibly large", at: "header") }
        let headerData = Data(bytes: file.pointer + 8, count: Int(length))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw WeightFileError(url, "the header is not a JSON object", at: "header")
        }
        let dataStart = 8 + Int(length), dataSize = file.size - dataStart
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let strings = value as? [String: String] else {
                    throw WeightFileError(url, "__metadata__ must map strings to strings", at: "header")
                }
                metadata = strings
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw WeightFileError(url, "tensor '\(key)' needs dtype, shape and data_offsets [begin, end]", at: "header")
            }
            guard let size = Self.elementSizes[dtype] else {
                throw WeightFileError(url, "tensor '\(key)' has dtype \(dtype); supported: F32, F16, BF16, F64", at: "header")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw WeightFileError(url, "tensor '\(key)': shape \(shape) or byte range \(offsets) lies outside the \(dataSize)-byte data", at: "header")
            }
            // A crafted shape's byte count may overflow, and is then more than any range holds.
            let bytes = elementCount(ofShape: shape).map { $0.multipliedReportingOverflow(by: size) }
            guard let bytes, !bytes.overflow, bytes.partialValue == offsets[1] - offsets[0] else {
                let needed = bytes.flatMap { $0.overflow ? nil : String($0.partialValue) } ?? "more than \(Int.max)"
                throw WeightFileError(url, "tensor '\(key)': shape \(shape) of \(dtype) needs \(needed) bytes, the range \(offsets) holds \(offsets[1] - offsets[0])", at: "header")
            }
            entries.append(Entry(key: key, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for entry in entries {
            guard entry.begin >= covered || entry.begin == entry.end else {
                throw WeightFileError(url, "tensor '\(entry.key)' overlaps the tensor before it (bytes \(entry.begin)..<\(covered))", at: "header")
            }
            guard entry.begin <= covered else {
                throw WeightFileError(url, "bytes \(covered)..<\(entry.begin) belong to no tensor", at: "header")
            }
            covered = max(covered, entry.end)
        }
        guard covered == dataSize else { throw WeightFileError(url, "bytes \(covered)..<\(dataSize) belong to no tensor", at: "header") }

        let arrays = Dictionary(uniqueKeysWithValues: entries.map { entry in
            (entry.key, WeightArray(name: entry.key, shape: entry.shape, storedType: Self.typeName(entry.dtype)) {
                Self.decode(file, at: dataStart + entry.begin, entry)
            })
        })
        let layers = try arrange(arrays, entries: entries, metadata: &metadata, url)
        return WeightBundle(format: name, metadata: metadata, layers: layers)
    }

    /// Layers in the order `zoo.layers` records, with the source's array names; otherwise grouped by the part of
    /// each name before its last '/', in data order.
    private func arrange(_ arrays: [String: WeightArray], entries: [Entry], metadata: inout [String: String], _ url: URL) throws -> [LayerWeights] {
        if let recorded = metadata.removeValue(forKey: Self.layersKey) {
            guard let layers = try? JSONDecoder().decode([RecordedLayer].self, from: Data(recorded.utf8)) else {
                throw WeightFileError(url, "\(Self.layersKey) in __metadata__ is not a list of layers", at: "header")
            }
            var used = Set<String>()
            let result = try layers.map { layer in
                LayerWeights(name: layer.name, path: layer.path, arrays: try layer.arrays.map { recorded in
                    guard let array = arrays[recorded.key] else {
                        throw WeightFileError(url, "\(Self.layersKey) names tensor '\(recorded.key)', which the header does not have", at: "header")
                    }
                    used.insert(recorded.key)
                    return WeightArray(name: recorded.name, shape: array.shape, storedType: array.storedType) { try array.tensor() }
                })
            }
            if let stray = arrays.keys.sorted().first(where: { !used.contains($0) }) {
                throw WeightFileError(url, "tensor '\(stray)' is missing from \(Self.layersKey)", at: "header")
            }
            return result
        }
        var layers: [LayerWeights] = []
        for entry in entries {
            let layerName = entry.key.contains("/") ? String(entry.key[..<entry.key.lastIndex(of: "/")!]) : entry.key
            if layers.last?.name == layerName { layers[layers.count - 1].arrays.append(arrays[entry.key]!) } else if let index = layers.firstIndex(where: { $0.name == layerName }) {
                layers[index].arrays.append(arrays[entry.key]!)
            } else {
                layers.append(LayerWeights(name: layerName, arrays: [arrays[entry.key]!]))
            }
        }
        return layers
    }

    struct RecordedLayer: Codable {
        struct Array: Codable {
            let key: String
            let name: String
        }
        let name: String
        let path: String?
        let arrays: [Array]
    }

    /// The header as written: one entry per tensor, keyed by its name, and `__metadata__`.
    private struct WrittenHeader: Encodable {
        struct Tensor: Encodable {
            let dtype: String
            let shape: [Int]
            let data_offsets: [Int]
        }
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]

        private struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(metadata, forKey: Key(stringValue: "__metadata__"))
            for (key, tensor) in tensors { try container.encode(tensor, forKey: Key(stringValue: key)) }
        }
    }

    static func typeName(_ dtype: String) -> String {
        ["F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"][dtype] ?? dtype
    }

    /// Little-endian, aligned Float32 arrays are borrowed from the copy-on-write mapping without a copy (the tensor
    /// keeps the mapping alive); every other array is converted into memory of its own.
    static func decode(_ file: MappedFile, at offset: Int, _ entry: Entry) -> Tensor {
        let bytes = UnsafeRawPointer(file.pointer + offset)
        #if _endian(little)
        if entry.dtype == "F32", offset % MemoryLayout<Float>.alignment == 0 {
            return Tensor(shape: entry.shape, borrowing: (file.pointer + offset).assumingMemoryBound(to: Float.self), owner: file)
        }
        #endif
        return Tensor(uninitializedShape: entry.shape, fill: { out in
            for i in out.indices {
                switch entry.dtype {
                case "F32": out[i] = Float(bitPattern: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian)
                case "F16": out[i] = Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian))
                case "BF16": out[i] = Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian) << 16)
                default: out[i] = Float(Double(bitPattern: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self).littleEndian))
                }
            }
        })
    }

    @discardableResult
    public func write(_ bundle: WeightBundle, to url: URL) throws -> WrittenFile {
        var header = WrittenHeader()
        var recorded: [RecordedLayer] = []
        var tensors: [(key: String, tensor: Tensor)] = []
        var offset = 0
        for layer in bundle.layers {
            var used = Set<String>()
            var arrays: [RecordedLayer.Array] = []
            for array in layer.arrays {
                var key = "\(layer.name)/\(array.variableName)"
                var suffix = 1
                while used.contains(key) || header.tensors[key] != nil { key = "\(layer.name)/\(array.variableName)_\(suffix)"; suffix += 1 }
                used.insert(key)
                let tensor = try array.tensor()
                header.tensors[key] = .init(dtype: "F32", shape: array.shape, data_offsets: [offset, offset + tensor.count * 4])
                offset += tensor.count * 4
                tensors.append((key, tensor))
                arrays.append(.init(key: key, name: array.name))
            }
            recorded.append(RecordedLayer(name: layer.name, path: layer.path, arrays: arrays))
        }
        header.metadata = bundle.metadata
        header.metadata[Self.layersKey] = try MetadataKey.json(recorded)
        var json = try JSONEncoder.reproducible.encode(header)
        json.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return try writeAtomically(to: url, bytes: { output in
            var length = UInt64(json.count).littleEndian
            try withUnsafeBytes(of: &length) { try output.write($0) }
            try json.withUnsafeBytes { try output.write($0) }
            for (_, tensor) in tensors {
                try tensor.withUnsafeBufferPointer { try output.write(UnsafeRawBufferPointer($0)) }  // from the tensor's own memory
            }
        })
    }
}
