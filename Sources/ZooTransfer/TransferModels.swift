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
        try backbone.skeleton(full).requireOneImageInput(for: "feature extraction")
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

/// A trained classifier read back from its weight file, ready to score or predict (logits out).
public struct TrainedClassifier {
    public let model: Model
    public let backbone: any Backbone
    /// The class names the run recorded, when it did.
    public let classNames: [String]?
    public let inputSize: (Int, Int)?
    /// The crop fraction to prepare images with: the one the run recorded, else the backbone's; set it to override.
    public var cropFraction: Double?

    /// Whether the network as its file describes it ends in a softmax (the backbones do; a Keras config says).
    public var outputsProbabilities: Bool { (backbone as? any ConfiguredBackbone)?.outputsProbabilities ?? true }

    /// How many classes the classifier outputs.
    public var classes: Int { model.layer(named: model.classifierLayers.first ?? "")?.weights.last?.shape.last ?? 0 }

    /// How images become the network's input: the backbone's preparation at the size and crop it was trained with.
    public var preparation: ImagePreparation { ImagePreparation(for: backbone, inputSize: inputSize, cropFraction: cropFraction) }

    /// Rebuilds what `TransferJob` wrote from its metadata; any other file is matched against `arch` (or every
    /// registered backbone) as `zoo predict` does, with its classifier's activation left off.
    public init(_ bundle: WeightBundle, file: String, backbones: BackboneRegistry, arch: String? = nil) throws {
        let named = try (arch ?? bundle.metadata[MetadataKey.architecture]).map { try backbones.backbone(named: $0, for: bundle, file: file) }
        let size = bundle.metadata[MetadataKey.inputSize].flatMap { text -> (Int, Int)? in
            let parts = text.split(separator: "x").compactMap { Int($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        inputSize = size
        cropFraction = bundle.metadata[MetadataKey.cropFraction].flatMap(Double.init).flatMap { $0 > 0 && $0 <= 1 ? $0 : nil }
        classNames = bundle.metadata[MetadataKey.classNames].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        if let text = bundle.metadata[TransferJob.metadataKey], let backbone = named {
            guard let head = try? JSONDecoder().decode(TransferHead.self, from: Data(text.utf8)) else {
                throw WeightFileError(file: file, location: nil, message: "its \(TransferJob.metadataKey) metadata is not a head description")
            }
            let headModel = head.build(seed: 0)
            var backboneWeights = bundle
            backboneWeights.layers.removeAll { headModel.layer(named: $0.name) != nil }
            let features = try TransferModels.features(backbone, weights: backboneWeights, tap: head.tap, inputSize: size)
            model = head.attach(headModel, to: features)
            self.backbone = backbone
        } else {
            let match = try named.map { try backbones.fit($0, bundle) } ?? backbones.match(bundle, file: file)
            guard match.options.includeTop else {
                throw WeightFileError(file: file, location: nil, message: "has no classifier (it is a notop file); predicting and scoring need weights with the top")
            }
            var options = match.options
            options.classifierActivation = nil
            options.inputSize = size ?? options.inputSize
            model = try match.backbone.build(options)
            backbone = match.backbone
        }
        do { try model.load(bundle) } catch let error as LoadError { throw WeightFileError(file: file, location: nil, message: error.description) }
    }
}
