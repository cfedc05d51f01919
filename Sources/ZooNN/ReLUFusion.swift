import ZooTensor

/// The layers a training pass runs with the ReLU after them fused in: batch normalizations (`batchNormReLU`) and
/// residual adds (`addReLU`) whose output that ReLU alone reads and nothing else sees (no model output, no tap), from
/// the model's traced graph. Whether a BatchNorm fuses in a given pass is decided when it is called: only one that
/// trains does (a frozen one runs in inference mode, and in a frozen prefix's plan).
struct ReLUFusions {
    /// BatchNormalization or Add layer → the ReLU layer that reads its output.
    let reluAfter: [ObjectIdentifier: ObjectIdentifier]

    init(of graph: LayerGraph) {
        let layers = graph.nodes.map { ObjectIdentifier($0.layer) }
        // A layer called twice has no single output to fuse.
        guard Set(layers).count == layers.count else {
            reluAfter = [:]
            return
        }
        let readers = graph.consumers(), seen = Set(graph.outputs + graph.taps.values)
        var pairs: [ObjectIdentifier: ObjectIdentifier] = [:]
        for node in graph.nodes {
            switch node.layer.computation {
            case .batchNormalization: break
            // A broadcasting add has no fused kernel.
            case .add where Set(node.inputs.map { graph.shapes[$0] }).count == 1: break
            default: continue
            }
            guard !seen.contains(node.output), readers[node.output].count == 1 else { continue }
            let reader = graph.nodes[readers[node.output][0]].layer
            if case .activation(.relu) = reader.computation { pairs[ObjectIdentifier(node.layer)] = ObjectIdentifier(reader) }
        }
        reluAfter = pairs
    }
}

/// One training pass's fused layers: their outputs, each waiting for the one ReLU layer that may read it, which
/// passes it on (already rectified). Any other reader means the pass took a path its trace did not show,
/// and fails rather than read a rectified value it did not ask for.
final class ReLUFusionPass {
    private let fusions: ReLUFusions
    /// Each output, held weakly so that it lives no longer than its readers keep it (conv1's 100 MB output, read only
    /// by a padding, would otherwise live through the whole pass at batch 32). An entry whose variable is gone is
    /// stale: its identity may have been reused by another variable.
    private var pending: [ObjectIdentifier: Waiting] = [:]

    private struct Waiting {
        weak var output: Variable?
        let relu: ObjectIdentifier
    }

    init(_ fusions: ReLUFusions) { self.fusions = fusions }

    /// What `layer` outputs when the fusion concerns it: a training BatchNorm's or an Add's rectified output, or
    /// its ReLU passing that on; nil for every other call.
    func call(_ layer: Layer, _ inputs: [Variable]) throws -> Variable? {
        for x in inputs {
            guard let waiting = pending[ObjectIdentifier(x)], waiting.output === x else { continue }
            guard waiting.relu == ObjectIdentifier(layer), inputs.count == 1 else { throw GraphTraceError(layer: layer.name, inTraining: true) }
            return try reshape(x, x.shape)
        }
        guard let relu = fusions.reluAfter[ObjectIdentifier(layer)] else { return nil }
        let y: Variable
        if let norm = layer as? BatchNormalization, norm.trainable, inputs.count == 1 {
            y = try norm.trainingWithReLU(inputs[0])
        } else if let merge = layer as? Merge, merge.operation == .add, !inputs.isEmpty {
            y = try addReLU(inputs)
        } else {
            return nil
        }
        pending[ObjectIdentifier(y)] = Waiting(output: y, relu: relu)
        return y
    }
}
