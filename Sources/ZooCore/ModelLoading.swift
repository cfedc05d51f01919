import ZooNN
import ZooTensor

/// How a bundle's layers were matched to a model's.
public enum LayerMatching: String, Sendable {
    /// Every model layer with weights found a file layer of the same name.
    case byName = "by name"
    /// Every model layer found a file layer under the older name its family used (`Model.legacyNames`).
    case byLegacyName = "by legacy name"
    /// Names differ; layers with weights were paired in order, as Keras's legacy loader does.
    case byOrder = "by order"
}

public struct LoadReport: Sendable {
    public let matching: LayerMatching
    public let layers: Int
    public let arrays: Int
    public let skipped: [String]
}

/// A bundle does not fit a model. Lists every problem at once: missing and unexpected layers, array counts, shapes.
public struct LoadError: Error, CustomStringConvertible {
    public let model: String
    public let problems: [String]

    public var description: String {
        // The first dozen say what is wrong; `problems` has them all.
        "the weights do not fit \(model) (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
            + problems.prefix(12).map { "  - \($0)" }.joined(separator: "\n")
            + (problems.count > 12 ? "\n  … and \(problems.count - 12) more" : "")
    }
}

extension Model {
    /// Loads a bundle's arrays into the model. Layers match by name, or by the older names of the family's first
    /// published files (`legacyNames`); when neither fits, the layers that have weights are paired in order, which is
    /// Keras's topological rule. Every array's shape is checked and every
    /// mismatch reported together; nothing is assigned unless all fit. `skipping` leaves layers out on both sides
    /// (a classifier trained for other classes).
    @discardableResult
    public func load(_ bundle: WeightBundle, skipping: Set<String> = []) throws -> LoadReport {
        let plan = try plan(bundle, skipping: skipping)
        if plan.matching == .byLegacyName, let epsilon = legacyBatchNormEpsilon {
            for case let normalization as BatchNormalization in layers { normalization.epsilon = epsilon }
        }
        var arrays = 0
        for (target, source) in plan.pairs {
            for (weight, array) in zip(target.weights, source.arrays) {
                weight.value = try array.tensor()
                arrays += 1
            }
        }
        return LoadReport(matching: plan.matching, layers: plan.pairs.count, arrays: arrays, skipped: skipping.sorted())
    }

    /// Whether the bundle would load, without reading any values: the report `load` would give, or its error.
    public func check(_ bundle: WeightBundle, skipping: Set<String> = []) throws -> LoadReport {
        let plan = try plan(bundle, skipping: skipping)
        return LoadReport(matching: plan.matching, layers: plan.pairs.count, arrays: plan.pairs.reduce(0) { $0 + $1.1.arrays.count },
                          skipped: skipping.sorted())
    }

