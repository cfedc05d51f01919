import Foundation
import ZooTensor

/// Why a request was not answered with outputs.
public enum ServingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The queue holds `queued` samples, and `limit` at most: come back later.
    case overloaded(queued: Int, limit: Int)
    /// The request waited longer than its deadline before its batch ran.
    case deadlineExceeded(Duration)
    /// The predictor is draining what it has and takes nothing new.
    case shuttingDown
    /// The inputs do not fit the network.
    case badInput(String)

    public var description: String {
        switch self {
        case .overloaded(let queued, let limit):
            return "the queue is full (\(queued) samples waiting, at most \(limit)); retry later"
        case .deadlineExceeded(let deadline):
            return "the request waited longer than its deadline of \(deadline.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))) before it could run"
        case .shuttingDown: return "the server is shutting down"
        case .badInput(let message): return message
        }
    }
}

/// Runs one network on batches gathered from concurrent requests, as model servers do: a request's samples wait until
/// `maxBatch` samples of the same input shapes are queued or the oldest has waited `maxDelay`, then run in one batch
/// and each request gets its own rows back. Requests of different shapes never share a batch. The queue is bounded
/// (`maxQueue` samples; beyond it a request fails at once with `overloaded`), a request that waits past its
/// `deadline` fails with `deadlineExceeded`, and `shutdown()` runs what is queued before it returns.
///
/// Batches are padded to the next of a few sizes (powers of two up to `maxBatch`, and `maxBatch`), so that a model
/// compiles a handful of inference plans rather than one per batch size; the padding rows are zeros and their
/// outputs are dropped. Images are independent in every network Zoo runs at inference (BatchNorm uses its moving
/// statistics), so a sample's outputs do not depend on its batch.
public final class BatchingPredictor: @unchecked Sendable {
    public struct Options: Sendable {
        public var maxBatch: Int
        public var maxDelay: Duration
        public var maxQueue: Int
        public var deadline: Duration?

        public init(maxBatch: Int = 32, maxDelay: Duration = .milliseconds(5), maxQueue: Int = 256, deadline: Duration? = .seconds(30)) {
            self.maxBatch = maxBatch
            self.maxDelay = maxDelay
            self.maxQueue = maxQueue
            self.deadline = deadline
        }
    }

    /// One batch that ran: its samples (before padding), requests, the padded size it ran at, how long the network
    /// took, and the samples still queued after it was taken.
    public struct Batch: Sendable {
        public let samples, requests, paddedSize: Int
        public let duration: Duration
        public let queued: Int
    }

    public let options: Options
    private let network: @Sendable ([Tensor]) throws -> [Tensor]
    private let observer: (@Sendable (Batch) -> Void)?
    private let condition = NSCondition()
    private var pending: [Request] = []
    private var queuedSamples = 0
    private var stopping = false
    private var finished: [CheckedContinuation<Void, Never>] = []
    private var workerDone = false

    private final class Request {
        let inputs: [Tensor]
        let samples: Int
        let shapes: [[Int]]
        let arrival = ContinuousClock.now
        let continuation: CheckedContinuation<[Tensor], any Error>

        init(inputs: [Tensor], continuation: CheckedContinuation<[Tensor], any Error>) {
            self.inputs = inputs
            samples = inputs[0].shape[0]
            shapes = inputs.map { Array($0.shape.dropFirst()) }
            self.continuation = continuation
        }
    }

    /// `network` maps a batch (one tensor per input, samples along the first axis) to its outputs (the same number of
    /// samples each); it runs on a thread of the predictor's own, one batch at a time. `observer` hears of every batch.
    public init(options: Options = Options(), observer: (@Sendable (Batch) -> Void)? = nil,
                network: @escaping @Sendable ([Tensor]) throws -> [Tensor]) {
        precondition(options.maxBatch > 0 && options.maxQueue > 0, "maxBatch and maxQueue must be positive")
        self.options = options
        self.network = network
        self.observer = observer
        let worker = Thread { [self] in work() }
        worker.name = "zoo-batching"
        worker.start()
    }

    /// Samples waiting for a batch.
    public var queueDepth: Int { condition.withLock { queuedSamples } }

