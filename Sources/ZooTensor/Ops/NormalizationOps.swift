/// Local response normalization across the last (channel) axis.
public func lrn(_ x: Variable, _ parameters: LRNParameters = LRNParameters()) throws -> Variable {
    guard parameters.size > 0, parameters.size % 2 == 1 else {
        throw ShapeError("lrn", "the window size must be a positive odd number, got \(parameters.size)")
    }
    let backend = Runtime.backend
    let input = x.value
    let y = try backend.lrn(input, parameters)
    return Variable.result(y, [x]) { dy in [try backend.lrnBackward(dy, x: input, parameters)] }
}

/// Batch normalization over the last (channel) axis, as Keras computes it.
///
/// Training mode normalizes with the batch's mean and biased variance and updates the moving statistics in place:
/// moving = moving · momentum + batch · (1 − momentum). Inference mode normalizes with the moving statistics.
public func batchNorm(_ x: Variable, gamma: Variable, beta: Variable, movingMean: Variable, movingVariance: Variable,
                      epsilon: Float, momentum: Float, training: Bool) throws -> Variable {
    try checkBatchNorm("batchNorm", x, gamma: gamma, beta: beta, movingMean: movingMean, movingVariance: movingVariance, training: training)
    let backend = Runtime.backend
    let input = x.value, scale = gamma.value
    let y: Tensor, mean: Tensor, variance: Tensor
    if training {
        (y, mean, variance) = try backend.batchNormTraining(input, gamma: scale, beta: beta.value, epsilon: epsilon)
        updateMovingStatistics(movingMean, movingVariance, mean: mean, variance: variance, momentum: momentum)
    } else {
        (mean, variance) = (movingMean.value, movingVariance.value)
        y = try backend.batchNorm(input, gamma: scale, beta: beta.value, mean: mean, variance: variance, epsilon: epsilon)
    }
    return Variable.result(y, [x, gamma, beta]) { [needInput = x.requiresGrad] dy in
        let (dx, dgamma, dbeta) = try backend.batchNormBackward(dy, x: input, gamma: scale, mean: mean, variance: variance,
                                                                epsilon: epsilon, batchStatistics: training, inputGradient: needInput)
        return [dx, dgamma, dbeta]
    }
}

/// Training-mode batch normalization followed by ReLU, as `relu(batchNorm(…, training: true))` computes it, in one
/// pass where the backend fuses them (oneDNN): one pass over the activations fewer each way, and no normalized
/// tensor in between.
public func batchNormReLU(_ x: Variable, gamma: Variable, beta: Variable, movingMean: Variable, movingVariance: Variable,
                          epsilon: Float, momentum: Float) throws -> Variable {
    try checkBatchNorm("batchNormReLU", x, gamma: gamma, beta: beta, movingMean: movingMean, movingVariance: movingVariance, training: true)
    let backend = Runtime.backend
    let input = x.value, scale = gamma.value
    let (y, mean, variance, workspace) = try backend.batchNormReLUTraining(input, gamma: scale, beta: beta.value, epsilon: epsilon)
    updateMovingStatistics(movingMean, movingVariance, mean: mean, variance: variance, momentum: momentum)
    // The output is kept for the backward pass only where no workspace replaces it: an output that no later op keeps
    // (one a padding reads, say) is then freed after the forward pass.
    let output = workspace == nil ? y : nil
    return Variable.result(y, [x, gamma, beta]) { [needInput = x.requiresGrad, output] dy in
        let (dx, dgamma, dbeta) = try backend.batchNormReLUBackward(dy, x: input, y: output, workspace: workspace, gamma: scale, mean: mean,
                                                                    variance: variance, epsilon: epsilon, inputGradient: needInput)
        return [dx, dgamma, dbeta]
    }
}

