import Foundation
import ZooCore
import ZooHDF5
import ZooTensor

/// Keras's legacy HDF5 files: weights-only (`save_weights("x.h5")` in Keras 1, Keras 2 / tf.keras and Keras 3's
/// legacy path, and the keras.applications downloads) and full-model (`model.save("x.h5")`, weights under
/// `model_weights` beside `model_config`). Layers come in the order of the `layer_names` attribute and each layer's
/// arrays in the order of its `weight_names`, as Keras reads them.
public struct KerasH5Format: HDF5WeightFormat {
    public let isolation: ReadIsolation

    public init(isolation: ReadIsolation = .childProcess) { self.isolation = isolation }

    public let name = "keras-h5"
    public let summary = "Keras HDF5 (.h5): weights-only or full model, Keras 1, 2 (tf.keras) and 3"
    public let signature = "HDF5 with a 'layer_names' attribute or a 'model_weights' group"
    public var canWrite: Bool { true }

    public func recognizes(_ file: HDF5File) -> Bool {
        guard let names = try? file.root.attributeNames() else { return false }
        return names.contains { $0 == "layer_names" || $0 == "layer_names0" } || file.root.kind(of: "model_weights") == .group
    }

    /// The group holding `layer_names`: the root, or `model_weights` in a full-model file.
    private func weightsGroup(_ file: HDF5File) throws -> (group: HDF5Group, fullModel: Bool) {
        let root = file.root
        if try root.chunkedStrings("layer_names") != nil { return (root, false) }
        if root.kind(of: "model_weights") == .group { return (try root.group("model_weights"), true) }
        throw WeightFileError(file: file.path, location: nil,
                              message: "valid HDF5 but not a Keras weight file: no 'layer_names' attribute and no 'model_weights' group")
    }

    public func decode(_ file: HDF5File) throws -> WeightBundle {
        let url = URL(fileURLWithPath: file.path)
        return try hdf5 {
            let (group, fullModel) = try weightsGroup(file)
            var metadata: [String: String] = ["container": fullModel ? "full model" : "weights only"]
            for key in [MetadataKey.kerasVersion, MetadataKey.backend, MetadataKey.modelConfig, MetadataKey.trainingConfig] {
                if let value = try group.scalarString(key) ?? file.root.scalarString(key) { metadata[key] = value }
            }
            guard let layerNames = try group.chunkedStrings("layer_names") else {
                throw WeightFileError(url, "the 'model_weights' group has no 'layer_names' attribute", at: group.path)
            }
            var layers: [LayerWeights] = []
            for layerName in layerNames {
                guard group.kind(of: layerName) == .group else {
                    throw WeightFileError(url, "'layer_names' lists '\(layerName)' but the file has no such group", at: group.path)
                }
                let layerGroup = try group.group(layerName)
                let weightNames = try layerGroup.chunkedStrings("weight_names") ?? []
                let arrays = try weightNames.map { weightName -> WeightArray in
                    guard layerGroup.kind(of: weightName) == .dataset else {
                        throw WeightFileError(url, "'weight_names' lists '\(weightName)' but there is no such dataset", at: layerGroup.path)
                    }
                    return try layerGroup.dataset(weightName).weightArray(named: weightName)
                }
                layers.append(LayerWeights(name: layerName, arrays: arrays))
            }
            var bundle = WeightBundle(format: name, metadata: metadata, layers: layers)
            try TheanoKernels.convertIfNeeded(&bundle)
            return bundle
        }
    }

