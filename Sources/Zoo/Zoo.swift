// The library users import: every Zoo module, and the registries holding the built-in plugins.
@_exported import ZooConverters
@_exported import ZooCore
@_exported import ZooImaging
@_exported import ZooModels
@_exported import ZooNN
@_exported import ZooONNX
@_exported import ZooTensor
@_exported import ZooTransfer

import Foundation

/// The version `zoo --version` prints and exported files record.
public let zooVersion = "0.1.0"

/// The registries `zoo` uses, filled with the built-in backbones and weight formats. Register a plugin here and the
/// command line and the library see it alike. HDF5 files are parsed in the isolated reader unless
/// `ZOO_READ_IN_PROCESS=1` (for trusted files only: it is how benchmarks show what isolation costs).
public enum Plugins {
    public static let backbones: BackboneRegistry = builtInBackbones()
    public static let weightFormats: WeightFormatRegistry = builtInWeightFormats(
        isolation: ProcessInfo.processInfo.environment["ZOO_READ_IN_PROCESS"] == "1" ? .inProcess : .childProcess)
}
