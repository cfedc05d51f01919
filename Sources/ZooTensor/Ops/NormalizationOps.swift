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
    let channels = x.shape.last ?? 0
    for (name, v) in [("gamma", gamma), ("beta", beta), ("moving_mean", movingMean), ("moving_variance", movingVariance)]
    where v.shape != [channels] {
        throw ShapeError("batchNorm", "\(name) \(describe(shape: v.shape)) does not match the \(channels) channels of \(describe(shape: x.shape))")
    }
    let backend = Runtime.backend
    let input = x.value, scale = gamma.value
    let y: Tensor, mean: Tensor, variance: Tensor
    if training {
        guard x.value.positionsAndChannels.positions > 0 else { throw ShapeError("batchNorm", "training needs a non-empty batch") }
        (y, mean, variance) = try backend.batchNormTraining(input, gamma: scale, beta: beta.value, epsilon: epsilon)
        movingMean.value = movingMean.value.combined(momentum, mean, 1 - momentum)
        movingVariance.value = movingVariance.value.combined(momentum, variance, 1 - momentum)
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
