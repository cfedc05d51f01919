import ArgumentParser
import Foundation
import Zoo

/// `--config`: the architecture of weights saved without one (Keras `save_weights` files), as `model.to_json()` or
/// Keras 1/2 `to_yaml()` wrote it; the `keras` plugin then builds the network from it.
struct ModelConfigOption: ParsableArguments {
    @Option(name: .customLong("config"), help: "The model's Keras config (JSON, or Keras 1/2 YAML), for weights saved without one.")
    var path: String?

    /// The weight file, with the config attached when one is given (it replaces any the file holds).
    func read(_ file: String) throws -> WeightBundle {
        var bundle = try Plugins.weightFormats.read(URL(fileURLWithPath: file))
        if let path { bundle.metadata[MetadataKey.modelConfig] = try ModelConfigFile.json(contentsOf: URL(fileURLWithPath: path)) }
        return bundle
    }
}
