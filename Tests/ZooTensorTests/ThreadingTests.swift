import Foundation
import Testing
import ZooTensor

/// oneDNN's primitives are cached and shared, so they run on whatever thread calls next. These cases build each
/// primitive on one thread and run it on another that has never run oneDNN, then on many threads at once.
@Suite struct ThreadingTests {
    /// Runs `body` on a new thread and waits for it.
    static func onNewThread<R>(_ body: @escaping () throws -> R) throws -> R {
        let done = DispatchSemaphore(value: 0)
        let result = UncheckedSendable(Box<Result<R, Error>>())
        let body = UncheckedSendable(body)
        let thread = Thread {
            result.value.value = Result { try body.value() }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        done.wait()
        return try result.value.value!.get()
    }

    final class Box<T> { var value: T? }

    /// Forward and every gradient of a small network whose primitives need scratch memory (im2col for the 7×7
    /// convolution over 3 channels, reductions for the weight gradients).
    static func step(_ backend: any Backend) throws -> [Tensor] {
        try forwardAndGradients(backend, [random([4, 30, 30, 3], seed: 11), random([7, 7, 3, 16], seed: 12),
                                          random([16], seed: 13), random([3, 3, 16, 8], seed: 14),
                                          random([1, 1, 8, 32], seed: 15), random([16], seed: 16), random([16], seed: 17)]) { v in
            var y = try conv2d(v[0], v[1], bias: v[2], strides: (2, 2), padding: .same)
            let statistics = (Variable(Tensor(zeros: [16])), Variable(Tensor(zeros: [16])))
            y = try batchNorm(y, gamma: v[5], beta: v[6], movingMean: statistics.0, movingVariance: statistics.1,
                              epsilon: 1e-3, momentum: 0.99, training: true)
            y = try activation(.relu, y)
            y = try maxPool2d(y, size: (3, 3), strides: (2, 2), padding: .same)
            y = try conv2d(y, v[3], bias: nil, padding: .same)
            y = try activation(.relu, y)
            return try conv2d(y, v[4], bias: nil, strides: (2, 2), padding: .valid)
        }
    }

    @Test func primitivesRunOnThreadsOtherThanTheOneThatBuiltThem() throws {
        let backend = try DNNLBackend()
        let oracle = try Self.step(reference)
        let built = try Self.onNewThread { try Self.step(backend) }
        for round in 0..<3 {
            let moved = try Self.onNewThread { try Self.step(backend) }
            for (index, (a, b)) in zip(moved, oracle).enumerated() {
                #expect(deviation(a, b) <= 1e-4, "round \(round), output \(index): \(deviation(a, b))")
            }
            #expect(zip(moved, built).allSatisfy { $0.0.maxAbsoluteDifference($0.1) == 0 }, "round \(round) differs from the first run")
        }
    }

    @Test func concurrentCallsGiveTheSerialResults() throws {
        let backend = try DNNLBackend()
        let serial = try Self.step(backend)
        let results = UncheckedSendable(Box<[[Tensor]]>())
        results.value.value = Array(repeating: [], count: 8)
        let lock = NSLock()
        let failures = UncheckedSendable(Box<[String]>())
        failures.value.value = []
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            do {
                let out = try Self.step(backend)
                lock.withLock { results.value.value![index] = out }
            } catch {
                lock.withLock { failures.value.value!.append("\(error)") }
            }
        }
        #expect(failures.value.value! == [])
        for (index, out) in results.value.value!.enumerated() {
            #expect(zip(out, serial).allSatisfy { $0.0.maxAbsoluteDifference($0.1) == 0 }, "thread \(index) differs from the serial run")
        }
    }
}
