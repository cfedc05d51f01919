import ZooNN
import ZooTensor

/// Synchronized BatchNorm's sums (`syncBatchNorm`) over a group, on a channel of their own: they are blocking and
/// come in the middle of backward, while the gradient buckets' sums are under way on the group's own channel.
final class SynchronizedStatistics: BatchStatisticsSync {
    private let group: any ProcessGroup
    private var standsIn = false

    /// Makes every BatchNormalization of `model` normalize with the whole batch's statistics while it trains.
    init(_ group: any ProcessGroup, model: Model) throws {
        self.group = try group.duplicate()
        for case let norm as BatchNormalization in model.layers { norm.statisticsSync = self }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        if standsIn { values.update(repeating: 0) }
        try group.allReduceSum(values)
    }

    /// Runs `pass` with this rank's part of every sum zero: a rank without samples in a step makes the calls the
    /// others wait for by running a placeholder through the model, which then counts for nothing.
    func standingIn(_ pass: () throws -> Void) throws {
        standsIn = true
        defer { standsIn = false }
        try pass()
    }
}