    /// Writes a weights-only file, or a full-model file when the bundle carries a Keras `model_config`.
    @discardableResult
    public func write(_ bundle: WeightBundle, to url: URL) throws -> WrittenFile {
        // Models nested in the config are saved as Keras does: one group each.
        let bundle = bundle.groupingNestedModels()
        var seen = Set<String>()
        if let twice = bundle.layers.first(where: { !seen.insert($0.name).inserted }) {
            throw WeightFileError(url, "layer name '\(twice.name)' appears twice; Keras HDF5 files need unique layer names")
        }
        return try writeAtomically(to: url) { temporary in
            try hdf5 {
                let file = try HDF5File.create(temporary.path)
                var version = bundle.metadata[MetadataKey.kerasVersion] ?? "3.15.1"
                if version.hasPrefix("1") { version = "2.0.0" }  // arrays are already in Keras 2 layout
                let group: HDF5Group
                if let config = bundle.metadata[MetadataKey.modelConfig] {
                    try file.root.setAttribute(MetadataKey.modelConfig, strings: [config], scalar: true)
                    try file.root.setAttribute(MetadataKey.kerasVersion, strings: [version], scalar: true)
                    try file.root.setAttribute(MetadataKey.backend, strings: ["tensorflow"], scalar: true)
                    group = try file.root.createGroup("model_weights")
                } else {
                    group = file.root
                }
                try group.setChunkedStrings("layer_names", bundle.layers.map(\.name))
                try group.setAttribute(MetadataKey.backend, strings: ["tensorflow"], scalar: true)
                try group.setAttribute(MetadataKey.kerasVersion, strings: [version], scalar: true)
                for layer in bundle.layers {
                    let layerGroup = try group.createGroup(layer.name)
                    try layerGroup.setChunkedStrings("weight_names", layer.arrays.map(\.name))
                    for array in layer.arrays {
                        let tensor = try array.tensor()
                        try tensor.withUnsafeBufferPointer { try layerGroup.createDataset(array.name, shape: array.shape, values: $0) }
                    }
                }
                try file.flush()
            }
        }
    }
}

/// Keras 1 files saved with the Theano backend hold convolution kernels that Keras 2 flipped spatially on load
/// (Theano convolves, TensorFlow correlates), after moving Theano-ordered kernels (out, in, rows, cols) to
/// (rows, cols, in, out). Zoo does the same and says so in the bundle's metadata.
enum TheanoKernels {
    static func convertIfNeeded(_ bundle: inout WeightBundle) throws {
        let version = bundle.metadata[MetadataKey.kerasVersion] ?? "1"
        guard version.hasPrefix("1"), bundle.metadata[MetadataKey.backend] == "theano" else { return }
        let channelsLast = bundle.metadata[MetadataKey.modelConfig]?.contains("\"dim_ordering\": \"tf\"") ?? false
        var converted = 0
        for l in bundle.layers.indices {
            for a in bundle.layers[l].arrays.indices where bundle.layers[l].arrays[a].shape.count == 4 {
                let array = bundle.layers[l].arrays[a]
                let source = try array.tensor()
                let s = array.shape
                // Target HWIO; a Theano-ordered source is (O, I, H, W).
                let (h, w, i, o) = channelsLast ? (s[0], s[1], s[2], s[3]) : (s[2], s[3], s[1], s[0])
                let values = source.scalars
                let result = Tensor(shape: [h, w, i, o]) { out in
                    for y in 0..<h { for x in 0..<w { for c in 0..<i { for f in 0..<o {
                        let (fy, fx) = (h - 1 - y, w - 1 - x)  // the spatial flip
                        let index = channelsLast ? ((fy * w + fx) * i + c) * o + f : ((f * i + c) * h + fy) * w + fx
                        out[((y * w + x) * i + c) * o + f] = values[index]
                    } } } }
                }
                bundle.layers[l].arrays[a] = WeightArray(name: array.name, shape: [h, w, i, o], storedType: array.storedType, tensor: result)
                converted += 1
            }
        }
        if converted > 0 {
            bundle.metadata[MetadataKey.conversion] = "Keras 1 Theano file: \(converted) convolution kernel(s) "
                + (channelsLast ? "" : "moved from (out, in, rows, cols) to (rows, cols, in, out) and ") + "flipped spatially, as Keras does on load"
        }
    }
}
