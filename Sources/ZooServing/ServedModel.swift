import Foundation
import ZooImaging
import ZooNN
import ZooTensor
import ZooTransfer

/// A network behind a name, answering requests through its own `BatchingPredictor`: images classified as
/// `zoo predict` classifies them (the same preparation, softmax and ranking), or prepared arrays run through every
/// output.
public final class ServedModel: Sendable {
    public let name: String
    /// What a client needs to know to call the model (`GET /v1/models/NAME`).
    public let facts: Facts
    public let predictor: BatchingPredictor
    private let preparation: ImagePreparation
    private let classifier: Network.Classifier?
    private let classNames: [String]?
    private let takesImages: Bool
    /// A channels-first Keras network takes its 4-D inputs as [N, C, H, W], as Keras does; the model runs channels-last.
    private let channelsFirst: Bool

    public struct Facts: Codable, Sendable {
        public struct Value: Codable, Sendable {
            public let name: String
            /// Without the batch axis.
            public let shape: [Int]
        }
        public let name, architecture: String
        public let inputs, outputs: [Value]
        public let parameters: Int
        public let gflops: Double
        /// How images are prepared: preprocessing name, size, crop fraction; nil for a network that takes no images.
        public let preprocessing: String?
        public let imageSize: [Int]?
        public let cropFraction: Double?
        public let classes: Int?
        public let classNames: [String]?
        /// Whether the main output is probabilities (the network ends in a softmax) or logits.
        public let outputsProbabilities: Bool?

        enum CodingKeys: String, CodingKey {
            case name, architecture, inputs, outputs, parameters, gflops, preprocessing, classes
            case imageSize = "image_size", cropFraction = "crop_fraction", classNames = "class_names"
            case outputsProbabilities = "outputs_probabilities"
        }
    }

    /// One class of a ranking: index, name when the model has names, probability.
    public struct Score: Codable, Sendable, Equatable {
        public let `class`: Int
        public let label: String?
        public let probability: Double
    }

    /// Serves `network` as `name`. `classNames` names the classifier's classes (as `zoo predict` finds them).
    public init(name: String, network: Network, classNames: [String]?, options: BatchingPredictor.Options = .init(),
                observer: (@Sendable (BatchingPredictor.Batch) -> Void)? = nil) throws {
        self.name = name
        let model = network.model
        preparation = network.preparation
        classifier = network.classifier
        self.classNames = classNames
        takesImages = network.takesImages
        channelsFirst = network.channelsFirst
        let graph = try model.trace(batch: 1)
        let outputShapes = graph.outputs.map { Array(graph.shapes[$0].dropFirst()) }
        let profile = try model.profile()
        facts = Facts(
            name: name, architecture: network.backbone.name,
            inputs: zip(model.inputNames.count == model.inputShapes.count ? model.inputNames : model.inputShapes.indices.map { "input\($0)" },
                        model.inputShapes).map { name, shape in
                Facts.Value(name: name, shape: network.channelsFirst && shape.count == 3 ? [shape[2], shape[0], shape[1]] : shape)
            },
            outputs: zip(network.outputNames, outputShapes).map { Facts.Value(name: $0, shape: $1) },
            parameters: model.parameterCount, gflops: (profile.reduce(0) { $0 + $1.flops } / 1e6).rounded() / 1000,
            preprocessing: takesImages ? preparation.preprocessing.rawValue : nil,
            imageSize: takesImages ? [preparation.height, preparation.width, preparation.channels] : nil,
            cropFraction: takesImages ? preparation.cropFraction : nil,
            classes: classifier?.classes, classNames: classNames, outputsProbabilities: classifier?.outputsProbabilities)
        let shared = UncheckedSendable(model)
        predictor = BatchingPredictor(options: options, warmUp: model.inputShapes, observer: observer) { inputs in
            try Gradients.off { try shared.value(inputs.map { Variable($0) }).outputs.map(\.value) }
        }
    }

    /// The top `top` classes of each image, as `zoo predict --json` ranks them.
    public func classify(_ images: [Image], top: Int, arrival: BatchingPredictor.Arrival? = nil) async throws -> [[Score]] {
        try await classify(count: images.count, top: top, arrival: arrival) { images }
    }

    /// The top `top` classes of each encoded image (JPEG or PNG, each with a name for messages), decoded and prepared
    /// in the batch that runs it.
    public func classify(files: [(name: String, data: Data)], top: Int, arrival: BatchingPredictor.Arrival? = nil) async throws -> [[Score]] {
        let files = UncheckedSendable(files)
        return try await classify(count: files.value.count, top: top, arrival: arrival) {
            try files.value.map { file in
                do { return try ImageCodec.decode(file.data, name: file.name) } catch { throw ServingError.badInput("\(error)") }
            }
        }
    }

    private func classify(count: Int, top: Int, arrival: BatchingPredictor.Arrival?,
                          images: @escaping @Sendable () throws -> [Image]) async throws -> [[Score]] {
        defer { arrival?.end() }
        guard classifier != nil else {
            throw ServingError.badInput("\(name) has no classifier (its outputs: \(facts.outputs.map(\.name).joined(separator: ", "))); use predict")
        }
        guard takesImages else {
            throw ServingError.badInput("\(name) takes \(facts.inputs.map { describe(shape: $0.shape) }.joined(separator: ", ")), not images; use predict")
        }
        let preparation = preparation
        let logits = try await predictor.predict(samples: count, shapes: [[preparation.height, preparation.width, preparation.channels]],
                                                 arrival: arrival) { [preparation.batch(try images())] }[0]
        return Network.ranking(try softmax(Variable(logits)).value, top: top).map { best in
            best.map { Score(class: $0.class, label: classNames?[$0.class], probability: Double($0.probability)) }
        }
    }

    /// Every output for prepared inputs (one tensor per network input, samples along the first axis, channels
    /// last, or channels first for a network Keras ran so), as `zoo predict --output` writes them: a classifier's
    /// main output as probabilities when the network ends in a softmax, else as logits.
    public func predict(_ inputs: [Tensor], arrival: BatchingPredictor.Arrival? = nil) async throws -> [Tensor] {
        defer { arrival?.end() }
        guard inputs.count == facts.inputs.count else {
            throw ServingError.badInput("\(name) takes \(facts.inputs.count) input\(facts.inputs.count == 1 ? "" : "s"), got \(inputs.count)")
        }
        for (input, expected) in zip(inputs, facts.inputs) where Array(input.shape.dropFirst()) != expected.shape {
            throw ServingError.badInput("\(name)'s input \(expected.name) takes [N, \(expected.shape.map(String.init).joined(separator: ", "))], got \(describe(shape: input.shape))")
        }
        let channelsLast = try inputs.map { channelsFirst && $0.shape.count == 4 ? try permute(Variable($0), [2, 3, 1]).value : $0 }
        var outputs = try await predictor.predict(channelsLast, arrival: arrival)
        if classifier?.outputsProbabilities == true { outputs[0] = try softmax(Variable(outputs[0])).value }
        return outputs
    }
}
