import Foundation
import ZooNN
import ZooTensor

/// How long and how fast to train.
public struct TrainingPlan: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var schedule: LearningRateSchedule
    public var seed: UInt64
    /// Stop when the validation loss has not improved for this many epochs.
    public var patience: Int?
    /// Weight of each auxiliary classifier's loss (GoogLeNet's 0.3).
    public var auxiliaryLossWeight: Float

    public init(epochs: Int, batchSize: Int, schedule: LearningRateSchedule, seed: UInt64 = 0, patience: Int? = nil,
                auxiliaryLossWeight: Float = 0.3) {
        self.epochs = epochs; self.batchSize = batchSize; self.schedule = schedule; self.seed = seed
        self.patience = patience; self.auxiliaryLossWeight = auxiliaryLossWeight
    }
}

/// Where a training step stands, for progress bars.
public struct TrainingProgress: Sendable {
    public let epoch, epochs, batch, batches: Int
    public let imagesPerSecond: Double
    public let loss: Double
}

public enum TrainingOutcome: Sendable, Equatable {
    case finished
    case stoppedEarly(afterEpoch: Int)
    /// `shouldStop` asked to stop; the checkpoint (if any) holds the position.
    case interrupted
}

/// Trains a model that outputs logits (auxiliary heads' logits after the main ones) with sparse categorical
/// cross-entropy. Frozen layers are whatever the model says (`FreezePolicy`).
public final class Trainer {
    public let model: Model
    public let optimizer: Optimizer
    public let plan: TrainingPlan
    public private(set) var state: TrainingState
    /// Written after every epoch and on interruption.
    public var checkpoint: URL?
    public var onProgress: ((TrainingProgress) -> Void)?
    public var onEpoch: ((EpochRecord) -> Void)?
    /// Polled after every batch (Ctrl-C sets it).
    public var shouldStop: () -> Bool = { false }
    /// Samples the last epoch left out (unreadable images).
    public private(set) var skipped: [(sample: String, reason: String)] = []
    /// The processes training together (data-parallel): each takes its part of every batch and all apply the same
    /// averaged gradients. Collective calls happen in `fit`, `evaluate` and `resume`, which every rank must make.
    public var group: any ProcessGroup = SingleProcess()
    /// In a group, trainable BatchNorm layers normalize with the statistics of the whole batch rather than each
    /// rank's part (synchronized BatchNorm; what one process computes, at two more sums per layer each way).
    public var synchronizeBatchNorm = false
    private var averager: GradientAverager?
    private var statistics: SynchronizedStatistics?
    /// Seconds spent waiting for the gradients' sums after backward, and bytes summed per step (data-parallel).
    public var communication: (waitSeconds: Double, bytesPerStep: Int) { (averager?.waitSeconds ?? 0, averager?.bytesPerStep ?? 0) }

    public init(model: Model, optimizer: Optimizer, plan: TrainingPlan, identity: String) {
        self.model = model; self.optimizer = optimizer; self.plan = plan
        state = TrainingState(identity: identity)
    }

    /// Continues from a checkpoint written by a run of the same model. In a group, rank 0 reads it and sends it to
    /// the others, so only rank 0's machine needs the file.
    public func resume(from url: URL) throws {
        guard group.size > 1 else {
            state = try Checkpoint.restore(url, model: model, optimizer: optimizer, identity: state.identity)
            return
        }
        let bytes = try group.broadcast(group.isRoot ? Data(contentsOf: url) : Data())
        let local = group.isRoot ? url : FileManager.default.temporaryDirectory
            .appendingPathComponent("zoo-checkpoint-\(ProcessInfo.processInfo.processIdentifier).safetensors")
        if !group.isRoot { try bytes.write(to: local) }
        defer { if !group.isRoot { try? FileManager.default.removeItem(at: local) } }
        state = try Checkpoint.restore(local, model: model, optimizer: optimizer, identity: state.identity)
    }

