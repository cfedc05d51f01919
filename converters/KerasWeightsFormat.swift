import Foundation
import ZooCore
import ZooHDF5

/// Keras 3 weights files (`save_weights("x.weights.h5")`, and the `model.weights.h5` inside `.keras` archives):
/// a tree of `layers/<key>/vars/<i>` groups, sub-layers and sub-models nested below their parent. Each `vars` group
/// is one layer, named by its `name` attribute (Keras 3) or, where absent (tf-keras), by its key path without the
/// `layers` steps (`sequential/conv2d`), which is unique. The file records
/// no order: layers come in natural order of their keys (dense, dense_1, …, dense_10); arrays by index.
public struct KerasWeightsFormat: HDF5WeightFormat {
    public let isolation: ReadIsolation

    public init(isolation: ReadIsolation = .childProcess) { self.isolation = isolation }

    public let name = "keras-weights"
    public let summary = "Keras 3 weights (.weights.h5): the layers/<name>/vars/<i> tree"
    public let signature = "HDF5 with a 'layers' or 'vars' group at the root"

    public func recognizes(_ file: HDF5File) -> Bool {
        (try? file.root.attribute("layer_names")) == nil && (file.root.kind(of: "layers") == .group || file.root.kind(of: "vars") == .group)
    }

    public func decode(_ file: HDF5File) throws -> WeightBundle {
        try hdf5 {
            guard recognizes(file) else {
                throw WeightFileError(file: file.path, location: nil, message: "valid HDF5 but not a Keras 3 weights file: no 'layers' or 'vars' group at the root")
            }
            var layers: [LayerWeights] = []
            try collect(file.root, key: "", into: &layers)
            var metadata = [MetadataKey.layerOrder: "natural order of the file's layer keys"]
            let skipped = try file.root.members().filter(Self.trainingState.contains)
            if !skipped.isEmpty { metadata["skipped"] = skipped.joined(separator: ", ") + " (training state, not model weights)" }
            return WeightBundle(format: name, metadata: metadata, layers: layers)
        }
    }

    /// Root groups a compiled model adds beside its layers: optimizer slots and metric accumulators.
    static let trainingState: Set<String> = ["optimizer", "metrics", "compile_metrics"]

    private func collect(_ group: HDF5Group, key: String, into layers: inout [LayerWeights]) throws {
        let members = try group.members()
        if members.contains("vars") {
            let vars = try group.group("vars")
            let indices = try vars.members().sorted(by: naturalOrder)
            if !indices.isEmpty {
                let keyName = key.split(separator: "/").filter { $0 != "layers" }.joined(separator: "/")
                let name = try vars.scalarString("name") ?? (keyName.isEmpty ? "model" : keyName)
                let arrays = try indices.map { index -> WeightArray in
                    guard vars.kind(of: index) == .dataset else {
                        throw WeightFileError(file: group.file.path, location: vars.path, message: "'\(index)' is not a dataset")
                    }
                    return try vars.dataset(index).weightArray(named: "vars/\(index)")
                }
                layers.append(LayerWeights(name: name, path: key.isEmpty ? "/" : key, arrays: arrays))
            }
        }
        for child in members.sorted(by: naturalOrder) where child != "vars" && !(key.isEmpty && Self.trainingState.contains(child)) {
            guard group.kind(of: child) == .group else { continue }
            try collect(try group.group(child), key: key.isEmpty ? child : key + "/" + child, into: &layers)
        }
    }
}