/// Every per-channel vector must match `x`'s channels, and training needs a non-empty batch.
func checkBatchNorm(_ op: String, _ x: Variable, gamma: Variable, beta: Variable, movingMean: Variable, movingVariance: Variable,
                            training: Bool) throws {
    let channels = x.shape.last ?? 0
    for (name, v) in [("gamma", gamma), ("beta", beta), ("moving_mean", movingMean), ("moving_variance", movingVariance)]
    where v.shape != [channels] {
        throw ShapeError(op, "\(name) \(describe(shape: v.shape)) does not match the \(channels) channels of \(describe(shape: x.shape))")
    }
    if training, x.value.positionsAndChannels.positions == 0 { throw ShapeError(op, "training needs a non-empty batch") }
}

/// moving = moving · momentum + batch · (1 − momentum).
func updateMovingStatistics(_ movingMean: Variable, _ movingVariance: Variable, mean: Tensor, variance: Tensor, momentum: Float) {
    movingMean.value = movingMean.value.combined(momentum, mean, 1 - momentum)
    movingVariance.value = movingVariance.value.combined(momentum, variance, 1 - momentum)
}

/// Keras LayerNormalization over the last axis: each position's values normalized by their own mean and (biased)
/// variance, `(x − μ) / √(σ² + ε) · gamma + beta`.
public func layerNorm(_ x: Variable, gamma: Variable, beta: Variable, epsilon: Float) throws -> Variable {
    let channels = x.shape.last ?? 0
    guard gamma.shape == [channels], beta.shape == [channels] else {
        throw ShapeError("layerNorm", "gamma \(describe(shape: gamma.shape)) and beta \(describe(shape: beta.shape)) for \(describe(shape: x.shape))")
    }
    let positions = x.value.count / max(1, channels)
    let input = x.value, g = gamma.value, b = beta.value
    // Per position: the normalized values and 1 / √(σ² + ε), kept for the gradient.
    var inverse = [Float](repeating: 0, count: positions)
    let normalized = produce(x.shape) { out in
        let source = ptr(input)
        for p in 0..<positions {
            let row = source + p * channels
            var mean: Float = 0
            for c in 0..<channels { mean += row[c] }
            mean /= Float(channels)
            var variance: Float = 0
            for c in 0..<channels { variance += (row[c] - mean) * (row[c] - mean) }
            let scale = 1 / (variance / Float(channels) + epsilon).squareRoot()
            inverse[p] = scale
            for c in 0..<channels { out[p * channels + c] = (row[c] - mean) * scale }
        }
    }
    let y = produce(x.shape) { out in
        let n = ptr(normalized), scale = ptr(g), shift = ptr(b)
        for p in 0..<positions { for c in 0..<channels { out[p * channels + c] = n[p * channels + c] * scale[c] + shift[c] } }
    }
    return Variable.result(y, [x, gamma, beta]) { [inverse] dy in
        let d = ptr(dy), n = ptr(normalized), scale = ptr(g)
        let dgamma = produce([channels]) { out in
            out.initialize(repeating: 0, count: channels)
            for p in 0..<positions { for c in 0..<channels { out[c] += d[p * channels + c] * n[p * channels + c] } }
        }
        let dbeta = produce([channels]) { out in
            out.initialize(repeating: 0, count: channels)
            for p in 0..<positions { for c in 0..<channels { out[c] += d[p * channels + c] } }
        }
        // dx = (1/σ) · (dn − mean(dn) − n · mean(dn · n)), with dn = dy · gamma.
        let dx = produce(input.shape) { out in
            for p in 0..<positions {
                var meanGradient: Float = 0, meanProduct: Float = 0
                for c in 0..<channels {
                    let dn = d[p * channels + c] * scale[c]
                    meanGradient += dn
                    meanProduct += dn * n[p * channels + c]
                }
                meanGradient /= Float(channels)
                meanProduct /= Float(channels)
                for c in 0..<channels {
                    let i = p * channels + c
                    out[i] = inverse[p] * (d[i] * scale[c] - meanGradient - n[i] * meanProduct)
                }
            }
        }
        return [dx, dgamma, dbeta]
    }
}
