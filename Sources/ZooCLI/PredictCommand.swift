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
            model.predict in two lines of Python. A Keras network with several inputs takes one .npy per input, in \
            its input order (see zoo info); with several outputs, --output out.npy writes out.NAME.npy per output.

            Examples:
              zoo predict --arch resnet50 --weights resnet50.safetensors cat.jpg dog.png
              zoo predict --arch resnet50 --weights resnet50.safetensors --crop-fraction 1 cat-224x224.png
              zoo predict --arch lenet5 --weights lenet5.safetensors --labels classes.txt --top 3 images/*.png
              zoo predict --arch vgg16 --weights vgg16.h5 --json photo.jpg
              zoo predict --weights runs/lenet-finetune/weights.safetensors images/*.png
              zoo predict --weights my_cnn.h5 --labels classes.txt inputs.npy --output outputs.npy
              zoo predict --weights two_inputs.h5 --labels classes.txt images.npy metadata.npy --output out.npy
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
    @Argument(help: "JPEG or PNG images, or NumPy .npy arrays of prepared inputs [N, H, W, C] (one per input, in order, for a network with several).") var images: [String]

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

        var results: [[String: Any]] = [], outputs: [[Tensor]] = []
        var failures = 0
        /// Scores a prepared batch (one tensor per input) whose rows are named `rows`; keeps the network's own outputs
        /// for --output.
        func classify(_ inputs: [Tensor], rows: [String]) throws {
            let all = try Gradients.off { try model(inputs.map { Variable($0) }).outputs.map(\.value) }
            let logits = all[0]
            let probabilities = try softmax(Variable(logits)).value
            if output != nil { outputs.append([trained.outputsProbabilities ? probabilities : logits] + all.dropFirst()) }
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
            try classify([preparation.batch(pending.map(\.1))], rows: pending.map(\.0))
            pending = []
        }
        // A network with several inputs takes one .npy per input, in its input order, for each set of samples.
        let inputCount = model.inputShapes.count
        if inputCount > 1 {
            guard images.allSatisfy({ $0.hasSuffix(".npy") }), images.count % inputCount == 0 else {
                throw CLIError("the network takes \(inputCount) inputs \(model.inputDescription): give one .npy file per input, in that order")
            }
        }
        let progress = ProgressBar("predict", total: images.count)
        for (done, path) in images.enumerated() {
            if path.hasSuffix(".npy") {
                guard done % inputCount == 0 else { continue }
                try flush()
                let group = Array(images[done..<(done + inputCount)])
                let arrays = try group.indices.map { index in
                    try preparedArray(group[index], shape: model.inputShapes[index], trained: trained,
                                      input: inputCount > 1 ? "input \(index + 1) (\(model.inputNames.count == inputCount ? model.inputNames[index] : "of \(inputCount)"))" : nil)
                }
                guard Set(arrays.map { $0.shape[0] }).count == 1 else {
                    throw CLIError(group.joined(separator: ", ") + " hold \(arrays.map { String($0.shape[0]) }.joined(separator: ", ")) samples; each input needs one per sample")
                }
                for start in stride(from: 0, to: arrays[0].shape[0], by: batch) {
                    let rows = start..<min(start + batch, arrays[0].shape[0])
                    try classify(arrays.map { $0.rows(rows) }, rows: rows.map { "\(path)[\($0)]" })
                }
            } else {
                do {
                    try model.requireOneImageInput(for: "an image file")
                    pending.append((path, try ImageCodec.decode(contentsOf: URL(fileURLWithPath: path))))
                } catch let error as ShapeError {
                    throw CLIError("\(path): \(error); give prepared inputs as .npy")
                } catch {
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
        if let output { try write(outputs, to: output, names: model.outputNames) }
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

    /// A .npy of prepared inputs for one input of the network (`shape` without the batch axis), channels-last.
    /// `input` names which input it is for, when there are several.
    func preparedArray(_ path: String, shape: [Int], trained: TrainedClassifier, input: String?) throws -> Tensor {
        let array = try NumPyArray.read(URL(fileURLWithPath: path))
        // A channels-first Keras network takes images as [N, C, H, W], as Keras does; Zoo runs it channels-last.
        let channelsFirst = (trained.backbone as? any ConfiguredBackbone)?.channelsFirst == true && shape.count == 3
        let expected = channelsFirst ? [shape[2], shape[0], shape[1]] : shape
        guard array.shape.count == expected.count + 1, Array(array.shape.dropFirst()) == expected else {
            throw CLIError("\(path): an array of shape \(array.shape), but the network\(input.map { "'s \($0)" } ?? "") takes [N, \(expected.map(String.init).joined(separator: ", "))] "
                + "(samples along the first axis, already prepared: no resizing or normalization is applied)")
        }
        return channelsFirst ? try permute(Variable(array), [2, 3, 1]).value : array
    }

    /// --output: the main output's rows in one file; a network with several outputs writes one file per output
    /// beside it, named by the output (`outputs.npy` → `outputs.classes.npy`, `outputs.score.npy`).
    func write(_ batches: [[Tensor]], to path: String, names: [String]) throws {
        guard let count = batches.first?.count else { return }
        let outputs = (0..<count).map { index in Tensor(stacking: batches.map { $0[index] }) }
        guard count > 1 else { return try NumPyArray.write(outputs[0], to: URL(fileURLWithPath: path)) }
        let stem = path.hasSuffix(".npy") ? String(path.dropLast(4)) : path
        let files = (0..<count).map { "\(stem).\(names.count == count ? names[$0] : "output\($0)").npy" }
        for (tensor, file) in zip(outputs, files) { try NumPyArray.write(tensor, to: URL(fileURLWithPath: file)) }
        Output.message("wrote the \(count) outputs to " + files.joined(separator: ", "))
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
