import ArgumentParser
import Foundation
import Zoo

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a backbone, or the network in a weight file: its layers, parameters, feature taps, preprocessing and weight files.",
        discussion: """
            Given a weight file, describes the network it holds: a registered backbone its layers fit, or the network \
            its own Keras model config describes (any Sequential or Functional CNN of the layers Zoo builds).

            Examples:
              zoo info resnet50
              zoo info my_mnist_cnn.h5
              zoo info vgg16 --classes 10 --input 160x160
              zoo info googlenet --json
            """)

    @Argument(help: "A backbone name or alias (see zoo list), or a weight file.") var name: String
    @Option(help: "Classes of the classifier.") var classes = 1000
    @Option(help: "Input height and width, as HxW (default: the architecture's).") var input: InputSize?
    @Flag(help: "Print JSON instead of text.") var json = false
    @OptionGroup var config: ModelConfigOption

    func run() throws {
        var backbone: any Backbone, options = BackboneOptions(classes: classes, inputSize: input?.pair)
        if FileManager.default.fileExists(atPath: name) {
            let match = try Plugins.backbones.match(try config.read(name), file: name)
            backbone = match.backbone
            options = match.options
            options.inputSize = input?.pair ?? options.inputSize
        } else {
            backbone = try Plugins.backbones.backbone(named: name)
        }
        let facts = try BackboneFacts(backbone, options: options)
        let configured = backbone as? any ConfiguredBackbone
        // A network built from its config has a classifier only when its output comes from a Dense layer.
        let classes: Int? = configured != nil && backbone.classifierLayers.isEmpty ? nil : options.classes
        let freeSize = configured?.freeInputSize == true && input == nil
        let model = facts.model
        let trainable = model.weights.filter(\.isTrainableKind).reduce(0) { $0 + $1.value.count }
        let weightFiles = backbone.publishedWeights.map { ["file": $0.fileName, "url": $0.url, "md5": $0.hash, "top": $0.includesTop] as [String: Any] }
        if json {
            var object = facts.json
            object["classes"] = classes.map { $0 as Any } ?? NSNull()
            if freeSize { object["free_input_size"] = true }
            object["trainable_parameters"] = trainable
            object["taps"] = model.tapNames
            if model.inputShapes.count > 1 || model.outputNames.count > 1 {
                object["inputs"] = model.inputShapes.enumerated().map { index, shape in
                    ["name": index < model.inputNames.count ? model.inputNames[index] : "input\(index)", "shape": shape] as [String: Any]
                }
                object["outputs"] = model.outputNames
            }
            object["keras_weights"] = weightFiles
            object["layers"] = facts.profile.map {
                ["name": $0.name, "type": $0.kind, "output_shape": $0.outputShape, "parameters": $0.parameters] as [String: Any]
            }
            return try Output.json(object)
        }
        print("\(backbone.name) — \(backbone.paper)" + (backbone.year > 0 ? " (\(backbone.year))" : ""))
        if !backbone.aliases.isEmpty { print("aliases: \(backbone.aliases.joined(separator: ", "))") }
        print("")
        let rows = facts.profile.map { [ "\($0.name) (\($0.kind))", "(None, " + $0.outputShape.map(String.init).joined(separator: ", ") + ")", Output.count($0.parameters)] }
        print(Output.table(["Layer (type)", "Output Shape", "Param #"], rows, rightAligned: [2]))
        print("""

            Total params:         \(Output.count(facts.parameters)) (\(Output.bytes(facts.parameters * 4)))
            Trainable params:     \(Output.count(trainable))
            Non-trainable params: \(Output.count(facts.parameters - trainable))
            GFLOPs:               \(String(format: "%.3f", facts.gflops)) per sample at \(facts.input.dimensions)\(freeSize ? " (the network takes any height and width; shown at this size)" : "")

            feature taps:   \(model.tapNames.joined(separator: ", "))
            """)
        if model.inputShapes.count > 1 || model.inputShape.count != 3 {
            print("inputs:         \(model.inputDescription); zoo predict takes one prepared .npy per input, in this order")
        } else {
            print("preprocessing:  \(describe(backbone.preprocessing)); " + (freeSize ? "images at the size --input HxW gives (arrays at their own)"
                : backbone.cropFraction == 1 ? "resize to \(facts.input[0])×\(facts.input[1])"
                : "resize the shorter side to \(String(format: "%.0f", Double(facts.input[0]) / backbone.cropFraction)), centre crop \(facts.input[0])×\(facts.input[1])"))
        }
        if configured != nil {
            print("outputs:        " + model.outputNames.joined(separator: ", ") + (classes.map { "; a classifier of \($0) classes (\(backbone.classifierLayers[0]))" }
                ?? "; no classifier: zoo predict prints each output, --output writes them"))
        } else if model.outputNames.count > 1 {
            print("outputs:        \(model.outputNames.joined(separator: ", ")); zoo predict ranks the first's classes and --output writes each")
        }
        if backbone.auxiliaryClassifiers > 0 {
            print("auxiliary:      \(backbone.auxiliaryClassifiers) classifiers in training (\(model.classifierLayers.dropFirst().joined(separator: ", ")))")
        }
        if weightFiles.isEmpty {
            print("Keras weights:  none published (convert your own with zoo convert)")
        } else {
            print("Keras weights:  zoo pull \(backbone.name)  /  zoo pull \(backbone.name) --notop")
            for file in backbone.publishedWeights { print("  \(file.url)  md5 \(file.hash)") }
        }
    }

    func describe(_ mode: Preprocessing) -> String {
        switch mode {
        case .caffe: "caffe (RGB→BGR, ImageNet mean subtracted)"
        case .torch: "torch (scaled to 0…1, ImageNet mean and std)"
        case .tf: "tf (scaled to −1…1)"
        case .unit: "scaled to 0…1"
        case .none: "none (pixels 0…255)"
        }
    }
}

/// `--input 224x224` (or a single number for a square).
struct InputSize: ExpressibleByArgument {
    let height: Int, width: Int
    var pair: (Int, Int) { (height, width) }

    init?(argument: String) {
        let parts = argument.lowercased().split(whereSeparator: { $0 == "x" || $0 == "×" || $0 == "," }).compactMap { Int($0) }
        guard (1...2).contains(parts.count), let (height, width) = ImageSide.checked(parts[0], parts.last) else { return nil }
        (self.height, self.width) = (height, width)
    }
}
