import Foundation
import Testing
import Zoo
import ZooTestSupport

/// `mpirun` from PATH, or nil.
private let mpirunPath: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    .map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }

/// Why the MPI tests cannot run here, or nil when they can: Open MPI installed and a `zoo` built with it.
private let mpiMissing: String? = {
    guard mpirunPath != nil else { return "mpirun is not installed (Debian: openmpi-bin)" }
    guard let runtime = try? runZoo(["runtime"]), runtime.stdout.contains("Open MPI") else {
        return "zoo was built without MPI (swift build --traits MPI)"
    }
    return nil
}()

/// Runs `zoo` on `ranks` processes of this machine.
private func mpirun(_ ranks: Int, _ arguments: [String], cache: URL) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(URL(fileURLWithPath: mpirunPath!), ["-np", "\(ranks)", "--oversubscribe", zooExecutable().path] + arguments,
                   environment: mpiEnvironment(cache: cache))
}

private func mpiEnvironment(cache: URL) -> [String: String] {
    ProcessInfo.processInfo.environment.merging([
        "ZOO_CACHE": cache.path,
        // Open MPI refuses to start as root unless told it may (CI runs as root).
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    ]) { $1 }
}

/// The arrays of a safetensors file by name.
private func arrays(_ url: URL) throws -> [String: [Float]] {
    var result: [String: [Float]] = [:]
    for layer in try SafetensorsFormat().read(url).layers {
        for array in layer.arrays { result["\(layer.name)/\(array.variableName)"] = try array.tensor().scalars }
    }
    return result
}

/// How far two runs of one network ended apart: the trained weights by ‖a − b‖ / ‖a − start‖ (relative to how far
/// training moved them), the BatchNorm moving statistics by ‖a − b‖ / ‖a‖.
private struct BatchNormRunDifference: CustomStringConvertible {
    var trained = 0.0, moving = 0.0

    init(_ a: [String: [Float]], _ b: [String: [Float]], start: [String: [Float]]) {
        #expect(Set(a.keys) == Set(b.keys))
        var sums = (difference: 0.0, change: 0.0, movingDifference: 0.0, movingNorm: 0.0)
        // A convolution's bias ahead of BatchNorm has a zero gradient: its change is rounding alone.
        for (name, x) in a where !name.hasSuffix("_conv/bias") {
            let y = b[name] ?? [], x0 = start[name] ?? []
            guard x.count == y.count, x.count == x0.count else { trained = .infinity; return }
            let isMoving = name.hasSuffix("moving_mean") || name.hasSuffix("moving_variance")
            for i in x.indices {
                let d = Double(x[i] - y[i]) * Double(x[i] - y[i])
                if isMoving {
                    sums.movingDifference += d; sums.movingNorm += Double(x[i]) * Double(x[i])
                } else {
                    sums.difference += d; sums.change += Double(x[i] - x0[i]) * Double(x[i] - x0[i])
                }
            }
        }
        trained = (sums.difference / max(sums.change, 1e-30)).squareRoot()
        moving = (sums.movingDifference / max(sums.movingNorm, 1e-30)).squareRoot()
    }

    var description: String { String(format: "trained weights %.2e of their change, moving statistics %.2e", trained, moving) }
}

/// The largest relative difference of any weight, ‖a − b‖ / ‖a‖ per array, over every array of two files.
private func largestRelativeDifference(_ a: URL, _ b: URL) throws -> Double {
    let first = try arrays(a), second = try arrays(b)
    #expect(Set(first.keys) == Set(second.keys))
    return first.keys.map { name in
        let x = first[name]!, y = second[name] ?? []
        guard x.count == y.count else { return .infinity }
        let difference = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        let norm = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return difference / max(norm, 1e-30)
    }.max() ?? 0
}

/// The first epoch's training loss in a run's log.
private func trainingLoss(_ out: URL) throws -> Double {
    let rows = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
    return try #require(Double(rows[1].split(separator: ",")[2]))
}

