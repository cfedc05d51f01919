import Foundation
import Testing
import ZooCore
import ZooImaging
import ZooNN
import ZooTensor
import ZooTransfer

/// Images whose class is where a bright square sits (left, middle, right), with noise.
func squares(count: Int, seed: UInt64) throws -> Dataset {
    var generator = SeededGenerator(seed: seed)
    let samples = (0..<count).map { i -> Sample in
        let label = i % 3
        var pixels = (0..<(8 * 12)).map { _ in UInt8(generator.next() % 60) }
        for y in 2..<6 { for x in (label * 4)..<(label * 4 + 4) { pixels[y * 12 + x] = 200 + UInt8(generator.next() % 50) } }
        return Sample(.image(Image(width: 12, height: 8, channels: 1, pixels: pixels)), label: label)
    }
    return try Dataset(name: "squares", classNames: ["left", "middle", "right"], samples: samples)
}

let squaresPreparation = ImagePreparation(height: 8, width: 12, channels: 1, cropFraction: 1, preprocessing: .unit)

/// A small CNN with BatchNorm and Dropout, so that resuming must restore moving statistics and dropout masks.
func smallModel(seed: UInt64 = 4) -> Model {
    var g = SeededGenerator(seed: seed)
    let model = Model.sequential(name: "small", inputShape: [8, 12, 1], layers: [
        Conv2D("conv", inputChannels: 1, filters: 4, kernelSize: (3, 3), padding: .same, generator: &g),
        BatchNormalization("bn", channels: 4),
        Layers.activation("relu", .relu),
        Layers.maxPooling("pool", size: (2, 2)),
        Layers.flatten("flatten"),
        Dropout("dropout", rate: 0.2),
        Dense("predictions", inputs: 4 * 6 * 4, units: 3, generator: &g),
    ], tapNames: ["pool"])
    model.classifierLayers = ["predictions"]
    return model
}

@Suite struct TrainerTests {
    let plan = TrainingPlan(epochs: 3, batchSize: 8, schedule: .piecewise([.init(1, 0.05)], after: 0.02), seed: 11)

    @Test func learnsAndScores() throws {
        let training = ImageData(try squares(count: 60, seed: 1), preparation: squaresPreparation)
        let validation = ImageData(try squares(count: 30, seed: 2), preparation: squaresPreparation)
        let trainer = Trainer(model: smallModel(), optimizer: SGD(learningRate: 0.05, momentum: 0.9), plan: plan, identity: "small")
        var seen: [EpochRecord] = []
        trainer.onEpoch = { seen.append($0) }
        #expect(try trainer.fit(training, validation: validation) == .finished)
        #expect(seen.map(\.epoch) == [1, 2, 3] && seen.map(\.learningRate) == [0.05, 0.02, 0.02])
        #expect(seen.last!.validationTop1! > 0.9, "\(seen)")
        #expect(seen.last!.validationLoss! < seen.first!.trainLoss)
        let scores = try trainer.evaluate(validation)
        #expect(scores.count == 30 && scores.top5 == 1)
        #expect(scores.confusion!.map { $0.reduce(0, +) } == [10, 10, 10], "rows are the true classes")
        #expect(Double((0..<3).map { scores.confusion![$0][$0] }.reduce(0, +)) / 30 == scores.top1)
    }

    /// A weight's regularizer enters the loss it trains on: a strong L2 on the classifier's kernel pulls it towards 0
    /// with SGD (no momentum) by exactly the regularizer's share, 2 · l2 · w · rate per step, beyond what the data
    /// does.
    @Test func regularizersEnterTheTrainingLoss() throws {
        let training = ImageData(try squares(count: 8, seed: 5), preparation: squaresPreparation)
        let once = TrainingPlan(epochs: 1, batchSize: 8, schedule: .constant(0.1), seed: 3)
        func trainedKernel(l2: Float?) throws -> Tensor {
            let model = smallModel()
            for layer in model.layers where layer.name != "predictions" { layer.trainable = false }
            let kernel = (model.layer(named: "predictions") as! Dense).kernel
            if let l2 { kernel.regularizer = (0, l2) }
            _ = try Trainer(model: model, optimizer: SGD(learningRate: 0.1, momentum: 0), plan: once, identity: "small").fit(training, validation: nil)
            return kernel.value
        }
        let initial = (smallModel().layer(named: "predictions") as! Dense).kernel.value
        let plain = try trainedKernel(l2: nil), regularized = try trainedKernel(l2: 0.5)
        // One step: regularized = plain − 0.1 · 2 · 0.5 · initial.
        let expected = plain + initial.scaled(by: -0.1)
        #expect(regularized.maxAbsoluteDifference(expected) < 1e-5, "\(regularized.maxAbsoluteDifference(expected))")
    }

