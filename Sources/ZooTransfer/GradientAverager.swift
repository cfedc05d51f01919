import Foundation
import ZooNN
import ZooTensor

/// Averages a data-parallel step's gradients over a group's ranks so that every rank gets what one process would
/// compute on the whole batch: each rank's gradients of its local mean loss are weighted by its number of samples,
/// summed over the ranks and divided by the batch's total.
///
/// The weights are packed into buckets of about `bucketBytes`, in reverse order of the model's weights (roughly the
/// order backward completes them); a bucket's sum starts as soon as backward has completed all its weights and the
/// buckets before it have started, so the communication overlaps the rest of the backward pass, as PyTorch's DDP and
/// Horovod do. MPI matches nonblocking collectives by the order they are started in, so the buckets are fixed from
/// the weights alone and always start in their own order, whatever order a rank's backward completes them in.
final class GradientAverager {
    let group: any ProcessGroup
    private let weights: [Weight]
    private let place: [ObjectIdentifier: (bucket: Int, offset: Int, index: Int)]
    private var buckets: [Bucket]
    /// Per weight 1 where the rank has its gradient, then the rank's sample count and its wish to stop.
    private let tail: UnsafeMutableBufferPointer<Float>
    private var localSamples = 0
    private var nextToStart = 0
    /// Seconds spent waiting for sums after backward, and bytes summed, since the start.
    private(set) var waitSeconds: Double = 0
    private(set) var bytesPerStep = 0

    private struct Bucket {
        let members: [Int]
        let storage: UnsafeMutableBufferPointer<Float>
        /// Members whose gradient backward has not completed yet.
        var left = 0
        var reduction: (any PendingReduction)?
    }

    init(group: any ProcessGroup, weights all: [Weight], bucketBytes: Int = 25 << 20) {
        self.group = group
        var seen = Set<ObjectIdentifier>()
        weights = all.filter { $0.variable.requiresGrad && seen.insert(ObjectIdentifier($0.variable)).inserted }
        var place: [ObjectIdentifier: (bucket: Int, offset: Int, index: Int)] = [:]
        var buckets: [Bucket] = [], members: [Int] = [], floats = 0
        func close() {
            guard !members.isEmpty else { return }
            buckets.append(Bucket(members: members, storage: .allocate(capacity: floats)))
            members = []; floats = 0
        }
        for index in weights.indices.reversed() {
            let count = weights[index].value.count
            if floats > 0 && (floats + count) * MemoryLayout<Float>.size > bucketBytes { close() }
            place[ObjectIdentifier(weights[index].variable)] = (buckets.count, floats, index)
            members.append(index)
            floats += count
        }
        close()
        self.place = place
        self.buckets = buckets
        tail = .allocate(capacity: weights.count + 2)
        bytesPerStep = (buckets.reduce(0) { $0 + $1.storage.count } + tail.count) * MemoryLayout<Float>.size
    }

    deinit {
        for bucket in buckets { bucket.storage.deallocate() }
        tail.deallocate()
    }

    /// Starts a step whose local part of the batch has `samples` samples.
    func begin(samples: Int) {
        localSamples = samples
        nextToStart = 0
        for b in buckets.indices {
            buckets[b].left = buckets[b].members.count
            buckets[b].reduction = nil
        }
        tail.update(repeating: 0)
    }

    /// Backward has completed `variable`'s gradient: into its bucket, weighted; a complete bucket starts its sum.
    func completed(_ variable: Variable) throws {
        guard let (b, offset, index) = place[ObjectIdentifier(variable)], let gradient = variable.grad else { return }
        let weight = Float(localSamples)
        gradient.withUnsafeBufferPointer { g in
            let out = buckets[b].storage.baseAddress! + offset
            for i in g.indices { out[i] = g[i] * weight }
        }
        tail[index] = 1
        buckets[b].left -= 1
        try startCompleteBuckets()
        for bucket in buckets { try bucket.reduction?.poll() }
    }

    /// After backward: sends what is left, waits for every sum and puts the averaged gradients back (nil where no rank
    /// had one). Returns the batch's samples over all ranks and whether any rank asked to stop.
    func finish(stop: Bool) throws -> (samples: Int, stop: Bool) {
        let start = Date()
        for b in buckets.indices where buckets[b].left > 0 {
            // Weights this rank got no gradient for (an empty local batch, a branch the loss does not reach) send zeros.
            for index in buckets[b].members where tail[index] == 0 {
                let (_, offset, _) = place[ObjectIdentifier(weights[index].variable)]!
                (buckets[b].storage.baseAddress! + offset).update(repeating: 0, count: weights[index].value.count)
            }
            buckets[b].left = 0
        }
        try startCompleteBuckets()
        tail[weights.count] = Float(localSamples)
        tail[weights.count + 1] = stop ? 1 : 0
        try group.startAllReduceSum(tail).wait()
        for bucket in buckets { try bucket.reduction?.wait() }
        let samples = Int(tail[weights.count].rounded()), scale = samples > 0 ? 1 / Float(samples) : 0
        for bucket in buckets {
            for index in bucket.members {
                let weight = weights[index]
                guard tail[index] > 0, samples > 0 else { weight.variable.grad = nil; continue }
                let (_, offset, _) = place[ObjectIdentifier(weight.variable)]!
                let sums = bucket.storage.baseAddress! + offset
                weight.variable.grad = Tensor(shape: weight.shape) { out in for i in out.indices { out[i] = sums[i] * scale } }
            }
        }
        waitSeconds += Date().timeIntervalSince(start)
        return (samples, tail[weights.count + 1] > 0)
    }

    private func startCompleteBuckets() throws {
        while nextToStart < buckets.count, buckets[nextToStart].left == 0 {
            buckets[nextToStart].reduction = try group.startAllReduceSum(buckets[nextToStart].storage)
            nextToStart += 1
        }
    }
}
