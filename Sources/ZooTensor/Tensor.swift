import Foundation

/// An n-dimensional Float32 array, row-major, with value semantics (copy-on-write).
///
/// Layouts are Keras's: images NHWC, convolution kernels HWIO, dense kernels [in, out].
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, repeating: 0)
    }

    public init(shape: [Int], repeating value: Float) {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor dimensions must not be negative: \(describe(shape: shape))")
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
        storage.pointer.initialize(repeating: value, count: storage.count)
    }

    /// A tensor holding `scalars` in row-major order; fails when their count does not fit `shape`.
    public init(shape: [Int], scalars: [Float]) throws(ShapeError) {
        let count = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), count == scalars.count else {
            throw ShapeError("Tensor", "\(scalars.count) values do not fill shape \(describe(shape: shape)) (\(count) elements)")
        }
        self.shape = shape
        storage = TensorStorage(count: count)
        scalars.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: count) }
    }

    /// A tensor whose elements `body` writes into a zero-filled buffer.
    public init(shape: [Int], initializer body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.init(zeros: shape)
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// A tensor whose every element `body` writes (the buffer starts uninitialized, NaN in debug builds): for
    /// readers that fill whole arrays from files, where zero-filling first would double the memory traffic.
    public init(uninitializedShape shape: [Int], fill body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor dimensions must not be negative: \(describe(shape: shape))")
        self.init(uninitialized: shape)
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// A tensor of zeros whose memory is reserved but not touched until written: for work that needs shapes only
    /// (model layouts, profiles), where filling gigabytes of weights would dominate.
    public init(reservedZeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor dimensions must not be negative: \(describe(shape: shape))")
        self.shape = shape
        storage = TensorStorage(reservedZerosCount: shape.reduce(1, *))
    }

    /// A tensor over memory that `owner` keeps alive, without a copy: for values in a copy-on-write file mapping, so
    /// that writing to the tensor never reaches the file. The pointer must be aligned for Float.
    public init(shape: [Int], borrowing pointer: UnsafeMutablePointer<Float>, owner: AnyObject) {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor dimensions must not be negative: \(describe(shape: shape))")
        self.shape = shape
        storage = TensorStorage(borrowing: pointer, count: shape.reduce(1, *), owner: owner)
    }

    /// A tensor whose elements the caller is about to overwrite, every one of them.
    init(uninitialized shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
        #if DEBUG
        storage.pointer.initialize(repeating: .nan, count: storage.count)  // an element a kernel forgets shows up in tests
        #endif
    }

    public init(scalar: Float) {
        self.init(shape: [], repeating: scalar)
    }

    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with shape \(describe(shape: shape))")
        return storage.pointer[0]
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Writes in place, copying first when the storage is shared with another tensor.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = TensorStorage(copying: storage) }
        storage.markWritten()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// self + other, written over self where nothing else shares its storage (a gradient being summed during
    /// backward: one buffer fewer per sum), into a new tensor otherwise. The same sums, element by element, as `+`.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "adding \(describe(shape: other.shape)) to \(describe(shape: shape))")
        guard isKnownUniquelyReferenced(&storage) else { return self = self + other }
        storage.markWritten()
        let x = storage.pointer, y = ptr(other), count = count
        parallelFor(count, minimumPerChunk: 1 << 15) { range in for i in range { x[i] = x[i] + y[i] } }
    }

    /// Zero where `mask` is not positive: ReLU's gradient from its output, written over self where nothing else shares
    /// its storage (the gradient arriving at a ReLU during backward: the largest buffer of VGG16's step fewer at its peak).
    public mutating func keepWherePositive(_ mask: Tensor) {
        precondition(shape == mask.shape, "masking \(describe(shape: shape)) with \(describe(shape: mask.shape))")
        withUnsafeMutableBufferPointer { buffer in
            let g = buffer.baseAddress!, m = ptr(mask)
            // Times 1 or 0, as oneDNN's ReLU backward computes it (a negative gradient becomes −0), and without a branch.
            parallelFor(buffer.count, minimumPerChunk: 1 << 15) { range in for i in range { g[i] *= m[i] > 0 ? 1 : 0 } }
        }
    }

    public subscript(flat index: Int) -> Float {
        get { storage.pointer[index] }
        set { withUnsafeMutableBufferPointer { $0[index] = newValue } }
    }

    /// The same elements under another shape; shares storage until one side writes.
    public func reshaped(_ newShape: [Int]) throws(ShapeError) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw ShapeError("reshape", "cannot reshape \(describe(shape: shape)) to \(describe(shape: newShape))")
            }
            resolved[inferred] = count / known
        }
        guard resolved.allSatisfy({ $0 >= 0 }), resolved.reduce(1, *) == count else {
            throw ShapeError("reshape", "cannot reshape \(describe(shape: shape)) (\(count) elements) to \(describe(shape: newShape))")
        }
        var result = self
        result.shape = resolved
        return result
    }
}

extension Tensor: Equatable {
    /// Equal when shapes match and every element is bit-identical.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        if lhs.storage === rhs.storage { return true }
        return memcmp(lhs.storage.pointer, rhs.storage.pointer, lhs.count * MemoryLayout<Float>.stride) == 0
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(describe(shape: shape)) [\(shown)\(count > 8 ? ", …" : "")]"
    }
}

extension Tensor {
    /// Largest |a - b| over all elements, NaN where either holds a NaN (so that no comparison with a bound passes);
    /// shapes must match.
    public func maxAbsoluteDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "comparing \(describe(shape: shape)) with \(describe(shape: other.shape))")
        var worst: Float = 0
        for i in 0..<count {
            let difference = abs(storage.pointer[i] - other.storage.pointer[i])
            if difference.isNaN { return .nan }
            worst = max(worst, difference)
        }
        return worst
    }

    /// Largest |element|.
    public var maxMagnitude: Float { scalars.reduce(0) { max($0, abs($1)) } }
}
