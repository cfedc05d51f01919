import ZooTensor

/// Updates weights from their accumulated gradients, with Keras's update rules. Weights without a gradient (frozen,
/// or unused) are left alone. Each weight's rate is `learningRate × weight.learningRateMultiplier`, so a
/// pre-trained backbone can learn more slowly than a new head.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// Per-weight state (moving averages, accumulators, step counts), which a checkpoint saves and restores.
    var state: OptimizerState { get }
    /// Applies the rule to one weight with gradient `g` at rate `rate`, reading and writing its `slots`.
    func apply(_ weight: Weight, gradient g: Tensor, rate: Float, slots: inout OptimizerState.Slots)
    /// The slots a weight starts with, in a fixed order ("velocity"; "m", "v"; …).
    func initialSlots(_ shape: [Int]) -> [(name: String, value: Tensor)]
    /// Decoupled weight decay: each update first shrinks the weight by rate × decay (Keras's `weight_decay`).
    var weightDecay: Float { get }
}

extension Optimizer {
    public func update(_ weights: [Weight]) {
        for weight in weights where weight.variable.requiresGrad {
            guard let g = weight.variable.grad else { continue }
            let rate = learningRate * weight.learningRateMultiplier
            if weightDecay > 0 { weight.value = weight.value.scaled(by: 1 - rate * weightDecay) }
            state.update(weight, initial: initialSlots) { slots in apply(weight, gradient: g, rate: rate, slots: &slots) }
        }
    }

    /// Applies one update, then clears the gradients.
    public func step(_ weights: [Weight]) {
        update(weights)
        for weight in weights { weight.variable.zeroGrad() }
    }
}

/// What an optimizer remembers per weight, keyed by the weight's identity while training and by a caller-chosen
/// name (`layer/kernel`) when saved.
public final class OptimizerState {
    public struct Slots {
        public var tensors: [(name: String, value: Tensor)]
        public var step: Int

        public subscript(_ i: Int) -> Tensor {
            get { tensors[i].value }
            set { tensors[i].value = newValue }
        }
    }

    private var slots: [ObjectIdentifier: Slots] = [:]

    public init() {}

    func update(_ weight: Weight, initial: ([Int]) -> [(name: String, value: Tensor)], _ body: (inout Slots) -> Void) {
        let key = ObjectIdentifier(weight.variable)
        // Taken out while updated, so that its tensors are uniquely held and update in place.
        var s = slots.removeValue(forKey: key) ?? Slots(tensors: initial(weight.shape), step: 0)
        s.step += 1
        body(&s)
        slots[key] = s
    }

    /// Every slot of the named weights as `name/slot` tensors, and their step counts by name.
    public func export(_ weights: [(name: String, weight: Weight)]) -> (tensors: [String: Tensor], steps: [String: Int]) {
        var tensors: [String: Tensor] = [:], steps: [String: Int] = [:]
        for (name, weight) in weights {
            guard let s = slots[ObjectIdentifier(weight.variable)] else { continue }
            for (slot, value) in s.tensors { tensors["\(name)/\(slot)"] = value }
            steps[name] = s.step
        }
        return (tensors, steps)
    }

    /// Puts back what `export` produced; every saved slot must belong to a named weight and have its shape.
    public func restore(tensors: [String: Tensor], steps: [String: Int], _ weights: [(name: String, weight: Weight)],
                        initial: ([Int]) -> [(name: String, value: Tensor)]) throws(OptimizerStateError) {
        var restored: [ObjectIdentifier: Slots] = [:], used = 0
        for (name, weight) in weights {
            guard let step = steps[name] else { continue }
            var s = Slots(tensors: initial(weight.shape), step: step)
            for i in s.tensors.indices {
                let key = "\(name)/\(s.tensors[i].name)"
                guard let value = tensors[key] else { throw OptimizerStateError("optimizer state lacks \(key)") }
                guard value.shape == weight.shape else {
                    throw OptimizerStateError("optimizer state \(key) has shape \(value.shape), the weight \(weight.shape)")
                }
                s.tensors[i].value = value
                used += 1
            }
            restored[ObjectIdentifier(weight.variable)] = s
        }
        guard used == tensors.count, restored.count == steps.count else {
            let known = Set(weights.map(\.name))
            let stray = steps.keys.filter { !known.contains($0) }.sorted().prefix(3)
            throw OptimizerStateError("optimizer state names weights the model does not have: \(stray.joined(separator: ", "))")
        }
        slots = restored
    }
}

