import Foundation
import Synchronization
import ZooTensor

/// One array of a weight file: its name as stored, its shape, the type it was stored in, and its values
/// (read now, or on first use for memory-mapped formats).
public struct WeightArray: Sendable {
    public let name: String
    public let shape: [Int]
    public let storedType: String
    private let source: TensorSource

    public init(name: String, shape: [Int], storedType: String = "float32", tensor: Tensor) {
        self.name = name
        self.shape = shape
        self.storedType = storedType
        source = TensorSource(value: tensor)
    }

    /// An array whose values `load` produces when first asked for (and then keeps).
    public init(name: String, shape: [Int], storedType: String, load: @escaping @Sendable () throws -> Tensor) {
        self.name = name
        self.shape = shape
        self.storedType = storedType
        source = TensorSource(load: load)
    }

    /// The values as Float32, in the stored layout.
    public func tensor() throws -> Tensor { try source.get() }

    public var count: Int { shape.reduce(1, *) }

    /// The variable's own name: the last path component without a ":0" suffix (`conv1/kernel:0` → `kernel`).
    public var variableName: String {
        var last = String(name.split(separator: "/").last ?? Substring(name))
        if let colon = last.lastIndex(of: ":"), last[last.index(after: colon)...].allSatisfy(\.isNumber) { last = String(last[..<colon]) }
        return last
    }
}

final class TensorSource: Sendable {
    private let state: Mutex<(value: Tensor?, load: (@Sendable () throws -> Tensor)?)>

    init(value: Tensor) { state = Mutex((value, nil)) }
    init(load: @escaping @Sendable () throws -> Tensor) { state = Mutex((nil, load)) }

    func get() throws -> Tensor {
        try state.withLock { s in
            if let value = s.value { return value }
            let value = try s.load!()
            s = (value, nil)
            return value
        }
    }
}

/// The weights of one layer, in the order the file stores them.
public struct LayerWeights: Sendable {
    public let name: String
    /// Where the layer sits in the file when that differs from its name (Keras 3: `layers/sequential/layers/dense`).
    public let path: String?
    public var arrays: [WeightArray]

    public init(name: String, path: String? = nil, arrays: [WeightArray]) {
        self.name = name
        self.path = path
        self.arrays = arrays
    }
}

/// What a weight file holds, as read: every layer in file order with its arrays, and the file's metadata.
/// Nothing is renamed or reordered; a conversion a reader had to apply is recorded in `metadata`.
public struct WeightBundle: Sendable {
    /// The reading format's name (`WeightFormat.name`).
    public var format: String
    /// File-level facts: `keras_version`, `backend`, `model_config` (JSON), `training_config`, `architecture`, …
    public var metadata: [String: String]
    public var layers: [LayerWeights]

    public init(format: String, metadata: [String: String] = [:], layers: [LayerWeights]) {
        self.format = format
        self.metadata = metadata
        self.layers = layers
    }

    public func layer(named name: String) -> LayerWeights? { layers.first { $0.name == name } }

    public var arrayCount: Int { layers.reduce(0) { $0 + $1.arrays.count } }
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.arrays.reduce(0) { $0 + $1.count } } }
}

/// Metadata keys shared by readers and writers.
public enum MetadataKey {
    public static let kerasVersion = "keras_version"
    public static let backend = "backend"
    public static let modelConfig = "model_config"
    public static let trainingConfig = "training_config"
    public static let architecture = "architecture"
    public static let classes = "classes"
    /// The class names a training run or feature extraction recorded (JSON array) and the input size it trained at
    /// ("HxW").
    public static let classNames = "class_names"
    public static let inputSize = "input_size"
    /// The crop fraction a training run prepared its images with, when it was not the backbone's.
    public static let cropFraction = "crop_fraction"
    public static let sourceFile = "source_file"
    public static let sourceSHA256 = "source_sha256"
    public static let sourceFormat = "source_format"
    /// Set when a reader changed stored values the way Keras does on load (Theano kernels).
    public static let conversion = "conversion"
    /// Set when the file records no layer order and the reader chose one.
    public static let layerOrder = "layer_order"

    /// A value as a metadata string, in JSON.
    public static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder.reproducible.encode(value), as: UTF8.self)
    }
}

extension JSONEncoder {
    /// Keys sorted, slashes unescaped: the same value always encodes to the same bytes, so written files are too.
    public static var reproducible: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
