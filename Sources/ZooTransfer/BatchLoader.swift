import Foundation
import ZooImaging
import ZooTensor

/// A batch ready for the model: NHWC images (prepared, augmented, normalized), labels as Float class indices, and
/// which samples of the data set they are.
public struct Batch: Sendable {
    public let images: Tensor
    public let labels: Tensor
    public let indices: [Int]
    /// Its position in the epoch, counted from 0.
    public let number: Int
    /// Where its first sample stands in the whole batch: a data-parallel rank's part starts past the lower ranks'.
    public var firstSample = 0
}

/// Feeds a data set in batches, decoding and preparing them on background threads a few batches ahead of the
/// consumer, so memory holds at most `prefetch` batches whatever the data set's size.
///
/// Everything random follows from the seed: the order of an epoch from (seed, epoch), each sample's augmentation
/// from (seed, epoch, sample). Starting at batch k of an epoch gives exactly the batches an uninterrupted run gives
/// from k, which is how a resumed run continues where it stopped.
public final class BatchLoader {
    private let pipeline: BatchPipeline

    /// `shuffle` false keeps the data set's order (feature extraction, evaluation). With a `shard`, each batch holds
    /// only that shard's part of the whole batch (data-parallel ranks: the same batches, split between them).
    public init(_ dataset: Dataset, preparation: ImagePreparation, batchSize: Int, shuffle: Bool, seed: UInt64 = 0,
                epoch: Int = 0, augmentation: Augmentation = .none, startingAt firstBatch: Int = 0, strict: Bool = false,
                prefetch: Int = 3, shard: Shard = .whole) {
        pipeline = BatchPipeline(dataset, preparation: preparation, batchSize: batchSize, shuffle: shuffle, seed: seed, epoch: epoch,
                                 augmentation: augmentation, startingAt: firstBatch, strict: strict, prefetch: prefetch, shard: shard)
    }

    /// The background thread holds the pipeline, not the loader, so dropping the loader stops it.
    deinit { pipeline.stop() }

    public var batchCount: Int { pipeline.batchCount }
    public var epoch: Int { pipeline.epoch }

    /// The next batch in order, or nil after the last. In strict mode an unreadable image ends the epoch with an
    /// error naming the file; otherwise it is left out of its batch and listed in `skipped`.
    public func next() throws -> Batch? { try pipeline.next() }

    /// Samples left out so far because they could not be decoded, with the reason.
    public var skipped: [(sample: String, reason: String)] { pipeline.skipped }
}

/// The loader's state, shared with its background thread.
final class BatchPipeline: @unchecked Sendable {
    let batchCount: Int
    let epoch: Int
    private let order: [Int]
    private let dataset: Dataset
    private let preparation: ImagePreparation
    private let augmentation: Augmentation
    private let batchSize: Int
    private let seed: UInt64
    private let strict: Bool
    private let shard: Shard

    private let condition = NSCondition()
    private var ready: [Int: Result<Batch, Error>] = [:]
    private var nextToProduce: Int
    private var nextToHand: Int
    private var stopped = false
    private var skippedSamples: [(sample: String, reason: String)] = []
    private let prefetch: Int
    private var producerDone = false

    init(_ dataset: Dataset, preparation: ImagePreparation, batchSize: Int, shuffle: Bool, seed: UInt64, epoch: Int,
         augmentation: Augmentation, startingAt firstBatch: Int, strict: Bool, prefetch: Int, shard: Shard) {
        precondition(batchSize > 0 && prefetch > 0)
        self.shard = shard
        self.dataset = dataset
        self.preparation = preparation
        self.batchSize = batchSize
        self.seed = seed
        self.epoch = epoch
        self.augmentation = augmentation
        self.strict = strict
        self.prefetch = prefetch
        var generator = SeededGenerator(seed: mixSeeds(seed, UInt64(epoch), 0x5EED))
        order = shuffle ? Array(0..<dataset.count).shuffled(using: &generator) : Array(0..<dataset.count)
        batchCount = (dataset.count + batchSize - 1) / batchSize
        nextToProduce = min(max(0, firstBatch), batchCount)
        nextToHand = nextToProduce
        Thread.detachNewThread { [self] in produce() }
    }

    func next() throws -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToHand < batchCount else { return nil }
        while ready[nextToHand] == nil { condition.wait() }
        let result = ready.removeValue(forKey: nextToHand)!
        nextToHand += 1
        condition.broadcast()
        return try result.get()
    }

    var skipped: [(sample: String, reason: String)] {
        condition.lock()
        defer { condition.unlock() }
        return skippedSamples
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while !producerDone { condition.wait() }
        condition.unlock()
    }

    private func produce() {
        while true {
            condition.lock()
            while !stopped && nextToProduce < batchCount && nextToProduce - nextToHand >= prefetch { condition.wait() }
            if stopped || nextToProduce >= batchCount {
                producerDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let number = nextToProduce
            nextToProduce += 1
            condition.unlock()

            let result = Result { try prepareBatch(number) }
            condition.lock()
            ready[number] = result
            condition.broadcast()
            condition.unlock()
        }
    }

    private func prepareBatch(_ number: Int) throws -> Batch {
        let whole = order[(number * batchSize)..<min(order.count, (number + 1) * batchSize)]
        let part = shard.range(of: whole.count)
        let members = Array(whole.dropFirst(part.lowerBound).prefix(part.count))
        let outcomes = UnsafeMutableBufferPointer<Result<Image, Error>?>.allocate(capacity: members.count)
        outcomes.initialize(repeating: nil)
        defer { outcomes.deinitialize(); outcomes.deallocate() }
        let shared = UncheckedSendable(outcomes)
        DispatchQueue.concurrentPerform(iterations: members.count) { i in
            shared.value[i] = Result { try prepareSample(members[i]) }
        }
        var images: [Image] = [], kept: [Int] = []
        for (i, index) in members.enumerated() {
            switch outcomes[i]! {
            case .success(let image):
                images.append(image)
                kept.append(index)
            case .failure(let error):
                let name = dataset.samples[index].describe(index: index)
                if strict { throw DatasetError(name, "cannot be used: \(error)") }
                condition.lock()
                skippedSamples.append((name, "\(error)"))
                condition.unlock()
            }
        }
        let labels = Tensor(shape: [kept.count]) { out in for (i, index) in kept.enumerated() { out[i] = Float(dataset.samples[index].label) } }
        return Batch(images: preparation.tensor(images), labels: labels, indices: kept, number: number, firstSample: part.lowerBound)
    }

    private func prepareSample(_ index: Int) throws -> Image {
        let image = preparation.resizedAndCropped(try dataset.samples[index].image())
        if augmentation.isNone { return image }
        var generator = SeededGenerator(seed: mixSeeds(seed, UInt64(epoch), UInt64(index)))
        return augmentation.apply(image, using: &generator)
    }
}

/// One 64-bit seed from several numbers, each changing every bit of the result (SplitMix finalizer, chained).
func mixSeeds(_ numbers: UInt64...) -> UInt64 {
    numbers.reduce(0x2545_F491_4F6C_DD1D) { state, number in
        var generator = SeededGenerator(seed: state ^ number)
        return generator.next()
    }
}
