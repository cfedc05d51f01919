import ZooNN

/// Which registered backbone a weight file is for, found from its model config's name or by trying the file's
/// layers and shapes against every plugin.
public struct ArchitectureMatch {
    public let backbone: any Backbone
    /// The options the file's weights imply (classes, top, auxiliary classifiers).
    public let options: BackboneOptions
    public let report: LoadReport
    /// The skeleton the bundle was checked against, ready for `load`.
    public let model: Model
}

/// Why no single backbone fits: each candidate with what differs, closest first.
public struct ArchitectureMatchError: Error, CustomStringConvertible {
    public let file: String
    public let candidates: [(name: String, problems: [String])]
    public let fitting: [String]

    public var description: String {
        if fitting.count > 1 {
            return "\(file): the weights fit several backbones equally (\(fitting.joined(separator: ", "))), which differ only in layers "
                + "without weights; choose one with --arch"
        }
        let closest = candidates.prefix(3).map { candidate in
            "  \(candidate.name): \(candidate.problems.count) problem\(candidate.problems.count == 1 ? "" : "s"), e.g.\n"
                + candidate.problems.prefix(3).map { "    - \($0)" }.joined(separator: "\n")
        }
        return "\(file): no registered backbone fits these weights; the closest:\n" + closest.joined(separator: "\n")
            + "\nname one with --arch to see every difference, give your own network's Keras config with --config (model.to_json()), "
            + "or convert without an architecture with --arch none"
    }
}

extension Registry where Plugin == any Backbone {
    /// The backbone whose layout the bundle fits. A model config naming a registered backbone is tried first; then
    /// every fixed plugin, each built as a skeleton with the classes and top the file implies; then, for a file with
    /// a model config, the plugins that build from one.
    public func match(_ bundle: WeightBundle, file: String, classes: Int? = nil) throws -> ArchitectureMatch {
        if let name = bundle.metadata[MetadataKey.modelConfig].flatMap(ModelConfigSummary.init(json:))?.name ?? bundle.metadata[MetadataKey.architecture],
           let named = find(name), let fit = try? fit(named, bundle, classes: classes) {
            return fit
        }
        var fitting: [ArchitectureMatch] = []
        var candidates: [(name: String, problems: [String])] = []
        for backbone in all where !(backbone is any ConfigurableBackbone) {
            do { fitting.append(try fit(backbone, bundle, classes: classes)) } catch let error as LoadError {
                candidates.append((backbone.name, error.problems))
            } catch {
                candidates.append((backbone.name, ["\(error)"]))
            }
        }
        if fitting.count == 1 { return fitting[0] }
        if fitting.isEmpty, bundle.metadata[MetadataKey.modelConfig] != nil, let builder = all.first(where: { $0 is any ConfigurableBackbone }) {
            return try fit(builder, bundle, classes: classes)
        }
        throw ArchitectureMatchError(file: file, candidates: candidates.sorted { $0.problems.count < $1.problems.count },
                                     fitting: fitting.map(\.backbone.name))
    }

    /// The backbone to build for a weight file: `name` when given (configured from the file's model config when it
    /// builds from one), else the one the file fits.
    public func backbone(named name: String?, for bundle: WeightBundle, file: String) throws -> any Backbone {
        guard let name else { return try match(bundle, file: file).backbone }
        let backbone = try self.backbone(named: name)
        guard let builder = backbone as? any ConfigurableBackbone else { return backbone }
        guard let config = bundle.metadata[MetadataKey.modelConfig] else {
            throw LoadError(model: backbone.name, problems: ["\(file) has no model config to build the network from"])
        }
        return try builder.configured(config, weightElements: bundle.parameterCount)
    }

    /// Checks the bundle against one backbone, with the options its classifier layers imply.
    public func fit(_ backbone: any Backbone, _ bundle: WeightBundle, classes: Int? = nil) throws -> ArchitectureMatch {
        if let builder = backbone as? any ConfigurableBackbone {
            guard let config = bundle.metadata[MetadataKey.modelConfig] else {
                throw LoadError(model: backbone.name, problems: ["the file has no model config to build the network from"])
            }
            return try fit(builder.configured(config, weightElements: bundle.parameterCount), bundle, classes: classes)
        }
        let options = try impliedOptions(backbone, bundle, classes: classes)
        let model = try backbone.skeleton(options)
        let report = try model.check(bundle)
        return ArchitectureMatch(backbone: backbone, options: options, report: report, model: model)
    }

    /// Top or not, classes and auxiliary classifiers, read off the classifier layers the file holds (under their
    /// names or the family's older ones).
    func impliedOptions(_ backbone: any Backbone, _ bundle: WeightBundle, classes: Int?) throws -> BackboneOptions {
        let reference = try backbone.skeleton(BackboneOptions(auxiliaryClassifiers: backbone.auxiliaryClassifiers > 0))
        let bundle = bundle.openingNestedModels(wanted: Set(reference.layers.map(\.name)))
        func inFile(_ layer: String) -> LayerWeights? {
            bundle.layer(named: layer) ?? reference.legacyNames[layer].flatMap { bundle.layer(named: $0) }
        }
        var options = BackboneOptions(includeTop: false)
        // The classes are the last axis of the classifier's last array: its bias, or its kernel [in, out] without one.
        if let main = backbone.classifierLayers.first, let classifier = inFile(main), let last = classifier.arrays.last,
           (1...2).contains(last.shape.count) {
            options.includeTop = true
            options.classes = last.shape[last.shape.count - 1]
            if let expected = classes, expected != options.classes {
                throw LoadError(model: backbone.name, problems: ["the classifier '\(classifier.name)' has \(options.classes) classes, not \(expected)"])
            }
        }
        options.auxiliaryClassifiers = backbone.classifierLayers.dropFirst().contains { inFile($0) != nil }
        return options
    }
}
