import ArgumentParser
import Foundation
import Zoo

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a weight file to Zoo's native format (safetensors), to Keras HDF5, or to an ONNX model.",
        discussion: """
            The architecture comes from the file's model config when it names a Zoo backbone, otherwise from \
            matching its layers and shapes against every registered backbone. Every array is checked and read \
            before anything is written; the output appears whole (written to a temporary file, then renamed) or \
            not at all. With --arch none any Keras file converts, keeping its own layer names and model config.

            --to onnx writes the whole network (graph and weights) for ONNX Runtime and other engines: input NHWC \
            float32 as Keras takes it (--nchw for NCHW), prepared as the metadata says (zoo.preprocessing), \
            outputs named after their Keras layers; a classifier's class names are in the metadata too. What zoo \
            finetune wrote exports with a softmax on its head ('probabilities').

            Examples:
              zoo convert vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
              zoo convert model.keras --arch resnet50 --classes 10 -o resnet50-flowers.safetensors
              zoo convert resnet50.safetensors --to keras-h5 -o resnet50.h5
              zoo convert my_own_net.h5 --arch none
              zoo convert resnet50_weights_tf_dim_ordering_tf_kernels.h5 --to onnx -o resnet50.onnx
              zoo convert examples/lenet5-relu_fashion_0-1-3-5-8.h5 --to onnx --labels examples/fashion_0-1-3-5-8.txt
              zoo convert runs/flowers/weights.safetensors --to onnx --batch 1 --opset 13
              zoo convert face_detector.keras --to onnx --input 480x640
            """)

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case native, kerasH5 = "keras-h5", onnx
        var format: String { self == .native ? "safetensors" : rawValue }
        var fileExtension: String {
            switch self {
            case .native: "safetensors"
            case .kerasH5: "h5"
            case .onnx: "onnx"
            }
        }
    }

    @Argument(help: "The weight file to convert.") var file: String
    @Option(help: "A backbone name, 'auto' to detect it, or 'none' to keep the file's own layers.") var arch = "auto"
    @Option(help: "The classes the file's classifier must have (default: whatever it has).") var classes: Int?
    @OptionGroup var config: ModelConfigOption
    @Option(help: "Output format: native (safetensors), keras-h5, or onnx.") var to: Target = .native
    @Option(name: .shortAndLong, help: "Output file (default: the input's name with the output format's extension).") var output: String?
    @Option(help: "With --to onnx: the ONNX operator set (13–21).") var opset = 17
    @Option(help: "With --to onnx: a fixed batch size, or 'dynamic'.") var batch = "dynamic"
    @Option(help: "With --to onnx: the input height and width to write the network at, as HxW (default: the size the file declares; needed for a network whose config leaves it free, else written at a nominal size).")
    var input: InputSize?
    @Flag(help: "With --to onnx: take NCHW input (the graph transposes it) instead of Keras's NHWC.") var nchw = false
    @Option(help: "With --to onnx: class names to record, one per line in class order (default: those zoo finetune recorded, or ImageNet's for 1000 classes).")
    var labels: String?
    @Flag(help: "Print the summary as JSON.") var json = false

    func validate() throws {
        if let classes, classes <= 0 { throw ValidationError("--classes must be positive, got \(classes)") }
        if to != .onnx, opset != 17 || batch != "dynamic" || nchw || labels != nil || input != nil {
            throw ValidationError("--opset, --batch, --input, --nchw and --labels apply to --to onnx only")
        }
        if to == .onnx {
            guard ONNXExportOptions.opsets.contains(opset) else {
                throw ValidationError("--opset must be within \(ONNXExportOptions.opsets.lowerBound)–\(ONNXExportOptions.opsets.upperBound), got \(opset)")
            }
            guard batch == "dynamic" || (Int(batch) ?? 0) > 0 else { throw ValidationError("--batch must be a positive number or 'dynamic', got '\(batch)'") }
        }
    }

    func run() throws {
        let start = Date()
        let source = URL(fileURLWithPath: file)
        let destination = try outputURL(for: source)
        // The input's digest is computed on another core while the file is read and checked.
        let inputDigest = Concurrently { try Digest.hexDigest(.sha256, ofFile: source) }
        defer { _ = try? inputDigest.wait() }  // never exit while the thread still reads the file
        var bundle = try config.read(source.path)
        let sourceFormat = bundle.format
        var summary: [String: Any] = ["input": source.path, "output": destination.path, "source_format": sourceFormat]
        if let version = bundle.metadata[MetadataKey.kerasVersion] { summary["keras_version"] = version }

        let written: WrittenFile
        if to == .onnx {
            written = try writeONNX(bundle, source: source, to: destination, sha256: { try inputDigest.wait() }, summary: &summary)
        } else {
            if arch.lowercased() != "none" {
                let match = try matchedModel(bundle, source: source)
                var metadata = bundle.metadata.filter { [MetadataKey.kerasVersion, MetadataKey.backend, MetadataKey.conversion].contains($0.key) }
                metadata[MetadataKey.architecture] = match.backbone.name
                metadata[MetadataKey.classes] = match.options.includeTop ? String(match.options.classes) : "none"
                if let configured = match.backbone as? any ConfiguredBackbone { metadata[MetadataKey.modelConfig] = configured.modelConfig }
                bundle = match.model.weightBundle(metadata: metadata)
                summary["architecture"] = match.backbone.name
                let configured = match.backbone is any ConfiguredBackbone
                summary["classes"] = match.options.includeTop ? match.options.classes as Any
                    : configured ? "none (no Dense classifier)" : "none (no top)"
                summary["matched"] = match.report.matching.rawValue
            } else {
                for layer in bundle.layers { for array in layer.arrays { _ = try array.tensor() } }
                summary["architecture"] = "none (the file's own layers)"
            }
            bundle.recordSource(source, sha256: try inputDigest.wait(), format: sourceFormat)
            guard let format = Plugins.weightFormats.format(named: to.format) else { throw CLIError("no \(to.format) writer is registered") }
            written = try format.write(bundle, to: destination)
            summary["arrays"] = bundle.arrayCount
            summary["parameters"] = bundle.parameterCount
            summary["output_format"] = format.name
        }
        summary["input_sha256"] = try inputDigest.wait()
        summary["output_sha256"] = written.sha256
        summary["seconds"] = (Date().timeIntervalSince(start) * 1000).rounded() / 1000
        if json { return try Output.json(summary) }
        let origin = [summary["source_format"], summary["keras_version"].map { "Keras \($0)" }].compactMap { $0 }.map { "\($0)" }
        let lines: [(String, Any?)] = [
            ("architecture", summary["architecture"]), ("classes", summary["classes"]), ("layers matched", summary["matched"]),
            ("arrays", summary["arrays"]), ("nodes", summary["nodes"]), ("parameters", (summary["parameters"] as? Int).map(Output.count)),
            ("opset", summary["opset"]), ("input shape", summary["input_shape"]), ("outputs", summary["outputs"]),
            ("source", origin.joined(separator: ", ")), ("input", "\(source.path)  sha256 \(summary["input_sha256"]!)"),
            ("output", "\(destination.path)  sha256 \(summary["output_sha256"]!)  (\(summary["output_format"]!))"),
            ("time", String(format: "%.2f s", summary["seconds"] as! Double)),
        ]
        for case let (label, value?) in lines { print(label.padding(toLength: 15, withPad: " ", startingAt: 0) + "\(value)") }
    }

    /// The backbone the file is for (named with --arch or detected), with the file's weights loaded and checked.
    func matchedModel(_ bundle: WeightBundle, source: URL) throws -> ArchitectureMatch {
        let match: ArchitectureMatch
        if arch.lowercased() == "auto" {
            match = try Plugins.backbones.match(bundle, file: source.path, classes: classes)
        } else {
            let backbone = try Plugins.backbones.backbone(named: arch)
            do { match = try Plugins.backbones.fit(backbone, bundle, classes: classes) } catch let error as LoadError {
                throw CLIError("\(source.path): " + error.description)
            }
        }
        // Reading the values into the architecture checks every array (and converts float16/float64 to float32).
        try match.model.load(bundle)
        try checkFinite(match.model)
        return match
    }

    /// The output's location; never the input itself.
    func outputURL(for source: URL) throws -> URL {
        var url: URL
        if let output {
            url = URL(fileURLWithPath: output)
        } else {
            var name = source.lastPathComponent
            for suffix in [".weights.h5", ".safetensors", ".keras", ".hdf5", ".h5"] where name.lowercased().hasSuffix(suffix) {
                name.removeLast(suffix.count)
                break
            }
            url = source.deletingLastPathComponent().appendingPathComponent("\(name).\(to.fileExtension)")
            if url.standardizedFileURL == source.standardizedFileURL {
                url = source.deletingLastPathComponent().appendingPathComponent("\(name)-converted.\(to.fileExtension)")
            }
        }
        if url.standardizedFileURL.resolvingSymlinksInPath() == source.standardizedFileURL.resolvingSymlinksInPath() {
            throw CLIError("the output \(url.path) is the input file; choose another with -o")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError("the output \(url.path) is a directory; give a file name with -o")
        }
        return url
    }

    /// Weights with NaN or infinity would load and silently poison every prediction.
    func checkFinite(_ model: Model) throws {
        for layer in model.layers {
            for weight in layer.weights where weight.value.withUnsafeBufferPointer({ $0.contains { !$0.isFinite } }) {
                throw CLIError("\(file): layer '\(layer.name)' \(weight.name) holds NaN or infinite values; the file is damaged")
            }
        }
    }
}
