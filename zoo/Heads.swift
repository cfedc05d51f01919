import ZooCore
import ZooNN
import ZooTensor

/// keras.applications' options for the end of a network: the classifier when `includeTop`, otherwise optional
/// global pooling under Keras's automatic layer names.
enum Heads {
    static func pooling(_ options: BackboneOptions) -> [Layer] {
        switch options.pooling {
        case .average?: [Layers.globalAveragePooling("global_average_pooling2d")]
        case .max?: [Layers.globalMaxPooling("global_max_pooling2d")]
        case nil: []
        }
    }

    /// keras.applications ResNet's and DenseNet's end: `avg_pool` + `predictions` with the top, otherwise the
    /// optional pooling under the names `avg_pool` and `max_pool`.
    static func applications(channels: Int, _ options: BackboneOptions, generator: inout SeededGenerator) -> [Layer] {
        if options.includeTop {
            return [Layers.globalAveragePooling("avg_pool"),
                    Dense("predictions", inputs: channels, units: options.classes, activation: options.classifierActivation, generator: &generator)]
        }
        switch options.pooling {
        case .average?: return [Layers.globalAveragePooling("avg_pool")]
        case .max?: return [Layers.globalMaxPooling("max_pool")]
        case nil: return []
        }
    }

    static func validate(_ options: BackboneOptions, _ name: String) throws {
        guard options.classes > 0 else { throw BackboneError.invalidOptions("\(name): classes must be positive, got \(options.classes)") }
        if options.includeTop, options.pooling != nil {
            throw BackboneError.invalidOptions("\(name): pooling applies only without the top (includeTop: false)")
        }
    }
}
