/// The mean loss over the batch (Keras's definitions; see `LossFunction`). Predictions are [..., classes]; targets
/// have the same shape, or, for sparse cross-entropy, one class index per row.
public func loss(_ function: LossFunction, predictions: Variable, targets: Tensor) throws -> Variable {
    let (rows, columns) = predictions.value.positionsAndChannels
    let op = "loss"
    switch function {
    case .sparseCategoricalCrossEntropy:
        guard targets.count == rows, targets.shape == Array(predictions.shape.dropLast()) || targets.shape == [rows] else {
            throw ShapeError(op, "sparse targets \(describe(shape: targets.shape)) need one class index per row of predictions "
                + "\(describe(shape: predictions.shape))")
        }
        for (row, label) in targets.scalars.enumerated() where label != label.rounded() || label < 0 || Int(label) >= columns {
            throw ShapeError(op, "label \(label) in row \(row) is not a class index in 0..<\(columns)")
        }
    default:
        guard targets.shape == predictions.shape else {
            throw ShapeError(op, "targets \(describe(shape: targets.shape)) do not match predictions \(describe(shape: predictions.shape))")
        }
    }
    guard rows > 0 else { throw ShapeError(op, "predictions \(describe(shape: predictions.shape)) are empty") }
    var gradient = Tensor(zeros: predictions.shape)
    let value = gradient.withUnsafeMutableBufferPointer { g in
        ReferenceKernels.loss(function, predictions: ptr(predictions.value), targets: ptr(targets), rows: rows, columns: columns,
                              gradient: g.baseAddress)
    }
    return Variable.result(Tensor(scalar: value), [predictions]) { dy in [gradient.scaled(by: dy.scalar)] }
}

/// Σ weightᵢ · lossᵢ over scalar losses (a main loss plus weighted auxiliary losses).
public func weightedSum(_ terms: [(loss: Variable, weight: Float)]) throws -> Variable {
    for term in terms where term.loss.value.count != 1 {
        throw ShapeError("weightedSum", "expects scalar losses, got \(describe(shape: term.loss.shape))")
    }
    let total = terms.reduce(Float(0)) { $0 + $1.weight * $1.loss.value.scalar }
    return Variable.result(Tensor(scalar: total), terms.map(\.loss)) { dy in
        terms.map { Tensor(shape: $0.loss.shape, repeating: $0.weight * dy.scalar) }
    }
}

/// Keras's L1/L2 regularization, a scalar to add to the loss: `l1 · Σ|x| + l2 · Σx²` of a weight, and of an
/// activation divided by the batch size (`perBatch`), as Keras's activity regularization is.
public func penalty(_ x: Variable, l1: Float, l2: Float, perBatch: Bool = false) throws -> Variable {
    let batch = perBatch ? Float(max(1, x.shape.first ?? 1)) : 1, input = x.value
    var total: Float = 0
    input.withUnsafeBufferPointer { values in for v in values { total += l1 * abs(v) + l2 * v * v } }
    return Variable.result(try Tensor(shape: [], scalars: [total / batch]), [x]) { dy in
        let seed = dy.scalars[0] / batch
        return [produce(input.shape) { out in
            let source = ptr(input)
            for i in 0..<input.count { out[i] = seed * (l1 * (source[i] > 0 ? 1 : source[i] < 0 ? -1 : 0) + 2 * l2 * source[i]) }
        }]
    }
}
