import ArgumentParser
import Foundation
import Zoo

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Transfer a pre-trained backbone to new classes: feature extraction or fine-tuning.",
        discussion: """
            --mode features runs the frozen backbone once per image (inference mode) and trains a new head on its \
            features, cached under $ZOO_CACHE/features so that a second run with another head takes seconds. \
            --mode finetune gives the backbone a new classifier and trains it with the layers --freeze leaves free; \
            frozen BatchNorm layers stay in inference mode. --mode scratch trains the same architecture from random \
            weights, the baseline to beat.

            --mode auto picks among them on your data: it holds out --validation (stratified, with --seed), trains \
            each candidate for --search-epochs (features from the final pooling and from the stage before, \
            fine-tuning the last stage, everything at 0.1× the rate, scratch; frozen features first when there are \
            fewer than 100 images per class), prints their validation top-1 and time, then trains the best for \
            --epochs. Scores within one validation image tie, and ties go to the cheaper strategy. The output folder \
            gets search.json and search.csv besides the usual files; --resume continues the chosen strategy.

            --freeze takes none, backbone (the default: everything but the new classifier), a layer name (that \
            layer and everything before it, e.g. a stage's end such as conv4_block6_out), or a pattern such as \
            'conv[1-3]_*'. --lr takes a rate or a schedule: piecewise:2=5e-4,5=2e-4,9=5e-5,1e-5 (rates through \
            epochs 2, 5, 9, then 1e-5), step:0.1,every=30,factor=0.1, cosine:0.01[,alpha=0].

            The output folder gets weights.safetensors and weights.h5 (Keras HDF5), checkpoint.safetensors (written \
            every epoch and on Ctrl-C; --resume continues from it exactly), log.csv, curves.png and confusion.txt.

            Examples:
              zoo finetune --arch lenet5-relu --weights lenet5-relu_fashion_0-1-3-5-8.safetensors --data fashion-mnist \\
                  --classes 2,4,6,7,9 --per-class 10 --freeze s4 --epochs 30 --lr 1e-2 --out runs/lenet-finetune
              zoo finetune --arch lenet5-relu --weights lenet5-relu_fashion_0-1-3-5-8.safetensors --data fashion-mnist \\
                  --classes 2,4,6,7,9 --per-class 10 --mode features --tap s4 --pooling flatten --out runs/lenet-features
              zoo finetune --arch resnet50 --weights resnet50_notop.h5 --data photos/ --mode features --head mlp
              zoo finetune --arch resnet50 --weights resnet50.h5 --data photos/ --freeze conv4_block6_out \\
                  --optimizer sgd --lr cosine:0.01 --backbone-lr 0.1 --augment flip,crop=16
              zoo finetune --arch resnet50 --weights resnet50_notop.h5 --data photos/ --mode auto --validation 0.2
              zoo finetune --weights my_keras_cnn.h5 --data photos/ --freeze block2_pool --lr 1e-4   (your own Keras model)
              zoo finetune [the options of the stopped run] --resume   (continues after Ctrl-C or a crash)
            Under mpirun (a build with MPI: swift build --traits MPI) the same command trains data-parallel: each \
            process takes its part of every --batch (the global batch), gradients are averaged over all, rank 0 \
            writes every file, and --resume works with any number of processes. BatchNorm layers that train use each \
            process's own batch statistics unless --sync-bn:
              mpirun -np 2 zoo finetune --arch resnet50 --weights resnet50.h5 --data photos/ --freeze none --out runs/r50
            """)

    @Option(help: "The backbone (see zoo list); without it, the one --weights fits, or the network the file's own Keras config describes.") var arch: String?
    @Option(help: "Pre-trained weights (native or any Keras format); with --mode scratch, only their architecture is used.") var weights: String?
    @OptionGroup var data: DataOptions
    @Option(help: "features, finetune, scratch, or auto (try them on held-out images, then train the best).") var mode: String = "finetune"
    @Option(name: .customLong("search-epochs"), help: "Epochs per candidate strategy (--mode auto).") var searchEpochs = 5
    @Option(help: "Layers to keep as loaded (finetune): none, backbone, a layer name, or a pattern.") var freeze: String = "backbone"
    @Option(name: .customLong("backbone-lr"), help: "Learning-rate multiplier for the backbone layers left trainable.") var backboneLR: Float = 1
    @Option(help: "Features from this layer instead of the final pooling (features mode).") var tap: String?
    @Option(help: "How the --tap feature map becomes features: average, max (over positions) or flatten.") var pooling = FeaturePooling.average
    @Option(help: "The new head on the features: linear or mlp.") var head: String = "linear"
    @Option(help: "Hidden units of the mlp head.") var hidden = 256
    @Option(help: "Passes over the training data.") var epochs = 10
    @Option(help: "Images per step.") var batch = 32
    @Option(help: "sgd, adam, rmsprop or adagrad.") var optimizer: String = "adam"
    @Option(help: "A learning rate or a schedule (see above).") var lr: String = "1e-3"
    @Option(help: "Epochs of linear warm-up before the schedule.") var warmup: Double = 0
    @Option(help: "SGD momentum.") var momentum: Float = 0.9
    @Flag(help: "Nesterov momentum (SGD).") var nesterov = false
    @Option(name: .customLong("weight-decay"), help: "Decoupled weight decay.") var weightDecay: Float = 0
    @Option(help: "Share of each class held out for validation.") var validation: Double = 0.1
    @Option(help: "Stop after this many epochs without a better validation loss.") var patience: Int?
    @Option(help: "Augmentation for training: flip, crop=PIXELS, jitter=SIGMA (comma-separated).") var augment: String?
    @Option(help: "Input size HxW (default: the backbone's).") var input: InputSize?
    @OptionGroup var crop: CropOption
    @OptionGroup var config: ModelConfigOption
    @Option(help: "Output folder.") var out: String = "zoo-run"
    @Flag(help: "Continue from the output folder's checkpoint.") var resume = false
    @Flag(name: .customLong("sync-bn"), help: "Under mpirun: BatchNorm layers that train normalize with the whole batch's statistics, not each process's part.")
    var syncBatchNorm = false
    @Flag(help: "Print the summary as JSON.") var json = false

    func validate() throws {
        guard TransferConfiguration.Mode(rawValue: mode) != nil || mode == "auto" else {
            throw ValidationError("--mode is features, finetune, scratch or auto, got '\(mode)'")
        }
        if mode == "auto" {
            guard validation > 0 else { throw ValidationError("--mode auto compares strategies on held-out images: give --validation above 0") }
            guard searchEpochs > 0 else { throw ValidationError("--search-epochs must be positive") }
        }
        guard TransferHead.Kind(rawValue: head) != nil else { throw ValidationError("--head is linear or mlp, got '\(head)'") }
        guard OptimizerChoice.Kind(rawValue: optimizer) != nil else { throw ValidationError("--optimizer is sgd, adam, rmsprop or adagrad, got '\(optimizer)'") }
        guard epochs > 0, batch > 0, hidden > 0 else { throw ValidationError("--epochs, --batch and --hidden must be positive") }
        guard validation >= 0, validation < 1 else { throw ValidationError("--validation is a share in [0, 1)") }
        if mode != "scratch" && weights == nil { throw ValidationError("--mode \(mode) needs --weights (pre-trained weights)") }
        if arch == nil && weights == nil { throw ValidationError("give --arch, or --weights to train the network the file holds") }
        _ = try augmentation()
    }

    /// `--arch` as registered; the network a Keras config describes, read from --weights, for `keras` or no --arch.
    func resolvedBackbone(arch: String?, weights: String?) throws -> any Backbone {
        if let arch, !(try Plugins.backbones.backbone(named: arch) is any ConfigurableBackbone) {
            return try Plugins.backbones.backbone(named: arch)
        }
        let file = weights!
        return try Plugins.backbones.backbone(named: arch, for: try config.read(file), file: file)
    }

    func augmentation() throws -> Augmentation {
        var result = Augmentation()
        for item in (augment ?? "").split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1)
            switch (kv[0], kv.count == 2 ? kv[1] : nil) {
            case ("flip", nil): result.horizontalFlip = true
            case ("crop", let v?) where Int(v).map({ $0 > 0 }) == true: result.padding = Int(v)!
            case ("jitter", let v?) where Float(v).map({ $0 > 0 }) == true: result.colorJitter = Float(v)!
            default: throw ValidationError("--augment: cannot read '\(item)'; use flip, crop=PIXELS, jitter=SIGMA")
            }
        }
        return result
    }

    func run() throws {
        let group = try Ranks.group()
        try Ranks.run(in: group) { try run(in: group) }
    }

    /// Under `mpirun` every rank runs this with the same options; rank 0 alone prints and writes.
    func run(in group: any ProcessGroup) throws {
        let speaks = group.isRoot && !json
        if config.path != nil && arch != nil && arch != "keras" { throw CLIError("--config describes the network itself; leave out --arch \(arch!)") }
        let backbone = try resolvedBackbone(arch: arch, weights: weights)
        let all = try data.dataset()
        let (training, held) = validation > 0 ? all.split(validationFraction: validation, seed: data.seed) : (all, nil)
        func plan(epochs: Int, patience: Int?) throws -> TrainingPlan {
            let schedule = try LearningRateSchedule.parse(lr, epochs: epochs)
            return TrainingPlan(epochs: epochs, batchSize: batch, schedule: warmup > 0 ? .warmup(epochs: warmup, then: schedule) : schedule,
                                seed: data.seed, patience: patience)
        }
        var configuration = TransferConfiguration(
            mode: TransferConfiguration.Mode(rawValue: mode) ?? .finetune, backbone: backbone, weights: weights.map { URL(fileURLWithPath: $0) },
            training: training, validation: held.flatMap { $0.count > 0 ? $0 : nil }, plan: try plan(epochs: epochs, patience: patience),
            optimizer: OptimizerChoice(OptimizerChoice.Kind(rawValue: optimizer)!, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay),
            output: URL(fileURLWithPath: out))
        configuration.inputSize = input?.pair
        configuration.cropFraction = crop.value
        configuration.freeze = FreezePolicy(freeze)
        configuration.backboneRateMultiplier = backboneLR
        configuration.head = TransferHead.Kind(rawValue: head)!
        configuration.hidden = hidden
        configuration.tap = tap
        configuration.pooling = pooling
        configuration.augmentation = try augmentation()
        configuration.strict = data.strict
        configuration.synchronizeBatchNorm = syncBatchNorm

        if mode == "auto" {
            configuration = try searched(configuration, searchPlan: try plan(epochs: searchEpochs, patience: nil), group: group)
        }
        let job = TransferJob(configuration, formats: Plugins.weightFormats)
        job.group = group
        if group.isRoot, !resume, FileManager.default.fileExists(atPath: job.checkpointURL.path) {
            Output.message("note: \(out) holds a checkpoint; this run starts afresh and replaces it (--resume continues it instead)")
        }
        let interruption = Interruption()
        job.shouldStop = { interruption.isRequested }
        let extraction = ProgressBar("features", total: 1)
        var bar: ProgressBar?
        if group.isRoot {
            job.onExtraction = { done, total in extraction.update(done, total: total) }
            job.onProgress = { p in
                if bar == nil { bar = ProgressBar("epoch \(p.epoch + 1)/\(p.epochs)", total: p.batches) }
                bar!.update(p.batch, detail: String(format: "loss %.4f  %.0f img/s", p.loss, p.imagesPerSecond))
            }
        }
        job.onEpoch = { record in
            bar?.finish()
            bar = nil
            if speaks { print(Self.line(record)) }
        }
        job.onMessage = { if speaks { Output.message($0) } }
        if speaks {
            let (least, most) = (batch / group.size, (batch + group.size - 1) / group.size)
            let ranks = group.size > 1 ? ", \(group.size) processes, \(least == most ? "\(least)" : "\(least)–\(most)") images each per step" : ""
            Output.message("\(configuration.mode.rawValue): \(backbone.name) on \(training.name), \(training.classNames.count) classes, "
                + "\(training.count) training and \(held?.count ?? 0) validation images" + ranks)
        }
        let result: TransferResult
        do { result = try job.run(resume: resume) } catch let error as DatasetError {
            throw CLIError(error.description)
        }
        extraction.finish()
        bar?.finish()
        guard group.isRoot else {
            if result.outcome == .interrupted { throw ExitCode(130) }
            return
        }
        if !result.skipped.isEmpty {
            Output.message("skipped \(result.skipped.count) unreadable image\(result.skipped.count == 1 ? "" : "s"), e.g. \(result.skipped[0].sample): \(result.skipped[0].reason)")
        }
        if result.outcome == .interrupted {
            Output.message("stopped; the checkpoint is \(job.checkpointURL.path); continue with the same command and --resume")
            throw ExitCode(130)
        }
        try report(result, mode: configuration.mode.rawValue, architecture: backbone.name, classNames: training.classNames, processes: group.size)
    }

    /// --mode auto: the configuration with the strategy a search on the held-out images chose (or, with --resume,
    /// the one the stopped run's search chose), recorded in the output folder and the weights' metadata.
    /// In a group rank 0's record decides, and every rank runs the same search.
    func searched(_ base: TransferConfiguration, searchPlan: TrainingPlan, group: any ProcessGroup) throws -> TransferConfiguration {
        let record = base.output.appendingPathComponent("search.json")
        let search: SearchRecord
        let speaks = group.isRoot && !json
        let recorded = try group.broadcast(resume && group.isRoot ? (try? Data(contentsOf: record)) ?? Data() : Data())
        if !recorded.isEmpty {
            search = try JSONDecoder().decode(SearchRecord.self, from: recorded)
            if speaks { Output.message("--resume: continuing the strategy the search chose: \(search.chosen)") }
        } else {
            let perClass = base.training.count / max(1, base.training.classNames.count)
            var strategies = StrategySearch(candidates: try TransferStrategy.candidates(for: base.backbone, inputSize: base.inputSize, imagesPerClass: perClass),
                                            plan: searchPlan)
            strategies.group = group
            var bar: ProgressBar?
            strategies.onTrial = { index, count, strategy in
                bar?.finish()
                bar = !speaks ? nil : ProgressBar("search \(index + 1)/\(count): \(strategy)", total: searchPlan.epochs)
            }
            strategies.onJob = { job in job.onEpoch = { record in bar?.update(record.epoch) } }
            let result = try strategies.run(base, formats: Plugins.weightFormats)
            bar?.finish()
            search = SearchRecord(trials: result.trials, chosen: result.chosen, searchEpochs: searchPlan.epochs)
            if group.isRoot {
                try FileManager.default.createDirectory(at: base.output, withIntermediateDirectories: true)
                try writeAtomically(to: record) { try JSONEncoder.reproducible.encode(search).write(to: $0) }
                try writeAtomically(to: base.output.appendingPathComponent("search.csv")) { try Data(result.csv.utf8).write(to: $0) }
            }
            if speaks { print("strategy search on \(base.validation!.count) validation images, \(searchPlan.epochs) epochs each:\n" + result.table) }
        }
        var configuration = search.chosen.configured(base)
        configuration.notes["transfer_search"] = try MetadataKey.json(search)
        return configuration
    }

    /// What a search found, as search.json holds it.
    struct SearchRecord: Codable {
        let trials: [StrategySearch.Trial]
        let chosen: TransferStrategy
        let searchEpochs: Int
    }

    static func line(_ r: EpochRecord) -> String {
        var text = String(format: "epoch %3d  lr %.2g  loss %.4f  top-1 %5.1f%%  top-5 %5.1f%%", r.epoch, r.learningRate, r.trainLoss, 100 * r.trainTop1, 100 * r.trainTop5)
        if let loss = r.validationLoss, let top1 = r.validationTop1, let top5 = r.validationTop5 {
            text += String(format: "  │ val loss %.4f  top-1 %5.1f%%  top-5 %5.1f%%", loss, 100 * top1, 100 * top5)
        }
        return text + String(format: "  │ %.1f s, %.0f img/s", r.seconds, r.imagesPerSecond)
    }

    func report(_ result: TransferResult, mode: String, architecture: String, classNames: [String], processes: Int) throws {
        var summary: [String: Any] = ["mode": mode, "architecture": architecture, "epochs": result.history.count,
                                      "files": result.files.map(\.path), "features_cached": result.featuresCached, "processes": processes]
        if processes > 1 {
            summary["communication"] = ["wait_seconds": result.communication.waitSeconds, "bytes_per_step": result.communication.bytesPerStep]
        }
        if let last = result.history.last { summary["images_per_second"] = last.imagesPerSecond }
        if case .stoppedEarly(let epoch) = result.outcome { summary["stopped_early_after_epoch"] = epoch }
        if let v = result.validation {
            summary["validation"] = ["loss": v.loss, "top1": v.top1, "top5": v.top5, "images": v.count, "confusion": v.confusion ?? []]
        }
        if let last = result.history.last { summary["train"] = ["loss": last.trainLoss, "top1": last.trainTop1, "top5": last.trainTop5] }
        if json { return try Output.json(summary) }
        if case .stoppedEarly(let epoch) = result.outcome { print("stopped early after epoch \(epoch): validation loss did not improve") }
        if let v = result.validation, let confusion = v.confusion {
            print(String(format: "\nvalidation: loss %.4f, top-1 %.1f%%, top-5 %.1f%% on %d images", v.loss, 100 * v.top1, 100 * v.top5, v.count))
            print(TrainingLog.confusion(confusion, classNames: classNames), terminator: "")
        }
        print("\nwrote " + result.files.map { $0.lastPathComponent }.joined(separator: ", ") + " to \(out)")
    }
}

extension FeaturePooling: ExpressibleByArgument {}
