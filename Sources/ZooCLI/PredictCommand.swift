import ArgumentParser
import Foundation
import Zoo

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify images with a backbone and its weights.",
        discussion: """
            Images (JPEG or PNG) are resized, centre-cropped and normalized as the backbone's plugin says (see zoo \
            info NAME). Weights with 1000 classes are labelled with the ImageNet class names Zoo ships; others need \
            --labels, a text file with one class name per line in class order. An image that cannot be decoded is \
            reported and skipped; the exit status is then 1.

            Examples:
              zoo predict --arch resnet50 --weights resnet50.safetensors cat.jpg dog.png
              zoo predict --arch lenet5 --weights lenet5.safetensors --labels classes.txt --top 3 images/*.png
              zoo predict --arch vgg16 --weights vgg16.h5 --json photo.jpg
            """)

    @Option(help: "The backbone the weights are for (see zoo list).") var arch: String
    @Option(help: "A weight file with the classifier (native or any Keras format).") var weights: String
    @Option(help: "Class names, one per line (default: ImageNet's for 1000 classes).") var labels: String?
    @Option(help: "How many classes to show per image.") var top = 5
    @Option(help: "Images per forward pass.") var batch = 16
    @Flag(help: "Print JSON instead of text.") var json = false
    @Argument(help: "JPEG or PNG images.") var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        guard top > 0 else { throw ValidationError("--top must be positive") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        let backbone = try Plugins.backbones.backbone(named: arch)
        let weightsURL = URL(fileURLWithPath: weights)
        let bundle = try Plugins.weightFormats.read(weightsURL)
        let match: ArchitectureMatch
        do { match = try Plugins.backbones.fit(backbone, bundle) } catch let error as LoadError {
            throw CLIError("\(weightsURL.path): " + error.description)
        }
        guard match.options.includeTop else {
            throw CLIError("\(weightsURL.path) has no classifier (it is a notop file); predict needs weights with the top")
        }
        // Auxiliary classifiers, when the file has them, load too; they only run in training.
        let options = match.options
        let model = match.model
        try model.load(bundle)
        let names = try classNames(count: options.classes)
        let preparation = ImagePreparation(for: backbone)

        var results: [[String: Any]] = []
        var failures = 0
        let progress = ProgressBar("predict", total: images.count)
        for start in stride(from: 0, to: images.count, by: batch) {
            var decoded: [(String, Image)] = []
            for path in images[start..<min(start + batch, images.count)] {
                do { decoded.append((path, try ImageCodec.decode(contentsOf: URL(fileURLWithPath: path)))) } catch {
                    progress.finish()
                    Output.message("error: \(error); skipped")
                    failures += 1
                }
            }
            if !decoded.isEmpty {
                let input = preparation.batch(decoded.map(\.1))
                let probabilities = try model(Variable(input)).main.value
                let classes = options.classes
                probabilities.withUnsafeBufferPointer { values in
                    for (row, (path, _)) in decoded.enumerated() {
                        let scores = values[(row * classes)..<((row + 1) * classes)]
                        let best = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(top)
                        results.append(["image": path, "top": best.map { index in
                            ["class": index - row * classes, "label": names[index - row * classes], "probability": Double(scores[index])] as [String: Any]
                        }])
                    }
                }
            }
            progress.update(min(start + batch, images.count))
        }
        progress.finish()
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

    func classNames(count: Int) throws -> [String] {
        guard let labels else {
            guard count == 1000 else {
                throw CLIError("the weights have \(count) classes; give their names with --labels FILE (one per line)")
            }
            return ClassNames.imageNet
        }
        let names = try ClassNames.read(contentsOf: URL(fileURLWithPath: labels))
        guard names.count == count else {
            throw CLIError("\(labels) names \(names.count) classes, but the weights have \(count)")
        }
        return names
    }
}
