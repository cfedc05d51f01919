import Foundation
import ZooCore
import ZooImaging
import ZooNN
import ZooTensor

/// A network read from a weight file, ready to run: its model, with named inputs and outputs, and the roles it has.
/// It is what `zoo finetune` wrote (backbone and head), a registered backbone's Keras or native file, or any network a
/// Keras file's own config describes: a classifier, a U-Net, an autoencoder, a generator, a detector with several
/// heads. Commands ask for a role only where they need it (`requireClassifier`, `requireImages`).
public struct Network {
    public let model: Model
    /// The registered backbone the network is, or the configured `keras` one its config describes.
    public let backbone: any Backbone
    /// The classifier role, when the main output ranks classes (a Dense classifier the output comes from).
    public let classifier: Classifier?
    /// The input size the weights were trained at, when a run recorded it.
    public let inputSize: (Int, Int)?
    /// The crop fraction to prepare images with: the one the run recorded, else the backbone's; set it to override.
    public var cropFraction: Double?
    /// Whether the config leaves the first input's height and width free (a fully convolutional network):
    /// `resized(to:)` builds it at the size of what it is given.
    public let freeSize: Bool
    private let bundle: WeightBundle
    private let file: String
    private let backbones: BackboneRegistry
    private let arch: String?

    /// The main output's classes. The model outputs the classifier's logits; `outputsProbabilities` says whether
    /// the network as its file describes it ends in a softmax, as Keras would output.
    public struct Classifier: Sendable {
        public let layer: String
        public let classes: Int
        /// The names the weights record (what `zoo finetune` wrote), when they do.
        public let recordedNames: [String]?
        public let outputsProbabilities: Bool
    }

    /// Each row's `top` classes by probability, best first: what `zoo predict` prints and
    /// `zoo serve` answers. `probabilities` is [rows, classes].
    public static func ranking(_ probabilities: Tensor, top: Int) -> [[(class: Int, probability: Float)]] {
        let classes = probabilities.shape.last ?? 0, rows = classes == 0 ? 0 : probabilities.count / classes
        return probabilities.withUnsafeBufferPointer { values in
            (0..<rows).map { row in
                let scores = values[(row * classes)..<((row + 1) * classes)]
                return scores.indices.sorted { scores[$0] > scores[$1] }.prefix(top).map { ($0 - row * classes, scores[$0]) }
            }
        }
    }

    /// How many classes the classifier outputs (0 without one).
    public var classes: Int { classifier?.classes ?? 0 }
    /// The class names the weights record.
    public var classNames: [String]? { classifier?.recordedNames }
    /// Whether the network as its file describes it ends in a softmax.
    public var outputsProbabilities: Bool { classifier?.outputsProbabilities ?? false }
    /// Whether the config's network takes channels-first (NCHW) arrays; the model runs channels-last.
    public var channelsFirst: Bool { (backbone as? any ConfiguredBackbone)?.channelsFirst == true }
    /// The output names, one per output (the backbones' single output is `predictions`).
    public var outputNames: [String] {
        model.outputNames.isEmpty ? [classifier?.layer ?? "output"] : model.outputNames
    }

    /// Whether image files can be fed: one input, a feature map with 1 or 3 channels, at a known size.
    public var takesImages: Bool {
        model.inputShapes.count == 1 && model.inputShape.count == 3 && [1, 3].contains(model.inputShape[2])
    }

    /// How images become the network's input: the backbone's preparation at the size and crop it was trained with
    /// (at the size the model is built for when the config leaves it free).
    public var preparation: ImagePreparation {
        let shape = model.inputShape
        guard shape.count == 3 else { return ImagePreparation(for: backbone, inputSize: inputSize, cropFraction: cropFraction) }
        var preparation = ImagePreparation(for: backbone, inputSize: inputSize ?? (shape[0], shape[1]), cropFraction: cropFraction)
        preparation.channels = shape[2]
        return preparation
    }

    /// Throws unless image files can be fed (see `takesImages`), saying that `purpose` needs them.
    public func requireImages(for purpose: String) throws {
        guard takesImages else {
            throw ShapeError(model.name, "takes \(model.inputDescription), not one image input (height, width, 1 or 3 channels); "
                + "\(purpose) needs images")
        }
    }