/// One pass over a weight's elements, split across threads for large weights: an update rule's loop, with the
/// weight and its slots updated in place (each element read and written once, instead of a new tensor per term).
private func elementwise(_ gradient: Tensor, _ body: (Int, UnsafePointer<Float>) -> Void) {
    gradient.withUnsafeBufferPointer { g in
        let g = g.baseAddress!
        parallelFor(gradient.count, minimumPerChunk: 1 << 15) { range in for i in range { body(i, g) } }
    }
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Keras SGD: v = momentum·v − rate·g; w += v (Nesterov: w += momentum·v − rate·g).
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public let state = OptimizerState()

    public init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
    }

    public func initialSlots(_ shape: [Int]) -> [(name: String, value: Tensor)] { momentum > 0 ? [("velocity", Tensor(zeros: shape))] : [] }

    public func apply(_ weight: Weight, gradient g: Tensor, rate: Float, slots: inout OptimizerState.Slots) {
        guard momentum > 0 else {
            weight.variable.value.withUnsafeMutableBufferPointer { w in
                elementwise(g) { i, g in w[i] = w[i] + -rate * g[i] }
            }
            return
        }
        let (momentum, nesterov) = (momentum, nesterov)
        weight.variable.value.withUnsafeMutableBufferPointer { w in
            slots.tensors[0].value.withUnsafeMutableBufferPointer { v in
                elementwise(g) { i, g in
                    let velocity = momentum * v[i] + -rate * g[i]
                    v[i] = velocity
                    w[i] = nesterov ? w[i] + (momentum * velocity + -rate * g[i]) : w[i] + velocity
                }
            }
        }
    }
}

/// Keras Adam: m, v moving averages of g and g²; w −= rate·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε).
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1, beta2, epsilon, weightDecay: Float
    public let state = OptimizerState()

    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func initialSlots(_ shape: [Int]) -> [(name: String, value: Tensor)] { [("m", Tensor(zeros: shape)), ("v", Tensor(zeros: shape))] }

    public func apply(_ weight: Weight, gradient g: Tensor, rate: Float, slots: inout OptimizerState.Slots) {
        let t = Float(slots.step)
        let alpha = rate * (1 - Float.pow(beta2, t)).squareRoot() / (1 - Float.pow(beta1, t))
        let (beta1, beta2, epsilon) = (beta1, beta2, epsilon)
        weight.variable.value.withUnsafeMutableBufferPointer { w in
            slots.tensors.withUnsafeMutableBufferPointer { slot in
                slot[0].value.withUnsafeMutableBufferPointer { m in
                    slot[1].value.withUnsafeMutableBufferPointer { v in
                        elementwise(g) { i, g in
                            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                            v[i] = beta2 * v[i] + (1 - beta2) * (g[i] * g[i])
                            w[i] -= alpha * m[i] / (v[i].squareRoot() + epsilon)
                        }
                    }
                }
            }
        }
    }
}

/// Keras RMSprop (not centered): v = ρ·v + (1−ρ)·g²; step = rate·g / √(v + ε); with momentum,
/// m = momentum·m + step and w −= m, else w −= step.
public final class RMSProp: Optimizer {
    public var learningRate: Float
    public let rho, momentum, epsilon, weightDecay: Float
    public let state = OptimizerState()

    public init(learningRate: Float = 0.001, rho: Float = 0.9, momentum: Float = 0, epsilon: Float = 1e-7, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.rho = rho; self.momentum = momentum; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func initialSlots(_ shape: [Int]) -> [(name: String, value: Tensor)] {
        [("velocity", Tensor(zeros: shape))] + (momentum > 0 ? [("momentum", Tensor(zeros: shape))] : [])
    }

    public func apply(_ weight: Weight, gradient g: Tensor, rate: Float, slots: inout OptimizerState.Slots) {
        slots[0] = slots[0].combined(rho, g.multiplied(by: g), 1 - rho)
        let velocity = slots[0], epsilon = epsilon
        let step = Tensor(shape: g.shape) { out in
            g.withUnsafeBufferPointer { g in velocity.withUnsafeBufferPointer { v in
                for i in out.indices { out[i] = rate * g[i] / (v[i] + epsilon).squareRoot() }
            } }
        }
        if momentum > 0 {
            slots[1] = slots[1].combined(momentum, step, 1)
            weight.value = weight.value.combined(1, slots[1], -1)
        } else {
            weight.value = weight.value.combined(1, step, -1)
        }
    }
}

/// Keras Adagrad: a (starting at 0.1) += g²; w −= rate·g / √(a + ε).
public final class AdaGrad: Optimizer {
    public var learningRate: Float
    public let initialAccumulator, epsilon, weightDecay: Float
    public let state = OptimizerState()

    public init(learningRate: Float = 0.001, initialAccumulator: Float = 0.1, epsilon: Float = 1e-7, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.initialAccumulator = initialAccumulator; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func initialSlots(_ shape: [Int]) -> [(name: String, value: Tensor)] {
        [("accumulator", Tensor(shape: shape, repeating: initialAccumulator))]
    }

    public func apply(_ weight: Weight, gradient g: Tensor, rate: Float, slots: inout OptimizerState.Slots) {
        slots[0] = slots[0] + g.multiplied(by: g)
        let accumulator = slots[0], epsilon = epsilon
        weight.value.withUnsafeMutableBufferPointer { w in
            g.withUnsafeBufferPointer { g in accumulator.withUnsafeBufferPointer { a in
                for i in w.indices { w[i] -= rate * g[i] / (a[i] + epsilon).squareRoot() }
            } }
        }
    }
}
