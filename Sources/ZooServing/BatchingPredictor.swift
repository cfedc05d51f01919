import Foundation
import Synchronization
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

/// Runs one network on batches gathered from concurrent requests, as model servers do. A batch of the head request's
/// input shapes runs as soon as `maxBatch` samples are queued, or no other request is on its way, or the head has
/// waited `maxDelay`; each request gets its own rows back, and requests of different shapes never share a batch.
/// A request is on its way from `arrival()` until it is queued (the server announces one when its head arrives), so a
/// lone request runs at once, and requests that arrive together are gathered. Without announcements a batch takes
/// what is queued when the worker is free.
///
/// Inputs can be prepared in the batch (`predict(samples:shapes:arrival:preparing:)`): the worker prepares the
/// batch's requests side by side on every core before it runs the network, so that decoding images never competes
/// with the network for the cores, and queued requests hold their small encoded form.
///
/// The queue is bounded (`maxQueue` samples; beyond it a request fails at once with `overloaded`), a request that
/// waits past its `deadline` fails with `deadlineExceeded`, and `shutdown()` runs what is queued before it returns.
///
/// The network runs at a few sizes only (`batchSizes`: powers of two up to 8, then multiples of 8 up to `maxBatch`),
/// so that a model compiles a handful of inference plans rather than one per batch size. A batch runs as the
/// cheapest run of those sizes that covers it, by the times the warm-up measured: 19 samples may run as 16 + 2 + 1,
/// or padded to 24 where a run's fixed cost is high. Padding rows are zeros and their outputs are dropped; without a
/// warm-up a batch is padded to the next size. Images are independent in every network Zoo runs at inference
/// (BatchNorm uses its moving statistics), so a sample's outputs do not depend on its batch.
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

    /// One batch that ran: its samples (before padding), requests, the sizes the network ran at (padding included),
    /// how long preparing its inputs and running the network took, and the samples still queued after it was taken.
    public struct Batch: Sendable {
        public let samples, requests: Int
        public let pieces: [Int]
        public let preparation, duration: Duration
        public let queued: Int
    }

    /// A request on its way to `predict`: while any is, a batch waits (up to `maxDelay`) for it. It ends when its
    /// request is queued, when `end()` is called, or when it is released.
    public final class Arrival: @unchecked Sendable {
        private let predictor: BatchingPredictor
        fileprivate var ended = false

        fileprivate init(_ predictor: BatchingPredictor) { self.predictor = predictor }

        public func end() { predictor.end(self) }

        deinit { predictor.end(self) }
    }

    public let options: Options
    private let network: @Sendable ([Tensor]) throws -> [Tensor]
    private let observer: (@Sendable (Batch) -> Void)?
    private let condition = NSCondition()
    private var pending: [Request] = []
    private var queuedSamples = 0
    private var arrivalCount = 0
    private var warm = false
    /// Seconds a run of each of `batchSizes` took at warm-up.
    private var runCosts: [Int: Double] = [:]
    private var stopping = false
    private var finished: [CheckedContinuation<Void, Never>] = []
    private var workerDone = false

    private final class Request {
        let samples: Int
        let shapes: [[Int]]
        var inputs: [Tensor]?
        let prepare: (@Sendable () throws -> [Tensor])?
        let queuedAt = ContinuousClock.now
        let continuation: CheckedContinuation<[Tensor], any Error>

        init(samples: Int, shapes: [[Int]], inputs: [Tensor]?, prepare: (@Sendable () throws -> [Tensor])?,
             continuation: CheckedContinuation<[Tensor], any Error>) {
            self.samples = samples
            self.shapes = shapes
            self.inputs = inputs
            self.prepare = prepare
            self.continuation = continuation
        }
    }

    /// `network` maps a batch (one tensor per input, samples along the first axis) to its outputs (the same number of
    /// samples each); it runs on a thread of the predictor's own, one batch at a time. `observer` hears of every batch.
    /// With `warmUp` (the input shapes without the batch axis), the worker first runs zeros at every one of
    /// `batchSizes` twice, so that no request pays for compiling a plan, and times the second run; `isReady` tells when
    /// that is done.
    public init(options: Options = Options(), warmUp: [[Int]]? = nil, observer: (@Sendable (Batch) -> Void)? = nil,
                network: @escaping @Sendable ([Tensor]) throws -> [Tensor]) {
        precondition(options.maxBatch > 0 && options.maxQueue > 0, "maxBatch and maxQueue must be positive")
        self.options = options
        self.network = network
        self.observer = observer
        let worker = Thread { [self] in
            var costs: [Int: Double] = [:]
            if let warmUp {
                // A network that fails on zeros fails its requests too, where the error reaches a caller.
                for size in batchSizes {
                    let zeros = warmUp.map { Tensor(zeros: [size] + $0) }
                    _ = try? network(zeros)
                    let start = ContinuousClock.now
                    _ = try? network(zeros)
                    costs[size] = (ContinuousClock.now - start).inSeconds
                }
            }
            condition.withLock {
                runCosts = costs
                warm = true
            }
            work()
        }
        worker.name = "zoo-batching"
        worker.start()
    }

    /// Samples waiting for a batch.
    public var queueDepth: Int { condition.withLock { queuedSamples } }

    /// Requests announced and not queued yet.
    public var arriving: Int { condition.withLock { arrivalCount } }

    /// Whether the warm-up has run (at once without one): requests are answered before, only slower.
    public var isReady: Bool { condition.withLock { warm } }

    /// The sizes the network runs at: powers of two up to 8, then multiples of 8, and `maxBatch`.
    public var batchSizes: [Int] {
        var sizes: [Int] = [], size = 1
        while size < options.maxBatch {
            sizes.append(size)
            size = size < 8 ? size * 2 : size + 8
        }
        return sizes + [options.maxBatch]
    }

    /// The sizes a batch of `samples` runs as: the cheapest cover by `costs` (seconds per run of each size), else the
    /// next size up. A single request larger than every size runs alone, unpadded.
    public static func pieces(for samples: Int, sizes: [Int], costs: [Int: Double]) -> [Int] {
        guard let largest = sizes.last, samples <= largest else { return [samples] }
        guard sizes.allSatisfy({ costs[$0] != nil }) else { return [sizes.first { $0 >= samples }!] }
        // best[n]: the cheapest sizes covering n samples, padding the last run if that is cheaper.
        var best: [(cost: Double, pieces: [Int])] = [(0, [])]
        for n in 1...samples {
            var choice: (cost: Double, pieces: [Int])? = nil
            for size in sizes {
                let rest = size >= n ? (cost: 0.0, pieces: [Int]()) : best[n - size]
                let candidate = (cost: costs[size]! + rest.cost, pieces: [size] + rest.pieces)
                if choice.map({ candidate.cost < $0.cost || candidate.cost == $0.cost && candidate.pieces.count < $0.pieces.count }) ?? true {
                    choice = candidate
                }
            }
            best.append(choice!)
        }
        return best[samples].pieces.sorted(by: >)
    }

    /// Announces a request on its way, so that batches wait for it; pass it to `predict`.
    public func arrival() -> Arrival {
        condition.withLock { arrivalCount += 1 }
        return Arrival(self)
    }

    private func end(_ arrival: Arrival) {
        condition.withLock {
            guard !arrival.ended else { return }
            arrival.ended = true
            arrivalCount -= 1
            condition.broadcast()
        }
    }

    /// The outputs for `inputs` (one tensor per network input, each with the same number of samples along its
    /// first axis), computed in a batch with whatever other requests of the same shapes are queued.
    public func predict(_ inputs: [Tensor], arrival: Arrival? = nil) async throws -> [Tensor] {
        guard let first = inputs.first, let samples = first.shape.first, samples > 0,
              inputs.allSatisfy({ $0.shape.first == samples }) else {
            arrival?.end()
            throw ServingError.badInput("every input needs the same number of samples (at least one) along its first axis, got shapes "
                + inputs.map { describe(shape: $0.shape) }.joined(separator: ", "))
        }
        return try await enqueue(samples: samples, shapes: inputs.map { Array($0.shape.dropFirst()) }, inputs: inputs, prepare: nil, arrival: arrival)
    }

    /// The outputs for inputs `prepare` makes in the batch, on the worker's turn: `samples` samples of `shapes`
    /// (without the batch axis) per input. What `prepare` throws fails this request only.
    public func predict(samples: Int, shapes: [[Int]], arrival: Arrival? = nil,
                        preparing prepare: @escaping @Sendable () throws -> [Tensor]) async throws -> [Tensor] {
        guard samples > 0, !shapes.isEmpty else {
            arrival?.end()
            throw ServingError.badInput("a request needs at least one sample of at least one input")
        }
        return try await enqueue(samples: samples, shapes: shapes, inputs: nil, prepare: prepare, arrival: arrival)
    }

    private func enqueue(samples: Int, shapes: [[Int]], inputs: [Tensor]?, prepare: (@Sendable () throws -> [Tensor])?,
                         arrival: Arrival?) async throws -> [Tensor] {
        try await withCheckedThrowingContinuation { continuation in
            condition.withLock {
                if let arrival, !arrival.ended {
                    arrival.ended = true
                    arrivalCount -= 1
                }
                condition.broadcast()
                if stopping { return continuation.resume(throwing: ServingError.shuttingDown) }
                guard queuedSamples + samples <= options.maxQueue else {
                    return continuation.resume(throwing: ServingError.overloaded(queued: queuedSamples, limit: options.maxQueue))
                }
                pending.append(Request(samples: samples, shapes: shapes, inputs: inputs, prepare: prepare, continuation: continuation))
                queuedSamples += samples
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

    private func work() {
        condition.lock()
        while true {
            while pending.isEmpty && !stopping { condition.wait() }
            guard let head = pending.first else { break }
            // Wait for a full batch of the head's shapes while others are on their way, until the head has waited maxDelay.
            let due = head.queuedAt + options.maxDelay
            while !stopping, arrivalCount > 0, samples(shaped: head.shapes) < options.maxBatch, ContinuousClock.now < due {
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
            if let deadline = options.deadline, now - request.queuedAt > deadline {
                request.continuation.resume(throwing: ServingError.deadlineExceeded(deadline))
            } else {
                live.append(request)
            }
        }
        let preparation = prepare(&live)
        guard let first = live.first else { return }
        let samples = live.reduce(0) { $0 + $1.samples }
        let pieces = Self.pieces(for: samples, sizes: batchSizes, costs: condition.withLock { runCosts })
        let padded = pieces.reduce(0, +)
        let inputs = first.shapes.indices.map { index in
            var parts = live.map { $0.inputs![index] }
            if padded > samples { parts.append(Tensor(zeros: [padded - samples] + first.shapes[index])) }
            return parts.count == 1 ? parts[0] : Tensor(stacking: parts)
        }
        for request in live { request.inputs = nil }
        let start = ContinuousClock.now
        do {
            var runs: [[Tensor]] = [], done = 0
            for size in pieces {
                let rows = done..<(done + size)
                let outputs = try network(pieces.count == 1 ? inputs : inputs.map { $0.rows(rows) })
                guard outputs.allSatisfy({ $0.shape.first == size }) else {
                    throw ServingError.badInput("the network returned \(outputs.map { describe(shape: $0.shape) }.joined(separator: ", ")) for a batch of \(size)")
                }
                runs.append(outputs)
                done += size
            }
            let outputs = runs.count == 1 ? runs[0] : runs[0].indices.map { output in Tensor(stacking: runs.map { $0[output] }) }
            let duration = ContinuousClock.now - start
            // Heard before the answers go out, so that a caller who has its answer finds its batch counted.
            observer?(Batch(samples: samples, requests: live.count, pieces: pieces, preparation: preparation, duration: duration, queued: queued))
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

    /// Prepares the requests that carry a preparation, side by side, and drops (answering them) those whose
    /// preparation fails or makes other shapes than they declared. Returns the time it took.
    private func prepare(_ requests: inout [Request]) -> Duration {
        let waiting = requests.filter { $0.inputs == nil }
        guard !waiting.isEmpty else { return .zero }
        let start = ContinuousClock.now
        let failures = Mutex<[ObjectIdentifier: any Error]>([:])
        let work = UncheckedSendable(waiting)
        DispatchQueue.concurrentPerform(iterations: waiting.count) { index in
            let request = work.value[index]
            do {
                let inputs = try request.prepare!()
                guard inputs.map({ $0.shape }) == request.shapes.map({ [request.samples] + $0 }) else {
                    throw ServingError.badInput("the request's preparation made \(inputs.map { describe(shape: $0.shape) }.joined(separator: ", ")), not the "
                        + request.shapes.map { describe(shape: [request.samples] + $0) }.joined(separator: ", ") + " it declared")
                }
                request.inputs = inputs
            } catch {
                failures.withLock { $0[ObjectIdentifier(request)] = error }
            }
        }
        let failed = failures.withLock { $0 }
        requests.removeAll { request in
            guard let error = failed[ObjectIdentifier(request)] else { return false }
            request.continuation.resume(throwing: error)
            return true
        }
        return ContinuousClock.now - start
    }
}
