import Foundation
import Testing
import ZooNN
import ZooTensor
import ZooTransfer

@Suite struct DataParallelTests {
    @Test func sharesSplitEveryBatchEvenly() {
        for total in 0...40 {
            for count in 1...5 {
                let ranges = (0..<count).map { Shard(index: $0, count: count).range(of: total) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == total)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "\(total) in \(count): \(ranges)")
                #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1)
            }
        }
    }

    /// Each rank's shard of a shuffled epoch: together the batches one process gets, in the same order.
    @Test func shardedBatchesPartitionTheWholeBatches() throws {
        let data = try smallDataset()
        let whole = ImageData(data, preparation: unitPreparation, augmentation: Augmentation(horizontalFlip: true))
        func batches(_ shard: Shard) throws -> [Batch] {
            let stream = whole.batches(size: 5, shuffle: true, seed: 4, epoch: 2, startingAt: 0, training: true, shard: shard)
            var result: [Batch] = []
            while let batch = try stream.next() { result.append(batch) }
            return result
        }
        let single = try batches(.whole)
        let parts = try (0..<3).map { try batches(Shard(index: $0, count: 3)) }
        for (number, batch) in single.enumerated() {
            let pieces = parts.map { $0[number] }
            #expect(pieces.flatMap(\.indices) == batch.indices)
            #expect(pieces.map(\.firstSample) == [0, pieces[0].indices.count, pieces[0].indices.count + pieces[1].indices.count])
            // Augmentation follows the sample, not the batch it sits in.
            let rows = pieces.filter { !$0.indices.isEmpty }.map(\.images)
            #expect(Tensor(stacking: rows) == batch.images)
        }
    }

    /// A rank draws, for its samples, exactly what one process draws for them in the whole batch.
    @Test func randomLayersDrawPerSample() throws {
        var generator = SeededGenerator(seed: 1)
        let x = Tensor.uniform([6, 3, 2, 4], using: &generator)
        let layers: [any Reseedable] = [Dropout("d", rate: 0.4), TrainingNoise("s", .spatialDropout(rate: 0.5)),
                                        TrainingNoise("n", .gaussianNoise(standardDeviation: 0.3)), TrainingNoise("g", .gaussianDropout(rate: 0.2))]
        for layer in layers {
            layer.reseed(77)
            let whole = try layer(Variable(x), training: true).value
            #expect(whole != x, "\(layer.name) drew nothing")
            var start = 0
            for count in [1, 3, 2] {
                layer.reseed(77, firstSample: start)
                let part = try layer(Variable(x.rows(start..<(start + count))), training: true).value
                #expect(part == whole.rows(start..<(start + count)), "\(layer.name), samples \(start)..<\(start + count)")
                start += count
            }
        }
    }
}
