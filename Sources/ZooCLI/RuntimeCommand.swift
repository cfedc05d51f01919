import ArgumentParser
import Foundation
import ZooNN
import ZooDistributed
import ZooTensor

/// Shows the compute runtime, and with --check proves it: the same network forward and backward on oneDNN and on
/// the reference backend, compared element by element.
struct RuntimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "Show the compute backends and check that they agree.",
        discussion: """
            ZOO_BACKEND (dnnl or reference) picks the default backend; ZOO_NUM_THREADS the thread count. MPI is the \
            library `mpirun` jobs (data-parallel finetune and extract) run on, when this build has it.

            Examples:
              zoo runtime
              zoo runtime --check --batch 8
              zoo runtime --json
            """)

    @Flag(help: "Run a small CNN forward and backward on both backends and compare outputs and gradients.")
    var check = false

    @Option(help: "Batch size for --check.") var batch = 4
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        var report: [String: Any] = [
            "default_backend": Runtime.defaultBackend.name,
            "threads": Threads.count,
            "mpi": Launch.mpiLibrary ?? "not in this build (swift build --traits MPI)",
        ]
        switch Runtime.dnnl {
        case .success: report["onednn"] = DNNLBackend.version
        case .failure(let error): report["onednn_error"] = "\(error)"
        }
        if check {
            guard batch > 0 else { throw ValidationError("--batch must be positive") }
            report["check"] = try compareBackends()
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("default backend  \(report["default_backend"]!)")
        print("oneDNN           \(report["onednn"] ?? "unavailable: \(report["onednn_error"]!)")")
        print("threads          \(report["threads"]!)")
        print("MPI              \(report["mpi"]!)")
        if let check = report["check"] as? [String: Any] {
            print("check            \(check["network"]!), batch \(batch)")
            for backend in ["dnnl", "reference"] {
                if let ms = check["\(backend)_ms"] as? Double {
                    print("  " + backend.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%8.1f ms forward + backward", ms))
                }
            }
            print(String(format: "  largest relative deviation: outputs %.2e, gradients %.2e (bound 1e-4)",
                         check["output_deviation"] as! Double, check["gradient_deviation"] as! Double))
            if !(check["agree"] as! Bool) { throw ExitCode(1) }
        }
    }

    /// Builds one small CNN per backend from the same seed and compares a training step's loss gradients.
    private func compareBackends() throws -> [String: Any] {
        let dnnl = try Runtime.dnnl.get()
        var generator = SeededGenerator(seed: 1)
        let images = Tensor.uniform([batch, 32, 32, 3], low: 0, high: 1, using: &generator)
        let labels = Tensor(shape: [batch]) { for i in $0.indices { $0[i] = Float(i % 10) } }
        var results: [(output: Tensor, gradients: [Tensor], milliseconds: Double)] = []
        for backend in [dnnl as any Backend, Runtime.reference] {
            var seed = SeededGenerator(seed: 7)
            let model = Sequential([
                Conv2D("conv1", inputChannels: 3, filters: 16, kernelSize: (3, 3), padding: .same, generator: &seed),
                BatchNormalization("bn1", channels: 16),
                Layers.activation("relu1", .relu),
                Layers.maxPooling("pool1", size: (2, 2)),
                Conv2D("conv2", inputChannels: 16, filters: 32, kernelSize: (3, 3), strides: (2, 2), padding: .same, generator: &seed),
                Layers.lrn("lrn2"),
                Layers.activation("relu2", .relu),
                Layers.globalAveragePooling("pool2"),
                Dense("predictions", inputs: 32, units: 10, generator: &seed),
            ])
            let start = ContinuousClock.now
            let output = try Runtime.using(backend) {
                let logits = try model(Variable(images), training: true)
                try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: labels).backward()
                return logits.value
            }
            let elapsed = ContinuousClock.now - start
            let milliseconds = elapsed.inSeconds * 1e3
            results.append((output, model.weights.compactMap { $0.variable.grad }, milliseconds))
        }
        func deviation(_ a: Tensor, _ b: Tensor) -> Double { Double(a.maxAbsoluteDifference(b) / max(1, b.maxMagnitude)) }
        let outputDeviation = deviation(results[0].output, results[1].output)
        let gradientDeviation = zip(results[0].gradients, results[1].gradients).map(deviation).max() ?? 0
        return ["network": "conv-bn-relu-pool-conv-lrn-relu-gap-dense on 32×32×3",
                "dnnl_ms": results[0].milliseconds, "reference_ms": results[1].milliseconds,
                "output_deviation": outputDeviation, "gradient_deviation": gradientDeviation,
                "agree": outputDeviation <= 1e-4 && gradientDeviation <= 1e-4]
    }
}
