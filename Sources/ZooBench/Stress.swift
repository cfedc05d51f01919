import Foundation
import ZooCore
import ZooModels
import ZooNN
import ZooTensor

/// Several backbones running on several threads at once, each result checked bit for bit against the same work
/// run alone (tools/stress).
struct StressTest {
    /// One thread's work: a backbone at a small input, a forward pass in inference mode and then one fine-tuning step.
    struct Job {
        let arch: String
        let inputSize: Int
        let batch: Int
        let seed: UInt64
    }

    static let jobs = [
        Job(arch: "resnet18", inputSize: 64, batch: 2, seed: 1),
        Job(arch: "densenet121", inputSize: 64, batch: 2, seed: 2),
        Job(arch: "googlenet", inputSize: 224, batch: 1, seed: 3),
        Job(arch: "vgg11", inputSize: 64, batch: 2, seed: 4),
        Job(arch: "alexnet", inputSize: 128, batch: 2, seed: 5),
        Job(arch: "resnet50", inputSize: 64, batch: 2, seed: 6),
        Job(arch: "lenet5", inputSize: 32, batch: 8, seed: 7),
        Job(arch: "vgg11-lrn", inputSize: 64, batch: 2, seed: 8),
    ]

    /// What a run of a job produced, reduced to a hash of every bit: the forward output, the loss, and every weight
    /// (and BatchNorm statistic) after the step.
    struct Outcome: Equatable {
        let hash: UInt64
    }

    /// Builds the job's model from its seed and runs it; the same job gives the same bits on any thread.
    static func run(_ job: Job) throws -> Outcome {
        let backbone = try builtInBackbones().backbone(named: job.arch)
        let model = try backbone.build(BackboneOptions(classes: 10, inputSize: (job.inputSize, job.inputSize),
                                                       classifierActivation: nil, seed: job.seed))
        var generator = SeededGenerator(seed: job.seed)
        let images = Tensor.uniform([job.batch, job.inputSize, job.inputSize, backbone.inputChannels], low: -1, high: 1, using: &generator)
        let labels = Tensor(shape: [job.batch]) { for i in $0.indices { $0[i] = Float(i % 10) } }
        var hasher = BitHasher()
        let features = try Gradients.off { try model(Variable(images), training: false).main.value }
        hasher.add(features)
        for (i, layer) in model.layers.enumerated() { (layer as? Reseedable)?.reseed(job.seed &+ UInt64(i)) }
        let logits = try model(Variable(images), training: true).main
        let l = try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: labels)
        try l.backward()
        SGD(learningRate: 1e-2, momentum: 0.9).step(model.weights)
        hasher.add(l.value)
        for weight in model.weights { hasher.add(weight.value) }
        return Outcome(hash: hasher.value)
    }

    /// FNV-1a over the bit patterns of floats.
    struct BitHasher {
        private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func add(_ tensor: Tensor) {
            tensor.withUnsafeBufferPointer { values in
                for v in values { value = (value ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
            }
        }
    }

    struct Round {
        let threads: Int
        let seconds: Double
        let runs: [String: Int]
        /// Seconds each job takes alone on one thread.
        let serialSeconds: [String: Double]
        var total: Int { runs.values.reduce(0, +) }
        /// Seconds of single-thread work done per second: 1 means no gain from running concurrently.
        var throughput: Double { runs.reduce(0) { $0 + Double($1.value) * serialSeconds[$1.key]! } / seconds }
    }

    /// Runs the jobs serially for the expected outcomes, then each thread count for `seconds`: thread i repeats job
    /// i mod 8 and checks each outcome. Throws on the first mismatch or error.
    static func stress(threadCounts: [Int], seconds duration: Double, log: (String) -> Void) throws -> [Round] {
        var expected: [String: Outcome] = [:], serialSeconds: [String: Double] = [:]
        for job in jobs {
            expected[job.arch] = try run(job)
            let start = ContinuousClock.now
            guard try run(job) == expected[job.arch] else { throw StressFailure(message: "\(job.arch) differs between two serial runs") }
            serialSeconds[job.arch] = (ContinuousClock.now - start).inSeconds
            log("serial \(job.arch): \(String(format: "%.3f", serialSeconds[job.arch]!)) s")
        }
        let expectedOutcomes = expected
        var rounds: [Round] = []
        for threads in threadCounts {
            let state = UncheckedSendable(RoundState())
            let deadline = ContinuousClock.now + .milliseconds(Int(duration * 1000))
            let start = ContinuousClock.now
            let group = DispatchGroup()
            for index in 0..<threads {
                let job = jobs[index % jobs.count]
                group.enter()
                let thread = Thread {
                    defer { group.leave() }
                    repeat {
                        do {
                            let outcome = try run(job)
                            guard outcome == expectedOutcomes[job.arch] else {
                                state.value.fail("\(job.arch) on thread \(index) of \(threads) differs from the serial run")
                                return
                            }
                            state.value.count(job.arch)
                        } catch {
                            state.value.fail("\(job.arch) on thread \(index) of \(threads): \(error)")
                            return
                        }
                    } while ContinuousClock.now < deadline && !state.value.failed
                }
                thread.stackSize = 16 << 20
                thread.start()
            }
            group.wait()
            if let failure = state.value.failure { throw StressFailure(message: failure) }
            let round = Round(threads: threads, seconds: (ContinuousClock.now - start).inSeconds, runs: state.value.runs,
                              serialSeconds: serialSeconds)
            log("\(threads) threads: \(round.total) runs in \(String(format: "%.1f", round.seconds)) s, all bit-identical to the serial run")
            rounds.append(round)
        }
        return rounds
    }

    final class RoundState {
        private let lock = NSLock()
        private(set) var runs: [String: Int] = [:]
        private(set) var failure: String?
        var failed: Bool { lock.withLock { failure != nil } }

        func count(_ arch: String) { lock.withLock { runs[arch, default: 0] += 1 } }
        func fail(_ message: String) { lock.withLock { if failure == nil { failure = message } } }
    }

    struct StressFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { "stress: \(message)" }
    }
}
