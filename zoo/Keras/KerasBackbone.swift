import Foundation
import ZooCore
import ZooNN

/// The `keras` plugin: networks built from a Keras file's own model config (`KerasModel`), for the CNNs people
/// train themselves. Registered like the fixed architectures; matching turns to it when none of them fits a file
/// that carries a config.
public struct KerasBackbone: ConfigurableBackbone {
    public init() {}

    public let name = "keras"
    public let family = "Keras"
    public let paper = "the network a Keras file's own model config describes"
    public let year = 0
    public let defaultInputSize = (0, 0)
    public let inputChannels = 0
    public let preprocessing = Preprocessing.unit
    public let cropFraction = 1.0
    public let classifierLayers: [String] = []

    public func build(_ options: BackboneOptions) throws -> Model {
        throw BackboneError.invalidOptions("keras builds the network a Keras file's model config describes: give the file (zoo info FILE, --weights FILE)")
    }

    public func configured(_ modelConfig: String) throws -> any Backbone {
        try KerasConfigBackbone(json: modelConfig)
    }

    public func configured(_ modelConfig: String, weightElements: Int?) throws -> any Backbone {
        try KerasConfigBackbone(json: modelConfig, limits: weightElements.map(KerasBuildLimits.init(loading:)) ?? KerasBuildLimits())
    }
}

/// The network one Keras model config describes, as a backbone: its input size and channels from the config, pixels
/// scaled to 0…1 (as they are when the network rescales them itself) and resized straight to the input (what a Keras
/// pipeline usually feeds), its classifier the Dense layer the output comes from.
public struct KerasConfigBackbone: ConfiguredBackbone {
    /// The config's JSON (parsed again to build: the parsed form is not Sendable).
    public let modelConfig: String
    public let name = "keras"
    public let family = "Keras"
    public let paper: String
    public let year = 0
    public let defaultInputSize: (Int, Int)
    public let inputChannels: Int
    /// Pixels scaled to 0…1, or as they are when the network rescales them itself (a Rescaling or Normalization
    /// layer reads the input, as in models trained on `image_dataset_from_directory`).
    public let preprocessing: Preprocessing
    public let cropFraction = 1.0
    public let classifierLayers: [String]
    public let outputsProbabilities: Bool
    public let channelsFirst: Bool
    public let freeInputSize: Bool
    /// What the config may ask for (see `KerasBuildLimits`); bounded by the file's arrays when it came with one.
    public let limits: KerasBuildLimits

    /// The side a free height or width is built at when no size is given: `zoo info` shows shapes there, and
    /// `Network.resized(to:)` builds the network for what it runs on.
    public static let nominalSide = 224

    public init(json: String, limits: KerasBuildLimits = KerasBuildLimits()) throws {
        let config = try KerasModelConfig(json: json)
        modelConfig = json
        self.limits = limits
        paper = "\(config.className) '\(config.name)', built from the file's Keras config"
        let input = config.inputShape ?? []
        channelsFirst = config.channelsFirst
        freeInputSize = input.count == 3 && (input[0] == nil || input[1] == nil)
        // A free height or width is described at a nominal size (the weights do not depend on it).
        defaultInputSize = input.count == 3 ? (input[0] ?? Self.nominalSide, input[1] ?? Self.nominalSide) : (0, 0)
        inputChannels = input.count == 3 ? input[2] ?? 0 : 0
        let inputName = config.inputs.first?.layer
        let readers = config.layers.filter { $0.calls.contains { $0.contains { $0.layer == inputName } } }
        preprocessing = readers.contains { ["Rescaling", "Normalization"].contains($0.className) } ? .none : .unit
        let classifier = KerasModel.classifier(of: config)
        classifierLayers = classifier.map { [$0.name] } ?? []
        outputsProbabilities = classifier.map { found in
            !found.after.isEmpty || config.layers.first { $0.name == found.name }.flatMap { KerasLayerFactory.activationName($0.options) } == "softmax"
        } ?? false
    }

    /// The config's network; `classes` resizes its classifier, a nil `classifierActivation` leaves logits, and
    /// without the top it ends with the classifier's input. A network without a Dense classifier is built as its
    /// config describes it, whatever `classes` says: only what needs a classifier (fine-tuning) asks for one. `pooling` is for the fixed architectures: the features
    /// here are what the config's own layers make of the feature maps.
    public func build(_ options: BackboneOptions) throws -> Model {
        try KerasModel.build(config: try KerasModelConfig(json: modelConfig), inputSize: options.inputSize ?? (freeInputSize ? defaultInputSize : nil),
                             seed: options.seed,
                             classes: options.includeTop && !classifierLayers.isEmpty ? options.classes : nil,
                             logits: options.classifierActivation == nil,
                             includeTop: options.includeTop, limits: limits)
    }

    public func modelConfig(classes: Int) throws -> String {
        guard let classifier = classifierLayers.first else {
            throw KerasConfigError("the network has no Dense classifier to give \(classes) classes")
        }
        guard let object = try JSONSerialization.jsonObject(with: Data(modelConfig.utf8)) as? [String: Any] else {
            throw KerasConfigError("the model config is not a JSON object")
        }
        // The classifier may sit in a nested model: every layer object named so is resized.
        func resized(_ value: Any) -> Any {
            if let list = value as? [Any] { return list.map(resized) }
            guard var object = value as? [String: Any] else { return value }
            if object["class_name"] as? String == "Dense", var config = object["config"] as? [String: Any], config["name"] as? String == classifier {
                config[config["output_dim"] != nil ? "output_dim" : "units"] = classes
                object["config"] = config
                return object
            }
            for (key, inner) in object { object[key] = resized(inner) }
            return object
        }
        let data = try JSONSerialization.data(withJSONObject: resized(object), options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
