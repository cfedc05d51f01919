import Foundation
import Testing
import ZooTensor

/// A step memory lends buffers only where the recorded run showed them free: results must be exactly those of a run
/// without it, whatever a later run keeps longer, and a buffer that leaves the run must never be reused under it.
@Suite struct StepMemoryTests {
    /// 1 MiB and up: the sizes a step memory lends.
    static func large(_ megabytes: Int, _ value: Float) -> Tensor { Tensor(shape: [megabytes << 18], repeating: value) }

    /// Buffers of several sizes, each freed before a later one of another size: the arena reuses their memory,
    /// the pool could not. Returns the sum it computed and a buffer that leaves the run.
    static func steps(_ scale: Float, keep kept: inout [Tensor]) -> (sum: Float, leaving: Tensor) {
        var total: Float = 0
        for (megabytes, value) in [(4, 1), (2, 2), (3, 3), (1, 4), (6, 5)] as [(Int, Float)] {
            let t = large(megabytes, value * scale)
            total += t.scalars[0] + t.scalars[t.count - 1]
        }
        let leaving = large(5, 7 * scale)
        return (total, leaving)
    }

    @Test func laterRunsTakeTheirBuffersFromTheArenaAndComputeTheSame() throws {
        guard StepMemory.enabled else { return }
        let memory = StepMemory()
        var unused: [Tensor] = []
        let expected = Self.steps(1, keep: &unused).sum
        var leaving: [Tensor] = []
        for run in 0..<4 {
            let (sum, out) = memory.run(key: "steps") { Self.steps(1, keep: &unused) }
            #expect(sum == expected)
            leaving.append(out)
            if run == 0 { #expect(memory.lentLastRun == 0, "the first run is recorded") } else {
                #expect(memory.lentLastRun == 5, "run \(run) lent \(memory.lentLastRun) buffers")
            }
        }
        // The five buffers took 16 MiB one after another; one at a time they fit in the largest.
        #expect(memory.arenaBytes == 6 << 20)
        // Buffers that left a run came from elsewhere: every one still holds its own values.
        for out in leaving { #expect(out.scalars.allSatisfy { $0 == 7 }) }
    }

    @Test func aBufferKeptLongerThanRecordedIsNeverLentAgain() throws {
        guard StepMemory.enabled else { return }
        let memory = StepMemory()
        var kept: [Tensor] = []
        // Recorded: a is freed before b, so b takes a's memory.
        memory.run(key: 1) {
            _ = Self.large(2, 1)
            _ = Self.large(2, 2)
        }
        // Now a is kept while b is written: b must go elsewhere.
        memory.run(key: 1) {
            kept.append(Self.large(2, 1))
            kept.append(Self.large(2, 2))
        }
        #expect(kept[0].scalars.allSatisfy { $0 == 1 }, "the kept buffer was overwritten")
        #expect(kept[1].scalars.allSatisfy { $0 == 2 })
        // The next run follows that one, in which both buffers outlived the run: it lends neither.
        memory.run(key: 1) { _ = Self.large(2, 3) }
        #expect(memory.lentLastRun == 0)
        // The kept buffers survive runs that reuse the arena's memory.
        memory.run(key: 1) { _ = Self.large(2, 4); _ = Self.large(2, 5) }
        memory.run(key: 1) { _ = Self.large(2, 6); _ = Self.large(2, 7) }
        #expect(kept[0].scalars.allSatisfy { $0 == 1 })
        #expect(kept[1].scalars.allSatisfy { $0 == 2 })
    }

    @Test func anotherSizeOrKeyRecordsAgain() throws {
        guard StepMemory.enabled else { return }
        let memory = StepMemory()
        memory.run(key: "a") { _ = Self.large(3, 1) }
        memory.run(key: "a") { _ = Self.large(3, 1) }
        #expect(memory.lentLastRun == 1)
        let other = memory.run(key: "a") { Self.large(4, 2).scalars[5] }
        #expect(other == 2)
        #expect(memory.lentLastRun == 0, "a 4 MiB buffer where 3 were recorded is not lent")
        memory.run(key: "a") { _ = Self.large(4, 2) }
        #expect(memory.lentLastRun == 1, "the run after follows the one that strayed")
        memory.run(key: "b") { _ = Self.large(4, 2); _ = Self.large(1, 2) }
        #expect(memory.lentLastRun == 0, "a new key is recorded first")
        // Both keys' layouts are kept: an epoch's smaller last batch does not cost the full batches a recording.
        memory.run(key: "a") { _ = Self.large(4, 2) }
        #expect(memory.lentLastRun == 1)
        memory.run(key: "b") { _ = Self.large(4, 2); _ = Self.large(1, 2) }
        #expect(memory.lentLastRun == 2)
    }

    /// Training steps of a small CNN on oneDNN: forward, loss gradient, backward, in a step memory; every gradient
    /// bit for bit what the same steps give without one, run after run.
    @Test func trainingStepsGiveTheSameGradientsBitForBit() throws {
        guard StepMemory.enabled else { return }
        let inputs = [random([8, 48, 48, 16], seed: 21), random([3, 3, 16, 32], seed: 22), random([32], seed: 23),
                      random([32], seed: 24), random([1, 1, 32, 64], seed: 25)]
        func step() throws -> [[Float]] {
            try forwardAndGradients(dnnl, inputs) { v in
                var y = try conv2d(v[0], v[1], bias: nil, padding: .same)
                let statistics = (Variable(Tensor(zeros: [32])), Variable(Tensor(shape: [32], repeating: 1)))
                y = try batchNormReLU(y, gamma: v[2], beta: v[3], movingMean: statistics.0, movingVariance: statistics.1,
                                      epsilon: 1e-3, momentum: 0.99)
                y = try maxPool2d(y, size: (2, 2), strides: (2, 2), padding: .valid)
                let z = try conv2d(y, v[4], bias: nil)
                return try activation(.relu, z + z)
            }.map(\.scalars)
        }
        let expected = try step()
        let memory = StepMemory()
        for run in 0..<3 {
            let got = try memory.run(key: "cnn") { try step() }
            #expect(got == expected, "run \(run) differs")
        }
        #expect(memory.lentLastRun > 0)
    }
}