    public func fit(_ training: TrainingData, validation: TrainingData? = nil) throws -> TrainingOutcome {
        let averager = group.size > 1 ? GradientAverager(group: group, weights: model.weights) : nil
        self.averager = averager
        if group.size > 1 { try broadcastWeights() }
        if group.size > 1 && synchronizeBatchNorm && statistics == nil {
            statistics = try SynchronizedStatistics(group, model: model)
        }
        while state.epoch < plan.epochs {
            if let patience = plan.patience, state.epochsWithoutImprovement >= patience { return .stoppedEarly(afterEpoch: state.epoch) }
            let epoch = state.epoch
            let stream = training.batches(size: plan.batchSize, shuffle: true, seed: plan.seed, epoch: epoch,
                                          startingAt: state.nextBatch, training: true, shard: Shard(group))
            // A resumed epoch's scores so far are the whole group's: one rank carries them on.
            var metrics = (group.isRoot ? state.partial : nil) ?? ClassificationMetrics()
            let start = Date()
            var images = 0
            while let batch = try stream.next() {
                var stop = false
                if !batch.indices.isEmpty || averager != nil {
                    optimizer.learningRate = plan.schedule.rate(epoch: epoch, progress: Double(batch.number) / Double(stream.batchCount))
                    let done = try step(batch, epoch: epoch, metrics: &metrics, averager: averager)
                    images += done.samples
                    stop = done.stop
                } else {
                    stop = shouldStop()
                }
                state.nextBatch = batch.number + 1
                state.partial = metrics
                let elapsed = Date().timeIntervalSince(start)
                onProgress?(TrainingProgress(epoch: epoch, epochs: plan.epochs, batch: batch.number + 1, batches: stream.batchCount,
                                             imagesPerSecond: elapsed > 0 ? Double(images) / elapsed : 0, loss: metrics.loss))
                if stop {
                    try saveCheckpoint()
                    return .interrupted
                }
            }
            skipped = stream.skipped
            metrics = try metrics.merged(over: group)
            let seconds = Date().timeIntervalSince(start)
            let scores = try validation.map { try evaluate($0) }
            let record = EpochRecord(epoch: epoch + 1, learningRate: plan.schedule.rate(epoch: epoch),
                                     trainLoss: metrics.loss, trainTop1: metrics.top1, trainTop5: metrics.top5,
                                     validationLoss: scores?.loss, validationTop1: scores?.top1, validationTop5: scores?.top5,
                                     seconds: seconds, imagesPerSecond: seconds > 0 ? Double(images) / seconds : 0)
            state.history.append(record)
            state.epoch += 1
            state.nextBatch = 0
            state.partial = nil
            if let loss = scores?.loss {
                if loss < (state.bestValidationLoss ?? .infinity) {
                    state.bestValidationLoss = loss
                    state.epochsWithoutImprovement = 0
                } else {
                    state.epochsWithoutImprovement += 1
                }
            }
            try saveCheckpoint()
            onEpoch?(record)
        }
        return .finished
    }

    /// Loss, top-1, top-5 and the confusion matrix of the model (in inference mode) on `data`.
    /// In a group, every rank first takes rank 0's running statistics: ranks that normalized with their own part of
    /// each batch, or sat out a step, hold others, and the scores must be those of the model rank 0 writes.
    public func evaluate(_ data: TrainingData) throws -> ClassificationMetrics {
        if group.size > 1 { try broadcastWeights(model.weights.filter { !$0.variable.requiresGrad }) }
        return try Self.evaluate(model, on: data, batchSize: plan.batchSize, group: group)
    }

