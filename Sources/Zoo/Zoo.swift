// The library users import: every Zoo module, and the registries holding the built-in plugins.
@_exported import ZooConverters
@_exported import ZooCore
@_exported import ZooImaging
@_exported import ZooModels
@_exported import ZooNN
@_exported import ZooTensor
@_exported import ZooTransfer

/// The registries `zoo` uses, filled with the built-in backbones and weight formats. Register a plugin here and the
/// command line and the library see it alike.
public enum Plugins {
    public static let backbones: BackboneRegistry = builtInBackbones()
    public static let weightFormats: WeightFormatRegistry = builtInWeightFormats()
}
