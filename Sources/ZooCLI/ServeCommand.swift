import ArgumentParser
import Foundation
import Synchronization
import Zoo
import ZooServer
import ZooServing

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve networks over HTTP: classify images, run prepared inputs, with dynamic batching and metrics.",
        discussion: """
            Each --model NAME=WEIGHTS loads a network once, as zoo predict does (a backbone's Keras or native file, \
            what zoo finetune wrote, or any network a Keras file's config describes), and serves it as NAME. \
            Concurrent requests for a model are gathered into one batch (up to --max-batch samples, waiting at most \
            --max-delay for requests already arriving; a lone request runs at once), their images decoded side by side \
            in the batch, run through its inference plan and split back. Past --max-queue waiting samples \
            the server answers 503 with Retry-After; a request that waits longer than --timeout gets 504. SIGTERM or \
            Ctrl-C finishes the requests in flight, then exits 0. The server binds to 127.0.0.1 unless --host says \
            otherwise.

            Endpoints (JSON; see README for curl examples):
              GET  /                                a page listing the models, to try them with an image
              GET  /v1/models, /v1/models/NAME      inputs, outputs, classes, preprocessing
              POST /v1/models/NAME/classify?top=5   JPEG/PNG body, or multipart/form-data with images
              POST /v1/models/NAME/predict          {"inputs": ARRAY} or .npy body; Accept: application/x-npy for .npy
              GET  /healthz, /readyz, /metrics      probes and Prometheus metrics

            Examples:
              zoo serve --model resnet50=resnet50.h5
              zoo serve --model lenet=examples/lenet5-relu_fashion_0-1-3-5-8.h5 --labels lenet=examples/fashion_0-1-3-5-8.txt --port 9000
              zoo serve --model unet=unet.keras --max-batch 8 --max-delay 10
            """)

    @Option(name: .customLong("model"), help: ArgumentHelp("A network to serve, as NAME=WEIGHTS (repeatable).", valueName: "name=weights"))
    var models: [String]
    @Option(name: .customLong("labels"), help: ArgumentHelp("Class names for a model, one per line, as NAME=FILE (repeatable).", valueName: "name=file"))
    var labels: [String] = []
    @Option(name: .customLong("arch"), help: ArgumentHelp("The backbone a model's weights are for, as NAME=ARCH, where the file does not say.", valueName: "name=arch"))
    var architectures: [String] = []
    @Option(name: .customLong("config"), help: ArgumentHelp("A model's Keras config (JSON or YAML), for weights saved without one, as NAME=FILE.", valueName: "name=file"))
    var configs: [String] = []
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port).") var port = 8080
    @Option(name: .customLong("max-batch"), help: "Most samples per batch.") var maxBatch = 32
    @Option(name: .customLong("max-delay"), help: "Milliseconds a batch waits for requests already arriving to share it.") var maxDelay = 5.0
    @Option(name: .customLong("max-queue"), help: "Most samples waiting per model; past it requests get 503.") var maxQueue = 256
    @Option(help: "Seconds a request may wait before its batch runs; past it, 504.") var timeout = 30.0
    @Option(name: .customLong("max-body"), help: "Largest request body, in MB; larger ones get 413.") var maxBody = 32

    func validate() throws {
        guard !models.isEmpty else { throw ValidationError("give at least one --model NAME=WEIGHTS") }
        guard maxBatch > 0, maxQueue > 0, maxBody > 0 else { throw ValidationError("--max-batch, --max-queue and --max-body must be positive") }
        guard maxDelay >= 0, timeout > 0 else { throw ValidationError("--max-delay must not be negative and --timeout must be positive") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    /// `NAME=VALUE` pairs of an option, by name; `option` names it in errors.
    static func pairs(_ values: [String], option: String) throws -> [(name: String, value: String)] {
        try values.map { text in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("\(option) takes NAME=VALUE, got '\(text)'")
            }
            guard parts[0].allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw ValidationError("\(option) \(text): a model name takes letters, digits, '-', '_' and '.' only (it is part of URLs)")
            }
            return (parts[0], parts[1])
        }
    }

    /// An option's `NAME=VALUE` pairs as a dictionary by model name (a later pair for a name wins).
    static func byName(_ values: [String], option: String) throws -> [String: String] {
        Dictionary(try pairs(values, option: option).map { ($0.name, $0.value) }) { $1 }
    }

    func run() throws {
        Self.shortenOpenMPSpinning()
        let served = try Self.pairs(models, option: "--model")
        let names = Set(served.map(\.name))
        guard names.count == served.count else { throw ValidationError("two --model options share a name") }
        let labelFiles = try Self.byName(labels, option: "--labels")
        let arches = try Self.byName(architectures, option: "--arch")
        let configFiles = try Self.byName(configs, option: "--config")
        for name in Set(labelFiles.keys).union(arches.keys).union(configFiles.keys).subtracting(names) {
            throw ValidationError("--labels, --arch or --config names '\(name)', which no --model serves")
        }
        var entries: [ModelServer.Entry] = []
        for (name, weights) in served {
            let config = try ModelConfigOption.parse(configFiles[name].map { ["--config", $0] } ?? [])
            let network = try Network.open(weights, arch: arches[name], config: config)
            if let labels = labelFiles[name], network.classifier == nil {
                throw CLIError("--labels \(name)=\(labels): \(weights) has no classifier to name the classes of")
            }
            let names = try network.classifier.flatMap { try classNames(labels: labelFiles[name], count: $0.classes, recorded: $0.recordedNames) }
            entries.append(ModelServer.Entry(name: name, network: network, classNames: names))
        }
        let batching = BatchingPredictor.Options(maxBatch: maxBatch, maxDelay: .microseconds(Int(maxDelay * 1000)), maxQueue: maxQueue,
                                                 deadline: .milliseconds(Int(timeout * 1000)))
        let warmUpStart = ContinuousClock.now
        let server = try ModelServer(entries, options: .init(host: host, port: port, maxBodyBytes: maxBody << 20, batching: batching))
        let host = host
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run { port in
                    Self.announce(server, host: host, port: port)
                    Task { await Self.announceReadiness(server, since: warmUpStart) }
                }
            } catch {
                failure.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw CLIError("zoo serve: \(error)") }
        Output.message("zoo serve: stopped")
    }

    /// Runs the server again with GOMP_SPINCOUNT=10000 unless OpenMP's waiting is set already. Between batches
    /// oneDNN's OpenMP threads spin for their next task, by default for milliseconds, and on a small machine that
    /// takes a core from the threads answering HTTP. Measured with `tools/bench/serve`'s loads on 2 cores: LeNet-5's
    /// p99 at one connection 3.3–3.5 ms against 11.8–12.0, ResNet-50 alike or better. libgomp reads the variable when
    /// it loads, so setting it takes a fresh image of the process (the same process ID, arguments and open files).
    static func shortenOpenMPSpinning() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["GOMP_SPINCOUNT"] == nil, environment["OMP_WAIT_POLICY"] == nil else { return }
        setenv("GOMP_SPINCOUNT", "10000", 1)
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", arguments)
        // Only reached if the exec failed: serve with the default spinning.
        for argument in arguments { free(argument) }
    }

    /// Says when every model has compiled and timed its plans (until then `/readyz` answers 503).
    static func announceReadiness(_ server: ModelServer, since start: ContinuousClock.Instant) async {
        while !server.models.allSatisfy(\.predictor.isReady) { try? await Task.sleep(for: .milliseconds(50)) }
        let sizes = Set(server.models.flatMap(\.predictor.batchSizes)).sorted().map(String.init).joined(separator: ", ")
        print(String(format: "zoo serve: ready, with plans for batches of %@ (%.1f s)", sizes, (ContinuousClock.now - start).inSeconds))
        fflush(nil)
    }

    /// What the server serves and where, printed once it listens (the first line names the address).
    static func announce(_ server: ModelServer, host: String, port: Int) {
        var lines = ["zoo serve: listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)"]
        for model in server.models {
            let facts = model.facts
            var line = "  \(facts.name): \(facts.architecture), input " + facts.inputs.map { "\($0.name) \($0.shape.dimensions)" }.joined(separator: ", ")
                + ", output " + facts.outputs.map { "\($0.name) \($0.shape.dimensions)" }.joined(separator: ", ")
            if let classes = facts.classes {
                line += ", \(classes) classes" + (facts.classNames.map { " (" + $0.prefix(5).joined(separator: ", ") + ($0.count > 5 ? ", …)" : ")") } ?? "")
            }
            lines.append(line)
        }
        print(lines.joined(separator: "\n"))
        fflush(nil)  // a client waits for the first line through a pipe
    }
}
