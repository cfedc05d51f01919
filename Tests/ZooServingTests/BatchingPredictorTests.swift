import Foundation
import Synchronization
import Testing
import ZooServing
import ZooTensor

/// The batching queue without HTTP: concurrent requests share batches and each gets its own rows back; shapes never
/// mix; the queue is bounded; deadlines and shutdown hold.
@Suite struct BatchingPredictorTests {
    /// Per row: the row's sum and its values doubled, computed row by row (the oracle recomputes it directly).
    static func network(_ inputs: [Tensor]) throws -> [Tensor] {
        let x = inputs[0], rows = x.shape[0], width = x.count / max(rows, 1)
        let values = x.scalars
        let sums = (0..<rows).map { row in values[(row * width)..<((row + 1) * width)].reduce(0, +) }
        return [try Tensor(shape: [rows, 1], scalars: sums), try Tensor(shape: x.shape, scalars: values.map { 2 * $0 })]
    }

    /// Batches the network ran: their row counts, trailing shapes, and when they started. Timings are read on the
    /// predictor's worker thread, since the test's own tasks can wait minutes for a thread of the cooperative pool
    /// while the rest of the suite runs.
    final class Log: Sendable {
        let batches = Mutex<[(rows: Int, shape: [Int], at: ContinuousClock.Instant)]>([])
        func record(_ inputs: [Tensor]) {
            batches.withLock { $0.append((inputs[0].shape[0], Array(inputs[0].shape.dropFirst()), ContinuousClock.now)) }
        }
    }

    /// A predictor of `network` whose batches are logged.
    func loggedPredictor(options: BatchingPredictor.Options, warmUp: [[Int]]? = nil) -> (BatchingPredictor, Log) {
        let log = Log()
        let predictor = BatchingPredictor(options: options, warmUp: warmUp) { inputs in
            log.record(inputs)
            return try Self.network(inputs)
        }
        return (predictor, log)
    }

    func sample(_ seed: Int, shape: [Int]) throws -> Tensor {
        let count = shape.reduce(1, *)
        return try Tensor(shape: shape, scalars: (0..<count).map { Float(seed * 1000 + $0) / 7 })
    }

    /// Requests announced together are gathered into batches; half carry their inputs and half are prepared in the batch.
    @Test func concurrentRequestsShareBatchesAndGetTheirOwnRows() async throws {
        let (predictor, log) = loggedPredictor(options: .init(maxBatch: 8, maxDelay: .seconds(10)))
        // Requests of one and of two samples, and of two shapes, all at once.
        let requests = try (0..<24).map { index in
            try sample(index, shape: [index % 3 == 0 ? 2 : 1] + (index % 2 == 0 ? [2, 3] : [5]))
        }
        let arrivals = requests.map { _ in predictor.arrival() }
        let answers = try await withThrowingTaskGroup(of: (Int, [Tensor]).self) { group in
            for (index, request) in requests.enumerated() {
                let arrival = arrivals[index]
                group.addTask {
                    if index % 4 < 2 { return (index, try await predictor.predict([request], arrival: arrival)) }
                    return (index, try await predictor.predict(samples: request.shape[0], shapes: [Array(request.shape.dropFirst())],
                                                               arrival: arrival) { [request] })
                }
            }
            var answers: [Int: [Tensor]] = [:]
            for try await (index, outputs) in group { answers[index] = outputs }
            return answers
        }
        for (index, request) in requests.enumerated() {
            let expected = try Self.network([request])
            #expect(answers[index]?.map(\.shape) == expected.map(\.shape), "request \(index)")
            #expect(answers[index]?.map(\.scalars) == expected.map(\.scalars), "request \(index) got another request's rows")
        }
        let batches = log.batches.withLock { $0 }
        let samples = requests.reduce(0) { $0 + $1.shape[0] }
        #expect(batches.count < requests.count, "\(batches.count) batches for \(requests.count) requests: nothing was gathered")
        #expect(batches.allSatisfy { [1, 2, 4, 8].contains($0.rows) }, "batches are padded to 1, 2, 4 or 8 rows: \(batches.map(\.rows))")
        #expect(batches.reduce(0) { $0 + $1.rows } >= samples)
        #expect(Set(batches.map(\.shape)) == [[2, 3], [5]])
        await predictor.shutdown()
    }

