public func activation(_ kind: Activation, _ x: Variable) throws -> Variable {
    let backend = Runtime.backend
    let input = x.value
    let y = try backend.activation(kind, input)
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
