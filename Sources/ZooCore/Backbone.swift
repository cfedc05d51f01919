import Foundation
import ZooNN
import ZooTensor

/// How a backbone expects its input images prepared, as keras.applications names the modes.
public enum Preprocessing: String, Sendable {
    /// RGB → BGR, then subtract the ImageNet mean per channel (VGG, ResNet).
    case caffe
    /// Scale to [0, 1], then normalize with the ImageNet mean and standard deviation (DenseNet).
    case torch
    /// Scale to [−1, 1] (Inception).
    case tf
    /// Scale to [0, 1] (LeNet-5 as trained here).
    case unit
    /// Pixels as they are.
    case none
}

extension Preprocessing {
    /// What the mode does to each pixel, in words other engines' users can follow (exported models carry it).
    public var formula: String {
        switch self {
        case .caffe: "RGB pixels 0–255 reordered to BGR, minus the mean of each BGR channel (103.939, 116.779, 123.68)"
        case .torch: "RGB pixels 0–255 divided by 255, minus the channel mean (0.485, 0.456, 0.406), divided by the channel standard deviation (0.229, 0.224, 0.225)"
        case .tf: "pixels 0–255 divided by 127.5, minus 1"
        case .unit: "pixels 0–255 divided by 255"
        case .none: "pixels 0–255 as they are"
        }
    }
}

/// An official keras.applications weight file.
public struct PublishedWeights: Sendable {
    public let fileName: String
    public let url: String
    /// The hash keras.applications checks (MD5 for these files).
    public let hash: String
    public let includesTop: Bool

    public init(fileName: String, url: String, hash: String, includesTop: Bool) {
        self.fileName = fileName; self.url = url; self.hash = hash; self.includesTop = includesTop
    }

    /// The pair keras.applications publishes for a model, with and without top:
    /// `<folder>/<model>_weights_tf_dim_ordering_tf_kernels[_notop].h5`.
    public static func kerasApplications(_ model: String, folder: String, top: String, notop: String) -> [PublishedWeights] {
        let base = "https://storage.googleapis.com/tensorflow/keras-applications/\(folder)/"
        return [(top, ""), (notop, "_notop")].map { hash, suffix in
            let file = "\(model)_weights_tf_dim_ordering_tf_kernels\(suffix).h5"
            return PublishedWeights(fileName: file, url: base + file, hash: hash, includesTop: suffix.isEmpty)
        }
    }
}

/// What to build: keras.applications' options.
public struct BackboneOptions: Sendable {
    public var classes: Int
    public var includeTop: Bool
    /// Global pooling of the last feature map when the top is left out.
    public var pooling: PoolingKind?
    /// Height and width; nil takes the backbone's default.
    public var inputSize: (Int, Int)?
    public var auxiliaryClassifiers: Bool
    /// The last layer's activation; nil leaves logits.
    public var classifierActivation: LayerActivation?
    public var seed: UInt64

    public init(classes: Int = 1000, includeTop: Bool = true, pooling: PoolingKind? = nil, inputSize: (Int, Int)? = nil,
                auxiliaryClassifiers: Bool = false, classifierActivation: LayerActivation? = .softmax, seed: UInt64 = 0) {
        self.classes = classes; self.includeTop = includeTop; self.pooling = pooling; self.inputSize = inputSize
        self.auxiliaryClassifiers = auxiliaryClassifiers; self.classifierActivation = classifierActivation; self.seed = seed
    }
}

/// A backbone plugin: what the architecture is, and how to build it.
public protocol Backbone: NamedPlugin {
    /// The registry name, e.g. "vgg16".
    var name: String { get }
    /// Other names it answers to, e.g. "vgg-d".
    var aliases: [String] { get }
    var family: String { get }
    var paper: String { get }
    var year: Int { get }
    /// Height and width the architecture was designed for.
    var defaultInputSize: (Int, Int) { get }
    var inputChannels: Int { get }
    var preprocessing: Preprocessing { get }
    /// The share of the shorter side a centre crop keeps at inference: images are resized so that the crop of
    /// `defaultInputSize` covers this fraction (0.875: resize to 256, crop 224), 1 resizes straight to the input.
    var cropFraction: Double { get }
    var publishedWeights: [PublishedWeights] { get }
    /// The layers that make up the classifier head (left out when loading weights for other classes).
    var classifierLayers: [String] { get }
    /// How many auxiliary classifiers the architecture trains with (`BackboneOptions.auxiliaryClassifiers`).
    var auxiliaryClassifiers: Int { get }
    func build(_ options: BackboneOptions) throws -> Model
}

