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

extension Tensor {
    /// Rows `range` of the first axis, as a tensor of their own.
    public func rows(_ range: Range<Int>) -> Tensor {
        let width = count / Swift.max(1, shape[0])
        return Tensor(uninitializedShape: [range.count] + shape.dropFirst()) { out in
            withUnsafeBufferPointer { all in
                _ = out.update(fromContentsOf: all[(range.lowerBound * width)..<(range.upperBound * width)])
            }
        }
    }

    /// Tensors of the same trailing shape, one after another along the first axis; `trailingShape` shapes the
    /// result when there are no parts (default: the first part's).
    public init(stacking parts: [Tensor], trailingShape: [Int]? = nil) {
        let rows = parts.reduce(0) { $0 + ($1.shape.first ?? 0) }
        self.init(uninitializedShape: [rows] + (trailingShape ?? Array(parts.first?.shape.dropFirst() ?? []))) { out in
            var offset = 0
            for part in parts {
                part.withUnsafeBufferPointer { values in
                    _ = UnsafeMutableBufferPointer(rebasing: out[offset..<(offset + values.count)]).update(fromContentsOf: values)
                    offset += values.count
                }
            }
        }
    }
}
