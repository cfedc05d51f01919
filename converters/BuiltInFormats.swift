import ZooCore

/// The formats Zoo ships, in the order they are tried when sniffing.
public func builtInWeightFormats() -> WeightFormatRegistry {
    WeightFormatRegistry([KerasH5Format(), KerasWeightsFormat(), KerasArchiveFormat(), SafetensorsFormat()])
}
