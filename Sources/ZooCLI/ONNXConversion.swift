import Foundation
import Zoo

extension ConvertCommand {
    /// Writes the file's network (graph and weights) as an ONNX model, with what a deployment needs to know in its
    /// metadata: architecture, input layout and size, preprocessing, class names.
    func writeONNX(_ bundle: WeightBundle, source: URL, to destination: URL, sha256: () throws -> String,
                   summary: inout [String: Any]) throws -> WrittenFile {
        guard arch.lowercased() != "none" else {
            throw CLIError("--to onnx writes a network, but --arch none keeps only the file's arrays; name the backbone with --arch or let it be detected")
        }
        let network = try exportedNetwork(bundle, source: source)
        var metadata = [
            "zoo.architecture": network.backbone.name,
            "zoo.source": source.lastPathComponent,
            "zoo.source_sha256": try sha256(),
        ]
        // How images become the input, for a network that takes them.
        let shape = network.model.inputShape
        if network.model.inputShapes.count == 1, shape.count == 3 {
            metadata["zoo.input_layout"] = nchw ? "NCHW" : "NHWC"
            metadata["zoo.input_size"] = "\(shape[0])x\(shape[1])"
            metadata["zoo.preprocessing"] = network.backbone.preprocessing.rawValue
            metadata["zoo.preprocessing_formula"] = network.backbone.preprocessing.formula
            metadata["zoo.crop_fraction"] = String(network.cropFraction)
        }
        if let classes = network.classes {
            metadata["zoo.classes"] = String(classes)
            if let names = try classNames(labels: labels, count: classes, recorded: network.classNames) { metadata["zoo.class_names"] = try MetadataKey.json(names) }
        } else if let labels {
            throw CLIError("--labels \(labels): the network has no classifier (a file without its top) to name the classes of")
        }
        var options = ONNXExportOptions()
        options.opset = opset
        options.batch = Int(batch)
        options.nchw = nchw
        options.producerVersion = zooVersion
        options.metadata = metadata
        let exported: ONNXExport.Result
        do { exported = try ONNXExport.model(network.model, options: options) } catch let error as ONNXExportError {
            throw CLIError("\(source.path): \(error)")
        }
        let written = try writeAtomically(to: destination) { try exported.bytes.write(to: $0) }

        summary["architecture"] = network.backbone.name
        summary["classes"] = network.classes.map { $0 as Any } ?? "none (no top)"
        summary["nodes"] = exported.nodeCount
        summary["parameters"] = network.model.parameterCount
        summary["opset"] = opset
        summary["input_shape"] = zip(exported.inputShapes, network.model.inputShapes).map { declared, shape in
            "[" + declared.joined(separator: ", ") + "]" + (shape.count == 3 ? (nchw ? " NCHW" : " NHWC") : "")
        }.joined(separator: ", ")
        if exported.inputNames.count > 1 { summary["inputs"] = exported.inputNames.joined(separator: ", ") }
        summary["outputs"] = exported.outputNames.joined(separator: ", ")
        summary["output_format"] = "onnx"
        return written
    }

    /// The network to export: what zoo finetune wrote (its classifier, with a softmax so that the file gives
    /// probabilities as Keras models do), or the backbone the file's weights fit, built as Keras builds it.
    private func exportedNetwork(_ bundle: WeightBundle, source: URL)
        throws -> (model: Model, backbone: any Backbone, classes: Int?, classNames: [String]?, cropFraction: Double) {
        if bundle.metadata[MetadataKey.classNames] != nil {
            let trained: Network
            do {
                trained = try Network(bundle, file: source.path, backbones: Plugins.backbones,
                                                arch: arch.lowercased() == "auto" ? nil : arch)
            } catch let error as LoadError { throw CLIError("\(source.path): " + error.description) }
            if let classes, classes != trained.classes {
                throw CLIError("\(source.path): the classifier has \(trained.classes) classes, not the \(classes) --classes asks for")
            }
            try checkFinite(trained.model)
            let classifier = trained.model, softmax = Layers.softmax("probabilities")
            let model = Model(name: classifier.name, inputShape: classifier.inputShape, layers: classifier.layers + [softmax],
                              tapNames: classifier.tapNames) { context, x in
                [try context.call(softmax, try classifier.forward(in: context, x).outputs[0])]
            }
            return (model, trained.backbone, trained.classes, trained.classNames, trained.preparation.cropFraction)
        }
        let match = try matchedModel(bundle, source: source)
        let classes = match.options.includeTop ? match.options.classes : nil
        // A registered backbone in a Keras file is written as the file's config describes it (its classifier's
        // activation, its input size); --input sizes any network with an image input.
        let registered = !(match.backbone is any ConfiguredBackbone)
        var options = match.options, changed = false
        if registered, let described = Plugins.backbones.configured(for: bundle), options.includeTop,
           !described.outputsProbabilities, options.classifierActivation != nil {
            options.classifierActivation = nil
            changed = true
        }
        if let size = input?.pair ?? (registered ? Network.declaredInputSize(bundle) : nil) {
            let shape = match.model.inputShape
            guard match.model.inputShapes.count == 1, shape.count == 3 else {
                throw CLIError("\(source.path): --input sizes an image input, but the network takes \(match.model.inputDescription)")
            }
            options.inputSize = size
            changed = changed || size != (shape[0], shape[1])
        }
        guard changed else { return (match.model, match.backbone, classes, nil, match.backbone.cropFraction) }
        let model = try match.backbone.build(options)
        try model.load(bundle)
        return (model, match.backbone, classes, nil, match.backbone.cropFraction)
    }
}
