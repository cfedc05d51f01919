import Foundation
import ZooCore
import ZooNN
import ZooTensor

/// A new classifier on a backbone's features: where the features come from (the backbone's pooled output, or a
/// feature tap averaged over its positions) and what classifies them (one Dense layer, or a small MLP).
public struct TransferHead: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case linear, mlp }
    public var kind: Kind
    /// The tapped layer, or nil for the backbone's own global average pooling.
    public var tap: String?
    public var features: Int
    public var classes: Int
    /// Width of the MLP's hidden layer.
    public var hidden: Int

    public init(kind: Kind, tap: String?, features: Int, classes: Int, hidden: Int = 256) {
        self.kind = kind; self.tap = tap; self.features = features; self.classes = classes; self.hidden = hidden
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
        // plan, one ONNX graph); its features reach the head through layers of their own.
        let pool = Layers.globalAveragePooling("head_features_pool"), flatten = Layers.flatten("head_features_flatten")
        let model = Model(name: backbone.name, inputShape: backbone.inputShape, layers: backbone.layers + head.layers,
                          tapNames: backbone.tapNames) { context, x in
            let run = try backbone.forward(in: context, x, tap: tap)
            let value = tap == nil ? run.outputs[0] : run.tap!
            let features = try context.call(value.shape.count == 4 ? pool : flatten, value)
            return [try head.layers.reduce(features) { try context.call($1, $0) }]
        }
        model.classifierLayers = head.classifierLayers
        return model
    }

    /// The features a head sees: the tap's output (averaged over positions when it is a feature map) or the
    /// backbone's main output, flattened to `[n, features]`.
    static func features(of backbone: Model, _ x: Variable, tap: String?, training: Bool) throws -> Variable {
        let output = try backbone(x, training: training, auxiliaryOutputs: false, taps: tap.map { [$0] } ?? [])
        let value = tap.map { output.taps[$0]! } ?? output.main
        return value.shape.count == 4 ? try globalAveragePool2d(value) : try flatten(value)
    }

    /// How many features the backbone gives at `tap` (from its profile, no computation).
    public static func featureCount(of backbone: Model, tap: String?) throws -> Int {
        let profile = try backbone.profile()
        let shape: [Int]
        if let tap {
            guard let layer = profile.first(where: { $0.name == tap }) else {
                throw FreezeError.unknownLayer(option: "--tap", tap, model: backbone.name, stages: backbone.tapNames,
                                               nearest: nearestNames(to: tap, among: backbone.layers.map(\.name)))
            }
            shape = layer.outputShape
        } else {
            shape = profile.last!.outputShape
        }
        return shape.count == 3 ? shape[2] : shape.reduce(1, *)
    }
}
