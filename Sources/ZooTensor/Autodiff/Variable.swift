/// A node of the computation graph: a value, and, when any input needs a gradient, how to send a gradient back to
/// its inputs. Leaves with `requiresGrad` (trainable weights) accumulate `grad`. An op whose inputs need no
/// gradient records nothing and keeps no activations, so a frozen prefix of a network costs no backward time.
public final class Variable {
    public var value: Tensor
    public var grad: Tensor?
    public var requiresGrad: Bool
    public var name: String?
    let parents: [Variable]
    let pullback: ((Tensor) throws -> [Tensor?])?

    /// A leaf: a constant input, or a weight when `requiresGrad` is true.
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
        parents = []
        pullback = nil
    }

    private init(value: Tensor, parents: [Variable], pullback: @escaping (Tensor) throws -> [Tensor?]) {
        self.value = value
        requiresGrad = true
        self.parents = parents
        self.pullback = pullback
        name = nil
    }

    public var shape: [Int] { value.shape }
    public var isLeaf: Bool { pullback == nil }

    /// The result of an op: records `pullback` (gradient of the output → gradients of `inputs`, nil where an input
    /// needs none) only when some input needs a gradient.
    static func result(_ value: Tensor, _ inputs: [Variable], _ pullback: @escaping (Tensor) throws -> [Tensor?]) -> Variable {
        guard Gradients.recorded, inputs.contains(where: \.requiresGrad) else { return Variable(value) }
        return Variable(value: value, parents: inputs, pullback: pullback)
    }

    /// Back-propagates from this node (a scalar loss by default: its gradient seed is 1) and adds the gradients of
    /// every leaf that requires one to its `grad`.
    public func backward(seed: Tensor? = nil) throws {
        guard requiresGrad else { return }
        let start = seed ?? Tensor(shape: shape, repeating: 1)
        guard start.shape == shape else {
            throw ShapeError("backward", "seed \(describe(shape: start.shape)) does not match the output \(describe(shape: shape))")
        }
        // Reverse topological order over the nodes that need gradients.
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for parent in node.parents where parent.requiresGrad { stack.append((parent, false)) }
        }
        var gradients: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): start]
        for node in order.reversed() {
            guard let gradient = gradients.removeValue(forKey: ObjectIdentifier(node)) else { continue }
            guard let pullback = node.pullback else {
                node.grad = node.grad.map { $0 + gradient } ?? gradient
                continue
            }
            let inputGradients = try pullback(gradient)
            for (parent, g) in zip(node.parents, inputGradients) where parent.requiresGrad {
                guard let g else { continue }
                let key = ObjectIdentifier(parent)
                gradients[key] = gradients[key].map { $0 + g } ?? g
            }
        }
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

/// Whether ops record how to back-propagate. Inference (evaluation, feature extraction, prediction) turns it off,
/// so no activations are kept for a backward pass that never comes.
public enum Gradients {
    @TaskLocal public static var recorded = true

    /// Runs `body` without recording gradients.
    public static func off<R>(_ body: () throws -> R) rethrows -> R { try $recorded.withValue(false) { try body() } }
}
