import ZooCore

/// The formats Zoo ships, in the order they are tried when sniffing. HDF5 files are parsed in the isolated reader
/// unless `isolation` is `.inProcess` (trusted files only).
public func builtInWeightFormats(isolation: ReadIsolation = .childProcess) -> WeightFormatRegistry {
    WeightFormatRegistry([
        KerasH5Format(isolation: isolation), KerasWeightsFormat(isolation: isolation), KerasArchiveFormat(isolation: isolation),
        SafetensorsFormat(),
    ])
}
