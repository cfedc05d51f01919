public func activation(_ kind: Activation, _ x: Variable) throws -> Variable {
    let backend = Runtime.backend
    let input = x.value
    let y = try backend.activation(kind, input)
    // ReLU's output is positive exactly where its input is, so its backward reads the output in place of the input
    // and the input need not be kept for it; the gradient is masked where it lies.
    if kind == .relu { return Variable.result(y, x) { (dy: inout Tensor) in dy.keepWherePositive(y) } }
    return Variable.result(y, [x]) { dy in [try backend.activationBackward(kind, dy, x: input, y: y)] }
}

public func relu(_ x: Variable) throws -> Variable { try activation(.relu, x) }
public func tanh(_ x: Variable) throws -> Variable { try activation(.tanh, x) }
public func sigmoid(_ x: Variable) throws -> Variable { try activation(.sigmoid, x) }

/// Softmax over the last axis.
public func softmax(_ x: Variable) throws -> Variable { try softmax(x, log: false) }

/// Log-softmax over the last axis.
public func logSoftmax(_ x: Variable) throws -> Variable { try softmax(x, log: true) }

private func softmax(_ x: Variable, log: Bool) throws -> Variable {
    let (rows, columns) = x.value.positionsAndChannels
    guard columns > 0 else { throw ShapeError(log ? "logSoftmax" : "softmax", "the last axis of \(describe(shape: x.shape)) is empty") }
    let y = produce(x.shape) { ReferenceKernels.softmax(ptr(x.value), $0, rows: rows, columns: columns, log: log) }
    return Variable.result(y, [x]) { dy in
        [produce(dy.shape) { ReferenceKernels.softmaxBackward(ptr(dy), ptr(y), $0, rows: rows, columns: columns, log: log) }]
    }
}

/// Keras PReLU: x above 0, `alpha · x` below, with a learned `alpha` of the input's shape without the batch axis,
/// each axis either as long as the input's or 1 (shared along it).
public func prelu(_ x: Variable, alpha: Variable) throws -> Variable {
    let shape = Array(x.shape.dropFirst())
    guard alpha.shape.count == shape.count, zip(alpha.shape, shape).allSatisfy({ $0 == $1 || $0 == 1 }) else {
        throw ShapeError("prelu", "alpha \(describe(shape: alpha.shape)) does not fit the input \(describe(shape: x.shape))")
    }
    // Each input element's alpha, by strides that are 0 along shared axes.
    var strides = [Int](repeating: 0, count: shape.count), step = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) where alpha.shape[axis] != 1 {
        strides[axis] = step
        step *= alpha.shape[axis]
    }
    let perImage = shape.reduce(1, *)
    let alphaIndex: [Int] = (0..<perImage).map { flat in
        var rest = flat, index = 0
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            index += (rest % shape[axis]) * strides[axis]
            rest /= shape[axis]
        }
        return index
    }
    let input = x.value, a = alpha.value
    let y = produce(x.shape) { out in
        let source = ptr(input), slopes = ptr(a)
        for i in 0..<input.count { let v = source[i]; out[i] = v > 0 ? v : slopes[alphaIndex[i % perImage]] * v }
    }
    return Variable.result(y, [x, alpha]) { dy in
        let gradient = ptr(dy), source = ptr(input), slopes = ptr(a)
        let dx = produce(input.shape) { out in
            for i in 0..<input.count { out[i] = source[i] > 0 ? gradient[i] : slopes[alphaIndex[i % perImage]] * gradient[i] }
        }
        let dalpha = produce(a.shape) { out in
            out.initialize(repeating: 0, count: a.count)
            for i in 0..<input.count where source[i] <= 0 { out[alphaIndex[i % perImage]] += gradient[i] * source[i] }
        }
        return [dx, dalpha]
    }
}
