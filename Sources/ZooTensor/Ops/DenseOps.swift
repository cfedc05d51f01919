/// op(a) · op(b) for 2-D operands.
public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) throws -> Variable {
    guard a.shape.count == 2, b.shape.count == 2 else {
        throw ShapeError("matmul", "expects 2-D operands, got \(describe(shape: a.shape)) and \(describe(shape: b.shape))")
    }
    let inner = transposeA ? a.shape[0] : a.shape[1], other = transposeB ? b.shape[1] : b.shape[0]
    guard inner == other else {
        throw ShapeError("matmul", "inner dimensions differ: \(describe(shape: a.shape))\(transposeA ? "ᵀ" : "") · "
            + "\(describe(shape: b.shape))\(transposeB ? "ᵀ" : "")")
    }
    let backend = Runtime.backend
    let (av, bv) = (a.value, b.value)
    let y = try backend.matmul(av, bv, transposeA: transposeA, transposeB: transposeB)
    return Variable.result(y, [a, b]) { [needA = a.requiresGrad, needB = b.requiresGrad] dy in
        // C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC (with the transposes carried through).
        let da = !needA ? nil : transposeA
            ? try backend.matmul(bv, dy, transposeA: transposeB, transposeB: true)
            : try backend.matmul(dy, bv, transposeA: false, transposeB: !transposeB)
        let db = !needB ? nil : transposeB
            ? try backend.matmul(dy, av, transposeA: true, transposeB: transposeA)
            : try backend.matmul(av, dy, transposeA: !transposeA, transposeB: false)
        return [da, db]
    }
}

/// Adds `bias` along the last axis.
public func biasAdd(_ x: Variable, _ bias: Variable) throws -> Variable {
    let channels = x.shape.last ?? 0
    guard bias.shape == [channels] else {
        throw ShapeError("biasAdd", "bias \(describe(shape: bias.shape)) does not match the last axis of \(describe(shape: x.shape))")
    }
    let (positions, _) = x.value.positionsAndChannels
    let b = bias.value
    let y = produce(x.shape) { out in
        let input = ptr(x.value), shift = ptr(b)
        parallelFor(positions, minimumPerChunk: 256) { range in
            for r in range { for c in 0..<channels { out[r * channels + c] = input[r * channels + c] + shift[c] } }
        }
    }
    return Variable.result(y, [x, bias]) { dy in
        let db = produce([channels]) { ReferenceKernels.sumRows(ptr(dy), rows: positions, columns: channels, into: $0) }
        return [dy, db]
    }
}

/// Keras's Dense: x · kernel + bias, with x [batch, in] and kernel [in, out].
public func dense(_ x: Variable, kernel: Variable, bias: Variable? = nil) throws -> Variable {
    guard x.shape.count == 2 else {
        throw ShapeError("dense", "expects a 2-D input [batch, features], got \(describe(shape: x.shape)); flatten or pool first")
    }
    let product = try matmul(x, kernel)
    return try bias.map { try biasAdd(product, $0) } ?? product
}
