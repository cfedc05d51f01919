extension Tensor {
    /// Element-wise a·self + b·other (shapes must match).
    public func combined(_ a: Float, _ other: Tensor, _ b: Float) -> Tensor {
        precondition(shape == other.shape, "combining \(describe(shape: shape)) with \(describe(shape: other.shape))")
        return produce(shape) { out in
            let x = ptr(self), y = ptr(other)
            parallelFor(count, minimumPerChunk: 1 << 15) { range in
                for i in range { out[i] = a * x[i] + b * y[i] }
            }
        }
    }

    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.combined(1, rhs, 1) }
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.combined(1, rhs, -1) }

    /// Every element times `factor`.
    public func scaled(by factor: Float) -> Tensor {
        produce(shape) { out in
            let x = ptr(self)
            parallelFor(count, minimumPerChunk: 1 << 15) { range in for i in range { out[i] = factor * x[i] } }
        }
    }

    /// Element-wise product.
    public func multiplied(by other: Tensor) -> Tensor {
        precondition(shape == other.shape, "multiplying \(describe(shape: shape)) by \(describe(shape: other.shape))")
        return produce(shape) { out in
            let x = ptr(self), y = ptr(other)
            parallelFor(count, minimumPerChunk: 1 << 15) { range in for i in range { out[i] = x[i] * y[i] } }
        }
    }

    /// Sum of all elements, accumulated in Double.
    public var sum: Float { Float(scalars.reduce(0.0) { $0 + Double($1) }) }
}
