import ZooNN
import ZooTensor

/// Synchronized BatchNorm's sums (`syncBatchNorm`) over a group, on a channel of their own: they are blocking and
/// come in the middle of backward, while the gradient buckets' sums are under way on the group's own channel.
///
/// A rank whose share of a batch is empty runs no forward or backward pass, yet the others wait for its sums; it
/// stands in with zeros for the calls the last step with samples made (the same model makes the same calls).
final class SynchronizedStatistics: BatchStatisticsSync {
    private let group: any ProcessGroup
    /// The sizes of the sums the last step with samples made, in order; nil before the first.
    private var lastStep: [Int]?
    private var thisStep: [Int] = []

    /// Makes every BatchNormalization of `model` normalize with the whole batch's statistics while it trains.
    init(_ group: any ProcessGroup, model: Model, batchSize: Int) throws {
        guard batchSize >= group.size else {
            throw TrainingError("--sync-bn needs at least one image per process in every batch: --batch \(batchSize) is below the \(group.size) processes")
        }
        self.group = try group.duplicate()
        for case let norm as BatchNormalization in model.layers { norm.statisticsSync = self }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        thisStep.append(values.count)
        try group.allReduceSum(values)
    }

    func beginStep() { thisStep = [] }

    func endStep() { lastStep = thisStep }

    /// This rank has no samples in this step: it sends zeros for every sum the others make.
    func standIn() throws {
        // A run's first step leaves a rank without samples only when it is an epoch's last, partial batch: a data
        // set smaller than the processes, or a resume just before such a batch.
        guard let lastStep else {
            throw TrainingError("--sync-bn: process \(group.rank) has no images in this run's first step (\(group.size) processes "
                                + "share fewer images), so it cannot take part in the BatchNorm sums; run this step with fewer processes")
        }
        for count in lastStep {
            var zeros = [Double](repeating: 0, count: count)
            try zeros.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
        }
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
