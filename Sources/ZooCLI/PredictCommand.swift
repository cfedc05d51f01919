import ArgumentParser
import Foundation
import Zoo

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a network on images or prepared arrays: top classes for a classifier, every output for any network.",
        discussion: """
            Any network runs: a registered backbone, what zoo finetune wrote, or the network a Keras file's own config \
            describes (a classifier, a U-Net, an autoencoder, a generator, a detector with several outputs). Images \
            (JPEG or PNG) are resized, centre-cropped and normalized as the backbone's plugin says (see zoo info \
            NAME); --crop-fraction 1 resizes the whole image to the input size instead, as Keras's \
            load_img(target_size=...) does. A .npy argument holds inputs already prepared (float32 or float64, \
            samples along the first axis, at the network's input shape: [N, H, W, C] for images, [N, 28, 28] or \
            [N, 100] for networks that take such arrays), run as they are; a network whose config leaves its height \
            and width free runs at the arrays' size (or --input HxW for images). A network with several inputs takes \
            one .npy per input, in its input order (see zoo info).

            A classifier's top classes are printed with names from --labels, the names zoo finetune recorded, or \
            ImageNet's for 1000 classes, else as class indices. A network without a classifier prints each output's \
            shape and value range. --output writes the outputs as .npy (probabilities, or logits for a network that \
            ends without a softmax, as Keras's model.predict gives them); with several outputs, --output out.npy \
            writes out.NAME.npy per output. An image that cannot be decoded is reported and skipped; the exit status \
            is then 1.

            Examples:
              zoo predict --arch resnet50 --weights resnet50.safetensors cat.jpg dog.png
              zoo predict --arch lenet5 --weights lenet5.safetensors --labels classes.txt --top 3 images/*.png
              zoo predict --weights runs/lenet-finetune/weights.safetensors images/*.png
              zoo predict --weights unet.h5 images.npy --output masks.npy
              zoo predict --weights generator.keras latent.npy --output generated.npy
              zoo predict --weights two_inputs.h5 images.npy metadata.npy --output out.npy
              zoo predict --arch vgg16 --weights vgg16.h5 --json photo.jpg
            """)

    @Option(help: "The backbone the weights are for (see zoo list); not needed for what zoo finetune wrote or a Keras file with its config.") var arch: String?
    @Option(help: "A weight file (native or any Keras format).") var weights: String
    @Option(help: "Class names, one per line (default: recorded ones, ImageNet's for 1000 classes, else indices).") var labels: String?
    @Option(help: "How many classes to show per image.") var top = 5
    @Option(help: "Images per forward pass.") var batch = 16
    @Option(help: "Input height and width for images, as HxW, where the network leaves them free.") var input: InputSize?
    @OptionGroup var crop: CropOption
    @OptionGroup var config: ModelConfigOption
    @Option(help: "Pixel normalization instead of the backbone's: unit (0…1), tf (-1…1), caffe, torch or none (0…255).") var preprocess: Preprocessing?
    @Flag(help: "Print JSON instead of text.") var json = false
    @Option(help: "Also write the network's outputs, one row per sample, as float32 NumPy files (probabilities, or logits for a network that ends without a softmax).")
    var output: String?
    @Argument(help: "JPEG or PNG images, or NumPy .npy arrays of prepared inputs (one per input, in order, for a network with several).") var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image or .npy file") }
        guard top > 0 else { throw ValidationError("--top must be positive") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        var network = try Network.open(weights, arch: arch, config: config, inputSize: input?.pair)
        if let fraction = crop.value { network.cropFraction = fraction }
        let names = try network.classifier.flatMap { try classNames(labels: labels, count: $0.classes, recorded: $0.recordedNames) }
        if labels != nil && network.classifier == nil {
            throw CLIError("--labels \(labels!): \(weights) has no classifier to name the classes of (its outputs: \(network.outputNames.joined(separator: ", ")))")
        }
        var preparation = network.preparation
        if let preprocess { preparation.preprocessing = preprocess }

        var results: [[String: Any]] = [], outputs: [[Tensor]] = []
        var failures = 0
        /// Runs a prepared batch (one tensor per input) whose rows are named `rows`: ranks a classifier's classes,
        /// summarizes other outputs, keeps every output for --output.
        func score(_ network: Network, _ inputs: [Tensor], rows: [String]) throws {
            let all = try Gradients.off { try network.model(inputs.map { Variable($0) }).outputs.map(\.value) }
            guard let classifier = network.classifier else {
                if output != nil { outputs.append(all) }
                for (row, name) in rows.enumerated() {
                    results.append(["input": name, "outputs": zip(network.outputNames, all).map { name, tensor in
                        summary(of: tensor.rows(row..<(row + 1)), named: name)
                    }])
                }
                return
            }
            let logits = all[0]
            let probabilities = try softmax(Variable(logits)).value
            if output != nil { outputs.append([classifier.outputsProbabilities ? probabilities : logits] + all.dropFirst()) }
            for (name, best) in zip(rows, Network.ranking(probabilities, top: top)) {
                results.append(["image": name, "top": best.map { entry in
                    var ranked: [String: Any] = ["class": entry.class, "probability": Double(entry.probability)]
                    if let names { ranked["label"] = names[entry.class] }
                    return ranked
                }])
            }
        }
        var pending: [(String, Image)] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            try score(network, [preparation.batch(pending.map(\.1))], rows: pending.map(\.0))
            pending = []
        }
        // A network with several inputs takes one .npy per input, in its input order, for each set of samples.
        let inputCount = network.model.inputShapes.count
        if inputCount > 1 {
            guard images.allSatisfy({ $0.hasSuffix(".npy") }), images.count % inputCount == 0 else {
                throw CLIError("the network takes \(inputCount) inputs \(network.model.inputDescription): give one .npy file per input, in that order")
            }
        }
        let progress = ProgressBar("predict", total: images.count)
        for (done, path) in images.enumerated() {
            if path.hasSuffix(".npy") {
                guard done % inputCount == 0 else { continue }
                try flush()
                let group = Array(images[done..<(done + inputCount)])
                let arrays = try group.indices.map { index in
                    try preparedArray(group[index], network: &network, index: index,
                                      input: inputCount > 1 ? "input \(index + 1) (\(network.model.inputNames.count == inputCount ? network.model.inputNames[index] : "of \(inputCount)"))" : nil)
                }
                guard Set(arrays.map { $0.shape[0] }).count == 1 else {
                    throw CLIError(group.joined(separator: ", ") + " hold \(arrays.map { String($0.shape[0]) }.joined(separator: ", ")) samples; each input needs one per sample")
                }
                for start in stride(from: 0, to: arrays[0].shape[0], by: batch) {
                    let rows = start..<min(start + batch, arrays[0].shape[0])
                    try score(network, arrays.map { $0.rows(rows) }, rows: rows.map { "\(path)[\($0)]" })
                }
            } else {
                do {
                    try network.requireImages(for: "an image file")
                    if network.freeSize && input == nil {
                        throw CLIError("\(path): the network takes images of any size; give the size to run at with --input HxW, or prepared .npy arrays")
                    }
                    pending.append((path, try ImageCodec.decode(contentsOf: URL(fileURLWithPath: path))))
                } catch let error as ShapeError {
                    throw CLIError("\(path): \(error); give prepared inputs as .npy")
                } catch let error as CLIError {
                    throw error
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
        if let output { try write(outputs, to: output, names: network.outputNames) }
        if json { try Output.json(results) } else {
            for result in results {
                if let entries = result["top"] as? [[String: Any]] {
                    print(result["image"] as! String)
                    for entry in entries {
                        let index = entry["class"] as! Int
                        print(String(format: "  %6.2f%%  ", 100 * (entry["probability"] as! Double)) + ((entry["label"] as? String).map { "\($0) (\(index))" } ?? "class \(index)"))
                    }
                } else {
                    print(result["input"] as! String)
                    for entry in result["outputs"] as! [[String: Any]] {
                        print("  \(entry["name"]!)  (" + (entry["shape"] as! [Int]).map(String.init).joined(separator: ", ") + ")  "
                              + String(format: "min %.6g  max %.6g  mean %.6g", entry["min"] as! Double, entry["max"] as! Double, entry["mean"] as! Double))
                    }
                }
            }
        }
        if failures > 0 { throw CLIError("\(failures) of \(images.count) image\(images.count == 1 ? "" : "s") could not be read") }
    }

    /// One sample's output, described: its name, shape without the batch axis, and value range.
    func summary(of tensor: Tensor, named name: String) -> [String: Any] {
        let values = tensor.scalars
        let mean = values.isEmpty ? 0 : values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        return ["name": name, "shape": Array(tensor.shape.dropFirst()), "min": Double(values.min() ?? 0), "max": Double(values.max() ?? 0), "mean": mean]
    }

    /// A .npy of prepared inputs for input `index` of the network, channels-last. A network whose config leaves its
    /// height and width free is built for the array's. `input` names which input it is, when there are several.
    func preparedArray(_ path: String, network: inout Network, index: Int, input: String?) throws -> Tensor {
        let array = try NumPyArray.read(URL(fileURLWithPath: path))
        // A channels-first Keras network takes images as [N, C, H, W], as Keras does; Zoo runs it channels-last.
        let shape = network.model.inputShapes[index]
        let channelsFirst = network.channelsFirst && shape.count == 3
        if index == 0, network.freeSize, array.shape.count == 4 {
            let (height, width) = channelsFirst ? (array.shape[2], array.shape[3]) : (array.shape[1], array.shape[2])
            if (height, width) != (shape[0], shape[1]) {
                do { network = try network.resized(to: (height, width)) } catch {
                    throw CLIError("\(path): the network cannot run at \(height)×\(width): \(error)")
                }
            }
        }
        let expected = network.model.inputShapes[index]
        let declared = channelsFirst ? [expected[2], expected[0], expected[1]] : expected
        guard array.shape.count == declared.count + 1, Array(array.shape.dropFirst()) == declared else {
            throw CLIError("\(path): an array of shape \(array.shape), but the network\(input.map { "'s \($0)" } ?? "") takes [N, \(declared.map(String.init).joined(separator: ", "))] "
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

extension Network {
    /// The network in a weight file, for `predict` and `evaluate`: a Keras or native file of a backbone, what zoo
    /// finetune wrote, or a Keras network built from its config; weights that do not fit become one message naming
    /// the file.
    static func open(_ path: String, arch: String?, config: ModelConfigOption, inputSize: (Int, Int)? = nil) throws -> Network {
        let url = URL(fileURLWithPath: path)
        let bundle = try config.read(path)
        do { return try Network(bundle, file: url.path, backbones: Plugins.backbones, arch: arch, inputSize: inputSize) } catch let error as LoadError {
            throw CLIError("\(url.path): " + error.description)
        }
    }
}

extension Preprocessing: ExpressibleByArgument {}