    /// In a group, each rank scores its part of every batch and the scores are merged.
    public static func evaluate(_ model: Model, on data: TrainingData, batchSize: Int,
                                group: any ProcessGroup = SingleProcess()) throws -> ClassificationMetrics {
        var metrics = ClassificationMetrics(classes: data.classNames.count)
        let stream = data.batches(size: batchSize, shuffle: false, seed: 0, epoch: 0, startingAt: 0, training: false, shard: Shard(group))
        while let batch = try stream.next() {
            if batch.indices.isEmpty { continue }
            try Gradients.off {
                let logits = try model(Variable(batch.images), training: false).main
                let l = try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: batch.labels)
                metrics.add(logits: logits.value, labels: batch.labels, meanLoss: l.value.scalars[0])
            }
        }
        return try metrics.merged(over: group)
    }

    /// One optimizer step on `batch`; in a group, on the average of every rank's gradients. Returns the samples the
    /// step learnt from (the whole group's) and whether to stop (any rank asked to).
    private func step(_ batch: Batch, epoch: Int, metrics: inout ClassificationMetrics,
                      averager: GradientAverager?) throws -> (samples: Int, stop: Bool) {
        averager?.begin(samples: batch.indices.count)
        if batch.indices.isEmpty {
            // With synchronized BatchNorm the others wait for this rank's sums: it runs a blank image through the
            // model, adding nothing to them, and keeps none of its gradients (the averager has none from it).
            if let statistics {
                let blank = Tensor(zeros: [1] + batch.images.shape.dropFirst())
                try statistics.standingIn { _ = try forwardBackward(blank, labels: Tensor(zeros: [1]), leafDone: nil) }
            }
        } else {
            // Dropout draws from the run's seed and position, so a resumed run draws the same masks, and a rank the
            // masks of its own samples.
            for (i, layer) in model.layers.enumerated() {
                (layer as? Reseedable)?.reseed(mixSeeds(plan.seed, UInt64(epoch), UInt64(batch.number), UInt64(i)),
                                               firstSample: batch.firstSample)
            }
            let (logits, meanLoss) = try forwardBackward(batch.images, labels: batch.labels,
                                                         leafDone: averager.map { averager in { try averager.completed($0) } })
            metrics.add(logits: logits, labels: batch.labels, meanLoss: meanLoss)
        }
        guard let averager else {
            optimizer.step(model.weights)
            return (batch.indices.count, shouldStop())
        }
        let (samples, stop) = try averager.finish(stop: shouldStop())
        if samples > 0 { optimizer.step(model.weights) }
        return (samples, stop)
    }

    /// The training loss of `images` (main output, weighted auxiliary outputs, penalties) and its gradients;
    /// `leafDone` hears of each weight whose gradient is complete. Returns the main logits and their mean loss.
    /// Steps of one input shape repeat their allocations, so they run in the model's step memory.
    private func forwardBackward(_ images: Tensor, labels: Tensor,
                                 leafDone: ((Variable) throws -> Void)?) throws -> (logits: Tensor, meanLoss: Float) {
        try model.stepMemory.run(key: images.shape) { try lossAndGradients(images, labels: labels, leafDone: leafDone) }
    }

    private func lossAndGradients(_ images: Tensor, labels: Tensor,
                                  leafDone: ((Variable) throws -> Void)?) throws -> (logits: Tensor, meanLoss: Float) {
        let outputs = try model(Variable(images), training: true).outputs
        let losses = try outputs.map { try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: $0, targets: labels) }
        var total = losses[0]
        for auxiliary in losses.dropFirst() { total = try total + scaled(auxiliary, by: plan.auxiliaryLossWeight) }
        for case let layer as any PenalizingLayer in model.layers {
            if let penalty = layer.takePenalty() { total = try total + penalty }
        }
        for weight in model.weights where weight.variable.requiresGrad {
            if let r = weight.regularizer { total = try total + penalty(weight.variable, l1: r.l1, l2: r.l2) }
        }
        try total.backward(leafDone: leafDone)
        return (outputs[0].value, losses[0].value.scalars[0])
    }

    /// Rank 0's values of `weights` (by default all, running statistics included) on every rank.
    private func broadcastWeights(_ weights: [Weight]? = nil) throws {
        let weights = weights ?? model.weights
        var flat = [Float]()
        flat.reserveCapacity(weights.reduce(0) { $0 + $1.value.count })
        for weight in weights { weight.value.withUnsafeBufferPointer { flat.append(contentsOf: $0) } }
        try flat.withUnsafeMutableBufferPointer { try group.broadcast($0) }
        var offset = 0
        for weight in weights {
            let count = weight.value.count
            weight.value = Tensor(shape: weight.shape) { out in
                for i in out.indices { out[i] = flat[offset + i] }
            }
            offset += count
        }
    }

    /// Collective in a group: every rank merges its epoch's scores so far, rank 0 writes.
    private func saveCheckpoint() throws {
        guard checkpoint != nil else { return }
        var merged = state
        merged.partial = try state.partial?.merged(over: group)
        guard group.isRoot, let checkpoint else { return }
        let state = merged
        do { try Checkpoint.save(checkpoint, model: model, optimizer: optimizer, state: state) } catch {
            throw CheckpointError("cannot save the checkpoint after epoch \(state.epoch), batch \(state.nextBatch): \(error); "
                + "the previous checkpoint is unchanged")
        }
    }
}
