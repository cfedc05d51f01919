import Foundation
import ZooImaging
import ZooTensor

/// Batches for one pass over some data, in order; `BatchLoader` for images, in-memory slices for cached features.
public protocol BatchStream: AnyObject {
    var batchCount: Int { get }
    func next() throws -> Batch?
    /// Samples left out so far (unreadable images), with the reason.
    var skipped: [(sample: String, reason: String)] { get }
}

extension BatchLoader: BatchStream {}

/// What a trainer learns from or scores: it hands out the batches of an epoch, reproducibly from (seed, epoch), from
/// any batch on; with a shard, only that shard's part of each batch.
public protocol TrainingData: Sendable {
    var count: Int { get }
    var classNames: [String] { get }
    /// Describes the data for logs and cache keys.
    var name: String { get }
    func batches(size: Int, shuffle: Bool, seed: UInt64, epoch: Int, startingAt: Int, training: Bool, shard: Shard) -> any BatchStream
}

extension TrainingData {
    public func batches(size: Int, shuffle: Bool, seed: UInt64, epoch: Int, startingAt: Int, training: Bool) -> any BatchStream {
        batches(size: size, shuffle: shuffle, seed: seed, epoch: epoch, startingAt: startingAt, training: training, shard: .whole)
    }
}

/// Images from a data set, prepared for a backbone; augmented when training.
public struct ImageData: TrainingData {
    public let dataset: Dataset
    public let preparation: ImagePreparation
    public let augmentation: Augmentation
    public let strict: Bool

    public init(_ dataset: Dataset, preparation: ImagePreparation, augmentation: Augmentation = .none, strict: Bool = false) {
        self.dataset = dataset; self.preparation = preparation; self.augmentation = augmentation; self.strict = strict
    }

    public var count: Int { dataset.count }
    public var classNames: [String] { dataset.classNames }
    public var name: String { dataset.name }

    public func batches(size: Int, shuffle: Bool, seed: UInt64, epoch: Int, startingAt: Int, training: Bool, shard: Shard) -> any BatchStream {
        BatchLoader(dataset, preparation: preparation, batchSize: size, shuffle: shuffle, seed: seed, epoch: epoch,
                    augmentation: training ? augmentation : .none, startingAt: startingAt, strict: strict, shard: shard)
    }
}

/// Feature vectors already computed (a backbone's pooled output or a tap), `[count, …]`, with their labels.
public struct FeatureData: TrainingData {
    public let features: Tensor
    public let labels: [Int]
    public let classNames: [String]
    public let name: String

    public init(features: Tensor, labels: [Int], classNames: [String], name: String) {
        precondition(features.shape.first == labels.count, "one label per feature row")
        self.features = features; self.labels = labels; self.classNames = classNames; self.name = name
    }

    public var count: Int { labels.count }

    public func batches(size: Int, shuffle: Bool, seed: UInt64, epoch: Int, startingAt: Int, training: Bool, shard: Shard) -> any BatchStream {
        var generator = SeededGenerator(seed: mixSeeds(seed, UInt64(epoch), 0x5EED))
        let order = shuffle ? Array(0..<count).shuffled(using: &generator) : Array(0..<count)
        return FeatureBatches(self, order: order, size: size, first: startingAt, shard: shard)
    }
}

final class FeatureBatches: BatchStream {
    let data: FeatureData
    let order: [Int]
    let size: Int
    var number: Int
    let batchCount: Int
    let shard: Shard
    var skipped: [(sample: String, reason: String)] { [] }

    init(_ data: FeatureData, order: [Int], size: Int, first: Int, shard: Shard) {
        self.data = data; self.order = order; self.size = size; self.shard = shard
        batchCount = (order.count + size - 1) / size
        number = min(first, batchCount)
    }

    func next() throws -> Batch? {
        guard number < batchCount else { return nil }
        let whole = order[(number * size)..<min(order.count, (number + 1) * size)]
        let part = shard.range(of: whole.count)
        let members = Array(whole.dropFirst(part.lowerBound).prefix(part.count))
        let width = data.features.count / max(1, data.count)
        let rowShape = Array(data.features.shape.dropFirst())
        let images = data.features.withUnsafeBufferPointer { source in
            Tensor(uninitializedShape: [members.count] + rowShape) { out in
                for (i, row) in members.enumerated() {
                    _ = UnsafeMutableBufferPointer(rebasing: out[(i * width)..<((i + 1) * width)])
                        .update(fromContentsOf: source[(row * width)..<((row + 1) * width)])
                }
            }
        }
        let labels = Tensor(shape: [members.count]) { out in for (i, row) in members.enumerated() { out[i] = Float(data.labels[row]) } }
        defer { number += 1 }
        return Batch(images: images, labels: labels, indices: members, number: number, firstSample: part.lowerBound)
    }
}
