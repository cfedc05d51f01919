/// A value in a computation, and, when any input needs a gradient, its place on the tape: how a gradient of it
/// reaches its inputs. Leaves with `requiresGrad` (trainable weights) accumulate `grad`. An op whose inputs need no
/// gradient records nothing and keeps no activations, so a frozen prefix of a network costs no backward time.
///
/// The tape (`TapeNode`) holds pullbacks and links to the inputs' nodes, never the values themselves: an
/// intermediate value lives only as long as its variable or a pullback that reads it, so a training pass keeps
/// exactly the activations its backward pass needs (a ReLU's input, for one, is not among them).
public final class Variable {
    public var value: Tensor
    public var grad: Tensor?
    public var requiresGrad: Bool
    public var name: String?
    /// A result's node on the tape; nil for a leaf, whose node is made when an op first records it as an input.
    private let result: TapeNode?
    private var leafNode: TapeNode?

    /// A leaf: a constant input, or a weight when `requiresGrad` is true.
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
        result = nil
    }

    private init(value: Tensor, node: TapeNode) {
        self.value = value
        requiresGrad = true
        result = node
        name = nil
    }

    public var shape: [Int] { value.shape }
    public var isLeaf: Bool { result == nil }

    /// This variable's node on the tape: its result node, or a leaf node that sends gradients back into `grad`.
    private var node: TapeNode {
        if let result { return result }
        if let leafNode { return leafNode }
        let made = TapeNode(leaf: self)
        leafNode = made
        return made
    }

    /// The result of an op: records `pullback` (gradient of the output → gradients of `inputs`, nil where an input
    /// needs none) only when some input needs a gradient.
    static func result(_ value: Tensor, _ inputs: [Variable], _ pullback: @escaping (Tensor) throws -> [Tensor?]) -> Variable {
        guard Gradients.recorded, inputs.contains(where: \.requiresGrad) else { return Variable(value) }
        return Variable(value: value, node: TapeNode(parents: inputs.map { $0.requiresGrad ? $0.node : nil }, pullback: pullback))
    }

    /// The result of an op with one input of the output's shape whose gradient it can compute over the output's
    /// gradient (ReLU's), which the tape hands it when nothing else holds that gradient.
    static func result(_ value: Tensor, _ input: Variable, inPlace pullback: @escaping (inout Tensor) throws -> Void) -> Variable {
        guard Gradients.recorded, input.requiresGrad else { return Variable(value) }
        return Variable(value: value, node: TapeNode(parents: [input.node], inPlace: pullback))
    }

    /// Back-propagates from this node (a scalar loss by default: its gradient seed is 1) and adds the gradients of
    /// every leaf that requires one to its `grad`. `leafDone` is called for each such leaf as soon as its gradient
    /// of this pass is complete, while the pass goes on (data-parallel training starts sending it then).
    public func backward(seed: Tensor? = nil, leafDone: ((Variable) throws -> Void)? = nil) throws {
        guard requiresGrad else { return }
        let start = seed ?? Tensor(shape: shape, repeating: 1)
        guard start.shape == shape else {
            throw ShapeError("backward", "seed \(describe(shape: start.shape)) does not match the output \(describe(shape: shape))")
        }
        try node.backPropagate(start, leafDone: leafDone)
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() { grad = nil }

    fileprivate func accumulate(_ gradient: Tensor) {
        grad = grad.map { $0 + gradient } ?? gradient
    }
}

/// One recorded op: how the gradient of its output becomes gradients of its inputs' nodes (nil where an input needs
/// none); or a leaf, whose gradients go to its variable.
///
/// A pullback is dropped once it has run, and with it the activations it read: as the backward pass goes, the
/// memory of the forward pass's activations becomes free for the gradients. A tape runs backward once.
final class TapeNode {
    let parents: [TapeNode?]
    private var pullback: ((Tensor) throws -> [Tensor?])?
    private var inPlacePullback: ((inout Tensor) throws -> Void)?
    private let isLeaf: Bool
    private weak var leaf: Variable?

    init(parents: [TapeNode?], pullback: @escaping (Tensor) throws -> [Tensor?]) {
        self.parents = parents
        self.pullback = pullback
        isLeaf = false
    }

    init(parents: [TapeNode?], inPlace pullback: @escaping (inout Tensor) throws -> Void) {
        self.parents = parents
        inPlacePullback = pullback
        isLeaf = false
    }

    init(leaf: Variable) {
        parents = []
        isLeaf = true
        self.leaf = leaf
    }

    /// Sends `seed`, the gradient of this node's value, back through every node it depends on, in reverse
    /// topological order, each node's incoming gradients summed before its pullback runs.
    func backPropagate(_ seed: Tensor, leafDone: ((Variable) throws -> Void)?) throws {
        var order: [TapeNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(TapeNode, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for case let parent? in node.parents { stack.append((parent, false)) }
        }
        var gradients: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        for node in order.reversed() {
            guard var gradient = gradients.removeValue(forKey: ObjectIdentifier(node)) else { continue }
            if node.isLeaf {
                // Every node that reads a leaf comes before it in this order, so its gradient is complete here.
                if let leaf = node.leaf {
                    leaf.accumulate(gradient)
                    try leafDone?(leaf)
                }
                continue
            }
            let inputGradients: [Tensor?]
            if let inPlace = node.inPlacePullback {
                // Taken out of the dictionary, the gradient is this variable's alone unless a pullback shared it.
                node.inPlacePullback = nil
                try inPlace(&gradient)
                inputGradients = [gradient]
            } else {
                guard let pullback = node.pullback else {
                    throw ShapeError("backward", "this computation has been back-propagated already; run the forward pass again")
                }
                node.pullback = nil
                inputGradients = try pullback(gradient)
            }
            for (parent, g) in zip(node.parents, inputGradients) {
                guard let parent, let g else { continue }
                let key = ObjectIdentifier(parent)
                // Taken out of the dictionary so that a sum nothing else holds is added to in place.
                if var sum = gradients.removeValue(forKey: key) {
                    sum.add(g)
                    gradients[key] = sum
                } else {
                    gradients[key] = g
                }
            }
        }
    }
}

/// Whether ops record how to back-propagate. Inference (evaluation, feature extraction, prediction) turns it off,
/// so no activations are kept for a backward pass that never comes.
public enum Gradients {
    @TaskLocal public static var recorded = true

    /// Runs `body` without recording gradients.
    public static func off<R>(_ body: () throws -> R) rethrows -> R { try $recorded.withValue(false) { try body() } }
}