    /// Pairs model layers with file layers and checks every shape; throws every problem at once.
    private func plan(_ bundle: WeightBundle, skipping: Set<String>) throws -> (pairs: [(Layer, LayerWeights)], matching: LayerMatching) {
        let targets = layers.filter { !$0.weights.isEmpty && !skipping.contains($0.name) }
        let bundle = bundle.openingNestedModels(wanted: Set(layers.map(\.name)))
        let sources = bundle.layers.filter { !$0.arrays.isEmpty && !skipping.contains($0.name) }
        let byName = Dictionary(sources.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var problems: [String] = []
        func unexpected(_ layer: LayerWeights) -> String {
            "unexpected layer '\(layer.name)' in the file (\(layer.arrays.map { describe(shape: $0.shape) }.joined(separator: ", ")))"
        }
        let pairs: [(Layer, LayerWeights)]
        let matching: LayerMatching
        // Names as they are, else the family's older names (the others kept theirs), else order, else report.
        let direct = targets.map(\.name), legacy = targets.map { legacyNames[$0.name] ?? $0.name }
        let found = { (name: String) in byName[name] != nil }
        if let (names, how) = direct.allSatisfy(found) ? (direct, LayerMatching.byName)
            : legacy.allSatisfy(found) ? (legacy, .byLegacyName) : nil {
            matching = how
            pairs = zip(targets, names).map { ($0, byName[$1]!) }
            let used = Set(names)
            problems += sources.filter { !used.contains($0.name) }.map(unexpected)
        } else if targets.count == sources.count {
            matching = .byOrder
            pairs = Array(zip(targets, sources))
        } else {
            matching = .byName
            pairs = targets.compactMap { target in byName[target.name].map { (target, $0) } }
            for missing in targets where byName[missing.name] == nil {
                problems.append("missing layer '\(missing.name)' (\(missing.kind), expects \(missing.weights.map { describe(shape: $0.shape) }.joined(separator: ", ")))")
            }
            let targetNames = Set(direct)
            problems += sources.filter { !targetNames.contains($0.name) }.map(unexpected)
        }
        for (target, source) in pairs {
            let label = target.name == source.name ? "layer '\(target.name)'" : "layer '\(target.name)' (file: '\(source.name)')"
            guard target.weights.count == source.arrays.count else {
                problems.append("\(label): the file has \(source.arrays.count) arrays, the model expects \(target.weights.count) ("
                    + target.weights.map(\.name).joined(separator: ", ") + ")")
                continue
            }
            for (weight, array) in zip(target.weights, source.arrays) where weight.shape != array.shape {
                problems.append("\(label) \(weight.name): the file has \(describe(shape: array.shape)), the model expects \(describe(shape: weight.shape))")
            }
        }
        guard problems.isEmpty else { throw LoadError(model: name, problems: problems) }
        return (pairs, matching)
    }

    /// The model's weights as a bundle (for writing), layers in model order.
    public func weightBundle(metadata: [String: String] = [:]) -> WeightBundle {
        WeightBundle(format: "zoo", metadata: metadata, layers: layers.map { layer in
            LayerWeights(name: layer.name, arrays: layer.weights.map { WeightArray(name: "\(layer.name)/\($0.name)", shape: $0.shape, tensor: $0.value) })
        })
    }
}

extension WeightBundle {
    /// The bundle with each nested model's group split into the layers it holds. Keras saves a model nested in
    /// another (as its config says) as one group named after the nested model, each array named by its own layer
    /// somewhere in its path (`inner/conv/kernel`, `conv/kernel:0`), trainable ones first. Each array goes to the
    /// nested model's layer its path names first, under the rest of its path; arrays keep their order within each
    /// layer, which is Keras's. A group is left whole when a layer `wanted` has its name or an array names none of
    /// its layers.
    public func openingNestedModels(wanted: Set<String> = []) -> WeightBundle {
        guard let nested = metadata[MetadataKey.modelConfig].flatMap(ModelConfigSummary.init(json:))?.nestedModels, !nested.isEmpty else {
            return self
        }
        let leavesOf = Dictionary(nested.map { ($0.name, Set($0.leaves.map(\.name))) }) { first, _ in first }
        var opened = self
        opened.layers = layers.flatMap { group -> [LayerWeights] in
            guard let leaves = leavesOf[group.name], !wanted.contains(group.name) else { return [group] }
            let owned = group.arrays.map { array -> (owner: String, array: WeightArray)? in
                let parts = array.name.split(separator: "/").map(String.init)
                guard let at = parts.dropLast().firstIndex(where: leaves.contains) else { return nil }
                let rest = parts[(at + 1)...].joined(separator: "/")
                return (parts[at], WeightArray(name: rest, shape: array.shape, storedType: array.storedType) { try array.tensor() })
            }
            guard owned.allSatisfy({ $0 != nil }) else { return [group] }
            var order: [String] = [], arrays: [String: [WeightArray]] = [:]
            for case let (owner, array)? in owned {
                if arrays[owner] == nil { order.append(owner) }
                arrays[owner, default: []].append(array)
            }
            return order.map { LayerWeights(name: $0, path: group.path ?? group.name, arrays: arrays[$0]!) }
        }
        return opened
    }
}

extension WeightBundle {
    /// The inverse of opening: the layers of each model nested in the config gathered into one group named after
    /// it, as Keras saves and loads a nested model: trainable arrays first, then the others (BatchNorm's moving
    /// statistics, and every array of a frozen layer), each named by its layer and its own name (`conv/kernel`).
    public func groupingNestedModels() -> WeightBundle {
        guard let nested = metadata[MetadataKey.modelConfig].flatMap(ModelConfigSummary.init(json:))?.nestedModels, !nested.isEmpty else {
            return self
        }
        var owner: [String: ModelConfigSummary.NestedModel] = [:]
        for model in nested { for leaf in model.leaves { owner[leaf.name] = model } }
        let byName = Dictionary(layers.map { ($0.name, $0) }) { first, _ in first }
        var grouped = self, done = Set<String>()
        grouped.layers = layers.compactMap { layer in
            guard let model = owner[layer.name] else { return layer }
            guard done.insert(model.name).inserted else { return nil }
            var trainable: [WeightArray] = [], fixed: [WeightArray] = []
            for leaf in model.leaves {
                for array in byName[leaf.name]?.arrays ?? [] {
                    let renamed = WeightArray(name: "\(leaf.name)/\(array.name)", shape: array.shape, storedType: array.storedType) { try array.tensor() }
                    if leaf.trainable && !array.variableName.hasPrefix("moving_") { trainable.append(renamed) } else { fixed.append(renamed) }
                }
            }
            return LayerWeights(name: model.name, arrays: trainable + fixed)
        }
        return grouped
    }
}
