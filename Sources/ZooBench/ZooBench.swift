import ArgumentParser
import CPeak
import Foundation
import Synchronization
import ZooConverters
import ZooCore
import ZooModels
import ZooNN
import ZooONNX
import ZooTensor
import ZooTransfer

/// Times Zoo's kernels for tools/bench: one JSON object per measurement on stdout.
@main
struct ZooBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo-bench",
        abstract: "Times Zoo's convolution kernels on the shapes of a JSON file (see tools/bench/ops).",
        discussion: "Example: zoo-bench --shapes tools/bench/resnet50_convolutions.json --batch 32 --backend dnnl")

    @Option(help: "JSON file listing the convolutions (tools/bench/resnet50_convolutions.json).")
    var shapes: String?

    @Option(help: "Instead of convolutions: every registered backbone against the Keras fixtures in this folder (tools/bench/models).")
    var models: String?

    @Option(help: "Instead: time reading this weight file and loading it into --arch's model (tools/bench/convert).")
    var load: String?
    @Option(help: "The backbone for --load and --transfer.") var arch = "resnet50"

    @Flag(help: "Instead: images/s of feature extraction and of fine-tuning steps for --arch at --batch (tools/bench/transfer).")
    var transfer = false

    @Flag(help: "Instead: inference time of --arch without its top (average pooled) at --batch, planned, or eager with ZOO_PLANS=0 (tools/bench/inference).")
    var inference = false

    @Flag(help: "With --inference: time each kind of plan step; with --transfer: each kind of kernel of a fine-tuning step; and print where the time goes (stderr).")
    var profile = false
    @Option(help: "With --inference: load these weights (a file --export-peers wrote) instead of the random ones.")
    var weights: String?
    @Option(help: "With --inference: time the network this Keras file (.keras or .h5 with its config) builds, at its own input size, instead of --arch (tools/bench/keras-models).")
    var keras: String?

    @Option(help: "Instead: write --arch as --inference runs it, with random weights, to DIR/ARCH.h5 (for Keras) and DIR/ARCH.onnx (for ONNX Runtime) (tools/bench/peers).")
    var exportPeers: String?

    @Flag(help: "Instead: backbones forward and fine-tuning on --threads threads at once for --seconds each, checked bit for bit against serial runs (tools/stress).")
    var stress = false
    @Option(help: "Comma-separated thread counts for --stress.") var threads = "1,2,4,8"

    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Comma-separated backends: dnnl, reference.") var backend = "dnnl"
    @Option(help: "Seconds to spend timing each measurement after warm-up (at least 3 runs; 1 on the reference backend).")
    var seconds = 1.0

    struct Shapes: Decodable {
        struct Shape: Decodable {
            let name: String, size: Int, `in`: Int, out: Int, kernel: Int, stride: Int
            let padding: PaddingSpec
        }
        enum PaddingSpec: Decodable {
            case named(String), pixels(Int)
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let n = try? c.decode(Int.self) { self = .pixels(n) } else { self = .named(try c.decode(String.self)) }
            }
            var padding: Padding {
                switch self {
                case .pixels(let n): .explicit(top: n, bottom: n, left: n, right: n)
                case .named(let name): name == "same" ? .same : .valid
                }
            }
        }
        let shapes: [Shape]
    }

    mutating func run() throws {
        if let models { return try benchmarkModels(URL(fileURLWithPath: models)) }
        if let load { return try benchmarkLoad(URL(fileURLWithPath: load)) }
        if transfer { return try benchmarkTransfer() }
        if stress { return try runStress() }
        if inference { return try benchmarkInference() }
        if let exportPeers { return try writePeerModels(to: URL(fileURLWithPath: exportPeers)) }
        guard let shapes else { throw ValidationError("give --shapes FILE or --models FOLDER") }
        let list = try JSONDecoder().decode(Shapes.self, from: Data(contentsOf: URL(fileURLWithPath: shapes))).shapes
        for name in backend.split(separator: ",") {
            let backend = try Runtime.backend(named: String(name))
            for shape in list {
                var generator = SeededGenerator(seed: 1)
                let g = try ConvolutionGeometry(input: [batch, shape.size, shape.size, shape.in],
                                                kernel: [shape.kernel, shape.kernel, shape.in, shape.out],
                                                strides: (shape.stride, shape.stride), padding: shape.padding.padding)
                let x = Tensor.uniform(g.inputShape, using: &generator), w = Tensor.uniform(g.kernelShape, using: &generator)
                let dy = Tensor.uniform(g.outputShape, using: &generator)
                let measurements: [(String, () throws -> Void)] = [
                    ("forward", { _ = try backend.conv2d(x, w, bias: nil, g) }),
                    ("backward_data", { _ = try backend.conv2dBackwardData(dy, w, g) }),
                    ("backward_weights", { _ = try backend.conv2dBackwardWeights(dy, x, g, withBias: false) }),
                ]
                for (direction, body) in measurements {
                    let seconds = try median(of: body, minimumRuns: backend is ReferenceBackend ? 1 : 3)
                    let line: [String: Any] = ["name": shape.name, "backend": backend.name, "direction": direction,
                                               "seconds": seconds, "gflops": g.flops / seconds / 1e9]
                    try Self.printJSON(line)
                }
            }
        }
    }

    /// Best times to read a weight file and load every array into a ready model (what inference waits for), and to
    /// also bring every page of every weight into memory (a mapped file is read when first touched).
    func benchmarkLoad(_ file: URL) throws {
        let backbone = try builtInBackbones().backbone(named: arch)
        let formats = builtInWeightFormats()
        var ready = Double.infinity, touched = Double.infinity
        for _ in 0..<5 {
            let start = ContinuousClock.now
            let bundle = try formats.read(file)
            let model = try builtInBackbones().fit(backbone, bundle).model
            try model.load(bundle)
            let loaded = ContinuousClock.now
            var sum: Float = 0
            for weight in model.weights {
                weight.value.withUnsafeBufferPointer { values in
                    for i in stride(from: 0, to: values.count, by: 1024) { sum += values[i] }  // one float per page
                }
            }
            let end = ContinuousClock.now
            if sum.isNaN { print("a weight is NaN") }  // keeps the reads
            ready = min(ready, (loaded - start).inSeconds)
            touched = min(touched, (end - start).inSeconds)
        }
        let result: [String: Any] = ["file": file.path, "seconds": ready, "seconds_touched": touched]
        try Self.printJSON(result)
    }

    /// Transfer learning's two costs on random weights and images at the default input: a feature-extraction batch
    /// (the backbone without its top, pooled, inference mode, no gradients), and a fine-tuning step (forward in
    /// training mode, cross-entropy, backward, SGD with momentum) with nothing frozen, and frozen through the stage
    /// ResNets end their fourth block with; for LeNet-5 also a whole training epoch.
    /// The process's peak resident memory so far, in MB.
    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    func benchmarkTransfer() throws {
        let backbone = try builtInBackbones().backbone(named: arch)
        var generator = SeededGenerator(seed: 1)
        let (h, w) = backbone.defaultInputSize
        let images = Tensor.uniform([batch, h, w, backbone.inputChannels], low: -1, high: 1, using: &generator)
        let labels = Tensor(shape: [batch]) { for i in $0.indices { $0[i] = Float(i % 10) } }
        /// `images`: how many images the measured `seconds` processed (default one batch). The peak resident memory
        /// is the process's so far: the measurements run in the same order as the Keras side's.
        /// `flops`: of one image (direct-convolution and matrix-product FLOPs), for the GFLOPS a measurement reached.
        func report(_ name: String, _ seconds: Double, images: Int? = nil, flops: Double? = nil, arenaBytes: Int = 0) throws {
            var result: [String: Any] = ["arch": backbone.name, "batch": batch, "measurement": name, "seconds": seconds,
                                         "images_per_second": Double(images ?? batch) / seconds, "peak_rss_mb": Self.peakResidentMegabytes()]
            if arenaBytes > 0 { result["step_arena_mb"] = Double(arenaBytes) / Double(1 << 20) }
            if let flops { result["gflops"] = flops * Double(batch) / seconds / 1e9 }
            try Self.printJSON(result)
        }
        if let peak = Self.fmaLoop() {
            let result: [String: Any] = ["measurement": "FMA loop", "gflops": peak.gflops, "threads": Threads.count, "lanes": peak.lanes,
                                         "isa": DNNLBackend.instructionSet]
            try Self.printJSON(result)
        }
        do {  // the feature extractor is freed before fine-tuning starts, as on the other sides
            let features = try backbone.build(BackboneOptions(includeTop: false, pooling: .average))
            try report("features", try median(of: {
                _ = try Gradients.off { try features(Variable(images), training: false).main }
            }, minimumRuns: 3), flops: try Self.stepFLOPs(features, training: false))
        }
        var freezes: [(String, FreezePolicy)] = [("finetune, nothing frozen", .nothing)]
        if backbone.name.hasPrefix("resnet") { freezes.append(("finetune, frozen through conv4 (conv4_block*_out)", .through(Self.lastConv4(backbone)))) }
        for (name, policy) in freezes {
            let model = try backbone.build(BackboneOptions(classes: 10, classifierActivation: nil))
            try policy.apply(to: model)
            let optimizer = SGD(learningRate: 1e-4, momentum: 0.9)
            try report(name, try median(of: {
                try model.stepMemory.run(key: images.shape) {
                    let logits = try model(Variable(images), training: true).main
                    try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: labels).backward()
                }
                optimizer.step(model.weights)
            }, minimumRuns: 3, warmUps: 3), flops: try Self.stepFLOPs(model, training: true), arenaBytes: model.stepMemory.arenaBytes)
            if profile { try printStepProfile(name, model, images, labels, optimizer) }
        }
        if backbone.name == "lenet5" { try report("epoch of 50,000 images, Adam", try lenetEpoch(backbone), images: 50_000) }
    }

    /// The convolution and Dense FLOPs of one image through `model`: the forward pass; in training also each
    /// trainable layer's weight gradient and the input gradient of every such layer after the first trainable one
    /// (layers in the order the forward pass runs them).
    static func stepFLOPs(_ model: Model, training: Bool) throws -> Double {
        let trainable = Set(model.layers.filter { $0.weights.contains { $0.isTrainableKind && $0.variable.requiresGrad } }.map(\.name))
        var total = 0.0, gradientsFlow = false
        for row in try model.profile() {
            total += row.flops
            guard training else { continue }
            if gradientsFlow { total += row.flops }
            if trainable.contains(row.name) {
                total += row.flops
                gradientsFlow = true
            }
        }
        return total
    }

    /// Seconds of one training epoch of LeNet-5 over 50,000 random images held in memory, batches of --batch in a
    /// shuffled order gathered per step, Adam: where per-step overhead shows (the second epoch is timed).
    func lenetEpoch(_ backbone: any Backbone) throws -> Double {
        let count = 50_000
        var generator = SeededGenerator(seed: 2)
        let (h, w) = backbone.defaultInputSize
        let perImage = h * w * backbone.inputChannels
        let images = Tensor.uniform([count, h, w, backbone.inputChannels], low: 0, high: 1, using: &generator)
        let labels = (0..<count).map { _ in Float(Int.random(in: 0..<10, using: &generator)) }
        let model = try backbone.build(BackboneOptions(classes: 10, classifierActivation: nil))
        let optimizer = Adam(learningRate: 1e-3)
        func epoch() throws {
            let order = Array(0..<count).shuffled(using: &generator)
            try images.withUnsafeBufferPointer { all in
                for start in stride(from: 0, to: count, by: batch) {
                    let members = order[start..<min(count, start + batch)]
                    let x = Tensor(shape: [members.count, h, w, backbone.inputChannels]) { out in
                        for (row, index) in members.enumerated() {
                            _ = UnsafeMutableBufferPointer(rebasing: out[(row * perImage)..<((row + 1) * perImage)])
                                .update(fromContentsOf: UnsafeBufferPointer(rebasing: all[(index * perImage)..<((index + 1) * perImage)]))
                        }
                    }
                    let y = Tensor(shape: [members.count]) { out in for (row, index) in members.enumerated() { out[row] = labels[index] } }
                    try model.stepMemory.run(key: x.shape) {
                        let logits = try model(Variable(x), training: true).main
                        try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: y).backward()
                    }
                    optimizer.step(model.weights)
                }
            }
        }
        try epoch()
        let start = ContinuousClock.now
        try epoch()
        return (ContinuousClock.now - start).inSeconds
    }

    /// One fine-tuning step's time per kind of kernel, its forward, backward and optimizer phases, and what no
    /// kernel accounts for (stderr; best of 3 steps by total time).
    func printStepProfile(_ name: String, _ model: Model, _ images: Tensor, _ labels: Tensor, _ optimizer: Optimizer) throws {
        let clock = ContinuousClock()
        var best: (total: Double, phases: [(String, Double)], kernels: [String: ProfilingBackend.Entry])?
        for _ in 0..<3 {
            let profiler = ProfilingBackend(try Runtime.dnnl.get())
            let t0 = clock.now
            let (t1, t2) = try Runtime.using(profiler) {
                let logits = try model(Variable(images), training: true).main
                let l = try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: labels)
                let t1 = clock.now
                try l.backward()
                return (t1, clock.now)
            }
            optimizer.step(model.weights)
            let t3 = clock.now
            let total = (t3 - t0).inSeconds
            if total < best?.total ?? .infinity {
                best = (total, [("forward (with loss)", (t1 - t0).inSeconds), ("backward", (t2 - t1).inSeconds), ("optimizer", (t3 - t2).inSeconds)],
                        profiler.profile)
            }
        }
        guard let best else { return }
        let kernels = best.kernels.values.reduce(0) { $0 + $1.seconds }
        var lines = ["step profile of \(model.name), \(name), batch \(batch): \(String(format: "%.0f", best.total * 1e3)) ms "
                     + "(best of 3), oneDNN \(DNNLBackend.instructionSet)",
                     "| part | ms | share | GFLOPS | calls |", "| --- | ---: | ---: | ---: | ---: |"]
        func row(_ label: String, _ s: Double, flops: Double = 0, calls: Int? = nil) -> String {
            "| \(label) | \(String(format: "%.1f", s * 1e3)) | \(String(format: "%.1f%%", 100 * s / best.total)) | "
                + (flops > 0 ? String(format: "%.0f", flops / s / 1e9) : "") + " | \(calls.map(String.init) ?? "") |"
        }
        for (phase, s) in best.phases { lines.append(row(phase, s)) }
        for (kind, entry) in best.kernels.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            lines.append(row("kernel: \(kind)", entry.seconds, flops: entry.flops, calls: entry.calls))
        }
        lines.append(row("no backend kernel (frozen-prefix plan, Swift ops, tape, optimizer)", best.total - kernels))
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// The model --inference times: the backbone without its top, average pooled.
    func inferenceModel() throws -> (backbone: any Backbone, model: Model) {
        let backbone = try builtInBackbones().backbone(named: arch)
        return (backbone, try backbone.build(BackboneOptions(includeTop: false, pooling: .average)))
    }

    /// The same network and weights for every side of tools/bench/peers: Keras reads the HDF5 file, ONNX Runtime
    /// runs Zoo's export, Zoo loads the HDF5 file back.
    func writePeerModels(to folder: URL) throws {
        let (backbone, model) = try inferenceModel()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = try KerasH5Format().write(model.weightBundle(metadata: [MetadataKey.architecture: backbone.name]),
                                      to: folder.appendingPathComponent("\(backbone.name).h5"))
        let exported = try ONNXExport.model(model)
        _ = try writeAtomically(to: folder.appendingPathComponent("\(backbone.name).onnx")) { try exported.bytes.write(to: $0) }
    }

    /// Median and 99th-percentile time of an inference batch of random images, the process's peak resident memory,
    /// and the ISA.
    func benchmarkInference() throws {
        let name: String, model: Model
        if let keras {
            // A Keras file's own network, as `zoo predict` builds it.
            let bundle = try builtInWeightFormats().read(URL(fileURLWithPath: keras))
            guard let json = bundle.metadata[MetadataKey.modelConfig] else { throw ValidationError("\(keras) holds no model config") }
            model = try KerasModel.build(config: try KerasModelConfig(json: json), limits: KerasBuildLimits(loading: bundle.parameterCount))
            try model.load(bundle)
            name = URL(fileURLWithPath: keras).deletingPathExtension().lastPathComponent
        } else {
            let (backbone, built) = try inferenceModel()
            if let weights { try built.load(try builtInWeightFormats().read(URL(fileURLWithPath: weights))) }
            (name, model) = (backbone.name, built)
        }
        var generator = SeededGenerator(seed: 1)
        let images = Tensor.uniform([batch] + model.inputShape, low: -1, high: 1, using: &generator)
        let times = try sortedTimes(of: { _ = try model.predict(images) }, minimumRuns: batch >= 8 ? 3 : 5)
        let seconds = times[times.count / 2]
        if profile { try printProfile(model, images) }
        // The 99th percentile among the runs (the slowest of fewer than 100), for latency beside a server's.
        let p99 = times[min(times.count - 1, Int((Double(times.count) * 0.99).rounded(.up)) - 1)]
        let result: [String: Any] = ["arch": name, "batch": batch, "seconds": seconds, "p99_seconds": p99, "runs": times.count,
                                     "images_per_second": Double(batch) / seconds,
                                     "mode": ProcessInfo.processInfo.environment["ZOO_PLANS"] == "0" ? "eager" : "planned",
                                     "peak_rss_mb": Self.peakResidentMegabytes(), "isa": DNNLBackend.instructionSet]
        try Self.printJSON(result)
    }

    /// Three profiled runs of the model's plan: each kind of step's share of the time, and GFLOPS where it computes.
    func printProfile(_ model: Model, _ images: Tensor) throws {
        let plan = try model.plan(for: images.shape)
        let profile = InferencePlan.Profile()
        for _ in 0..<3 { _ = try plan.run(images, profile: profile) }
        var lines = ["profile of \(model.name), batch \(batch), 3 runs: \(plan.stepCount) steps, \(plan.fusedLayers) layers fused, "
                     + "\(plan.reorderCount) reorders, arena \(plan.arenaBytes >> 20) MiB",
                     "| step | share | ms per run | GFLOPS |", "| --- | ---: | ---: | ---: |"]
        for (kind, seconds) in profile.seconds.sorted(by: { $0.value > $1.value }) {
            let flops = profile.flops[kind] ?? 0
            lines.append("| \(kind) | \(String(format: "%.1f%%", 100 * seconds / profile.total)) | \(String(format: "%.2f", seconds / 3 * 1e3)) | "
                         + (flops > 0 ? String(format: "%.0f", flops / seconds / 1e9) : "") + " |")
        }
        let convolution = "planned convolution"
        if let seconds = profile.seconds[convolution], let flops = profile.flops[convolution], let peak = Self.fmaLoop() {
            let effective = flops / seconds / 1e9
            lines.append(String(format: "convolutions: %.1f%% of the time at %.0f GFLOPS (direct-convolution FLOPs) = %.0f%% of an FMA loop's "
                                + "%.0f GFLOPS (%d threads, %d-lane FMA, best of 3 one-second runs)",
                                100 * seconds / profile.total, effective, 100 * effective / peak.gflops, peak.gflops, Threads.count, peak.lanes))
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// The multiply-add rate the CPU sustains on `Threads.count` threads: independent FMA chains in its widest vectors,
    /// about a second per run, best of 3. Nil without FMA.
    static func fmaLoop() -> (gflops: Double, lanes: Int)? {
        let lanes = Int(zoo_fma_lanes())
        guard lanes > 0 else { return nil }
        let iterations = 400_000_000 / (lanes / 8), threads = Threads.count
        let sink = Mutex(Float(0))  // keeps every result, so no loop is optimized away
        var best = Double.infinity
        for _ in 0..<3 {
            let start = ContinuousClock.now
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                let result = zoo_fma_loop(Int32(lanes), iterations)
                sink.withLock { $0 += result }
            }
            let elapsed = ContinuousClock.now - start
            best = min(best, elapsed.inSeconds)
        }
        let flops = 2 * Double(threads * iterations * Int(ZOO_PEAK_CHAINS) * lanes)
        return (flops / best / 1e9, lanes)
    }

    /// A table of throughput per thread count; exits non-zero (by throwing) when any concurrent run differs.
    func runStress() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--threads takes positive counts, e.g. 1,2,4,8") }
        let rounds = try StressTest.stress(threadCounts: counts, seconds: seconds) {
            FileHandle.standardError.write(Data("stress: \($0)\n".utf8))
        }
        print("| threads | runs | seconds | runs per job | single-thread seconds of work per second |")
        print("| ---: | ---: | ---: | --- | ---: |")
        for round in rounds {
            let perJob = round.runs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print("| \(round.threads) | \(round.total) | \(String(format: "%.1f", round.seconds)) | \(perJob) | \(String(format: "%.2f", round.throughput)) |")
        }
    }

    /// The last layer of a ResNet's fourth stage (conv4_block6_out for ResNet-50).
    static func lastConv4(_ backbone: any Backbone) -> String {
        let layers = (try? backbone.skeleton(BackboneOptions()).layers.map(\.name)) ?? []
        return layers.last { $0.hasPrefix("conv4_") && $0.hasSuffix("_out") } ?? "conv4_block6_out"
    }

    /// One result as a line of JSON with sorted keys, the form the tools/bench scripts read.
    static func printJSON(_ object: [String: Any]) throws {
        print(try String(decoding: JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }

    /// Median wall time of `body` after one warm-up run.
    /// `warmUps`: untimed runs first (a training step's first runs build primitives and record its step memory).
    func median(of body: () throws -> Void, minimumRuns: Int, warmUps: Int = 1) throws -> Double {
        let times = try sortedTimes(of: body, minimumRuns: minimumRuns, warmUps: warmUps)
        return times[times.count / 2]
    }

    /// Seconds of each run of `body`, fastest first: at least `minimumRuns`, and more until `seconds` have passed.
    func sortedTimes(of body: () throws -> Void, minimumRuns: Int, warmUps: Int = 1) throws -> [Double] {
        let clock = ContinuousClock()
        for _ in 0..<warmUps { try body() }
        var times: [Double] = []
        let start = clock.now
        while times.count < minimumRuns || (clock.now - start) < .seconds(seconds) {
            let t0 = clock.now
            try body()
            let d = clock.now - t0
            times.append(d.inSeconds)
            if minimumRuns == 1 { break }
        }
        return times.sorted()
    }

    struct Fixtures: Decodable {
        struct Case: Decodable {
            struct Array: Decodable { let file: String, shape: [Int] }
            let name: String, weights: String, taps: [String]
            let arrays: [String: Array]
        }
        let cases: [Case]
    }

    /// One line per backbone: parameters, GFLOPs at its default input, the largest relative deviation from Keras on
    /// the fixture's two inputs (output and feature taps), and the median forward time of one image on oneDNN.
    func benchmarkModels(_ folder: URL) throws {
        let fixtures = try JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))
        let fixtureNames = ["lenet5": "lenet5", "vgg11": "vgg_a", "vgg11-lrn": "vgg_a-lrn", "vgg13": "vgg_b", "vgg16-c": "vgg_c"]
        func tensor(_ array: Fixtures.Case.Array) throws -> Tensor {
            let data = try Data(contentsOf: folder.appendingPathComponent(array.file))
            return try Tensor(shape: array.shape, scalars: data.withUnsafeBytes { Swift.Array($0.bindMemory(to: Float.self)) })
        }
        let formats = builtInWeightFormats()
        print("| plugin | parameters | GFLOPs | input | max rel. deviation from Keras | forward, batch 1 |")
        print("| --- | ---: | ---: | --- | ---: | ---: |")
        for backbone in builtInBackbones().all {
            let model = try backbone.build(BackboneOptions(classes: backbone.name == "lenet5" ? 10 : 1000))
            let (h, w) = backbone.defaultInputSize
            let gflops = try model.profile().reduce(0) { $0 + $1.flops } / 1e9
            var deviation = "no fixture"
            if let fixture = fixtures.cases.first(where: { $0.name == (fixtureNames[backbone.name] ?? backbone.name) }) {
                try model.load(try formats.read(folder.appendingPathComponent(fixture.weights)))
                // The worst of the output and every feature tap: softmax outputs of random weights can saturate.
                let result = try model(Variable(try tensor(fixture.arrays["input"]!)), taps: Set(fixture.taps))
                let pairs = [(result.main.value, "output")] + fixture.taps.map { (result.taps[$0]!.value, "tap_\($0)") }
                let worst = try pairs.map { got, key in
                    let want = try tensor(fixture.arrays[key]!)
                    return got.maxAbsoluteDifference(want) / max(1, want.maxMagnitude)
                }.max()!
                deviation = String(format: "%.1e", worst) + (fixture.taps.isEmpty ? "" : " (\(fixture.taps.count) taps)")
            }
            var generator = SeededGenerator(seed: 7)
            let image = Variable(Tensor.uniform([1, h, w, backbone.inputChannels], using: &generator))
            let milliseconds = try median(of: { _ = try model(image) }, minimumRuns: 5) * 1e3
            print("| \(backbone.name) | \(model.parameterCount) | \(String(format: "%.3f", gflops)) | \(h)×\(w)×\(backbone.inputChannels) | \(deviation) | \(String(format: "%.1f", milliseconds)) ms |")
        }
    }
}
