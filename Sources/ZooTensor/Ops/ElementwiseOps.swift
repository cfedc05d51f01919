/// How Keras's merge layers other than Add and Concatenate combine inputs of one shape, element by element.
public enum ElementwiseCombination: String, Sendable, CaseIterable {
    case subtract, multiply, average, maximum, minimum
}

/// Inputs of one shape combined element by element (Subtract takes exactly two). Maximum and minimum send the
/// gradient to the first input holding the extreme value.
public func combine(_ kind: ElementwiseCombination, _ inputs: [Variable]) throws -> Variable {
    guard let first = inputs.first, inputs.allSatisfy({ $0.shape == first.shape }) else {
        throw ShapeError(kind.rawValue, "needs inputs of one shape, got " + inputs.map { describe(shape: $0.shape) }.joined(separator: ", "))
    }
    guard kind != .subtract || inputs.count == 2 else { throw ShapeError("subtract", "takes exactly two inputs, got \(inputs.count)") }
    let count = first.value.count, values = inputs.map(\.value)
    switch kind {
    case .subtract:
        return Variable.result(values[0] + values[1].scaled(by: -1), inputs) { dy in [dy, dy.scaled(by: -1)] }
    case .average:
        let arity = inputs.count, share = 1 / Float(inputs.count)
        return Variable.result(values.dropFirst().reduce(values[0], +).scaled(by: share), inputs) { dy in
            Array(repeating: dy.scaled(by: share), count: arity)
        }
    case .multiply:
        let y = values.dropFirst().reduce(values[0]) { $0.multiplied(by: $1) }
        return Variable.result(y, inputs) { dy in
            values.indices.map { i in
                values.indices.filter { $0 != i }.reduce(dy) { $0.multiplied(by: values[$1]) }
            }
        }
    case .maximum, .minimum:
        // Which input holds the extreme at each element.
        var winner = [Int](repeating: 0, count: count)
        let y = produce(first.shape) { out in
            out.update(from: ptr(values[0]), count: count)
            for (index, value) in values.enumerated().dropFirst() {
                let source = ptr(value)
                for j in 0..<count where kind == .maximum ? source[j] > out[j] : source[j] < out[j] {
                    out[j] = source[j]
                    winner[j] = index
                }
            }
        }
        return Variable.result(y, inputs) { [winner] dy in
            values.indices.map { i in
                produce(first.shape) { out in
                    let gradient = ptr(dy)
                    for j in 0..<count { out[j] = winner[j] == i ? gradient[j] : 0 }
                }
            }
        }
    }
}

/// `x · scale + offset` along the last axis, `scale` and `offset` holding one value for every channel or one for
/// all (Keras's Rescaling, and Normalization with its statistics turned into a scale and an offset).
public func channelAffine(_ x: Variable, scale: [Float], offset: [Float]) throws -> Variable {
    let channels = x.shape.last ?? 1
    guard [1, channels].contains(scale.count), [1, channels].contains(offset.count) else {
        throw ShapeError("channelAffine", "\(scale.count) scales and \(offset.count) offsets for \(channels) channels of \(describe(shape: x.shape))")
    }
    let count = x.value.count
    func apply(_ t: Tensor, withOffset: Bool) -> Tensor {
        produce(t.shape) { out in
            let source = ptr(t)
            parallelFor(count / max(1, channels), minimumPerChunk: 1024) { positions in
                for p in positions {
                    for c in 0..<channels {
                        let i = p * channels + c
                        let s = scale[scale.count == 1 ? 0 : c]
                        out[i] = withOffset ? source[i] * s + offset[offset.count == 1 ? 0 : c] : source[i] * s
                    }
                }
            }
        }
    }
    return Variable.result(apply(x.value, withOffset: true), [x]) { dy in [apply(dy, withOffset: false)] }
}

/// `x` times a constant tensor of its shape, element by element (noise and dropout masks).
public func multiplied(_ x: Variable, byConstant mask: Tensor) throws -> Variable {
    guard mask.shape == x.shape else { throw ShapeError("multiplied", "mask \(describe(shape: mask.shape)) for \(describe(shape: x.shape))") }
    return Variable.result(x.value.multiplied(by: mask), [x]) { dy in [dy.multiplied(by: mask)] }
}
