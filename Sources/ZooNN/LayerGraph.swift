import ZooTensor

/// A model's inference pass as a graph of its layers: every value a layer produced, which layers read it, and its
/// shape. Recorded from the forward pass itself (`Model.trace`), so every model has one without saying anything
/// more than its layers and forward function. Nodes are in the order the forward pass ran them.
public struct LayerGraph {
    public struct Node {
        public let layer: Layer
        /// Values read, in argument order.
        public let inputs: [Int]
        public let output: Int
    }

    /// Values 0..<inputCount are the model's inputs; each node adds one.
    public let shapes: [[Int]]
    public let nodes: [Node]
    public let outputs: [Int]
    /// Tapped layer name → value.
    public let taps: [String: Int]
    public let inputCount: Int

    public init(shapes: [[Int]], nodes: [Node], outputs: [Int], taps: [String: Int], inputCount: Int = 1) {
        self.shapes = shapes; self.nodes = nodes; self.outputs = outputs; self.taps = taps; self.inputCount = inputCount
    }

    public var inputs: Range<Int> { 0..<inputCount }

    /// The nodes that read each value.
    public func consumers() -> [[Int]] {
        var readers = Array(repeating: [Int](), count: shapes.count)
        for (index, node) in nodes.enumerated() { for input in node.inputs { readers[input].append(index) } }
        return readers
    }
}

/// A layer's input that no traced layer produced: the model computed something between layers; or, in a training
/// pass, a layer that read other values than in the traced inference pass.
public struct GraphTraceError: Error, CustomStringConvertible {
    public let layer: String
    public var inTraining = false

    public init(layer: String, inTraining: Bool = false) {
        self.layer = layer
        self.inTraining = inTraining
    }

    public var description: String {
        inTraining
            ? "layer '\(layer)' reads other values in a training pass than at inference, so the frozen layers before it cannot run as an inference plan; ZOO_PLANS=0 runs training without plans"
            : "layer '\(layer)' reads a value that no layer produced (the forward pass computes outside its layers), so it cannot be traced"
    }
}

/// Collects the layer calls of one forward pass.
final class GraphRecorder {
    private var values: [ObjectIdentifier: Int]
    /// Keeps every traced variable alive so that no identity is reused during the trace.
    private var variables: [Variable]
    private var shapes: [[Int]]
    private var nodes: [LayerGraph.Node] = []

    private let inputCount: Int

    init(inputs: [Variable]) {
        values = Dictionary(uniqueKeysWithValues: inputs.enumerated().map { (ObjectIdentifier($1), $0) })
        variables = inputs
        shapes = inputs.map(\.shape)
        inputCount = inputs.count
    }

    func value(of variable: Variable) -> Int? { values[ObjectIdentifier(variable)] }

    func record(_ layer: Layer, _ inputs: [Variable], _ output: Variable) throws {
        let ids = try inputs.map { v in
            guard let id = value(of: v) else { throw GraphTraceError(layer: layer.name) }
            return id
        }
        // A layer that returns its input unchanged (a Merge of one) still gets a value of its own.
        let id = shapes.count
        values[ObjectIdentifier(output)] = id
        variables.append(output)
        shapes.append(output.shape)
        nodes.append(LayerGraph.Node(layer: layer, inputs: ids, output: id))
    }

    func graph(batch: Int, outputs: [Variable], taps: [String: Variable]) throws -> LayerGraph {
        func id(_ v: Variable, _ what: String) throws -> Int {
            guard let id = value(of: v) else { throw GraphTraceError(layer: what) }
            return id
        }
        return LayerGraph(shapes: shapes.map { [batch] + $0.dropFirst() }, nodes: nodes,
                          outputs: try outputs.map { try id($0, "output") },
                          taps: try taps.mapValues { try id($0, "tap") }, inputCount: inputCount)
    }
}
