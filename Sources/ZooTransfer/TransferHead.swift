import Foundation
import ZooCore
import ZooNN
import ZooTensor

/// How a feature map becomes the vector a head reads: averaged or maxed over its positions (one feature per
/// channel, what large backbones need), or flattened (every position and channel, what small maps such as LeNet's
/// 5×5×16 keep their information with).
public enum FeaturePooling: String, Codable, Sendable, CaseIterable {
    case average, max, flatten

    /// The head's input width for a feature map of `shape` (height, width, channels); other shapes are flattened.
    func width(of shape: [Int]) -> Int {
        shape.count == 3 && self != .flatten ? shape[2] : shape.reduce(1, *)
    }

    func apply(_ value: Variable) throws -> Variable {
        guard value.shape.count == 4 else { return try ZooTensor.flatten(value) }
        switch self {
        case .average: return try globalAveragePool2d(value)
        case .max: return try globalMaxPool2d(value)
        case .flatten: return try ZooTensor.flatten(value)
        }
    }

    /// The same as a layer, for the model a features run writes.
    func layer(for shape: [Int]) -> Layer {
        switch (shape.count == 3, self) {
        case (true, .average): Layers.globalAveragePooling("head_features_pool")
        case (true, .max): Layers.globalMaxPooling("head_features_pool")
        default: Layers.flatten("head_features_flatten")
        }
    }
}

/// A new classifier on a backbone's features: where the features come from (the backbone's pooled output, or a
/// feature tap pooled as `pooling` says) and what classifies them (one Dense layer, or a small MLP).
public struct TransferHead: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case linear, mlp }
    public var kind: Kind
    /// The tapped layer, or nil for the backbone's own global average pooling.
    public var tap: String?
    /// How the tap's feature map (or an unpooled output) becomes a vector.
    public var pooling: FeaturePooling
    public var features: Int
    public var classes: Int
    /// Width of the MLP's hidden layer.
    public var hidden: Int

    public init(kind: Kind, tap: String?, pooling: FeaturePooling = .average, features: Int, classes: Int, hidden: Int = 256) {
        self.kind = kind; self.tap = tap; self.pooling = pooling; self.features = features; self.classes = classes; self.hidden = hidden
    }

    private enum CodingKeys: String, CodingKey { case kind, tap, pooling, features, classes, hidden }

    /// Heads written before `pooling` existed averaged their tap.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try c.decode(Kind.self, forKey: .kind), tap: try c.decodeIfPresent(String.self, forKey: .tap),
                  pooling: try c.decodeIfPresent(FeaturePooling.self, forKey: .pooling) ?? .average,
                  features: try c.decode(Int.self, forKey: .features), classes: try c.decode(Int.self, forKey: .classes),
                  hidden: try c.decode(Int.self, forKey: .hidden))
    }

    /// The head alone, taking `[n, features]`; its output layer is `head_predictions` (logits).
    public func build(seed: UInt64) -> Model {
        var g = SeededGenerator(seed: seed)
        let layers: [Layer]
        switch kind {
        case .linear:
            layers = [Dense("head_predictions", inputs: features, units: classes, generator: &g)]
        case .mlp:
            layers = [Dense("head_hidden", inputs: features, units: hidden, activation: .relu, generator: &g),
                      Dropout("head_dropout", rate: 0.5, seed: seed),
                      Dense("head_predictions", inputs: hidden, units: classes, generator: &g)]
        }
        let model = Model.sequential(name: "head", inputShape: [features], layers: layers, tapNames: [])
        model.classifierLayers = ["head_predictions"]
        return model
    }

    /// The backbone (built without its top) followed by the head, as one model: what `evaluate` and `predict` run.
    public func attach(_ head: Model, to backbone: Model) -> Model {
        let tap = tap
        // The backbone runs inside the combined pass, so that the whole model traces into one graph (one inference
        // plan, one ONNX graph); its features reach the head through a layer of their own.
        let shape = (try? Self.featureShape(of: backbone, tap: tap)) ?? []
        let pool = pooling.layer(for: shape)
        let model = Model(name: backbone.name, inputShape: backbone.inputShape, layers: backbone.layers + head.layers,
                          tapNames: backbone.tapNames) { context, x in
            let run = try backbone.forward(in: context, x, tap: tap)
            let features = try context.call(pool, tap == nil ? run.outputs[0] : run.tap!)
            return [try head.layers.reduce(features) { try context.call($1, $0) }]
        }
        model.classifierLayers = head.classifierLayers
        return model
    }

    /// The features a head sees: the tap's output or the backbone's main output, pooled as `pooling` says, as
    /// `[n, features]`.
    static func features(of backbone: Model, _ x: Variable, tap: String?, pooling: FeaturePooling, training: Bool) throws -> Variable {
        let output = try backbone(x, training: training, auxiliaryOutputs: false, taps: tap.map { [$0] } ?? [])
        return try pooling.apply(tap.map { output.taps[$0]! } ?? output.main)
    }

    /// How many features the backbone gives at `tap`, pooled as `pooling` says (from its profile, no computation).
    public static func featureCount(of backbone: Model, tap: String?, pooling: FeaturePooling = .average) throws -> Int {
        pooling.width(of: try featureShape(of: backbone, tap: tap))
    }

    /// The output shape (without the batch) of `tap`, or of the backbone.
    static func featureShape(of backbone: Model, tap: String?) throws -> [Int] {
        let profile = try backbone.profile()
        guard let tap else { return profile.last!.outputShape }
        guard let layer = profile.first(where: { $0.name == tap }) else {
            throw FreezeError.unknownLayer(option: "--tap", tap, model: backbone.name, stages: backbone.tapNames,
                                           nearest: nearestNames(to: tap, among: backbone.layers.map(\.name)))
        }
        return layer.outputShape
    }
}
