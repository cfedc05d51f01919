import Foundation
import Testing
import ZooTestSupport
import Zoo

/// The example LeNet-5 (ReLU; Keras, Fashion-MNIST classes 0, 1, 3, 5, 8) converted to the native format, once per test.
func exampleLeNet(in folder: URL) throws -> URL {
    let native = folder.appendingPathComponent("lenet5.safetensors")
    let result = try runZoo(["convert", repository.appendingPathComponent("examples/lenet5-relu_fashion_0-1-3-5-8.h5").path, "-o", native.path])
    #expect(result.status == 0, "\(result.stderr)")
    return native
}

/// zoo finetune on 10 Fashion-MNIST images per class of 2, 4, 6, 7, 9, with the given extra arguments.
func finetune(_ weights: URL?, out: URL, _ extra: [String], cache: URL) throws -> (status: Int32, stdout: String, stderr: String) {
    try runZoo(["finetune", "--arch", "lenet5-relu", "--data", "fashion-mnist", "--classes", "2,4,6,7,9", "--per-class", "10", "--validation", "0.2",
                "--out", out.path] + (weights.map { ["--weights", $0.path] } ?? []) + extra, environment: ["ZOO_CACHE": cache.path])
}

@Suite struct TransferCommandTests {
    @Test func finetunesEvaluatesAndWritesEverything() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder), out = folder.appendingPathComponent("run")
        let result = try finetune(weights, out: out, ["--freeze", "c5", "--epochs", "3", "--lr", "1e-2", "--json"], cache: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try json(result.stdout) as? [String: Any])
        #expect(summary["epochs"] as? Int == 3)
        for file in ["weights.safetensors", "weights.h5", "checkpoint.safetensors", "log.csv", "curves.png", "confusion.txt"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file)")
        }
        let log = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 4 && log[0].hasPrefix("epoch,learning_rate,train_loss"))
        #expect(try ImageCodec.decode(contentsOf: out.appendingPathComponent("curves.png")).width == 720)

        // The frozen layers are the Keras file's, bit for bit; the new classifier is not.
        let before = try Plugins.weightFormats.read(weights), after = try Plugins.weightFormats.read(out.appendingPathComponent("weights.safetensors"))
        for layer in ["c1", "c3", "c5"] {
            #expect(try before.layer(named: layer)!.arrays.map { try $0.tensor() } == after.layer(named: layer)!.arrays.map { try $0.tensor() }, "\(layer)")
        }
        #expect(try before.layer(named: "f6")!.arrays[0].tensor() != after.layer(named: "f6")!.arrays[0].tensor())

        // Both outputs score the same on the test split, and the Keras file is what Keras can read back.
        for file in ["weights.safetensors", "weights.h5"] {
            let scored = try runZoo(["evaluate", "--arch", "lenet5-relu", "--weights", out.appendingPathComponent(file).path, "--data", "fashion-mnist",
                                     "--split", "test", "--classes", "2,4,6,7,9", "--per-class", "40", "--json"])
            #expect(scored.status == 0, "\(scored.stderr)")
            let scores = try #require(try json(scored.stdout) as? [String: Any])
            #expect(scores["images"] as? Int == 200 && (scores["top1"] as! Double) > 0.5, "\(scores)")
            #expect((scores["confusion"] as? [[Int]])?.map { $0.reduce(0, +) } == [40, 40, 40, 40, 40])
        }
        // zoo predict takes the run's output as it is: no --arch, and the class names the run recorded.
        let predicted = try runZoo(["predict", "--weights", out.appendingPathComponent("weights.safetensors").path, "--json",
                                    repository.appendingPathComponent("examples/images/7-sneaker-1.png").path])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let top = try #require((try json(predicted.stdout) as? [[String: Any]])?.first?["top"] as? [[String: Any]])
        #expect(Set(top.compactMap { $0["label"] as? String }) == ["Pullover", "Coat", "Shirt", "Sneaker", "Ankle boot"])
        let tenCrop = try runZoo(["evaluate", "--weights", out.appendingPathComponent("weights.safetensors").path, "--data", "fashion-mnist",
                                  "--split", "test", "--classes", "2,4,6,7,9", "--per-class", "10", "--ten-crop"])
        #expect(tenCrop.status == 0 && tenCrop.stdout.contains("(50 images, ten crops)"), "\(tenCrop.stdout)\(tenCrop.stderr)")
        let wrongClasses = try runZoo(["evaluate", "--weights", out.appendingPathComponent("weights.safetensors").path, "--data", "fashion-mnist",
                                       "--split", "test", "--classes", "2,4,6,7"])
        #expect(wrongClasses.status == 1 && wrongClasses.stderr.contains("classifies 5 classes"), "\(wrongClasses.stderr)")
    }

    @Test func featureExtractionCachesFeatures() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        let first = try finetune(weights, out: folder.appendingPathComponent("a"), ["--mode", "features", "--epochs", "2", "--json"], cache: folder)
        #expect(first.status == 0, "\(first.stderr)")
        #expect((try json(first.stdout) as? [String: Any])?["features_cached"] as? Bool == false)
        let cached = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("features").path)
        #expect(cached.count == 2, "training and validation features: \(cached)")
        let second = try finetune(weights, out: folder.appendingPathComponent("b"), ["--mode", "features", "--head", "mlp", "--epochs", "2", "--json"], cache: folder)
        #expect(second.status == 0, "\(second.stderr)")
        #expect((try json(second.stdout) as? [String: Any])?["features_cached"] as? Bool == true)
        let scored = try runZoo(["evaluate", "--weights", folder.appendingPathComponent("b/weights.safetensors").path, "--data", "fashion-mnist",
                                 "--split", "test", "--classes", "2,4,6,7,9", "--per-class", "20"])
        #expect(scored.status == 0 && scored.stdout.contains("100 images"), "\(scored.stderr)")
        let predicted = try runZoo(["predict", "--weights", folder.appendingPathComponent("b/weights.safetensors").path, "--top", "1",
                                    repository.appendingPathComponent("examples/images/8-bag-1.png").path])
        let line = predicted.stdout.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        #expect(predicted.status == 0 && ["Pullover", "Coat", "Shirt", "Sneaker", "Ankle boot"].contains { line.contains($0) },
                "the head on features predicts too: \(predicted.stdout)\(predicted.stderr)")

        let features = folder.appendingPathComponent("f.safetensors")
        let extracted = try runZoo(["extract", "--arch", "lenet5-relu", "--weights", weights.path, "--data", "fashion-mnist", "--classes", "2,4,6,7,9",
                                    "--per-class", "4", "--tap", "s4", "-o", features.path, "--json"])
        #expect(extracted.status == 0, "\(extracted.stderr)")
        let data = try FeatureData(contentsOf: features)
        #expect(data.features.shape == [20, 16] && data.labels.count == 20 && data.classNames.first == "Pullover")
        // Flattened instead of averaged over positions: every one of s4's 5×5×16 values, in NHWC order.
        let flat = folder.appendingPathComponent("flat.safetensors")
        let flattened = try runZoo(["extract", "--arch", "lenet5-relu", "--weights", weights.path, "--data", "fashion-mnist", "--classes", "2,4,6,7,9",
                                    "--per-class", "4", "--tap", "s4", "--pooling", "flatten", "-o", flat.path])
        #expect(flattened.status == 0, "\(flattened.stderr)")
        let all = try FeatureData(contentsOf: flat)
        #expect(all.features.shape == [20, 400] && all.labels == data.labels)
        for row in [0, 19] {
            let values = Array(all.features.scalars[(row * 400)..<((row + 1) * 400)])
            let mean = (0..<16).map { c in stride(from: c, to: 400, by: 16).map { values[$0] }.reduce(0, +) / 25 }
            let averaged = Array(data.features.scalars[(row * 16)..<((row + 1) * 16)])
            #expect(zip(mean, averaged).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "row \(row): the mean over positions is the averaged feature")
        }
    }

    @Test func stopsOnCtrlCOrKillAndResumesExactly() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        // Enough epochs that Ctrl-C lands in the middle of the run.
        let arguments = ["--freeze", "s4", "--epochs", "150", "--batch", "4", "--lr", "1e-3", "--augment", "flip,crop=2"]
        let straight = try finetune(weights, out: folder.appendingPathComponent("straight"), arguments, cache: folder)
        #expect(straight.status == 0, "\(straight.stderr)")

        // Stopped once an epoch is logged (Ctrl-C, which saves mid-epoch; or SIGKILL, which leaves the last epoch's
        // checkpoint), then continued by the same command with --resume: the result must be the uninterrupted run's.
        for (name, stop) in [("interrupted", SIGINT), ("killed", SIGKILL)] {
            let out = folder.appendingPathComponent(name)
            let process = Process()
            process.executableURL = zooExecutable()
            process.arguments = ["finetune", "--arch", "lenet5-relu", "--weights", weights.path, "--data", "fashion-mnist", "--classes", "2,4,6,7,9",
                                 "--per-class", "10", "--validation", "0.2", "--out", out.path] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["ZOO_CACHE": folder.path]) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            var seen = ""
            while !seen.contains("epoch   2") {
                let chunk = readChunk(pipe.fileHandleForReading)
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            kill(process.processIdentifier, stop)
            _ = readToEnd(pipe.fileHandleForReading)
            process.waitUntilExit()
            #expect(process.terminationStatus == (stop == SIGINT ? 130 : SIGKILL), "\(name): \(seen)")
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("weights.safetensors").path), "\(name): no final weights yet")
            let state = try #require(try Plugins.weightFormats.read(out.appendingPathComponent("checkpoint.safetensors")).metadata["zoo.training_state"])
            let epoch = try #require((try json(state) as? [String: Any])?["epoch"] as? Int)
            #expect(epoch >= 1 && epoch < 150, "\(name): stopped at epoch \(epoch)")

            let resumed = try finetune(weights, out: out, arguments + ["--resume"], cache: folder)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let a = try Plugins.weightFormats.read(folder.appendingPathComponent("straight/weights.safetensors"))
            let b = try Plugins.weightFormats.read(out.appendingPathComponent("weights.safetensors"))
            for (x, y) in zip(a.layers, b.layers) {
                #expect(try x.arrays.map { try $0.tensor() } == y.arrays.map { try $0.tensor() }, "\(name): \(x.name) after resuming")
            }
            let logA = try String(contentsOf: folder.appendingPathComponent("straight/log.csv"), encoding: .utf8)
            let logB = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8)
            let scores = { (log: String) in log.split(separator: "\n").map { $0.split(separator: ",").prefix(8).joined(separator: ",") } }
            #expect(scores(logA) == scores(logB), "\(name): the same losses and accuracies epoch by epoch")
        }
    }

    @Test func explainsBadInput() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        let out = folder.appendingPathComponent("run")

        let freeze = try finetune(weights, out: out, ["--freeze", "c4"], cache: folder)
        #expect(freeze.status == 1 && freeze.stderr.contains("lenet5-relu has no layer named 'c4'") && freeze.stderr.contains("stages: s2, s4, c5"), "\(freeze.stderr)")
        let pattern = try finetune(weights, out: out, ["--freeze", "conv*"], cache: folder)
        #expect(pattern.status == 1 && pattern.stderr.contains("no layer of lenet5-relu matches 'conv*'"), "\(pattern.stderr)")
        let tap = try finetune(weights, out: out, ["--mode", "features", "--tap", "pool9"], cache: folder)
        #expect(tap.status == 1 && tap.stderr.contains("--tap: lenet5-relu has no layer named 'pool9'"), "\(tap.stderr)")
        let noCheckpoint = try finetune(weights, out: out, ["--resume"], cache: folder)
        #expect(noCheckpoint.status == 1 && noCheckpoint.stderr.contains("there is no checkpoint"), "\(noCheckpoint.stderr)")

        // A checkpoint of another run (here: the features head) refused by a fine-tuning run.
        #expect(try finetune(weights, out: out, ["--mode", "features", "--epochs", "1"], cache: folder).status == 0)
        let other = try finetune(weights, out: out, ["--epochs", "2", "--resume"], cache: folder)
        #expect(other.status == 1 && other.stderr.contains("was written for lenet5-relu features, 5 classes, linear head; this run is lenet5-relu finetune"), "\(other.stderr)")

        // A checkpoint that cannot be written (a file-size limit standing in for a full disk) leaves the last one intact.
        let run = folder.appendingPathComponent("limited")
        #expect(try finetune(weights, out: run, ["--freeze", "c5", "--epochs", "1"], cache: folder).status == 0)
        let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
        let before = try Data(contentsOf: checkpoint)
        let command = ([zooExecutable().path, "finetune", "--arch", "lenet5-relu", "--weights", weights.path, "--data", "fashion-mnist", "--classes", "2,4,6,7,9",
                        "--per-class", "10", "--validation", "0.2", "--out", run.path, "--freeze", "c5", "--epochs", "2", "--resume"])
            .map { "'\($0)'" }.joined(separator: " ")
        let limited = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", "ulimit -f 200; exec \(command)"],
                                     environment: ProcessInfo.processInfo.environment.merging(["ZOO_CACHE": folder.path]) { $1 })
        #expect(limited.status == 1 && limited.stderr.contains("cannot save the checkpoint after epoch 2")
                && limited.stderr.contains("File too large") && limited.stderr.contains("the previous checkpoint is unchanged"), "\(limited.stderr)")
        #expect(try Data(contentsOf: checkpoint) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.path).allSatisfy { !$0.hasSuffix(".partial") })
    }

    @Test func reportsBadDataFolders() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        let images = folder.appendingPathComponent("images")
        for name in ["boots", "sandals"] {
            try FileManager.default.createDirectory(at: images.appendingPathComponent(name), withIntermediateDirectories: true)
            for i in 0..<3 {
                let image = Image(width: 28, height: 28, channels: 1, pixels: (0..<784).map { UInt8(($0 * (i + 1) + (name == "boots" ? 0 : 99)) % 256) })
                try ImageCodec.encodePNG(image).write(to: images.appendingPathComponent("\(name)/\(i).png"))
            }
        }
        try Data("broken".utf8).write(to: images.appendingPathComponent("boots/broken.jpg"))
        func run(_ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runZoo(["finetune", "--arch", "lenet5-relu", "--weights", weights.path, "--data", images.path, "--validation", "0", "--epochs", "1",
                        "--out", folder.appendingPathComponent("run").path] + extra, environment: ["ZOO_CACHE": folder.path])
        }
        let skipping = try run([])
        #expect(skipping.status == 0 && skipping.stderr.contains("skipped 1 unreadable image") && skipping.stderr.contains("boots/broken.jpg"), "\(skipping.stderr)")
        let strict = try run(["--strict"])
        #expect(strict.status == 1 && strict.stderr.contains("boots/broken.jpg"), "\(strict.stderr)")

        try FileManager.default.createDirectory(at: images.appendingPathComponent("empty"), withIntermediateDirectories: true)
        let empty = try run([])
        #expect(empty.status == 1 && empty.stderr.contains("class 'empty' has no JPEG or PNG images"), "\(empty.stderr)")

        let idx = folder.appendingPathComponent("idx")
        try FileManager.default.createDirectory(at: idx, withIntermediateDirectories: true)
        try Data([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28] + [UInt8](repeating: 0, count: 100)).write(to: idx.appendingPathComponent("train-images-idx3-ubyte"))
        try Data([0, 0, 8, 1, 0, 0, 0, 2, 0, 1]).write(to: idx.appendingPathComponent("train-labels-idx1-ubyte"))
        let short = try runZoo(["finetune", "--arch", "lenet5-relu", "--weights", weights.path, "--data", idx.path, "--out", folder.appendingPathComponent("run").path])
        #expect(short.status == 1 && short.stderr.contains("the header says 2×28×28 = 1568 values, the file holds 100"), "\(short.stderr)")
    }
}

