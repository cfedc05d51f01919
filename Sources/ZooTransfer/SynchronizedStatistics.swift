import ZooNN
import ZooTensor

/// Synchronized BatchNorm's sums (`syncBatchNorm`) over a group, on a channel of their own: they are blocking and
/// come in the middle of backward, while the gradient buckets' sums are under way on the group's own channel.
///
/// A rank whose share of a batch is empty runs no forward or backward pass, yet the others wait for its sums; it
/// stands in with zeros for the calls the last step with samples made (the same model makes the same calls).
final class SynchronizedStatistics: BatchStatisticsSync {
    private let group: any ProcessGroup
    private var lastStep: [Int] = []
    private var thisStep: [Int] = []

    init(_ group: any ProcessGroup) throws { self.group = try group.duplicate() }

    /// Makes every trainable BatchNormalization of `model` normalize with the whole batch's statistics.
    func attach(to model: Model) {
        for case let norm as BatchNormalization in model.layers { norm.statisticsSync = self }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        thisStep.append(values.count)
        try group.allReduceSum(values)
    }

    func beginStep() { thisStep = [] }

    func endStep() { if !thisStep.isEmpty { lastStep = thisStep } }

    /// This rank has no samples in this step: it sends zeros for every sum the others make.
    func standIn() throws {
        guard !lastStep.isEmpty else {
            throw TrainingError("with --sync-bn every process needs samples in the first step: give a batch of at least \(group.size) images")
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
