import ZooTensor

/// Updates weights from their accumulated gradients. Weights without a gradient (frozen, or unused) are left alone.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    func update(_ weights: [Weight])
}

extension Optimizer {
    /// Applies one update, then clears the gradients.
    public func step(_ weights: [Weight]) {
        update(weights)
        for weight in weights { weight.variable.zeroGrad() }
    }
}

/// Keras SGD: v = momentum·v − lr·g; w += v (Nesterov: w += momentum·v − lr·g). Decoupled weight decay
/// shrinks w by lr·decay first.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    private var velocity: [ObjectIdentifier: Tensor] = [:]

    public init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
    }

    public func update(_ weights: [Weight]) {
        for weight in weights where weight.variable.requiresGrad {
            guard let g = weight.variable.grad else { continue }
            if weightDecay > 0 { weight.value = weight.value.scaled(by: 1 - learningRate * weightDecay) }
            guard momentum > 0 else {
                weight.value = weight.value.combined(1, g, -learningRate)
                continue
            }
            let key = ObjectIdentifier(weight.variable)
            let v = (velocity[key] ?? Tensor(zeros: g.shape)).combined(momentum, g, -learningRate)
            velocity[key] = v
            weight.value = nesterov ? weight.value + v.combined(momentum, g, -learningRate) : weight.value + v
        }
    }
}

/// Keras Adam: m, v moving averages of g and g²; w −= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε).
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1, beta2, epsilon, weightDecay: Float
    private var moments: [ObjectIdentifier: (m: Tensor, v: Tensor, step: Int)] = [:]

    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func update(_ weights: [Weight]) {
        for weight in weights where weight.variable.requiresGrad {
            guard let g = weight.variable.grad else { continue }
            if weightDecay > 0 { weight.value = weight.value.scaled(by: 1 - learningRate * weightDecay) }
            let key = ObjectIdentifier(weight.variable)
            var state = moments[key] ?? (Tensor(zeros: g.shape), Tensor(zeros: g.shape), 0)
            state.step += 1
            state.m = state.m.combined(beta1, g, 1 - beta1)
            state.v = state.v.combined(beta2, g.multiplied(by: g), 1 - beta2)
            moments[key] = state
            let t = Float(state.step)
            let alpha = learningRate * (1 - Float.pow(beta2, t)).squareRoot() / (1 - Float.pow(beta1, t))
            let (m, v) = (state.m, state.v)
            weight.value.withUnsafeMutableBufferPointer { w in
                m.withUnsafeBufferPointer { m in v.withUnsafeBufferPointer { v in
                    for i in w.indices { w[i] -= alpha * m[i] / (v[i].squareRoot() + epsilon) }
                } }
            }
        }
    }
}