@Suite struct GoogLeNetFineTuningTests {
    /// GoogLeNet with its auxiliary classifiers, fine-tuned from inception_5a on for a few steps on a generated folder
    /// of two classes (reddish and bluish noise): the loss falls, and every frozen layer keeps its loaded weights.
    @Test func auxiliaryHeadsTrainAndFrozenLayersStayBitIdentical() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pretrained = folder.appendingPathComponent("googlenet.safetensors")
        let source = try GoogLeNet().build(BackboneOptions(classes: 7, auxiliaryClassifiers: true, seed: 3))
        try SafetensorsFormat().write(source.weightBundle(), to: pretrained)
        var generator = SeededGenerator(seed: 5)
        for (name, channel) in [("red", 0), ("blue", 2)] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("images/\(name)"), withIntermediateDirectories: true)
            for i in 0..<4 {
                let pixels = (0..<(64 * 64 * 3)).map { p in UInt8(p % 3 == channel ? 150 + Int(generator.next() % 100) : Int(generator.next() % 90)) }
                try ImageCodec.encodePNG(Image(width: 64, height: 64, channels: 3, pixels: pixels))
                    .write(to: folder.appendingPathComponent("images/\(name)/\(i).png"))
            }
        }
        let out = folder.appendingPathComponent("run")
        let result = try runZoo(["finetune", "--arch", "googlenet", "--weights", pretrained.path, "--data", folder.appendingPathComponent("images").path,
                                 "--freeze", "inception_4e_output", "--epochs", "3", "--batch", "4", "--validation", "0",
                                 "--optimizer", "sgd", "--lr", "0.01", "--out", out.path], environment: ["ZOO_CACHE": folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let log = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        let losses = log.map { Double($0.split(separator: ",")[2])! }
        #expect(losses.count == 3 && losses.last! < losses.first!, "training loss by epoch: \(losses)")

        let before = try SafetensorsFormat().read(pretrained), after = try SafetensorsFormat().read(out.appendingPathComponent("weights.safetensors"))
        let fresh: Set<String> = ["loss1_classifier", "loss2_classifier", "loss3_classifier"]
        let last = try #require(source.layers.firstIndex { $0.name == "inception_4e_output" })
        let frozenNames = source.layers[...last].filter { !$0.weights.isEmpty && !fresh.contains($0.name) }.map(\.name)
        #expect(frozenNames.contains("conv1_7x7_s2") && frozenNames.contains("loss1_fc") && frozenNames.contains("inception_4e_pool_proj"))
        for name in frozenNames {
            #expect(try before.layer(named: name)!.arrays.map { try $0.tensor() } == after.layer(named: name)!.arrays.map { try $0.tensor() }, "\(name) changed")
        }
        #expect(try before.layer(named: "inception_5b_1x1")!.arrays[0].tensor() != after.layer(named: "inception_5b_1x1")!.arrays[0].tensor())
        #expect(after.layer(named: "loss1_classifier")!.arrays[0].shape == [1024, 2], "the auxiliary classifiers got the new classes")
    }
}

