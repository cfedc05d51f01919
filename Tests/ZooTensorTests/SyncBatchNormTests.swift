import Foundation
import Testing
import ZooTensor

/// Ranks as threads of this process: each `sum` waits for every rank's values and hands all of them the total.
private final class ThreadRanks: BatchStatisticsSync, @unchecked Sendable {
    private let count: Int
    private let condition = NSCondition()
    private var arrived = 0, generation = 0
    private var total: [Double] = []
    private var result: [Double] = []

    init(_ count: Int) { self.count = count }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        if arrived == 0 { total = [Double](repeating: 0, count: values.count) }
        for i in values.indices { total[i] += values[i] }
        arrived += 1
        if arrived == count {
            result = total
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        for i in values.indices { values[i] = result[i] }
    }
}

private typealias Normalized = (y: Tensor, dx: Tensor, dgamma: Tensor, dbeta: Tensor, mean: Tensor, variance: Tensor)

/// Each rank's outcome, written by its own thread.
private final class Outcomes: @unchecked Sendable {
    var results: [Result<Normalized, Error>?]
    let lock = NSLock()
    init(_ count: Int) { results = Array(repeating: nil, count: count) }
}

@Suite struct SyncBatchNormTests {
    /// Parts of a batch normalized on separate "ranks" against the whole batch in one: the outputs, the moving
    /// statistics, and the gradients once each rank's (of its own mean loss) is weighted by its share, as the
    /// gradient averaging weighs them.
    @Test(arguments: [[4], [1, 3], [2, 1, 3], [3, 3, 1, 1]])
    func partsOfABatchNormalizeAsTheWhole(_ parts: [Int]) throws {
        let whole = parts.reduce(0, +), channels = 5
        let x = random([whole, 3, 2, channels], seed: 1, scale: 2), gamma = random([channels], seed: 2), beta = random([channels], seed: 3)
        let upstream = random([whole, 3, 2, channels], seed: 4)
        let run: @Sendable (Range<Int>, (any BatchStatisticsSync)?) throws -> Normalized = { rows, sync in
            try on(dnnl) {
                let (input, g, b) = (Variable(x.rows(rows), requiresGrad: true), Variable(gamma, requiresGrad: true), Variable(beta, requiresGrad: true))
                let (mean, variance) = (Variable(Tensor(zeros: [channels])), Variable(Tensor(shape: [channels], repeating: 1)))
                let y = try sync.map { try syncBatchNorm(input, gamma: g, beta: b, movingMean: mean, movingVariance: variance, epsilon: 1e-3, momentum: 0.9, sync: $0) }
                    ?? batchNorm(input, gamma: g, beta: b, movingMean: mean, movingVariance: variance, epsilon: 1e-3, momentum: 0.9, training: true)
                // Each part's loss is the mean over its own samples, so its upstream gradient is whole / part of the whole's.
                try y.backward(seed: upstream.rows(rows).scaled(by: Float(whole) / Float(rows.count)))
                return (y.value, input.grad!, g.grad!, b.grad!, mean.value, variance.value)
            }
        }
        let oracle = try run(0..<whole, nil)
        let ranks = ThreadRanks(parts.count)
        let starts = parts.indices.map { parts[..<$0].reduce(0, +) }
        let outcomes = Outcomes(parts.count)
        // A thread per rank: the ranks block on one another, so a pool narrower than the ranks would deadlock.
        let finished = DispatchGroup()
        for rank in parts.indices {
            finished.enter()
            Thread {
                let outcome = Result { try run(starts[rank]..<(starts[rank] + parts[rank]), ranks) }
                outcomes.lock.withLock { outcomes.results[rank] = outcome }
                finished.leave()
            }.start()
        }
        finished.wait()
        let got = try outcomes.results.map { try $0!.get() }
        #expect(deviation(Tensor(stacking: got.map(\.y)), oracle.y) <= 1e-5)
        // dx: each part's gradient, of its own mean loss, is whole/part times its slice of the whole's.
        let dx = Tensor(stacking: zip(got, parts).map { $0.dx.scaled(by: Float($1) / Float(whole)) })
        #expect(deviation(dx, oracle.dx) <= 1e-5, "input gradient")
        let weighted = { (path: KeyPath<Normalized, Tensor>) in
            zip(got, parts).map { $0[keyPath: path].scaled(by: Float($1) / Float(whole)) }.reduce(Tensor(zeros: [channels]), +)
        }
        #expect(deviation(weighted(\.dgamma), oracle.dgamma) <= 1e-5, "gamma gradient")
        #expect(deviation(weighted(\.dbeta), oracle.dbeta) <= 1e-5, "beta gradient")
        for part in got {
            #expect(deviation(part.mean, oracle.mean) <= 1e-6 && deviation(part.variance, oracle.variance) <= 1e-5, "moving statistics")
        }
    }
}
