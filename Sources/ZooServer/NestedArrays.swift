import Foundation
import ZooTensor

/// Tensors as nested JSON arrays of numbers (NumPy's `tolist()`), both ways. Request bodies are untrusted: depth,
/// element count and rectangularity are checked before a tensor is built.
enum NestedArrays {
    static let maximumRank = 8
    /// JSONSerialization reads true and false as NSNumbers of their own class (`is Bool` holds for 0 and 1 too).
    private static let booleanType = type(of: NSNumber(value: true))

    /// The tensor a nested array of numbers describes; `name` says which input in errors.
    static func tensor(from object: Any, name: String, maximumElements: Int) throws -> Tensor {
        var shape: [Int] = []
        var level: Any = object
        while let array = level as? [Any] {
            guard shape.count < maximumRank else { throw RequestError.badRequest("\(name) nests deeper than \(maximumRank) levels") }
            shape.append(array.count)
            guard let first = array.first else { break }
            level = first
        }
        guard !shape.isEmpty else { throw RequestError.badRequest("\(name) is not an array of numbers") }
        guard let count = elementCount(ofShape: shape), count <= maximumElements else { throw RequestError.badRequest("\(name) holds more than \(maximumElements) numbers") }
        var values: [Float] = []
        values.reserveCapacity(count)
        func walk(_ value: Any, depth: Int) throws {
            if depth == shape.count {
                guard let number = value as? NSNumber, type(of: number) != booleanType else {
                    throw RequestError.badRequest("\(name) holds \(type(of: value)) where a number belongs")
                }
                values.append(number.floatValue)
                return
            }
            guard let array = value as? [Any], array.count == shape[depth] else {
                throw RequestError.badRequest("\(name) is not rectangular: its first entries have shape \(describe(shape: shape)), but one at depth \(depth) differs")
            }
            for element in array { try walk(element, depth: depth + 1) }
        }
        try walk(object, depth: 0)
        return try Tensor(shape: shape, scalars: values)
    }

    /// `tensor` as nested arrays of numbers (a float32 value printed as the shortest double that reads back to it).
    static func object(from tensor: Tensor) -> Any {
        let values = tensor.scalars.map { Double($0) }
        func nest(_ axis: Int, _ offset: Int) -> Any {
            guard axis < tensor.shape.count else { return values[offset] }
            let stride = tensor.shape[(axis + 1)...].reduce(1, *)
            return (0..<tensor.shape[axis]).map { nest(axis + 1, offset + $0 * stride) }
        }
        return nest(0, 0)
    }
}