/// `zoo finetune --mode auto` against what the weights are known to be worth: random weights know nothing of
/// Fashion-MNIST, so a head on their features must lose to training from scratch; the example network's own classes
/// are what its features were trained to separate, so a head on them must win (and it is the cheapest candidate).
@Suite struct StrategySearchTests {
    func search(weights: URL, classes: String, perClass: Int, validation: Double, out: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        try runZoo(["finetune", "--arch", "lenet5-relu", "--weights", weights.path, "--data", "fashion-mnist", "--classes", classes,
                    "--per-class", "\(perClass)", "--validation", "\(validation)", "--mode", "auto", "--search-epochs", "10", "--epochs", "2",
                    "--lr", "1e-2", "--out", out.path], environment: ["ZOO_CACHE": out.deletingLastPathComponent().path])
    }

    /// The search's record: each trial's strategy and validation top-1, and the chosen strategy.
    func record(_ out: URL) throws -> (trials: [(String, Double)], chosen: [String: Any]) {
        let record = try #require(try json(String(contentsOf: out.appendingPathComponent("search.json"), encoding: .utf8)) as? [String: Any])
        let trials = try #require(record["trials"] as? [[String: Any]]).map { ($0["strategy"] as! String, $0["top1"] as! Double) }
        return (trials, try #require(record["chosen"] as? [String: Any]))
    }

    @Test func randomWeightsLoseToScratch() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let random = folder.appendingPathComponent("random.safetensors")
        let model = try LeNet5.relu.build(BackboneOptions(classes: 5, seed: 3))
        try SafetensorsFormat().write(model.weightBundle(metadata: [MetadataKey.architecture: "lenet5-relu"]), to: random)
        let out = folder.appendingPathComponent("run")
        let result = try search(weights: random, classes: "2,4,6,7,9", perClass: 100, validation: 0.2, out: out)
        #expect(result.status == 0, "\(result.stderr)")
        let (trials, _) = try record(out)
        #expect(trials.count == 5 && trials[0].0.hasPrefix("features"), "little data: frozen features are tried first: \(trials)")
        // A linear head on random features has nothing to work with: training from scratch beats every such head.
        // (Random convolutions frozen under trained upper layers are another matter: those can tie with scratch.)
        let scratch = try #require(trials.first { $0.0 == "from scratch" }?.1)
        #expect(trials.filter { $0.0.hasPrefix("features") }.allSatisfy { $0.1 < scratch }, "\(trials)")
        #expect(result.stdout.contains("from scratch") && result.stdout.contains("← chosen"), "the table is printed: \(result.stdout)")
        let csv = try String(contentsOf: out.appendingPathComponent("search.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 6 && csv[0].hasPrefix("strategy,validation_top1") && csv.filter { $0.hasSuffix(",true") }.count == 1)
        // The choice follows the stated rule, worked out here from the trials: the cheapest strategy (a head on
        // features, then fine-tuning part, then all, then scratch) within one of the 100 validation images of the best.
        func cost(_ strategy: String) -> Int {
            strategy.hasPrefix("features") ? 0 : strategy.hasPrefix("fine-tune everything") ? 2 : strategy.hasPrefix("fine-tune") ? 1 : 3
        }
        let best = trials.map(\.1).max()!
        let expected = trials.indices.filter { trials[$0].1 >= best - 0.01 - 1e-9 }.min { cost(trials[$0].0) < cost(trials[$1].0) }!
        let chosen = try #require(csv.dropFirst().firstIndex { $0.hasSuffix(",true") }) - 1
        #expect(chosen == expected, "\(trials)")
        let mode = ["features", "finetune", "finetune", "scratch"][cost(trials[expected].0)]
        let written = try Plugins.weightFormats.read(out.appendingPathComponent("weights.safetensors"))
        #expect(written.metadata["transfer_mode"] == mode && written.metadata["transfer_search"] != nil)
    }

    @Test func strongFeaturesWinOnTheSourcesOwnClasses() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("run")
        let result = try search(weights: try exampleLeNet(in: folder), classes: "0,1,3,5,8", perClass: 40, validation: 0.5, out: out)
        #expect(result.status == 0, "\(result.stderr)")
        let (trials, chosen) = try record(out)
        #expect(chosen["features"] != nil, "\(result.stdout)")
        let scratch = try #require(trials.first { $0.0 == "from scratch" }?.1)
        #expect(trials.filter { $0.0.hasPrefix("features") }.allSatisfy { $0.1 > scratch }, "\(trials)")
        let written = try Plugins.weightFormats.read(out.appendingPathComponent("weights.safetensors"))
        #expect(written.metadata["transfer_mode"] == "features")

        // Without held-out images there is nothing to compare on.
        let refused = try runZoo(["finetune", "--arch", "lenet5-relu", "--weights", out.appendingPathComponent("weights.safetensors").path,
                                  "--data", "fashion-mnist", "--classes", "0,1,3,5,8", "--validation", "0", "--mode", "auto"])
        #expect(refused.status != 0 && refused.stderr.contains("--mode auto compares strategies on held-out images"), "\(refused.stderr)")
    }
}