    /// Reads the network in `bundle` (from `file`). What `TransferJob` wrote is rebuilt from its metadata; any other
    /// file is matched against `arch` (or every registered backbone, then the file's own Keras config). A classifier's
    /// activation is left off (logits out). `inputSize` builds a network whose config leaves its size free.
    public init(_ bundle: WeightBundle, file: String, backbones: BackboneRegistry, arch: String? = nil, inputSize: (Int, Int)? = nil) throws {
        self.bundle = bundle
        self.file = file
        self.backbones = backbones
        self.arch = arch
        let named = try (arch ?? bundle.metadata[MetadataKey.architecture]).map { try backbones.backbone(named: $0, for: bundle, file: file) }
        let recordedSize = bundle.metadata[MetadataKey.inputSize].flatMap { text -> (Int, Int)? in
            let parts = text.split(separator: "x").compactMap { Int($0) }
            return parts.count == 2 ? ImageSide.checked(parts[0], parts[1]) : nil
        }
        self.inputSize = recordedSize
        cropFraction = bundle.metadata[MetadataKey.cropFraction].flatMap(Double.init).flatMap { $0 > 0 && $0 <= 1 ? $0 : nil }
        let recordedNames = bundle.metadata[MetadataKey.classNames].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        let size = inputSize ?? recordedSize
        let model: Model
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
            freeSize = false
        } else {
            let match = try named.map { try backbones.fit($0, bundle) } ?? backbones.match(bundle, file: file)
            let configured = match.backbone as? any ConfiguredBackbone
            guard match.options.includeTop || configured != nil else {
                throw WeightFileError(file: file, location: nil, message: "has no classifier (it is a notop file); predicting and scoring need weights with the top")
            }
            var options = match.options
            options.classifierActivation = nil
            options.inputSize = size ?? (configured == nil ? Self.declaredInputSize(bundle) : nil) ?? options.inputSize
            // Without a size, a network whose config leaves it free is built at a nominal one; `resized(to:)` builds
            // it for what it runs on.
            freeSize = configured?.freeInputSize == true
            model = try match.backbone.build(options)
            backbone = match.backbone
        }
        do { try model.load(bundle) } catch let error as LoadError { throw WeightFileError(file: file, location: nil, message: error.description) }
        self.model = model
        // The file's own config says whether its network ends in a softmax, even for a registered backbone.
        let describing = (backbone as? any ConfiguredBackbone) ?? backbones.configured(for: bundle)
        if let layer = model.classifierLayers.first, let classes = model.layer(named: layer)?.weights.last?.shape.last {
            classifier = Classifier(layer: layer, classes: classes, recordedNames: recordedNames?.count == classes ? recordedNames : nil,
                                    outputsProbabilities: describing?.outputsProbabilities ?? true)
        } else {
            classifier = nil
        }
    }

    /// The image size a Keras file's config declares: a registered backbone in such a file runs at it, as the file's
    /// model does.
    public static func declaredInputSize(_ bundle: WeightBundle) -> (Int, Int)? {
        let declared = bundle.metadata[MetadataKey.modelConfig].flatMap(ModelConfigSummary.init(json:))?.inputShape
        return declared.flatMap { $0.count == 3 ? ImageSide.checked($0[0], $0[1]) : nil }
    }

    /// The same network built for a first input of `size` (height, width): for networks whose config leaves it free.
    public func resized(to size: (Int, Int)) throws -> Network {
        guard freeSize else {
            throw ShapeError(model.name, "takes inputs of \(model.inputDescription); its size is fixed")
        }
        var resized = try Network(bundle, file: file, backbones: backbones, arch: arch, inputSize: size)
        resized.cropFraction = cropFraction
        return resized
    }

    /// The classifier, or an error saying that `purpose` needs one.
    public func requireClassifier(for purpose: String) throws -> Classifier {
        guard let classifier else {
            throw ShapeError(model.name, "has no classifier (its output \(outputNames[0]) does not come from a Dense layer ranking classes); "
                + "\(purpose) needs one")
        }
        return classifier
    }
}

extension Registry where Plugin == any Backbone {
    /// The network the bundle's own Keras config describes, when it has one that a configurable plugin reads.
    public func configured(for bundle: WeightBundle) -> (any ConfiguredBackbone)? {
        guard let config = bundle.metadata[MetadataKey.modelConfig],
              let builder = all.lazy.compactMap({ $0 as? any ConfigurableBackbone }).first else { return nil }
        return (try? builder.configured(config)) as? any ConfiguredBackbone
    }
}
