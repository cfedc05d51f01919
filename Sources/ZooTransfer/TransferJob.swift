import Foundation
import ZooConverters
import ZooCore
import ZooImaging
import ZooNN
import ZooTensor

/// The optimizers a run can use, with their settings; `make` gives a fresh one.
public struct OptimizerChoice: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case sgd, adam, rmsprop, adagrad }
    public var kind: Kind
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float

    public init(_ kind: Kind, momentum: Float = 0.9, nesterov: Bool = false, weightDecay: Float = 0) {
        self.kind = kind; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
    }

    public func make() -> Optimizer {
        switch kind {
        case .sgd: SGD(learningRate: 0, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case .adam: Adam(learningRate: 0, weightDecay: weightDecay)
        case .rmsprop: RMSProp(learningRate: 0, weightDecay: weightDecay)
        case .adagrad: AdaGrad(learningRate: 0, weightDecay: weightDecay)
        }
    }
}

/// Everything a transfer-learning run needs.
public struct TransferConfiguration: @unchecked Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// A frozen backbone's features, computed once and cached, and a new head trained on them.
        case features
        /// A new classifier on the pre-trained backbone, trained together with the layers `freeze` leaves free.
        case finetune
        /// The same architecture from random weights: the baseline transfer has to beat.
        case scratch
    }

    public var mode: Mode
    public var backbone: any Backbone
    /// Pre-trained weights (any supported format); unused from scratch.
    public var weights: URL?
    public var training: Dataset
    public var validation: Dataset?
    public var inputSize: (Int, Int)?
    /// The share of an image's shorter side its centre crop keeps (nil: the backbone's; 1: resize to the input).
    public var cropFraction: Double?
    public var freeze: FreezePolicy = .backbone
    /// Learning-rate multiplier for the backbone layers left trainable (below 1: they move less than the new head).
    public var backboneRateMultiplier: Float = 1
    public var head: TransferHead.Kind = .linear
    public var hidden = 256
    public var tap: String?
    /// How a tapped feature map becomes the head's input (features mode).
    public var pooling = FeaturePooling.average
    public var plan: TrainingPlan
    public var optimizer: OptimizerChoice
    public var augmentation: Augmentation = .none
    public var strict = false
    /// Where weights, checkpoint, log, curves and confusion matrix go.
    public var output: URL
    /// False for a trial run that only reports its scores: no checkpoint, no files, no output folder.
    public var saving = true
    /// More metadata for the written weights (what chose this configuration, for one).
    public var notes: [String: String] = [:]
    public var featureCache: FeatureCache? = .standard
    /// Data-parallel runs: BatchNorm layers that train use the whole batch's statistics (see `Trainer`).
    public var synchronizeBatchNorm = false

    public init(mode: Mode, backbone: any Backbone, weights: URL?, training: Dataset, validation: Dataset? = nil,
                plan: TrainingPlan, optimizer: OptimizerChoice, output: URL) {
        self.mode = mode; self.backbone = backbone; self.weights = weights; self.training = training
        self.validation = validation; self.plan = plan; self.optimizer = optimizer; self.output = output
    }
}

/// What a run produced.
public struct TransferResult {
    public let outcome: TrainingOutcome
    public let history: [EpochRecord]
    /// Scores on the validation data at the end, with the confusion matrix.
    public let validation: ClassificationMetrics?
    /// The trained network (backbone and head), in inference form.
    public let model: Model
    public let files: [URL]
    public let skipped: [(sample: String, reason: String)]
    /// Whether the features came from the cache.
    public let featuresCached: Bool
    /// Data-parallel runs: seconds rank 0 waited for gradient sums after backward, and bytes summed per step.
    public var communication: (waitSeconds: Double, bytesPerStep: Int) = (0, 0)
}

/// A transfer-learning run from configuration to files: builds the model, extracts or trains, checkpoints every
/// epoch, and writes the trained weights as native safetensors and Keras HDF5 beside the log, curves and confusion
/// matrix.
public final class TransferJob {
    public let configuration: TransferConfiguration
    public let formats: WeightFormatRegistry
    public var onEpoch: ((EpochRecord) -> Void)?
    public var onProgress: ((TrainingProgress) -> Void)?
    /// Feature extraction's progress: (images done, images in all).
    public var onExtraction: ((Int, Int) -> Void)?
    public var onMessage: ((String) -> Void)?
    public var shouldStop: () -> Bool = { false }
    /// The processes running this job together (data-parallel): every rank runs `run` with the same configuration,
    /// takes its part of the images, and rank 0 alone writes files.
    public var group: any ProcessGroup = SingleProcess()

