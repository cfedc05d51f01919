import Foundation
import Yams

/// The facts Zoo uses from a Keras `model_config` (the JSON Keras stores beside full-model weights): the model's
/// class and name, its layers' types, and its input shape.
public struct ModelConfigSummary: Sendable {
    public let className: String
    public let name: String?
    /// Every layer's class in config order.
    public let layerClasses: [String]
    /// The input's shape without the batch axis (nil entries are free dimensions), when the config records it.
    public let inputShape: [Int?]?
    /// The models nested as layers of this one (at the top level), each with the layers that compute inside it at
    /// any depth, in order, and whether each one's weights are trainable there.
    public let nestedModels: [NestedModel]

    public struct NestedModel: Sendable {
        public let name: String
        public let leaves: [(name: String, trainable: Bool)]
    }

    /// Nil when the text is not a Keras model config.
    public init?(json text: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let className = object["class_name"] as? String else { return nil }
        let config = object["config"] as? [String: Any] ?? [:]
        // Keras 1 Sequential stores the layer list itself as the config.
        let layers = (config["layers"] as? [[String: Any]]) ?? (object["config"] as? [[String: Any]]) ?? []
        self.className = className
        name = config["name"] as? String
        layerClasses = layers.compactMap { $0["class_name"] as? String }
        nestedModels = layers.compactMap { layer in
            guard Self.isModel(layer), let config = layer["config"] as? [String: Any],
                  let name = config["name"] as? String ?? layer["name"] as? String else { return nil }
            return NestedModel(name: name, leaves: Self.leaves(of: config, trainable: config["trainable"] as? Bool ?? true))
        }
        inputShape = layers.lazy.compactMap { layer -> [Int?]? in
            let config = layer["config"] as? [String: Any] ?? [:]
            guard let shape = (config["batch_shape"] ?? config["batch_input_shape"]) as? [Any] else { return nil }
            return shape.dropFirst().map { $0 as? Int }
        }.first
    }

    /// The classes of Keras models, which a config may also hold as layers.
    public static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    static func isModel(_ layer: [String: Any]) -> Bool { modelClasses.contains(layer["class_name"] as? String ?? "") }

    /// The layers that compute inside a model's config, nested models opened; a layer is trainable when it and every
    /// model around it are.
    static func leaves(of config: [String: Any], trainable: Bool) -> [(name: String, trainable: Bool)] {
        (config["layers"] as? [[String: Any]] ?? []).flatMap { layer -> [(name: String, trainable: Bool)] in
            let inner = layer["config"] as? [String: Any] ?? [:]
            let trainable = trainable && inner["trainable"] as? Bool ?? true
            if isModel(layer) { return leaves(of: inner, trainable: trainable) }
            guard layer["class_name"] as? String != "InputLayer", let name = inner["name"] as? String ?? layer["name"] as? String else { return [] }
            return [(name, trainable)]
        }
    }

    /// "Functional 'vgg16': 23 layers (13 Conv2D, 5 MaxPooling2D, …), input 224×224×3"
    public var description: String {
        var counts: [String: Int] = [:]
        for layer in layerClasses { counts[layer, default: 0] += 1 }
        let common = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let listed = common.prefix(4).map { "\($0.value) \($0.key)" } + (common.count > 4 ? ["…"] : [])
        var text = className + (name.map { " '\($0)'" } ?? "") + ": \(layerClasses.count) layers"
        if !listed.isEmpty { text += " (" + listed.joined(separator: ", ") + ")" }
        if let inputShape { text += ", input " + inputShape.map { $0.map(String.init) ?? "?" }.joined(separator: "×") }
        return text
    }
}

/// A model config in a file of its own, for weights saved without one: JSON as `model.to_json()` writes it, or YAML
/// as Keras 1 and 2's `to_yaml()` did (tuples tagged `!!python/tuple` read as lists).
public enum ModelConfigFile {
    /// The config as JSON text, checked to be a Keras model config.
    public static func json(contentsOf url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelConfigFileError(url, "no such file") }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ModelConfigFileError(url, "cannot be read as UTF-8 text (\(error.localizedDescription))")
        }
        let object: Any
        if let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) {
            object = json
        } else {
            do {
                guard let node = try Yams.compose(yaml: text) else { throw ModelConfigFileError(url, "is empty") }
                object = plain(node)
            } catch let error as ModelConfigFileError { throw error } catch {
                throw ModelConfigFileError(url, "is neither JSON nor YAML: \(error)")
            }
        }
        guard JSONSerialization.isValidJSONObject(object),
              let json = String(data: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), encoding: .utf8),
              ModelConfigSummary(json: json) != nil else {
            throw ModelConfigFileError(url, "is not a Keras model config (an object with class_name and config)")
        }
        return json
    }

    /// A YAML node as JSON values, whatever its tags: sequences become lists, mappings objects, and scalars
    /// numbers, booleans, null or strings by YAML's core rules.
    static func plain(_ node: Node) -> Any {
        switch node {
        case .sequence(let sequence): return sequence.map(plain)
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping { object[key.string ?? "\(key)"] = plain(value) }
            return object
        case .scalar(let scalar):
            if scalar.style == .plain {
                if let value = Int(scalar.string) { return value }
                if let value = Double(scalar.string) { return value }
                switch scalar.string {
                case "true", "True": return true
                case "false", "False": return false
                case "null", "~", "": return NSNull()
                default: break
                }
            }
            return scalar.string
        case .alias: return NSNull()
        }
    }
}

public struct ModelConfigFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ url: URL, _ problem: String) { description = "\(url.path): \(problem)" }
}
