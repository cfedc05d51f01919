import ArgumentParser
import Foundation
import Zoo

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a weight file holds, as Zoo reads it.",
        discussion: """
            Any Keras weight file (HDF5 weights-only or full model, .weights.h5, .keras) or Zoo's native \
            safetensors, whether or not its architecture is a Zoo backbone: format, Keras version, backend, every \
            layer in stored order with its arrays' names, shapes and stored types, and the model config's summary.

            Examples:
              zoo inspect vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
              zoo inspect model.keras --json
            """)

    @Argument(help: "The weight file.") var file: String
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        let url = URL(fileURLWithPath: file)
        let bundle = try Plugins.weightFormats.read(url)
        let config = bundle.metadata[MetadataKey.modelConfig].flatMap(ModelConfigSummary.init(json:))
        let facts: KeyValuePairs = ["keras_version": "Keras", "backend": "backend", "architecture": "architecture",
                                    "classes": "classes", "source_file": "source", "source_format": "source format",
                                    "conversion": "conversion", "skipped": "skipped", "layer_order": "layer order"]
        if json {
            var object: [String: Any] = [
                "file": url.path, "format": bundle.format, "arrays": bundle.arrayCount, "parameters": bundle.parameterCount,
                "layers": bundle.layers.map { layer in
                    var entry: [String: Any] = ["name": layer.name,
                                                "arrays": layer.arrays.map { ["name": $0.name, "shape": $0.shape, "dtype": $0.storedType] }]
                    if let path = layer.path { entry["path"] = path }
                    return entry
                },
                "metadata": bundle.metadata.filter { key, _ in facts.contains { $0.key == key } },
            ]
            if let config {
                object["model_config"] = ["class_name": config.className, "name": config.name as Any, "layers": config.layerClasses.count,
                                          "input_shape": config.inputShape.map { $0.map { $0 as Any } } as Any].compactMapValues { $0 }
            }
            return try Output.json(object)
        }
        func line(_ label: String, _ value: String) { print(label.padding(toLength: 15, withPad: " ", startingAt: 0) + value) }
        line("file", url.path)
        line("format", bundle.format)
        for (key, label) in facts { if let value = bundle.metadata[key] { line(label, value) } }
        if let config { line("model config", config.description) }
        line("contents", "\(bundle.layers.count) layers, \(bundle.arrayCount) arrays, \(Output.count(bundle.parameterCount)) parameters\n")
        var rows: [[String]] = []
        for layer in bundle.layers {
            if layer.arrays.isEmpty { rows.append([layer.name, "(no weights)", "", ""]); continue }
            for (i, array) in layer.arrays.enumerated() {
                rows.append([i == 0 ? layer.name : "", array.name, array.shape.map(String.init).joined(separator: "×"), array.storedType])
            }
        }
        print(Output.table(["LAYER", "ARRAY", "SHAPE", "DTYPE"], rows))
    }
}
