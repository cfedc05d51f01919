import ArgumentParser
import Foundation
import Zoo

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score weights on a data set: loss, top-1, top-5 and the confusion matrix.",
        discussion: """
            Takes what zoo finetune wrote (its metadata names the backbone, the head and the classes) or any weight \
            file with a classifier (then give --arch, or let the file's layers decide). The data's classes must be \
            the classifier's, in its order: select them with --classes as in training. --ten-crop averages each \
            image's predictions over its four corners, centre and their mirrors.

            Examples:
              zoo evaluate --weights runs/lenet-finetune/weights.safetensors --data fashion-mnist --split test --classes 2,4,6,7,9
              zoo evaluate --arch resnet50 --weights resnet50.h5 --data imagenet-val/ --ten-crop --json
            """)

    @Option(help: "The backbone, when the file does not name it.") var arch: String?
    @Option(help: "Trained weights with a classifier.") var weights: String
    @OptionGroup var data: DataOptions
    @Option(help: "Images per forward pass.") var batch = 32
    @OptionGroup var crop: CropOption
    @OptionGroup var config: ModelConfigOption
    @Flag(name: .customLong("ten-crop"), help: "Average predictions over ten crops per image.") var tenCrop = false
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        let url = URL(fileURLWithPath: weights)
        var trained = try Network.open(weights, arch: arch, config: config)
        if let fraction = crop.value { trained.cropFraction = fraction }
        try trained.requireImages(for: "zoo evaluate")
        _ = try trained.requireClassifier(for: "zoo evaluate")
        let dataset = try data.dataset()
        if trained.classes != dataset.classNames.count {
            throw CLIError("\(url.path) classifies \(trained.classes) classes, \(dataset.name) has \(dataset.classNames.count) after --classes; select the classes it was trained on")
        }
        if let names = trained.classNames, names != dataset.classNames {
            Output.message("note: the weights were trained on classes named \(names.joined(separator: ", ")); the data's are \(dataset.classNames.joined(separator: ", "))")
        }
        let preparation = trained.preparation
        let progress = ProgressBar("evaluate", total: dataset.count)
        let metrics = try tenCrop
            ? TenCropEvaluation(model: trained.model, preparation: preparation, batchSize: batch, strict: data.strict)
                .evaluate(dataset) { progress.update($0) }
            : Trainer.evaluate(trained.model, on: ImageData(dataset, preparation: preparation, strict: data.strict), batchSize: batch)
        progress.finish()
        if json {
            return try Output.json(["images": metrics.count, "loss": metrics.loss, "top1": metrics.top1, "top5": metrics.top5,
                                    "confusion": metrics.confusion ?? [], "class_names": dataset.classNames])
        }
        print(String(format: "%@ on %@: loss %.4f, top-1 %.2f%%, top-5 %.2f%% (%d images%@)", url.lastPathComponent, dataset.name,
                     metrics.loss, 100 * metrics.top1, 100 * metrics.top5, metrics.count, tenCrop ? ", ten crops" : ""))
        if let confusion = metrics.confusion { print(TrainingLog.confusion(confusion, classNames: dataset.classNames), terminator: "") }
        if metrics.count < dataset.count { Output.message("\(dataset.count - metrics.count) unreadable images were skipped") }
    }
}

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Write a backbone's features of a data set, for other tools.",
        discussion: """
            Runs the backbone (without its top, in inference mode) once per image and writes a safetensors file with \
            `features/features` [images, width] and `features/labels` [images], the class names in its metadata. \
            Features come from the final global pooling, or from --tap averaged over its positions (--pooling max or \
            flatten instead).

            Examples:
              zoo extract --arch resnet50 --weights resnet50_notop.h5 --data photos/ -o photos-resnet50.safetensors
              zoo extract --arch vgg16 --weights vgg16_notop.h5 --data fashion-mnist --tap block4_pool -o f.safetensors
              mpirun -np 4 zoo extract --arch resnet50 --weights resnet50_notop.h5 --data photos/ -o f.safetensors   (4 processes)
            """)

    @Option(help: "The backbone (see zoo list); without it, the one --weights fits, or the network the file's own Keras config describes.") var arch: String?
    @Option(help: "Pre-trained weights (native or any Keras format).") var weights: String
    @OptionGroup var data: DataOptions
    @Option(help: "Features from this layer instead of the final pooling.") var tap: String?
    @Option(help: "How the --tap feature map becomes features: average, max (over positions) or flatten.") var pooling = FeaturePooling.average
    @Option(help: "Input size HxW (default: the backbone's).") var input: InputSize?
    @OptionGroup var crop: CropOption
    @OptionGroup var config: ModelConfigOption
    @Option(help: "Images per forward pass.") var batch = 32
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() throws {
        let group = try Ranks.group()
        try Ranks.run(in: group) { try run(in: group) }
    }

    /// Under `mpirun` each rank extracts a share of the batches and rank 0 writes the whole file.
    func run(in group: any ProcessGroup) throws {
        let bundle = try config.read(weights)
        let backbone = try Plugins.backbones.backbone(named: arch, for: bundle, file: weights)
        let model = try TransferModels.features(backbone, weights: bundle, tap: tap, inputSize: input?.pair)
        _ = try TransferHead.featureCount(of: model, tap: tap)  // a clear error for an unknown tap before any work
        let dataset = try data.dataset()
        var extractor = FeatureExtractor(backbone: model, tap: tap, preparation: ImagePreparation(for: backbone, inputSize: input?.pair, cropFraction: crop.value))
        extractor.pooling = pooling
        extractor.batchSize = batch
        extractor.strict = data.strict
        let progress = ProgressBar("extract", total: dataset.count)
        let start = Date()
        let (features, skipped) = try extractor.extract(dataset, group: group) { done, _ in if group.isRoot { progress.update(done) } }
        progress.finish()
        let seconds = Date().timeIntervalSince(start)
        guard group.isRoot else { return }
        let url = URL(fileURLWithPath: output)
        try features.write(to: url)
        let summary: [String: Any] = ["output": url.path, "images": features.count, "features": features.features.shape.last ?? 0,
                                      "skipped": skipped.count, "seconds": seconds, "images_per_second": Double(features.count) / seconds]
        if json { return try Output.json(summary) }
        print("wrote \(features.count) × \(features.features.shape.last ?? 0) features to \(url.path) "
              + String(format: "(%.1f s, %.0f images/s)", seconds, Double(features.count) / seconds))
        if !skipped.isEmpty { Output.message("skipped \(skipped.count) unreadable images, e.g. \(skipped[0].sample): \(skipped[0].reason)") }
    }
}
