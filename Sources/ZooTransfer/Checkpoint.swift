import Foundation
import ZooConverters
import ZooCore
import ZooNN
import ZooTensor

/// Where a run stands: enough to continue exactly where it stopped (the next batch of the same epoch, the same
/// optimizer state, the same partial scores) and to refuse a checkpoint of another model.
public struct TrainingState: Codable, Sendable, Equatable {
    /// The model a checkpoint belongs to ("lenet5, 5 classes, 32×32"); resuming requires the same.
    public var identity: String
    public var epoch = 0
    public var nextBatch = 0
    public var history: [EpochRecord] = []
    /// Scores of the epoch in progress.
    public var partial: ClassificationMetrics?
    public var bestValidationLoss: Double?
    public var epochsWithoutImprovement = 0
    public var optimizerSteps: [String: Int] = [:]

    public init(identity: String) { self.identity = identity }
}

/// One epoch's scores, as logged.
public struct EpochRecord: Codable, Sendable, Equatable {
    public let epoch: Int
    public let learningRate: Float
    public let trainLoss, trainTop1, trainTop5: Double
    public let validationLoss, validationTop1, validationTop5: Double?
    public let seconds: Double
    public let imagesPerSecond: Double
}

/// A checkpoint file: the model's weights, the optimizer's state and the `TrainingState`, as one safetensors file
/// written atomically (a failed write, a full disk included, leaves the previous checkpoint as it was).
public enum Checkpoint {
    static let stateKey = "zoo.training_state"
    static let optimizerPrefix = "optimizer:"

    public static func save(_ url: URL, model: Model, optimizer: Optimizer, state: TrainingState) throws {
        let named = namedWeights(model)
        let (slots, steps) = optimizer.state.export(named)
        var state = state
        state.optimizerSteps = steps
        var bundle = model.weightBundle(metadata: [stateKey: try MetadataKey.json(state)])
        let byWeight = Dictionary(grouping: slots.keys) { String($0[..<$0.lastIndex(of: "/")!]) }
        for (name, _) in named {
            guard let keys = byWeight[name]?.sorted() else { continue }
            bundle.layers.append(LayerWeights(name: optimizerPrefix + name, arrays: keys.map { key in
                WeightArray(name: String(key[key.index(after: key.lastIndex(of: "/")!)...]), shape: slots[key]!.shape, tensor: slots[key]!)
            }))
        }
        try SafetensorsFormat().write(bundle, to: url)
    }

    /// Reads a checkpoint into `model` and `optimizer` and returns where the run stood.
    public static func restore(_ url: URL, model: Model, optimizer: Optimizer, identity: String) throws -> TrainingState {
        let bundle = try SafetensorsFormat().read(url)
        guard let text = bundle.metadata[stateKey], let state = try? JSONDecoder().decode(TrainingState.self, from: Data(text.utf8)) else {
            throw CheckpointError("\(url.path) is not a Zoo training checkpoint (no \(stateKey) in its metadata)")
        }
        guard state.identity == identity else {
            throw CheckpointError("\(url.path) was written for \(state.identity); this run is \(identity)")
        }
        var weights = bundle
        weights.layers.removeAll { $0.name.hasPrefix(optimizerPrefix) }
        try model.load(weights)
        var slots: [String: Tensor] = [:]
        for layer in bundle.layers where layer.name.hasPrefix(optimizerPrefix) {
            let name = String(layer.name.dropFirst(optimizerPrefix.count))
            for array in layer.arrays { slots["\(name)/\(array.variableName)"] = try array.tensor() }
        }
        do {
            try optimizer.state.restore(tensors: slots, steps: state.optimizerSteps, namedWeights(model), initial: optimizer.initialSlots)
        } catch {
            throw CheckpointError("\(url.path): \(error) (was it written with another optimizer?)")
        }
        return state
    }

    /// Every weight by `layer/weight`, the names optimizer state is saved under.
    static func namedWeights(_ model: Model) -> [(name: String, weight: Weight)] {
        model.layers.flatMap { layer in layer.weights.map { ("\(layer.name)/\($0.name)", $0) } }
    }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