private let lenetRun = ["finetune", "--arch", "lenet5-relu", "--data", "fashion-mnist", "--classes", "2,4,6,7,9", "--per-class", "40",
                        "--validation", "0.2", "--freeze", "none", "--batch", "32", "--lr", "1e-2"]

@Suite(.serialized, .enabled(if: mpiMissing == nil, Comment(rawValue: mpiMissing ?? ""))) struct DistributedTests {
    init() {
        if let mpiMissing { print("DistributedTests skipped: \(mpiMissing)") }
    }

    @Test func fineTuningOnTwoOrThreeRanksMatchesOneProcess() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        for optimizer in ["adam", "sgd"] {
            let arguments = lenetRun + ["--weights", weights.path, "--epochs", "2", "--optimizer", optimizer]
            let single = folder.appendingPathComponent("\(optimizer)-1")
            let one = try runZoo(arguments + ["--out", single.path], environment: ["ZOO_CACHE": folder.path])
            #expect(one.status == 0, "\(one.stderr)")
            for ranks in [2, 3] {
                let out = folder.appendingPathComponent("\(optimizer)-\(ranks)")
                let run = try mpirun(ranks, arguments + ["--out", out.path], cache: folder)
                #expect(run.status == 0, "\(ranks) ranks: \(run.stderr)")
                #expect(run.stderr.contains("\(ranks) processes"), "\(run.stderr)")
                // Rank 0 alone prints: one line per epoch.
                #expect(run.stdout.components(separatedBy: "epoch   1").count == 2, "\(run.stdout)")
                // The same global batches, the gradients averaged: only the order of summation differs.
                let difference = try largestRelativeDifference(single.appendingPathComponent("weights.safetensors"),
                                                               out.appendingPathComponent("weights.safetensors"))
                #expect(difference <= 1e-5, "\(optimizer), \(ranks) ranks: weights \(difference) from the single process's")
                let log = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8)
                let reference = try String(contentsOf: single.appendingPathComponent("log.csv"), encoding: .utf8)
                for (row, expected) in zip(log.split(separator: "\n").dropFirst(), reference.split(separator: "\n").dropFirst()) {
                    let got = row.split(separator: ",").compactMap { Double($0) }, want = expected.split(separator: ",").compactMap { Double($0) }
                    // Epoch, rate, training loss and accuracies, validation loss and accuracies: the whole batch's.
                    for column in 0..<8 { #expect(abs(got[column] - want[column]) <= 1e-5 * max(1, abs(want[column])), "\(row) vs \(expected)") }
                }
            }
        }
    }

    /// A ResNet-18 from scratch: its BatchNorm layers train. With --sync-bn they normalize with the whole batch's
    /// statistics and the step is one process's; without, each rank's own statistics make it another step.
    ///
    /// One step of one batch, compared by the change it makes: over several steps this network amplifies rounding
    /// (BatchNorm over 1×1 maps, betas whose gradients nearly cancel), so that runs differing only in summation order
    /// (1 or 2 threads, the reference backend, the kernels oneDNN picks for half a batch) end 1–10% of the weights'
    /// change apart depending on the CPU, which no bound tells from a mistake. After one step they are ~1e-5 apart
    /// and per-rank statistics ~1. Convolution biases are left out: they precede BatchNorm, so their true gradient
    /// is zero and what they get is rounding alone.
    @Test func synchronizedBatchNormMatchesOneProcess() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = ["finetune", "--arch", "resnet18", "--mode", "scratch", "--input", "32x32", "--data", "fashion-mnist", "--classes", "0-4",
                         "--per-class", "4", "--validation", "0", "--batch", "20", "--epochs", "1", "--optimizer", "sgd"]
        func single(threads: String, rate: String = "1e-3") throws -> [String: [Float]] {
            let out = folder.appendingPathComponent("single-\(threads)-\(rate)")
            let run = try runZoo(arguments + ["--lr", rate, "--out", out.path], environment: ["ZOO_CACHE": folder.path, "ZOO_NUM_THREADS": threads])
            #expect(run.status == 0, "\(run.stderr)")
            return try arrays(out.appendingPathComponent("weights.safetensors"))
        }
        func ranks(_ count: Int, _ options: [String]) throws -> [String: [Float]] {
            let out = folder.appendingPathComponent("ranks-\(count)\(options.joined())")
            let run = try mpirun(count, arguments + ["--lr", "1e-3", "--out", out.path] + options, cache: folder)
            #expect(run.status == 0, "\(run.stderr)")
            return try arrays(out.appendingPathComponent("weights.safetensors"))
        }
        let start = try single(threads: "2", rate: "0"), reference = try single(threads: "2")
        let spread = BatchNormRunDifference(reference, try single(threads: "1"), start: start)
        for count in [2, 3] {
            let synchronized = BatchNormRunDifference(reference, try ranks(count, ["--sync-bn"]), start: start)
            #expect(synchronized.trained <= max(10 * spread.trained, 1e-3) && synchronized.moving <= max(10 * spread.moving, 1e-5),
                    "--sync-bn on \(count) ranks: \(synchronized) from one process; 1 vs 2 threads: \(spread)")
        }
        let apart = BatchNormRunDifference(reference, try ranks(2, []), start: start)
        #expect(apart.trained >= 0.1 && apart.moving >= 100 * max(spread.moving, 1e-7),
                "per-rank statistics should make another step: \(apart); 1 vs 2 threads: \(spread)")
    }

    /// Ranks without samples in a step stand in for the sums the others make; the runs end, and the epoch's
    /// training loss (every batch's forward pass) is one process's, where per-rank statistics give another (~3e-3
    /// apart). 65 training images in batches of 21: the last batch's 2 images leave the third rank out; a batch of 2
    /// on 3 ranks: the third stands in from the first step on.
    @Test(arguments: [["--classes", "0-4", "--per-class", "16", "--validation", "0.2", "--batch", "21"],
                      ["--classes", "0-1", "--per-class", "4", "--validation", "0", "--batch", "2"]])
    func aRankWithoutSamplesStandsInForSynchronizedStatistics(_ data: [String]) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = ["finetune", "--arch", "resnet18", "--mode", "scratch", "--input", "64x64", "--data", "fashion-mnist"] + data
            + ["--epochs", "1", "--optimizer", "sgd", "--lr", "1e-5"]
        let single = folder.appendingPathComponent("single"), ranks = folder.appendingPathComponent("ranks")
        let one = try runZoo(arguments + ["--out", single.path], environment: ["ZOO_CACHE": folder.path])
        #expect(one.status == 0, "\(one.stderr)")
        let three = try mpirun(3, arguments + ["--out", ranks.path, "--sync-bn"], cache: folder)
        #expect(three.status == 0, "\(three.stderr)")
        let (expected, got) = (try trainingLoss(single), try trainingLoss(ranks))
        #expect(abs(got - expected) <= 1e-4 * expected, "training loss \(got) on 3 ranks, \(expected) in one process")
    }

    /// --sync-bn on a network without BatchNorm changes nothing, even where a rank has no samples (160 images in
    /// batches of 79: the last 2 leave the third rank out).
    @Test func synchronizedBatchNormWithoutBatchNorm() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        let arguments = lenetRun + ["--weights", weights.path, "--epochs", "1", "--optimizer", "sgd", "--batch", "79"]
        let single = folder.appendingPathComponent("single"), ranks = folder.appendingPathComponent("ranks")
        #expect(try runZoo(arguments + ["--out", single.path], environment: ["ZOO_CACHE": folder.path]).status == 0)
        let run = try mpirun(3, arguments + ["--out", ranks.path, "--sync-bn"], cache: folder)
        #expect(run.status == 0, "\(run.stderr)")
        let difference = try largestRelativeDifference(single.appendingPathComponent("weights.safetensors"), ranks.appendingPathComponent("weights.safetensors"))
        #expect(difference <= 1e-5, "LeNet-5 with --sync-bn on 3 ranks: \(difference) from one process")
    }

    /// Without --sync-bn each rank's BatchNorm keeps running statistics of its own part of the batches; the reported
    /// validation must still be the written model's: one process resuming the finished run scores it again.
    @Test func validationScoresTheModelRankZeroWrites() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("run")
        let arguments = ["finetune", "--arch", "resnet18", "--mode", "scratch", "--input", "32x32", "--data", "fashion-mnist", "--classes", "0-4",
                         "--per-class", "12", "--validation", "0.2", "--batch", "16", "--epochs", "1", "--optimizer", "sgd", "--lr", "1e-3",
                         "--json", "--out", out.path]
        let validationLoss = { (run: (status: Int32, stdout: String, stderr: String)) throws -> Double in
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            return try #require((summary?["validation"] as? [String: Any])?["loss"] as? Double, "\(run.stdout)")
        }
        let reported = try validationLoss(mpirun(2, arguments, cache: folder))
        let alone = try validationLoss(runZoo(arguments + ["--resume"], environment: ["ZOO_CACHE": folder.path]))
        #expect(abs(reported - alone) <= 1e-5 * alone, "2 ranks reported validation loss \(reported); the written model scores \(alone)")
    }

    @Test func resumesWithAnotherNumberOfRanks() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        let arguments = lenetRun + ["--weights", weights.path, "--optimizer", "sgd"]
        let single = folder.appendingPathComponent("single"), split = folder.appendingPathComponent("split")
        #expect(try runZoo(arguments + ["--epochs", "2", "--out", single.path], environment: ["ZOO_CACHE": folder.path]).status == 0)
        let first = try mpirun(2, arguments + ["--epochs", "1", "--out", split.path], cache: folder)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try mpirun(3, arguments + ["--epochs", "2", "--out", split.path, "--resume"], cache: folder)
        #expect(second.status == 0, "\(second.stderr)")
        let difference = try largestRelativeDifference(single.appendingPathComponent("weights.safetensors"), split.appendingPathComponent("weights.safetensors"))
        #expect(difference <= 1e-5, "1 epoch on 2 ranks, then 1 on 3: \(difference) from 2 epochs on one process")
    }

    @Test func extractionOnSeveralRanksIsBitIdentical() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder)
        // 50 images in batches of 8: 7 batches, shared 4 + 3 and 3 + 2 + 2.
        let arguments = ["extract", "--arch", "lenet5-relu", "--weights", weights.path, "--data", "fashion-mnist", "--classes", "2,4,6,7,9",
                         "--per-class", "10", "--batch", "8", "--tap", "s4", "--pooling", "flatten"]
        let single = folder.appendingPathComponent("features-1.safetensors")
        let one = try runZoo(arguments + ["-o", single.path], environment: ["ZOO_CACHE": folder.path])
        #expect(one.status == 0, "\(one.stderr)")
        for ranks in [2, 3] {
            let out = folder.appendingPathComponent("features-\(ranks).safetensors")
            let run = try mpirun(ranks, arguments + ["-o", out.path], cache: folder)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(try Data(contentsOf: out) == Data(contentsOf: single), "\(ranks) ranks: the features file differs from one process's")
        }
        // Features mode: the cache the ranks build is the single process's, and the head trains alike.
        let features = ["--mode", "features", "--tap", "s4", "--pooling", "flatten", "--epochs", "3", "--per-class", "10", "--weights", weights.path]
        let base = Array(lenetRun.prefix(while: { $0 != "--per-class" })) + ["--validation", "0.2", "--batch", "8", "--lr", "1e-2", "--optimizer", "sgd"]
        let alone = folder.appendingPathComponent("head-1"), together = folder.appendingPathComponent("head-2")
        let cacheAlone = folder.appendingPathComponent("cache-1"), cacheTogether = folder.appendingPathComponent("cache-2")
        #expect(try runZoo(base + features + ["--out", alone.path], environment: ["ZOO_CACHE": cacheAlone.path]).status == 0)
        let run = try mpirun(2, base + features + ["--out", together.path], cache: cacheTogether)
        #expect(run.status == 0, "\(run.stderr)")
        let cached = { (root: URL) in try FileManager.default.contentsOfDirectory(at: root.appendingPathComponent("features"), includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent } }
        let (a, b) = (try cached(cacheAlone), try cached(cacheTogether))
        #expect(a.map(\.lastPathComponent) == b.map(\.lastPathComponent) && a.count == 2, "\(a) vs \(b)")
        for (x, y) in zip(a, b) { #expect(try Data(contentsOf: x) == Data(contentsOf: y), "\(x.lastPathComponent)") }
        let difference = try largestRelativeDifference(alone.appendingPathComponent("weights.safetensors"), together.appendingPathComponent("weights.safetensors"))
        #expect(difference <= 1e-5, "features head on 2 ranks: \(difference)")
    }

    @Test func aKilledRankEndsTheJobAndTheCheckpointResumes() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try exampleLeNet(in: folder), out = folder.appendingPathComponent("run")
        let arguments = ["finetune", "--arch", "lenet5-relu", "--weights", weights.path, "--data", "fashion-mnist", "--classes", "2,4,6,7,9",
                         "--per-class", "10", "--validation", "0.2", "--batch", "4", "--lr", "1e-3", "--out", out.path]
        let job = Process()
        job.executableURL = URL(fileURLWithPath: mpirunPath!)
        job.arguments = ["-np", "2", "--oversubscribe", zooExecutable().path] + arguments + ["--epochs", "100000"]
        job.environment = mpiEnvironment(cache: folder)
        let stdout = Pipe(), stderr = Pipe()
        job.standardOutput = stdout
        job.standardError = stderr
        try job.run()
        let errors = ConcurrentRead(stderr.fileHandleForReading)
        var seen = ""
        while !seen.contains("epoch   2") {
            let chunk = readChunk(stdout.fileHandleForReading)
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        // Rank 1 is the child of mpirun whose environment says so.
        let children = try runProcess(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-P", "\(job.processIdentifier)"]).stdout.split(separator: "\n")
        let rank1 = children.compactMap { Int32($0) }.first { pid in
            ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data())
                .split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=1" }
        }
        let victim = try #require(rank1, "no rank 1 among mpirun's children \(children)")
        let killed = Date()
        kill(victim, SIGKILL)
        seen += String(decoding: readToEnd(stdout.fileHandleForReading), as: UTF8.self)
        // A hang would leave the job running: end it after a minute rather than wait forever.
        let watchdog = DispatchWorkItem { if job.isRunning { job.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        job.waitUntilExit()
        watchdog.cancel()
        let message = String(decoding: errors.wait(), as: UTF8.self)
        #expect(Date().timeIntervalSince(killed) < 30, "the job took \(Date().timeIntervalSince(killed)) s to end after rank 1 died")
        #expect(job.terminationStatus != 0)
        #expect(message.contains("rank 1") && message.contains("signal 9"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("weights.safetensors").path))

        // The last checkpoint is whole: the run continues from it to the end.
        let printed = seen.split(separator: "\n").compactMap { line in line.hasPrefix("epoch") ? Int(line.split(separator: " ")[1]) : nil }.max() ?? 0
        let resumed = try mpirun(2, arguments + ["--epochs", "\(printed + 2)", "--resume"], cache: folder)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let log = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == printed + 3, "one row per epoch, the killed run's included: \(log.count - 1) for \(printed + 2)")
    }
}
