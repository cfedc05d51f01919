import Foundation
import ZooCore
import ZooHDF5
import ZooTensor

extension WeightFileError {
    init(_ error: HDF5Error) {
        self.init(file: error.file, location: error.object == "/" ? nil : error.object, message: error.message)
    }
}

/// Runs HDF5 work, reporting its failures as weight-file errors.
func hdf5<R>(_ body: () throws -> R) throws -> R {
    do { return try body() } catch let error as HDF5Error { throw WeightFileError(error) }
}

extension HDF5Dataset {
    /// The dataset as a Float32 tensor, with its stored type's name.
    func weightArray(named name: String) throws -> WeightArray {
        let storedType: String
        switch elementType {
        case .float(let bits): storedType = "float\(bits)"
        case .integer(let bits): storedType = "int\(bits)"
        default: throw WeightFileError(file: file.path, location: path, message: "holds \(elementType) values, expected numbers")
        }
        let tensor: Tensor
        if let arena = ReplyArena.active, let values = valuesInImage() {
            // Stored as they are used: the parent takes them from the input file itself (see `ReplyArena`).
            tensor = Tensor(shape: shape, borrowing: UnsafeMutablePointer(mutating: values.baseAddress!), owner: arena)
        } else if let arena = ReplyArena.active, let memory = arena.allocate(count) {
            try read(into: UnsafeMutableBufferPointer(start: memory, count: count))  // straight into the isolated reader's reply
            tensor = Tensor(shape: shape, borrowing: memory, owner: arena)
        } else {
            tensor = try Tensor(uninitializedShape: shape, fill: { try read(into: $0) })
        }
        return WeightArray(name: name, shape: shape, storedType: storedType, tensor: tensor)
    }
}

extension HDF5Group {
    /// A list attribute that Keras may have split into `name0`, `name1`, … past HDF5's 64 KiB object-header limit.
    func chunkedStrings(_ name: String) throws -> [String]? {
        if let value = try attribute(name) { return try strings(value, name) }
        var parts: [String] = []
        var index = 0
        while let value = try attribute("\(name)\(index)") {
            parts += try strings(value, "\(name)\(index)")
            index += 1
        }
        return index == 0 ? nil : parts
    }

    func scalarString(_ name: String) throws -> String? {
        guard let value = try attribute(name) else { return nil }
        guard let strings = value.strings, strings.count == 1 else {
            throw WeightFileError(file: file.path, location: path, message: "attribute '\(name)' should hold one string")
        }
        return strings[0]
    }

    private func strings(_ value: HDF5AttributeValue, _ name: String) throws -> [String] {
        guard let strings = value.strings else {
            throw WeightFileError(file: file.path, location: path, message: "attribute '\(name)' holds numbers, expected a list of names")
        }
        return strings
    }

    /// Writes a list attribute, split into numbered chunks as Keras does when it would pass 64 KiB.
    func setChunkedStrings(_ name: String, _ values: [String]) throws {
        let limit = 64512
        let width = max(1, values.map(\.utf8.count).max() ?? 1)
        var chunks = 1
        while (values.count + chunks - 1) / chunks * width > limit { chunks += 1 }
        if chunks == 1 { return try setAttribute(name, strings: values) }
        // numpy.array_split: the first (count % chunks) chunks get one extra element.
        var start = 0
        for chunk in 0..<chunks {
            let size = values.count / chunks + (chunk < values.count % chunks ? 1 : 0)
            try setAttribute("\(name)\(chunk)", strings: Array(values[start..<start + size]))
            start += size
        }
    }
}

/// Names compared with digit runs as numbers: dense, dense_1, dense_2, …, dense_10.
func naturalOrder(_ a: String, _ b: String) -> Bool {
    a.compare(b, options: [.numeric]) == .orderedAscending
}