    public static let metadataKey = "zoo.transfer"

    public init(_ configuration: TransferConfiguration, formats: WeightFormatRegistry) {
        self.configuration = configuration
        self.formats = formats
    }

    public var checkpointURL: URL { configuration.output.appendingPathComponent("checkpoint.safetensors") }

    public func run(resume: Bool = false) throws -> TransferResult {
        let c = configuration
        let preparation = ImagePreparation(for: c.backbone, inputSize: c.inputSize, cropFraction: c.cropFraction)
        let classes = c.training.classNames.count
        if let validation = c.validation, validation.classNames != c.training.classNames {
            throw DatasetError(validation.name, "has classes \(validation.classNames), the training data \(c.training.classNames)")
        }
        var pretrained: WeightBundle? = c.mode == .scratch ? nil : try c.weights.map { try formats.read($0) }
        if let configured = c.backbone as? any ConfiguredBackbone, pretrained?.metadata[MetadataKey.modelConfig] == nil {
            // Weights saved without their config (given apart, with --config): the groups of nested models open by it.
            pretrained?.metadata[MetadataKey.modelConfig] = configured.modelConfig
        }
        if c.mode != .scratch && pretrained == nil { throw DatasetError("--weights", "\(c.mode.rawValue) needs pre-trained weights") }
        // The output folder appears only once the inputs are known to be good and the network is built.
        let writes = c.saving && group.isRoot
        func createOutput() throws { if writes { try FileManager.default.createDirectory(at: c.output, withIntermediateDirectories: true) } }

        let trainable: Model, final: () throws -> (Model, [String: String])
        let training: TrainingData, validation: TrainingData?
        var featuresCached = false, skipped: [(sample: String, reason: String)] = []
        switch c.mode {
        case .features:
            let backbone = try TransferModels.features(c.backbone, weights: pretrained!, tap: c.tap, inputSize: c.inputSize)
            let width = try TransferHead.featureCount(of: backbone, tap: c.tap, pooling: c.pooling)
            let spec = TransferHead(kind: c.head, tap: c.tap, pooling: c.pooling, features: width, classes: classes, hidden: c.hidden)
            try createOutput()
            let weightsHash = try Digest.hexDigest(.sha256, ofFile: c.weights!)
            func features(_ dataset: Dataset) throws -> FeatureData {
                let key = FeatureCache.key(backbone: c.backbone.name, weightsSHA256: weightsHash, tap: c.tap, pooling: c.pooling,
                                           preparation: preparation, dataset: dataset)
                if let cached = try cachedFeatures(key, of: dataset) {
                    featuresCached = true
                    return cached
                }
                var extractor = FeatureExtractor(backbone: backbone, tap: c.tap, preparation: preparation)
                extractor.pooling = c.pooling
                extractor.strict = c.strict
                extractor.batchSize = c.plan.batchSize
                let (data, left) = try extractor.extract(dataset, group: group, progress: onExtraction)
                skipped += left
                if group.isRoot { try c.featureCache?.store(data, key) }
                return data
            }
            training = try features(c.training)
            validation = try c.validation.map(features)
            let head = spec.build(seed: c.plan.seed)
            trainable = head
            final = { (spec.attach(head, to: backbone), try Self.describe(c, head: spec)) }
        case .finetune, .scratch:
            let (model, fresh) = try TransferModels.fineTuning(c.backbone, weights: pretrained, classes: classes,
                                                               inputSize: c.inputSize, seed: c.plan.seed)
            try createOutput()
            if c.mode == .finetune {
                let frozen = try c.freeze.apply(to: model, fresh: Set(fresh))
                let head = Set(fresh)
                for layer in model.layers where !head.contains(layer.name) {
                    for weight in layer.weights { weight.learningRateMultiplier = c.backboneRateMultiplier }
                }
                onMessage?("\(c.freeze): \(frozen.count) layers frozen, new: \(fresh.joined(separator: ", "))")
            }
            trainable = model
            final = { (model, try Self.describe(c, head: nil)) }
            training = ImageData(c.training, preparation: preparation, augmentation: c.augmentation, strict: c.strict)
            validation = c.validation.map { ImageData($0, preparation: preparation, strict: c.strict) }
        }

        let identity = "\(c.backbone.name) \(c.mode.rawValue), \(classes) classes" + (c.mode == .features ? ", \(c.head.rawValue) head" : "")
        let trainer = Trainer(model: trainable, optimizer: c.optimizer.make(), plan: c.plan, identity: identity)
        trainer.checkpoint = c.saving ? checkpointURL : nil
        trainer.onEpoch = onEpoch
        trainer.onProgress = onProgress
        trainer.shouldStop = shouldStop
        trainer.group = group
        trainer.synchronizeBatchNorm = c.synchronizeBatchNorm
        if resume {
            guard !group.isRoot || FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw CheckpointError("--resume: there is no checkpoint at \(checkpointURL.path)")
            }
            try trainer.resume(from: checkpointURL)
        }
        let outcome = try trainer.fit(training, validation: validation)
        skipped += trainer.skipped
        let scores = try validation.map { try trainer.evaluate($0) }
        let (model, metadata) = try final()
        var files = writes ? [checkpointURL] : []
        if outcome != .interrupted && writes {
            files += try write(model.weightBundle(metadata: metadata), history: trainer.state.history, validation: scores,
                               classNames: c.training.classNames)
        }
        var result = TransferResult(outcome: outcome, history: trainer.state.history, validation: scores, model: model, files: files,
                                    skipped: skipped, featuresCached: featuresCached)
        result.communication = trainer.communication
        return result
    }

    /// The cached features under `key`, if any. In a group rank 0's cache decides, so that all ranks extract or none
    /// does, and the others get its features.
    private func cachedFeatures(_ key: String, of dataset: Dataset) throws -> FeatureData? {
        guard let cache = configuration.featureCache else { return nil }
        guard group.size > 1 else { return try cache.load(key) }
        let found = group.isRoot ? try cache.load(key) : nil
        let bytes = try group.broadcast(try found.map { try FeatureRows($0).encoded() } ?? Data())
        if let found { return found }
        if bytes.isEmpty { return nil }
        let rows = try FeatureRows(encoded: bytes)
        return FeatureData(features: rows.features, labels: rows.labels, classNames: dataset.classNames, name: dataset.name)
    }

    /// The metadata that lets `zoo evaluate` and `predict` rebuild the trained network.
    static func describe(_ c: TransferConfiguration, head: TransferHead?) throws -> [String: String] {
        var note: [String: String] = [MetadataKey.architecture: c.backbone.name, MetadataKey.classes: "\(c.training.classNames.count)",
                                      MetadataKey.classNames: try MetadataKey.json(c.training.classNames),
                                      "transfer_mode": c.mode.rawValue]
        if let head { note[metadataKey] = try MetadataKey.json(head) }
        if let configured = c.backbone as? any ConfiguredBackbone {
            // Features: the backbone's own config, which rebuilds the part under the head. Otherwise the trained
            // network's, with the new classes.
            note[MetadataKey.modelConfig] = head == nil ? try configured.modelConfig(classes: c.training.classNames.count) : configured.modelConfig
        }
        if let size = c.inputSize { note[MetadataKey.inputSize] = "\(size.0)x\(size.1)" }
        if let crop = c.cropFraction { note[MetadataKey.cropFraction] = "\(crop)" }
        note.merge(c.notes) { $1 }
        return note
    }

    private func write(_ bundle: WeightBundle, history: [EpochRecord], validation: ClassificationMetrics?, classNames: [String]) throws -> [URL] {
        let out = configuration.output
        let native = out.appendingPathComponent("weights.safetensors"), keras = out.appendingPathComponent("weights.h5")
        try SafetensorsFormat().write(bundle, to: native)
        var kerasBundle = bundle
        if bundle.metadata[Self.metadataKey] != nil {
            // A head on a configured backbone: the config describes the backbone, not this network, so Keras gets the
            // weights alone.
            kerasBundle.metadata[MetadataKey.modelConfig] = nil
        }
        try KerasH5Format().write(kerasBundle, to: keras)
        let log = out.appendingPathComponent("log.csv"), curves = out.appendingPathComponent("curves.png")
        try writeAtomically(to: log) { try Data(TrainingLog.csv(history).utf8).write(to: $0) }
        try writeAtomically(to: curves) { try ImageCodec.encodePNG(CurvePlot.render(history)).write(to: $0) }
        var files = [native, keras, log, curves]
        if let confusion = validation?.confusion {
            let url = out.appendingPathComponent("confusion.txt")
            try writeAtomically(to: url) { try Data(TrainingLog.confusion(confusion, classNames: classNames).utf8).write(to: $0) }
            files.append(url)
        }
        return files
    }
}
