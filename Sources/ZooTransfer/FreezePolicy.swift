import Foundation
import ZooCore
import ZooNN

/// Which layers keep their pre-trained weights while the rest learn. A frozen layer gets no gradient and no update,
/// and a frozen BatchNormalization runs in inference mode (its moving statistics stay as loaded), unlike Keras
/// before 2.1.3 where freezing left BatchNorm normalizing with batch statistics.
public enum FreezePolicy: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Everything learns.
    case nothing
    /// Everything but the classifier head.
    case backbone
    /// Every layer up to and including the named one, in model order (a stage's end, `conv4_block6_out`).
    case through(String)
    /// Layers whose names match a shell pattern (`conv[1-3]_*`, `*_bn`).
    case matching(String)

    /// `none`, `backbone`, a pattern (anything with `*`, `?` or `[`), or a layer name.
    public init(_ text: String) {
        switch text.lowercased() {
        case "none", "nothing": self = .nothing
        case "backbone", "all": self = .backbone
        default: self = text.contains(where: { "*?[".contains($0) }) ? .matching(text) : .through(text)
        }
    }

    public var description: String {
        switch self {
        case .nothing: "nothing frozen"
        case .backbone: "backbone frozen"
        case .through(let name): "frozen through \(name)"
        case .matching(let pattern): "layers matching \(pattern) frozen"
        }
    }

    /// Freezes the chosen layers and unfreezes the others; returns the names of the frozen layers that have weights.
    /// The classifier layers and `fresh` (layers the weights did not provide) always train: frozen random weights
    /// would only add noise.
    @discardableResult
    public func apply(to model: Model, fresh: Set<String> = []) throws(FreezeError) -> [String] {
        let head = Set(model.classifierLayers).union(fresh)
        let frozen: (Int, Layer) -> Bool
        switch self {
        case .nothing: frozen = { _, _ in false }
        case .backbone: frozen = { _, layer in !head.contains(layer.name) }
        case .through(let name):
            guard let last = model.layers.firstIndex(where: { $0.name == name }) else {
                throw FreezeError.unknownLayer(option: "--freeze", name, model: model.name, stages: model.tapNames,
                                               nearest: nearestNames(to: name, among: model.layers.map(\.name)))
            }
            frozen = { i, _ in i <= last }
        case .matching(let pattern):
            guard model.layers.contains(where: { fnmatch(pattern, $0.name, 0) == 0 }) else {
                throw FreezeError.noMatch(pattern, model: model.name, stages: model.tapNames)
            }
            frozen = { _, layer in fnmatch(pattern, layer.name, 0) == 0 }
        }
        var names: [String] = []
        for (i, layer) in model.layers.enumerated() where !layer.weights.isEmpty {
            let freeze = frozen(i, layer) && !head.contains(layer.name)
            layer.trainable = !freeze
            if freeze { names.append(layer.name) }
        }
        guard model.layers.contains(where: { $0.trainable && $0.weights.contains { $0.isTrainableKind } }) else {
            throw FreezeError.nothingToTrain(description, model: model.name)
        }
        return names
    }
}

public enum FreezeError: Error, CustomStringConvertible, Equatable {
    /// `option` names where the layer was asked for (`--freeze`, `--tap`).
    case unknownLayer(option: String, String, model: String, stages: [String], nearest: [String])
    case noMatch(String, model: String, stages: [String])
    case nothingToTrain(String, model: String)

    public var description: String {
        switch self {
        case let .unknownLayer(option, name, model, stages, nearest):
            "\(option): \(model) has no layer named '\(name)'; did you mean \(nearest.joined(separator: ", "))? Its stages: \(stages.joined(separator: ", ")) (zoo info \(model) lists every layer)"
        case let .noMatch(pattern, model, stages):
            "--freeze: no layer of \(model) matches '\(pattern)'; its stages: \(stages.joined(separator: ", ")) (zoo info \(model) lists every layer)"
        case let .nothingToTrain(policy, model):
            "--freeze: with \(policy), no layer of \(model) is left to train"
        }
    }
}
