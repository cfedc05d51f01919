import Foundation
import ZooCore
import ZooImaging
import ZooNN
import ZooTensor

/// Builds the models transfer learning starts from: a backbone with pre-trained weights wherever they fit, and a new
/// head for the new classes.
public enum TransferModels {
    /// The plugin with its top for `classes` (logits; auxiliary heads too when it has them), the backbone's weights
    /// from `weights`, and the classifier (and any top layer the file lacks) freshly initialized. Returns the fresh
    /// layers. Without weights, everything is fresh: training from scratch.
    public static func fineTuning(_ backbone: any Backbone, weights: WeightBundle?, classes: Int, inputSize: (Int, Int)? = nil,
                                  seed: UInt64 = 0) throws -> (model: Model, fresh: [String]) {
        let options = BackboneOptions(classes: classes, includeTop: true, inputSize: inputSize,
                                      auxiliaryClassifiers: backbone.auxiliaryClassifiers > 0, classifierActivation: nil, seed: seed)
        let model = try backbone.build(options)
        try model.requireOneImageInput(for: "fine-tuning")
        guard !model.classifierLayers.isEmpty else {
            throw ShapeError(model.name, "its output \(model.outputNames.first ?? "") does not come from a Dense classifier, which fine-tuning "
                + "replaces with one for the new classes; train a head on one of its layers instead (--mode features --tap LAYER)")
        }
        guard let weights else { return (model, model.layers.filter { !$0.weights.isEmpty }.map(\.name)) }
        let top = try topLayers(backbone, options)
        let inFile = Set(weights.openingNestedModels().layers.map(\.name))
        let fresh = model.layers.filter { top.contains($0.name) && !$0.weights.isEmpty && (model.classifierLayers.contains($0.name) || !inFile.contains($0.name)) }
            .map(\.name)
        try model.load(weights, skipping: Set(fresh))
        return (model, fresh)
    }

    /// The plugin without its top, globally average pooled (its features), with the weights; a file's top layers are
    /// left out. When `tap` names a layer of the top (LeNet's f6, VGG's fc1), the top is built and loaded too.
    public static func features(_ backbone: any Backbone, weights: WeightBundle, tap: String? = nil, inputSize: (Int, Int)? = nil) throws -> Model {
        let full = BackboneOptions(includeTop: true, inputSize: inputSize, auxiliaryClassifiers: backbone.auxiliaryClassifiers > 0)
        let skeleton = try backbone.skeleton(full)
        try skeleton.requireOneImageInput(for: "feature extraction")
        if tap == nil && skeleton.classifierLayers.isEmpty && backbone is any ConfiguredBackbone {
            throw ShapeError(skeleton.name, "has no Dense classifier whose input would be the features; name the layer to read them from with --tap LAYER "
                + "(feature taps: \(skeleton.tapNames.suffix(8).joined(separator: ", ")))")
        }
        let top = try topLayers(backbone, full)
        let inFile = Set(weights.openingNestedModels().layers.map(\.name))
        if let tap, top.contains(tap) {
            let options = BackboneOptions(classes: try classifierWidth(backbone, weights, full), includeTop: true, inputSize: inputSize)
            let model = try backbone.build(options)
            try model.load(weights, skipping: top.subtracting(model.layers.map(\.name)).intersection(inFile))
            return model
        }
        let model = try backbone.build(BackboneOptions(includeTop: false, pooling: .average, inputSize: inputSize))
        try model.load(weights, skipping: top.intersection(inFile))
        return model
    }

    /// The classes the file's classifier has (its last array's last dimension).
    static func classifierWidth(_ backbone: any Backbone, _ weights: WeightBundle, _ options: BackboneOptions) throws -> Int {
        let classifier = try backbone.skeleton(options).classifierLayers.first
        guard let layer = classifier.flatMap({ weights.openingNestedModels().layer(named: $0) }), let width = layer.arrays.last?.shape.last else {
            throw WeightFileError(file: "weights", location: nil, message: "have no \(classifier ?? "classifier") layer, so the top cannot be tapped")
        }
        return width
    }

    /// Layers the top adds to the backbone: in `options`' model and not in the model without a top.
    static func topLayers(_ backbone: any Backbone, _ options: BackboneOptions) throws -> Set<String> {
        var bare = options
        bare.includeTop = false
        bare.auxiliaryClassifiers = false
        bare.pooling = .average
        let withTop = try backbone.skeleton(options).layers.map(\.name)
        return Set(withTop).subtracting(try backbone.skeleton(bare).layers.map(\.name))
    }
}
