import Foundation
import ZooTensor

/// The start of a training pass that learns nothing and computes what inference computes: layers with nothing to
/// train whose training-mode output is their inference output (no dropout; BatchNorm frozen, so in inference mode),
/// fed only by the model's input and each other. A training pass runs it through an inference plan (folded
/// BatchNorm, fused activations, no tape) and records only the rest, starting from the prefix's frontier: the values
/// the rest reads. A backbone frozen through a stage then costs what inference costs up to that stage.
struct FrozenPrefix {
    /// The prefix's nodes as a graph whose outputs are the frontier.
    let graph: LayerGraph
    /// Each prefix layer's node.
    let nodeOfLayer: [ObjectIdentifier: LayerGraph.Node]

    /// The frozen prefix of `graph`, when it holds a layer with weights (anything less is not worth a plan) and every
    /// layer appears once in the graph (a layer called twice has no single output to stand in for).
    init?(of graph: LayerGraph) {
        let layers = graph.nodes.map { ObjectIdentifier($0.layer) }
        guard Set(layers).count == layers.count else { return nil }
        var computed = Array(repeating: false, count: graph.shapes.count)
        for input in graph.inputs { computed[input] = true }
        var members: [Int] = []
        for (index, node) in graph.nodes.enumerated() where node.layer.isInertInTraining && node.inputs.allSatisfy({ computed[$0] }) {
            computed[node.output] = true
            members.append(index)
        }
        guard members.contains(where: { !graph.nodes[$0].layer.weights.isEmpty }) else { return nil }
        let inside = Set(members)
        var frontier = Set(graph.outputs + graph.taps.values).filter { !graph.inputs.contains($0) && computed[$0] }
        for (index, node) in graph.nodes.enumerated() where !inside.contains(index) {
            frontier.formUnion(node.inputs.filter { !graph.inputs.contains($0) && computed[$0] })
        }
        self.graph = LayerGraph(shapes: graph.shapes, nodes: members.map { graph.nodes[$0] }, outputs: frontier.sorted(), taps: [:],
                                inputCount: graph.inputCount)
        nodeOfLayer = Dictionary(uniqueKeysWithValues: members.map { (layers[$0], graph.nodes[$0]) })
    }

    /// Which nodes the prefix holds, to tell prefixes of one graph apart (freezing changes them).
    var signature: [Int] { graph.nodes.map(\.output) }
}

/// A frozen prefix's results for one training pass: the layers' outputs the eager rest of the pass is given instead
/// of calling them. Layers inside the prefix whose outputs nothing outside reads get a placeholder of the right shape
/// that no layer may read.
final class FrozenPrefixResults {
    private let prefix: FrozenPrefix
    /// Graph value → what stands for it in this pass (an input, a frontier value, or a placeholder).
    private var values: [Int: Variable]
    private var placeholders = Set<ObjectIdentifier>()

    init(_ prefix: FrozenPrefix, inputs: [Variable], computed: [Tensor]) {
        self.prefix = prefix
        values = Dictionary(uniqueKeysWithValues: inputs.enumerated().map { ($0, $1) })
        for (value, tensor) in zip(prefix.graph.outputs, computed) { values[value] = Variable(tensor) }
        for node in prefix.graph.nodes where values[node.output] == nil {
            let placeholder = Variable(Tensor(reservedZeros: prefix.graph.shapes[node.output]))
            placeholders.insert(ObjectIdentifier(placeholder))
            values[node.output] = placeholder
        }
    }

    /// The output standing in for `layer`'s when the layer is in the prefix, after checking that the pass gives it
    /// the inputs the trace showed. A layer outside the prefix must not read a placeholder. Either mismatch means the
    /// training pass took a path its trace did not show, and fails.
    func output(of layer: Layer, reading inputs: [Variable]) throws -> Variable? {
        guard let node = prefix.nodeOfLayer[ObjectIdentifier(layer)] else {
            if inputs.contains(where: { placeholders.contains(ObjectIdentifier($0)) }) { throw GraphTraceError(layer: layer.name, inTraining: true) }
            return nil
        }
        guard inputs.map(ObjectIdentifier.init) == node.inputs.map({ ObjectIdentifier(values[$0]!) }) else {
            throw GraphTraceError(layer: layer.name, inTraining: true)
        }
        return values[node.output]
    }
}

extension Layer {
    /// Whether a training pass computes this layer as inference does and learns nothing in it.
    var isInertInTraining: Bool {
        if weights.contains(where: { $0.isTrainableKind && $0.variable.requiresGrad }) { return false }
        switch computation {
        case .convolution, .separableConvolution, .transposedConvolution, .dense, .batchNormalization, .layerNormalization,
             .channelAffine, .layerScale, .prelu, .activation, .softmax, .pooling, .globalPooling, .flatten, .flattenChannelsFirst,
             .reshape, .permute, .zeroPadding, .cropping, .resizing, .lrn, .add, .concatenate, .combination, .scaledSum: return true
        case .identity, .opaque: return false
        }
    }
}

/// A model's traced graph per input shape (tracing costs a shape-only pass, too much for every small step), which
/// training passes read for their frozen prefix and their fusions, and the plan of the prefix the current freezing
/// gives.
final class FrozenPrefixCache: @unchecked Sendable {
    private struct TraceKey: Hashable {
        let shapes: [[Int]]
        let auxiliaryOutputs: Bool
        let taps: Set<String>
    }
    private struct PlanKey: Hashable {
        let trace: TraceKey
        let members: [Int]
    }
    private let lock = NSLock()
    private var traces: [TraceKey: LayerGraph?] = [:]
    private var plans: [PlanKey: (prefix: FrozenPrefix, plan: InferencePlan)] = [:]

    /// The frozen prefix of a training pass over inputs of `shapes` and its plan, or nil when there is none worth planning
    /// (or the model cannot be traced).
    func prefix(for shapes: [[Int]], auxiliaryOutputs: Bool, taps: Set<String>,
                trace: () throws -> LayerGraph, compile: (LayerGraph) throws -> InferencePlan) throws -> (prefix: FrozenPrefix, plan: InferencePlan)? {
        let key = TraceKey(shapes: shapes, auxiliaryOutputs: auxiliaryOutputs, taps: taps)
        guard let graph = try graph(for: key, trace: trace), let prefix = FrozenPrefix(of: graph) else { return nil }
        let planKey = PlanKey(trace: key, members: prefix.signature)
        if let cached = lock.withLock({ plans[planKey] }), cached.plan.isCurrent { return cached }
        let plan = try compile(prefix.graph)
        lock.withLock {
            // Only the latest freezing's plan per shape is kept: an earlier one would hold its folded weights for nothing.
            plans = plans.filter { $0.key.trace != key }
            plans[planKey] = (prefix, plan)
        }
        return (prefix, plan)
    }

    /// The traced graph of training passes over inputs of `shapes`; nil when the model cannot be traced.
    func graph(for shapes: [[Int]], auxiliaryOutputs: Bool, taps: Set<String>, trace: () throws -> LayerGraph) throws -> LayerGraph? {
        try graph(for: TraceKey(shapes: shapes, auxiliaryOutputs: auxiliaryOutputs, taps: taps), trace: trace)
    }

    private func graph(for key: TraceKey, trace: () throws -> LayerGraph) throws -> LayerGraph? {
        if let known = lock.withLock({ traces[key] }) { return known }
        let graph: LayerGraph?
        do { graph = try trace() } catch is GraphTraceError { graph = nil }
        lock.withLock { traces[key] = graph }
        return graph
    }
}