    /// A lone request runs at once, however long maxDelay is; a batch waits for a request announced on its way, and
    /// stops waiting when that announcement ends without a request.
    @Test func aBatchWaitsOnlyForRequestsOnTheirWay() async throws {
        let (predictor, log) = loggedPredictor(options: .init(maxBatch: 8, maxDelay: .seconds(300)))
        let start = ContinuousClock.now
        let alone = try await predictor.predict([try sample(0, shape: [1, 3])], arrival: predictor.arrival())
        #expect(try alone[1].scalars == Self.network([try sample(0, shape: [1, 3])])[1].scalars)
        #expect(try #require(log.batches.withLock { $0.first?.at }) - start < .seconds(60), "a lone request waited for nothing")

        let first = predictor.arrival(), second = predictor.arrival(), third = predictor.arrival()
        #expect(predictor.arriving == 3)
        let firstAnswer = Task { try await predictor.predict([try sample(1, shape: [1, 3])], arrival: first) }
        while predictor.queueDepth < 1 { try await Task.sleep(for: .milliseconds(1)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(predictor.queueDepth == 1 && log.batches.withLock { $0.count } == 1, "the batch ran without the requests on their way")
        let secondAnswer = Task { try await predictor.predict([try sample(2, shape: [1, 3])], arrival: second) }
        while predictor.queueDepth < 2 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(predictor.arriving == 1)
        let ended = ContinuousClock.now
        third.end()  // the third request never comes (its body was refused, say)
        _ = try await (firstAnswer.value, secondAnswer.value)
        #expect(try #require(log.batches.withLock { $0.last?.at }) - ended < .seconds(60), "the batch waited out maxDelay for an ended arrival")
        #expect(log.batches.withLock { $0.map(\.rows) } == [1, 2], "the two requests shared one batch")
        await predictor.shutdown()
    }

    /// Preparations run in the batch: one that throws, and one that makes other shapes than it declared, fail their
    /// own requests only.
    @Test func aFailedPreparationFailsItsRequestAlone() async throws {
        let (predictor, log) = loggedPredictor(options: .init(maxBatch: 8, maxDelay: .seconds(30)))
        let arrivals = (0..<3).map { _ in predictor.arrival() }
        let good = Task { try await predictor.predict(samples: 1, shapes: [[4]], arrival: arrivals[0]) { [try self.sample(7, shape: [1, 4])] } }
        let broken = Task { try await predictor.predict(samples: 1, shapes: [[4]], arrival: arrivals[1]) { throw ServingError.badInput("not an image") } }
        let misshapen = Task { try await predictor.predict(samples: 1, shapes: [[4]], arrival: arrivals[2]) { [try self.sample(8, shape: [2, 4])] } }
        #expect(try await good.value[1].scalars == Self.network([try sample(7, shape: [1, 4])])[1].scalars)
        await #expect(throws: ServingError.badInput("not an image")) { try await broken.value }
        do {
            _ = try await misshapen.value
            Issue.record("a preparation of the wrong shape was answered")
        } catch {
            #expect("\(error)".contains("[2, 4]") && "\(error)".contains("[1, 4]"), "\(error)")
        }
        #expect(log.batches.withLock { $0.map(\.rows) } == [1])
        await predictor.shutdown()
    }

    /// The warm-up runs every batch size twice before the first request (powers of two up to 8, then multiples of 8),
    /// and a batch then runs as sizes among those.
    @Test func warmUpRunsEveryBatchSize() async throws {
        let (predictor, log) = loggedPredictor(options: .init(maxBatch: 32), warmUp: [[3]])
        #expect(predictor.batchSizes == [1, 2, 4, 8, 16, 24, 32])
        let twelve = BatchingPredictor(options: .init(maxBatch: 12)) { $0 }
        #expect(twelve.batchSizes == [1, 2, 4, 8, 12])
        await twelve.shutdown()
        let request = try sample(0, shape: [17, 3])
        let answer = try await predictor.predict([request])
        #expect(predictor.isReady)
        #expect(try answer.map(\.scalars) == Self.network([request]).map(\.scalars))
        let rows = log.batches.withLock { $0.map(\.rows) }
        #expect(Array(rows.prefix(14)) == [1, 1, 2, 2, 4, 4, 8, 8, 16, 16, 24, 24, 32, 32])
        let pieces = rows.dropFirst(14)
        #expect(pieces.allSatisfy { predictor.batchSizes.contains($0) } && pieces.reduce(0, +) >= 17, "17 samples ran as \(Array(pieces))")
        await predictor.shutdown()
    }

    /// A batch runs as the cheapest cover by the measured run times: in pieces where runs cost by their size, padded
    /// where each run has a high fixed cost, padded to the next size without times.
    @Test func aBatchRunsAsItsCheapestSizes() {
        let sizes = [1, 2, 4, 8, 16, 24, 32]
        let proportional = Dictionary(uniqueKeysWithValues: sizes.map { ($0, Double($0)) })
        #expect(BatchingPredictor.pieces(for: 17, sizes: sizes, costs: proportional) == [16, 1])
        #expect(BatchingPredictor.pieces(for: 32, sizes: sizes, costs: proportional) == [32])
        let fixedCost = Dictionary(uniqueKeysWithValues: sizes.map { ($0, 10 + Double($0)) })
        #expect(BatchingPredictor.pieces(for: 17, sizes: sizes, costs: fixedCost) == [24])
        // Per sample, larger runs are cheaper (as on a CPU): 19 = 16 + 2 + 1 costs 15.3 against 18.5 for 24.
        let measured: [Int: Double] = [1: 1, 2: 1.8, 4: 3.4, 8: 6.5, 16: 12.5, 24: 18.5, 32: 24.5]
        #expect(BatchingPredictor.pieces(for: 19, sizes: sizes, costs: measured) == [16, 2, 1])
        #expect(BatchingPredictor.pieces(for: 17, sizes: sizes, costs: [:]) == [24])
        #expect(BatchingPredictor.pieces(for: 40, sizes: sizes, costs: measured) == [40], "a request larger than every size runs alone")
    }

    /// A network held busy: the queue fills to its bound, the next request is refused at once, and the queued ones
    /// run once the network is free.
    @Test func aFullQueueRefusesAtOnce() async throws {
        let gate = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let predictor = BatchingPredictor(options: .init(maxBatch: 1, maxDelay: .zero, maxQueue: 3)) { inputs in
            started.signal()
            guard gate.wait(timeout: .now() + 60) == .success else { throw ServingError.badInput("the test never opened the gate") }
            return try Self.network(inputs)
        }
        let first = Task { try await predictor.predict([try sample(0, shape: [1, 4])]) }
        await Task.detached { started.wait() }.value  // the first batch is running, the queue is empty
        let queued = (1...3).map { index in Task { try await predictor.predict([try sample(index, shape: [1, 4])]) } }
        while predictor.queueDepth < 3 { try await Task.sleep(for: .milliseconds(1)) }
        await #expect(throws: ServingError.overloaded(queued: 3, limit: 3)) { try await predictor.predict([try sample(9, shape: [1, 4])]) }
        for _ in 0..<4 { gate.signal() }
        #expect(try await first.value[0].scalars == Self.network([try sample(0, shape: [1, 4])])[0].scalars)
        for (index, task) in queued.enumerated() {
            #expect(try await task.value[0].scalars == Self.network([try sample(index + 1, shape: [1, 4])])[0].scalars)
        }
        await predictor.shutdown()
    }

    @Test func aRequestThatWaitsPastItsDeadlineFails() async throws {
        let gate = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let predictor = BatchingPredictor(options: .init(maxBatch: 1, maxDelay: .zero, deadline: .milliseconds(30))) { inputs in
            started.signal()
            guard gate.wait(timeout: .now() + 60) == .success else { throw ServingError.badInput("the test never opened the gate") }
            return try Self.network(inputs)
        }
        let first = Task { try await predictor.predict([try sample(0, shape: [1, 2])]) }
        await Task.detached { started.wait() }.value
        let late = Task { try await predictor.predict([try sample(1, shape: [1, 2])]) }
        // Queued behind the running batch, then held there past its deadline.
        while predictor.queueDepth < 1 { try await Task.sleep(for: .milliseconds(1)) }
        try await Task.sleep(for: .milliseconds(80))
        gate.signal()
        _ = try await first.value
        await #expect(throws: ServingError.deadlineExceeded(.milliseconds(30))) { try await late.value }
        await predictor.shutdown()
    }

    /// Shutdown answers every queued request before it returns, and refuses new ones.
    @Test func shutdownDrainsTheQueue() async throws {
        let (predictor, log) = loggedPredictor(options: .init(maxBatch: 4, maxDelay: .seconds(300)))
        let fourth = predictor.arrival()
        let tasks = (0..<3).map { index in Task { try await predictor.predict([try sample(index, shape: [1, 3])]) } }
        while predictor.queueDepth < 3 { try await Task.sleep(for: .milliseconds(1)) }
        // The batch would wait 300 s for the fourth request on its way; shutting down runs it now.
        let start = ContinuousClock.now
        await predictor.shutdown()
        fourth.end()
        #expect(try #require(log.batches.withLock { $0.first?.at }) - start < .seconds(60))
        for (index, task) in tasks.enumerated() {
            #expect(try await task.value[1].scalars == Self.network([try sample(index, shape: [1, 3])])[1].scalars)
        }
        await #expect(throws: ServingError.shuttingDown) { try await predictor.predict([try sample(5, shape: [1, 3])]) }
    }

    @Test func inputsWithoutSamplesAreRefused() async throws {
        let predictor = BatchingPredictor { try Self.network($0) }
        await #expect(throws: ServingError.self) { try await predictor.predict([Tensor(zeros: [0, 3])]) }
        await #expect(throws: ServingError.self) { try await predictor.predict([Tensor(zeros: [2, 3]), Tensor(zeros: [3, 3])]) }
        await predictor.shutdown()
    }
}