extension Backbone {
    /// The model with every weight an untouched zero: its layers, names, shapes and profile, in milliseconds even
    /// for VGG. Load weights into it or use it for layouts; do not train it.
    public func skeleton(_ options: BackboneOptions = BackboneOptions()) throws -> Model {
        try Initializer.$shapesOnly.withValue(true) { try build(options) }
    }

    public var aliases: [String] { [] }
    public var publishedWeights: [PublishedWeights] { [] }
    public var cropFraction: Double { 0.875 }
    public var auxiliaryClassifiers: Int { 0 }
}

/// A plugin whose architecture comes from a weight file's own model config rather than being fixed (the `keras`
/// plugin): matching turns to it when no fixed architecture fits a file that carries a config.
public protocol ConfigurableBackbone: Backbone {
    /// The backbone `modelConfig` (JSON) describes, ready to build; throws naming what cannot be built.
    func configured(_ modelConfig: String) throws -> any Backbone
    /// The same, for a network that will load a file holding `weightElements` weight elements in all: a config
    /// asking for more weights than that is refused before anything is allocated.
    func configured(_ modelConfig: String, weightElements: Int?) throws -> any Backbone
}

extension ConfigurableBackbone {
    public func configured(_ modelConfig: String, weightElements: Int?) throws -> any Backbone { try configured(modelConfig) }
}

/// A backbone built from a model config (what a `ConfigurableBackbone` returns): files written for it keep the
/// config, so that the network can be built again from them.
public protocol ConfiguredBackbone: Backbone {
    var modelConfig: String { get }
    /// Whether the config's network ends in a softmax (probabilities) rather than logits.
    var outputsProbabilities: Bool { get }
    /// The config with its classifier resized to `classes`: what describes the network after fine-tuning.
    func modelConfig(classes: Int) throws -> String
    /// Whether the config's network takes channels-first (NCHW) arrays; its model runs channels-last all the same.
    var channelsFirst: Bool { get }
    /// Whether the config leaves the first input's height and width free (a fully convolutional network).
    var freeInputSize: Bool { get }
}

/// The backbones Zoo knows; other packages add theirs with `register`, the same call the built-ins use.
public typealias BackboneRegistry = Registry<any Backbone>

extension Registry where Plugin == any Backbone {
    public convenience init(_ backbones: [any Backbone] = []) { self.init(backbones) { $0.name } }

    /// The backbone called `name` or having it as an alias, ignoring case, '-' and '_'.
    public func find(_ name: String) -> (any Backbone)? {
        let key = Self.normalize(name)
        return all.first { Self.normalize($0.name) == key || $0.aliases.contains { Self.normalize($0) == key } }
    }

    /// Like `find`, but fails with the nearest names when there is no such backbone.
    public func backbone(named name: String) throws -> any Backbone {
        if let found = find(name) { return found }
        let names = all.flatMap { [$0.name] + $0.aliases }
        throw BackboneError.unknown(name, nearest: nearestNames(to: name, among: names, normalizedBy: Self.normalize))
    }

    private static func normalize(_ name: String) -> String { name.lowercased().filter { $0 != "-" && $0 != "_" } }
}

public enum BackboneError: Error, CustomStringConvertible, Equatable {
    case unknown(String, nearest: [String])
    case invalidOptions(String)

    public var description: String {
        switch self {
        case let .unknown(name, nearest): "no backbone named '\(name)'" + (nearest.isEmpty ? "" : "; did you mean \(nearest.joined(separator: ", "))?")
        case let .invalidOptions(message): message
        }
    }
}

/// The names closest to `name` by edit distance (after `normalize`), closest first: suggestions for a typo.
public func nearestNames(to name: String, among names: [String], count: Int = 3, normalizedBy normalize: (String) -> String = { $0 }) -> [String] {
    let key = normalize(name)
    let ranked = names.map { ($0, editDistance(normalize($0), key)) }.enumerated().sorted { ($0.element.1, $0.offset) < ($1.element.1, $1.offset) }
    return ranked.prefix(count).map(\.element.0)
}

/// Levenshtein distance, for suggesting names.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in 1...max(1, b.count) where !b.isEmpty {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return a.isEmpty ? b.count : row[b.count]
}
