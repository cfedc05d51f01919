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

    /// Batches the network ran: their row counts and trailing shapes.
    final class Log: Sendable {
        let batches = Mutex<[(rows: Int, shape: [Int])]>([])
        func record(_ inputs: [Tensor]) { batches.withLock { $0.append((inputs[0].shape[0], Array(inputs[0].shape.dropFirst()))) } }
    }

    func sample(_ seed: Int, shape: [Int]) throws -> Tensor {
        let count = shape.reduce(1, *)
        return try Tensor(shape: shape, scalars: (0..<count).map { Float(seed * 1000 + $0) / 7 })
    }

    @Test func concurrentRequestsShareBatchesAndGetTheirOwnRows() async throws {
        let log = Log()
        let predictor = BatchingPredictor(options: .init(maxBatch: 8, maxDelay: .seconds(1))) { inputs in
            log.record(inputs)
            return try Self.network(inputs)
        }
        // Requests of one and of two samples, and of two shapes, all at once.
        let requests = try (0..<24).map { index in
            try sample(index, shape: [index % 3 == 0 ? 2 : 1] + (index % 2 == 0 ? [2, 3] : [5]))
        }
        let answers = try await withThrowingTaskGroup(of: (Int, [Tensor]).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask { (index, try await predictor.predict([request])) }
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
        let predictor = BatchingPredictor(options: .init(maxBatch: 4, maxDelay: .seconds(10))) { try Self.network($0) }
        let tasks = (0..<3).map { index in Task { try await predictor.predict([try sample(index, shape: [1, 3])]) } }
        while predictor.queueDepth < 3 { try await Task.sleep(for: .milliseconds(1)) }
        // The batch would wait 10 s for a fourth sample; shutting down runs it now.
        let start = ContinuousClock.now
        await predictor.shutdown()
        #expect(ContinuousClock.now - start < .seconds(5))
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