    /// The outputs for `inputs` (one tensor per network input, each with the same number of samples along its
    /// first axis), computed in a batch with whatever other requests of the same shapes are queued.
    public func predict(_ inputs: [Tensor]) async throws -> [Tensor] {
        guard let first = inputs.first, let samples = first.shape.first, samples > 0,
              inputs.allSatisfy({ $0.shape.first == samples }) else {
            throw ServingError.badInput("every input needs the same number of samples (at least one) along its first axis, got shapes "
                + inputs.map { describe(shape: $0.shape) }.joined(separator: ", "))
        }
        return try await withCheckedThrowingContinuation { continuation in
            condition.withLock {
                if stopping { return continuation.resume(throwing: ServingError.shuttingDown) }
                guard queuedSamples + samples <= options.maxQueue else {
                    return continuation.resume(throwing: ServingError.overloaded(queued: queuedSamples, limit: options.maxQueue))
                }
                pending.append(Request(inputs: inputs, continuation: continuation))
                queuedSamples += samples
                condition.broadcast()
            }
        }
    }

    /// Takes no new requests, runs every queued one, and returns once the last has its answer.
    public func shutdown() async {
        await withCheckedContinuation { continuation in
            condition.withLock {
                stopping = true
                if workerDone { continuation.resume() } else { finished.append(continuation) }
                condition.broadcast()
            }
        }
    }

    /// The padded size a batch of `samples` runs at.
    func paddedSize(_ samples: Int) -> Int {
        var size = 1
        while size < samples { size *= 2 }
        return min(size, max(options.maxBatch, samples))
    }

    private func work() {
        condition.lock()
        while true {
            while pending.isEmpty && !stopping { condition.wait() }
            guard let head = pending.first else { break }
            // Wait for a full batch of the head's shapes, or until the head has waited maxDelay.
            let due = head.arrival + options.maxDelay
            while !stopping, samples(shaped: head.shapes) < options.maxBatch, ContinuousClock.now < due {
                _ = condition.wait(until: Date(timeIntervalSinceNow: (due - ContinuousClock.now).inSeconds))
            }
            var batch: [Request] = [], samples = 0
            pending.removeAll { request in
                guard request.shapes == head.shapes, batch.isEmpty || samples + request.samples <= options.maxBatch else { return false }
                batch.append(request)
                samples += request.samples
                return true
            }
            queuedSamples -= samples
            let queued = queuedSamples
            condition.unlock()
            run(batch, queued: queued)
            condition.lock()
        }
        workerDone = true
        let waiting = finished
        finished = []
        condition.unlock()
        for continuation in waiting { continuation.resume() }
    }

    private func samples(shaped shapes: [[Int]]) -> Int {
        pending.reduce(0) { $0 + ($1.shapes == shapes ? $1.samples : 0) }
    }

    private func run(_ requests: [Request], queued: Int) {
        let now = ContinuousClock.now
        var live: [Request] = []
        for request in requests {
            if let deadline = options.deadline, now - request.arrival > deadline {
                request.continuation.resume(throwing: ServingError.deadlineExceeded(deadline))
            } else {
                live.append(request)
            }
        }
        guard let first = live.first else { return }
        let samples = live.reduce(0) { $0 + $1.samples }
        let padded = paddedSize(samples)
        let inputs = first.inputs.indices.map { index in
            var parts = live.map { $0.inputs[index] }
            if padded > samples { parts.append(Tensor(zeros: [padded - samples] + first.shapes[index])) }
            return parts.count == 1 ? parts[0] : Tensor(stacking: parts)
        }
        let start = ContinuousClock.now
        do {
            let outputs = try network(inputs)
            let duration = ContinuousClock.now - start
            guard outputs.allSatisfy({ $0.shape.first == padded }) else {
                throw ServingError.badInput("the network returned \(outputs.map { describe(shape: $0.shape) }.joined(separator: ", ")) for a batch of \(padded)")
            }
            // Heard before the answers go out, so that a caller who has its answer finds its batch counted.
            observer?(Batch(samples: samples, requests: live.count, paddedSize: padded, duration: duration, queued: queued))
            var row = 0
            for request in live {
                let rows = row..<(row + request.samples)
                request.continuation.resume(returning: outputs.map { $0.rows(rows) })
                row += request.samples
            }
        } catch {
            for request in live { request.continuation.resume(throwing: error) }
        }
    }
}
