import Foundation

/// The facts Zoo uses from a Keras `model_config` (the JSON Keras stores beside full-model weights): the model's
/// class and name, its layers' types, and its input shape.
public struct ModelConfigSummary: Sendable {
    public let className: String
    public let name: String?
    /// Every layer's class in config order.
    public let layerClasses: [String]
    /// The input's shape without the batch axis (nil entries are free dimensions), when the config records it.
    public let inputShape: [Int?]?
    /// The models nested as layers of this one, by name.
    public let nestedModels: [String]

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
            guard ["Sequential", "Functional", "Model"].contains(layer["class_name"] as? String ?? "") else { return nil }
            return (layer["config"] as? [String: Any])?["name"] as? String ?? layer["name"] as? String
        }
        inputShape = layers.lazy.compactMap { layer -> [Int?]? in
            let config = layer["config"] as? [String: Any] ?? [:]
            guard let shape = (config["batch_shape"] ?? config["batch_input_shape"]) as? [Any] else { return nil }
            return shape.dropFirst().map { $0 as? Int }
        }.first
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
