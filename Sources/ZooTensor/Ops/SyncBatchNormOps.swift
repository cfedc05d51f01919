/// Sums per-channel statistics over every process training together (data-parallel); every process makes the same
/// calls in the same order.
public protocol BatchStatisticsSync: AnyObject {
    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws
}

/// Training-mode batch normalization with the statistics of the whole batch, spread over processes (synchronized
/// BatchNorm): the mean and biased variance come from every process's sums, and backward sums the two reductions
/// it needs the same way, so each process gets its part of the gradient one process would compute on the whole
/// batch.
///
/// Each process's upstream gradient `dy` is of its own mean loss; one process's would be `m / M` of it (m of the
/// batch's M positions are here). So the sums sent are weighted by m: with S₁ = Σ m·Σdy and S₂ = Σ m·Σ(dy·x̂),
/// dx = γ/σ · (dy − (S₁ + x̂·S₂) / (m·M)). The gradients of gamma and beta stay this process's own sums, which the
/// gradient averaging weighs like every other weight.
public func syncBatchNorm(_ x: Variable, gamma: Variable, beta: Variable, movingMean: Variable, movingVariance: Variable,
                          epsilon: Float, momentum: Float, sync: any BatchStatisticsSync) throws -> Variable {
    try checkBatchNorm("syncBatchNorm", x, gamma: gamma, beta: beta, movingMean: movingMean, movingVariance: movingVariance, training: true)
    let backend = Runtime.backend
    let input = x.value, scale = gamma.value
    let (positions, channels) = input.positionsAndChannels
    // Positions, then per channel Σx and Σx², in Double so that E[x²] − E[x]² keeps its digits.
    var sums = [Double](repeating: 0, count: 1 + 2 * channels)
    sums[0] = Double(positions)
    let source = ptr(input)
    sums.withUnsafeMutableBufferPointer { all in
        // Through pointers, so that the per-channel loop vectorizes (array indexing would check every access).
        let sum = all.baseAddress! + 1, squares = sum + channels
        for p in 0..<positions {
            let row = source + p * channels
            for c in 0..<channels {
                let v = Double(row[c])
                sum[c] += v
                squares[c] += v * v
            }
        }
    }
    try sums.withUnsafeMutableBufferPointer { try sync.sum($0) }
    let total = sums[0]
    // No positions anywhere: every process stood in (all of a batch's images unreadable). All take this path alike,
    // so no process expects backward's sums, and the moving statistics keep their values.
    guard total > 0 else {
        return try batchNorm(x, gamma: gamma, beta: beta, movingMean: movingMean, movingVariance: movingVariance,
                             epsilon: epsilon, momentum: momentum, training: false)
    }
    let mean = Tensor(shape: [channels]) { for c in $0.indices { $0[c] = Float(sums[1 + c] / total) } }
    let variance = Tensor(shape: [channels]) { out in
        for c in out.indices {
            let m = sums[1 + c] / total
            out[c] = Float(max(0, sums[1 + channels + c] / total - m * m))
        }
    }
    let y = try backend.batchNorm(input, gamma: scale, beta: beta.value, mean: mean, variance: variance, epsilon: epsilon)
    updateMovingStatistics(movingMean, movingVariance, mean: mean, variance: variance, momentum: momentum)
    return Variable.result(y, [x, gamma, beta]) { dy in
        // With the statistics held fixed: dx = γ/σ·dy, and this process's Σdy·x̂ (dgamma) and Σdy (dbeta).
        let (fixed, dgamma, dbeta) = try backend.batchNormBackward(dy, x: input, gamma: scale, mean: mean, variance: variance,
                                                                   epsilon: epsilon, batchStatistics: false, inputGradient: true)
        var reductions = [Double](repeating: 0, count: 2 * channels)
        let (db, dg) = (ptr(dbeta), ptr(dgamma))
        for c in 0..<channels {
            reductions[c] = Double(positions) * Double(db[c])
            reductions[channels + c] = Double(positions) * Double(dg[c])
        }
        try reductions.withUnsafeMutableBufferPointer { try sync.sum($0) }
        let (g, mu, v, x0, d0) = (ptr(scale), ptr(mean), ptr(variance), ptr(input), ptr(fixed!))
        let denominator = Double(positions) * total
        let inverse = (0..<channels).map { 1 / (v[$0] + epsilon).squareRoot() }
        let shift = (0..<channels).map { Float(reductions[$0] / denominator) }
        let slope = (0..<channels).map { Float(reductions[channels + $0] / denominator) }
        let dx = produce(input.shape) { out in
            parallelFor(positions, minimumPerChunk: max(1, (1 << 14) / max(1, channels))) { rows in
            for p in rows {
                for c in 0..<channels {
                    let i = p * channels + c
                    let normalized = (x0[i] - mu[c]) * inverse[c]
                    out[i] = d0[i] - g[c] * inverse[c] * (shift[c] + normalized * slope[c])
                }
            }
            }
        }
        return [x.requiresGrad ? dx : nil, dgamma, dbeta]
    }
}
