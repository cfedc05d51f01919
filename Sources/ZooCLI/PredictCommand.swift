import ArgumentParser
import Foundation
import Zoo

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify images with a backbone and its weights.",
        discussion: """
            Images (JPEG or PNG) are resized, centre-cropped and normalized as the backbone's plugin says (see zoo \
            info NAME); --crop-fraction 1 resizes the whole image to the input size instead, as Keras's \
            load_img(target_size=...) does, so that a Keras pipeline's numbers are reproduced. Weights with 1000 \
            classes are labelled with the ImageNet class names Zoo ships, and what zoo \
            finetune wrote with the class names it recorded; others need --labels, a text file with one class name \
            per line in class order. An image that cannot be decoded is reported and skipped; the exit status is \
            then 1. A .npy argument holds inputs already prepared (float32, [N, H, W, C] at the network's input \
            size), classified as they are; --output writes the outputs as .npy, to compare with Keras's \
            model.predict in two lines of Python.

            Examples:
              zoo predict --arch resnet50 --weights resnet50.safetensors cat.jpg dog.png
              zoo predict --arch resnet50 --weights resnet50.safetensors --crop-fraction 1 cat-224x224.png
              zoo predict --arch lenet5 --weights lenet5.safetensors --labels classes.txt --top 3 images/*.png
              zoo predict --arch vgg16 --weights vgg16.h5 --json photo.jpg
              zoo predict --weights runs/lenet-finetune/weights.safetensors images/*.png
              zoo predict --weights my_cnn.h5 --labels classes.txt inputs.npy --output outputs.npy
            """)

    @Option(help: "The backbone the weights are for (see zoo list); not needed for what zoo finetune wrote.") var arch: String?
    @Option(help: "A weight file with the classifier (native or any Keras format).") var weights: String
    @Option(help: "Class names, one per line (default: ImageNet's for 1000 classes).") var labels: String?
    @Option(help: "How many classes to show per image.") var top = 5
    @Option(help: "Images per forward pass.") var batch = 16
    @OptionGroup var crop: CropOption
    @OptionGroup var config: ModelConfigOption
    @Option(help: "Pixel normalization instead of the backbone's: unit (0…1), tf (-1…1), caffe, torch or none (0…255).") var preprocess: Preprocessing?
    @Flag(help: "Print JSON instead of text.") var json = false
    @Option(help: "Also write the network's outputs, one row per image, as a float32 NumPy file (probabilities, or logits for a Keras network that ends without a softmax).")
    var output: String?
    @Argument(help: "JPEG or PNG images, or NumPy .npy arrays of prepared inputs [N, H, W, C].") var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        guard top > 0 else { throw ValidationError("--top must be positive") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        var trained = try TrainedClassifier.open(weights, arch: arch, config: config)
        if let fraction = crop.value { trained.cropFraction = fraction }
        let model = trained.model
        let classes = trained.classes
        let names = try classNames(count: classes, recorded: trained.classNames)
        var preparation = trained.preparation
        if let preprocess { preparation.preprocessing = preprocess }

        var results: [[String: Any]] = [], outputs: [Tensor] = []
        var failures = 0
        /// Scores a prepared batch whose rows are named `rows`; keeps the network's own outputs for --output.
        func classify(_ input: Tensor, rows: [String]) throws {
            let logits = try Gradients.off { try model(Variable(input)).main.value }
            let probabilities = try softmax(Variable(logits)).value
            if output != nil { outputs.append(trained.outputsProbabilities ? probabilities : logits) }
            probabilities.withUnsafeBufferPointer { values in
                for (row, name) in rows.enumerated() {
                    let scores = values[(row * classes)..<((row + 1) * classes)]
                    let best = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(top)
                    results.append(["image": name, "top": best.map { index in
                        ["class": index - row * classes, "label": names[index - row * classes], "probability": Double(scores[index])] as [String: Any]
                    }])
                }
            }
        }
        var pending: [(String, Image)] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            try classify(preparation.batch(pending.map(\.1)), rows: pending.map(\.0))
            pending = []
        }
        let progress = ProgressBar("predict", total: images.count)
        for (done, path) in images.enumerated() {
            if path.hasSuffix(".npy") {
                try flush()
                var array = try NumPyArray.read(URL(fileURLWithPath: path))
                // A channels-first Keras network takes [N, C, H, W], as Keras does; Zoo runs it channels-last.
                let channelsFirst = (trained.backbone as? any ConfiguredBackbone)?.channelsFirst == true && model.inputShape.count == 3
                let expected = channelsFirst ? [model.inputShape[2], model.inputShape[0], model.inputShape[1]] : model.inputShape
                guard array.shape.count == expected.count + 1, Array(array.shape.dropFirst()) == expected else {
                    throw CLIError("\(path): an array of shape \(array.shape), but the network takes [N, \(expected.map(String.init).joined(separator: ", "))] "
                        + "(images along the first axis, already prepared: no resizing or normalization is applied)")
                }
                if channelsFirst { array = try permute(Variable(array), [2, 3, 1]).value }
                for start in stride(from: 0, to: array.shape[0], by: batch) {
                    let rows = start..<min(start + batch, array.shape[0])
                    try classify(array.rows(rows), rows: rows.map { "\(path)[\($0)]" })
                }
            } else {
                do { pending.append((path, try ImageCodec.decode(contentsOf: URL(fileURLWithPath: path)))) } catch {
                    progress.finish()
                    Output.message("error: \(error); skipped")
                    failures += 1
                }
                if pending.count == batch { try flush() }
            }
            progress.update(done + 1)
        }
        try flush()
        progress.finish()
        if let output { try NumPyArray.write(Tensor(stacking: outputs), to: URL(fileURLWithPath: output)) }
        if json { try Output.json(results) } else {
            for result in results {
                print(result["image"] as! String)
                for entry in result["top"] as! [[String: Any]] {
                    print(String(format: "  %6.2f%%  ", 100 * (entry["probability"] as! Double)) + "\(entry["label"]!) (\(entry["class"]!))")
                }
            }
        }
        if failures > 0 { throw CLIError("\(failures) of \(images.count) image\(images.count == 1 ? "" : "s") could not be read") }
    }

    /// --labels, else the names a zoo finetune run recorded, else ImageNet's for 1000 classes.
    func classNames(count: Int, recorded: [String]?) throws -> [String] {
        guard let names = try ZooCLI.classNames(labels: labels, count: count, recorded: recorded) else {
            throw CLIError("the weights have \(count) classes; give their names with --labels FILE (one per line)")
        }
        return names
    }
}

/// The names of `count` classes: from the --labels file, else those a zoo finetune run recorded, else ImageNet's
/// for 1000 classes; nil when nothing names them.
func classNames(labels: String?, count: Int, recorded: [String]?) throws -> [String]? {
    guard let labels else {
        if let recorded, recorded.count == count { return recorded }
        return count == 1000 ? ClassNames.imageNet : nil
    }
    let names = try ClassNames.read(contentsOf: URL(fileURLWithPath: labels))
    guard names.count == count else { throw CLIError("\(labels) names \(names.count) classes, but the weights have \(count)") }
    return names
}

extension TrainedClassifier {
    /// The classifier in a weight file, for `predict` and `evaluate`: a Keras or native file of a backbone, or what
    /// zoo finetune wrote (backbone and new head); weights that do not fit become one message naming the file.
    static func open(_ path: String, arch: String?, config: ModelConfigOption) throws -> TrainedClassifier {
        let url = URL(fileURLWithPath: path)
        let bundle = try config.read(path)
        do { return try TrainedClassifier(bundle, file: url.path, backbones: Plugins.backbones, arch: arch) } catch let error as LoadError {
            throw CLIError("\(url.path): " + error.description)
        }
    }
}

extension Preprocessing: ExpressibleByArgument {}