    /// Steps whose activations are large enough for the step memory (≥ 1 MiB) take them from its arena after the first
    /// steps, and train to the same weights, bit for bit, as steps that allocate every buffer afresh (the same fit
    /// inside another step memory's single recorded run, where the trainer's own runs as it is).
    @Test func stepsRunFromTheStepMemoryAndTrainAlike() throws {
        guard StepMemory.enabled else { return }
        let training = ImageData(try squares(count: 48, seed: 6), preparation: ImagePreparation(
            height: 64, width: 96, channels: 1, cropFraction: 1, preprocessing: .unit))
        func model() -> Model {
            var g = SeededGenerator(seed: 8)
            let model = Model.sequential(name: "wide", inputShape: [64, 96, 1], layers: [
                Conv2D("conv", inputChannels: 1, filters: 16, kernelSize: (3, 3), padding: .same, generator: &g),
                BatchNormalization("bn", channels: 16),
                Layers.activation("relu", .relu),
                Conv2D("conv2", inputChannels: 16, filters: 16, kernelSize: (3, 3), padding: .same, activation: .relu, generator: &g),
                Layers.maxPooling("pool", size: (2, 2)),
                Layers.globalAveragePooling("gap"),
                Dense("predictions", inputs: 16, units: 3, generator: &g),
            ], tapNames: [])
            model.classifierLayers = ["predictions"]
            return model
        }
        let plan = TrainingPlan(epochs: 2, batchSize: 8, schedule: .constant(0.05), seed: 2)
        let planned = Trainer(model: model(), optimizer: SGD(learningRate: 0.05, momentum: 0.9), plan: plan, identity: "wide")
        _ = try planned.fit(training, validation: nil)
        #expect(planned.model.stepMemory.lentLastRun > 0)
        #expect(planned.model.stepMemory.arenaBytes > 0)
        let fresh = Trainer(model: model(), optimizer: SGD(learningRate: 0.05, momentum: 0.9), plan: plan, identity: "wide")
        _ = try StepMemory().run(key: "whole fit") { try fresh.fit(training, validation: nil) }
        #expect(fresh.model.stepMemory.lentLastRun == 0)
        for (a, b) in zip(planned.model.weights, fresh.model.weights) { #expect(a.value == b.value, "\(a.name) differs") }
    }

    @Test func resumesExactlyAfterAnInterruption() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let training = ImageData(try squares(count: 60, seed: 1), preparation: squaresPreparation,
                                 augmentation: Augmentation(padding: 1, horizontalFlip: true))
        let straight = Trainer(model: smallModel(), optimizer: Adam(learningRate: 0.01), plan: plan, identity: "small")
        #expect(try straight.fit(training) == .finished)

        // Stopped after batch 4 of epoch 2, then continued by a new process's worth of objects.
        let checkpoint = folder.appendingPathComponent("checkpoint.safetensors")
        let first = Trainer(model: smallModel(), optimizer: Adam(learningRate: 0.01), plan: plan, identity: "small")
        first.checkpoint = checkpoint
        var batches = 0
        first.shouldStop = { batches += 1; return batches == 8 + 4 }
        #expect(try first.fit(training) == .interrupted)
        let second = Trainer(model: smallModel(seed: 99), optimizer: Adam(learningRate: 0.01), plan: plan, identity: "small")
        try second.resume(from: checkpoint)
        #expect(second.state.epoch == 1 && second.state.nextBatch == 4)
        #expect(try second.fit(training) == .finished)

        for (a, b) in zip(straight.model.weights, second.model.weights) { #expect(a.value == b.value, "\(a.name) differs after resuming") }
        #expect(straight.state.history.map(\.trainLoss) == second.state.history.map(\.trainLoss))

        let other = Trainer(model: smallModel(), optimizer: Adam(learningRate: 0.01), plan: plan, identity: "lenet5, 5 classes")
        expectError("was written for small; this run is lenet5, 5 classes") { try other.resume(from: checkpoint) }
        let sgd = Trainer(model: smallModel(), optimizer: SGD(learningRate: 0.01, momentum: 0.9), plan: plan, identity: "small")
        expectError("another optimizer") { try sgd.resume(from: checkpoint) }
    }

    @Test func stopsEarlyWhenValidationStopsImproving() throws {
        let data = ImageData(try squares(count: 30, seed: 1), preparation: squaresPreparation)
        // At rate 0 nothing changes: the first epoch's validation loss stays the best, and two epochs later it stops.
        let plan = TrainingPlan(epochs: 20, batchSize: 10, schedule: .constant(0), seed: 1, patience: 2)
        let trainer = Trainer(model: smallModel(), optimizer: SGD(learningRate: 0), plan: plan, identity: "small")
        #expect(try trainer.fit(data, validation: data) == .stoppedEarly(afterEpoch: 3))
    }

    @Test func metricsCountTopKAgainstBruteForce() throws {
        var generator = SeededGenerator(seed: 3)
        let logits = Tensor.normal([50, 7], using: &generator)
        let labels = Tensor(shape: [50]) { for i in $0.indices { $0[i] = Float(i % 7) } }
        var metrics = ClassificationMetrics(classes: 7)
        metrics.add(logits: logits, labels: labels, meanLoss: 1)
        let rows = (0..<50).map { Array(logits.scalars[($0 * 7)..<($0 * 7 + 7)]) }
        func inTopK(_ row: [Float], _ truth: Int, _ k: Int) -> Bool { row.enumerated().sorted { $0.element > $1.element }.prefix(k).contains { $0.offset == truth } }
        #expect(metrics.top1Correct == (0..<50).filter { inTopK(rows[$0], $0 % 7, 1) }.count)
        #expect(metrics.top5Correct == (0..<50).filter { inTopK(rows[$0], $0 % 7, 5) }.count)
        #expect(metrics.confusion!.flatMap { $0 }.reduce(0, +) == 50)
    }
}

@Suite struct AuxiliaryLossTests {
    /// Two heads on shared features, the second an auxiliary output: one SGD step moves the auxiliary head by exactly
    /// the weight given to its loss (0.3 for GoogLeNet) times what its own loss alone would move it.
    @Test func auxiliaryLossesCountWithTheirWeight() throws {
        func step(auxiliaryWeight: Float) throws -> (main: Tensor, auxiliary: Tensor) {
            var g = SeededGenerator(seed: 2)
            let main = Dense("predictions", inputs: 4, units: 3, generator: &g), auxiliary = Dense("aux_classifier", inputs: 4, units: 3, generator: &g)
            let model = Model(name: "two-heads", inputShape: [4], layers: [main, auxiliary], tapNames: []) { context, x in
                [try context.call(main, x), try context.call(auxiliary, x)]
            }
            let data = FeatureData(features: Tensor.normal([6, 4], using: &g), labels: [0, 1, 2, 0, 1, 2], classNames: ["a", "b", "c"], name: "toy")
            let plan = TrainingPlan(epochs: 1, batchSize: 6, schedule: .constant(1), auxiliaryLossWeight: auxiliaryWeight)
            let before = auxiliary.weights[0].value
            _ = try Trainer(model: model, optimizer: SGD(learningRate: 1), plan: plan, identity: "toy").fit(data)
            return (main.weights[0].value, auxiliary.weights[0].value.combined(1, before, -1))
        }
        let weighted = try step(auxiliaryWeight: 0.3), full = try step(auxiliaryWeight: 1)
        #expect(weighted.main == full.main, "the main head's update does not depend on the auxiliary weight")
        let ratio = zip(weighted.auxiliary.scalars, full.auxiliary.scalars).map { $0 / $1 }
        #expect(ratio.allSatisfy { abs($0 - 0.3) < 1e-4 }, "\(ratio)")
    }
}

@Suite struct TenCropEvaluationTests {
    /// Scores from ten crops against the average of the model's probabilities on each crop, taken one by one.
    @Test func averagesProbabilitiesOverTheTenCrops() throws {
        let model = smallModel()
        let data = try squares(count: 9, seed: 4)
        let preparation = ImagePreparation(height: 8, width: 12, channels: 1, cropFraction: 0.75, preprocessing: .unit)
        let metrics = try TenCropEvaluation(model: model, preparation: preparation, batchSize: 40)
            .evaluate(try Dataset(name: "squares", classNames: data.classNames, samples: data.samples.map {
                Sample(.image(try $0.image()), label: $0.label)
            }))
        // The oracle: the image resized so the crop covers 75% of its shorter side, cut at the corners and the centre
        // by hand, mirrored, each crop run alone.
        var lossSum = 0.0, correct = 0
        for sample in data.samples {
            let image = try sample.image()
            let scale = max(8.0 / Double(image.height), 12.0 / Double(image.width)) / 0.75
            let big = image.resized(width: Int((Double(image.width) * scale).rounded()), height: Int((Double(image.height) * scale).rounded()))
            let (right, bottom) = (big.width - 12, big.height - 8)
            #expect(right > 0 && bottom > 0)
            var crops = [(0, 0), (right, 0), (0, bottom), (right, bottom), (right / 2, bottom / 2)].map { big.cropped(x: $0.0, y: $0.1, width: 12, height: 8) }
            crops += crops.map { $0.flippedHorizontally() }
            var mean = [Double](repeating: 0, count: 3)
            for crop in crops {
                let p = try Gradients.off { try softmax(model(Variable(preparation.tensor([crop])), training: false).main).value.scalars }
                for k in 0..<3 { mean[k] += Double(p[k]) / 10 }
            }
            lossSum -= log(mean[sample.label])
            if mean.indices.max(by: { mean[$0] < mean[$1] }) == sample.label { correct += 1 }
        }
        #expect(metrics.count == 9 && metrics.top1Correct == correct)
        #expect(abs(metrics.loss - lossSum / 9) < 1e-4, "\(metrics.loss) against \(lossSum / 9)")
    }
}
