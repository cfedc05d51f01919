import Testing
import ZooNN
import ZooTensor

/// Training works end to end: a small CNN learns a separable synthetic task, and frozen layers stay put.
@Suite(.serialized) struct TrainingTests {
    /// 12×12 grayscale images of four classes: a bright horizontal bar, vertical bar, main diagonal or anti-diagonal,
    /// at a random offset, on noise.
    static func dataset(count: Int, seed: UInt64) -> (images: Tensor, labels: Tensor) {
        var generator = SeededGenerator(seed: seed)
        let size = 12
        var labels = [Float]()
        let images = Tensor(shape: [count, size, size, 1]) { pixels in
            for n in 0..<count {
                let label = n % 4
                labels.append(Float(label))
                let offset = Int(generator.next() % 6) + 3
                for r in 0..<size {
                    for c in 0..<size {
                        let bars: [Bool] = [r == offset, c == offset, r == c, r + c == size - 1]
                        let onBar = bars[label]
                        pixels[(n * size + r) * size + c] = (onBar ? 1 : 0) + generator.uniform(-0.3, 0.3)
                    }
                }
            }
        }
        return (images, try! Tensor(shape: [count], scalars: labels))
    }

    static func model(seed: UInt64) -> Sequential {
        var g = SeededGenerator(seed: seed)
        return Sequential([
            Conv2D("conv1", inputChannels: 1, filters: 8, kernelSize: (3, 3), padding: .same, generator: &g),
            BatchNormalization("bn1", channels: 8),
            Layers.activation("relu1", .relu),
            Layers.maxPooling("pool1", size: (2, 2)),
            Conv2D("conv2", inputChannels: 8, filters: 16, kernelSize: (3, 3), padding: .same, activation: .relu, generator: &g),
            Layers.globalMaxPooling("pool2"),
            Dropout("dropout", rate: 0.1, seed: 5),
            Dense("predictions", inputs: 16, units: 4, generator: &g),
        ])
    }

    static func batches(_ data: (images: Tensor, labels: Tensor), size: Int) throws -> [(Tensor, Tensor)] {
        let n = data.labels.count, pixels = data.images.count / n
        return try stride(from: 0, to: n, by: size).map { start in
            let end = min(n, start + size)
            let images = try Tensor(shape: [end - start] + Array(data.images.shape.dropFirst()),
                                    scalars: Array(data.images.scalars[start * pixels..<end * pixels]))
            return (images, try Tensor(shape: [end - start], scalars: Array(data.labels.scalars[start..<end])))
        }
    }

    static func train(_ model: Sequential, epochs: Int, optimizer: Optimizer) throws {
        let train = dataset(count: 512, seed: 1)
        for _ in 0..<epochs {
            for (images, labels) in try batches(train, size: 32) {
                let logits = try model(Variable(images), training: true)
                try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: labels).backward()
                optimizer.step(model.weights)
            }
        }
    }

    static func accuracy(_ model: Sequential) throws -> Double {
        let test = dataset(count: 400, seed: 2)
        var correct = 0
        for (images, labels) in try batches(test, size: 100) {
            let logits = try model(Variable(images), training: false).value
            for row in 0..<labels.count {
                let scores = logits.scalars[row * 4..<(row + 1) * 4]
                if scores.firstIndex(of: scores.max()!)! - row * 4 == Int(labels[flat: row]) { correct += 1 }
            }
        }
        return Double(correct) / 400
    }

    @Test func smallCNNLearnsSeparableTask() throws {
        let model = Self.model(seed: 42)
        let before = try Self.accuracy(model)
        try Self.train(model, epochs: 6, optimizer: Adam(learningRate: 0.01))
        let after = try Self.accuracy(model)
        #expect(after >= 0.99, "held-out accuracy \(after) (before training: \(before))")
    }

    @Test func sgdWithNesterovMomentumAlsoLearns() throws {
        let model = Self.model(seed: 7)
        try Self.train(model, epochs: 8, optimizer: SGD(learningRate: 0.05, momentum: 0.9, nesterov: true))
        #expect(try Self.accuracy(model) >= 0.99)
    }

    @Test func frozenLayersStayBitIdentical() throws {
        let model = Self.model(seed: 42)
        for name in ["conv1", "bn1"] { model.layer(named: name)!.trainable = false }
        let frozen = ["conv1", "bn1"].flatMap { model.layer(named: $0)!.weights.map(\.value) }
        let trainableBefore = model.layer(named: "conv2")!.weights.map(\.value)
        try Self.train(model, epochs: 2, optimizer: Adam(learningRate: 0.01))
        let frozenAfter = ["conv1", "bn1"].flatMap { model.layer(named: $0)!.weights.map(\.value) }
        #expect(frozen == frozenAfter, "frozen kernels, BatchNorm parameters and moving statistics must not change")
        #expect(trainableBefore != model.layer(named: "conv2")!.weights.map(\.value), "unfrozen layers do train")
    }

    /// A model's training pass on oneDNN runs each BatchNorm and each residual Add whose output only a ReLU reads as
    /// one fused kernel, and computes what the reference backend computes with the two apart: logits, every weight
    /// gradient and the moving statistics. A tap on a BatchNorm's output keeps that one apart.
    @Test(arguments: [Set<String>(), ["bn2"]])
    func batchNormAndAddFuseWithTheirReLUInTraining(_ taps: Set<String>) throws {
        let (images, labels) = Self.dataset(count: 16, seed: 8)
        func pass(_ backend: any Backend) throws -> (values: [Tensor], profile: [String: ProfilingBackend.Entry]) {
            var g = SeededGenerator(seed: 11)
            let conv1 = Conv2D("conv1", inputChannels: 1, filters: 8, kernelSize: (3, 3), padding: .same, generator: &g)
            let conv2 = Conv2D("conv2", inputChannels: 8, filters: 8, kernelSize: (3, 3), padding: .same, generator: &g)
            let conv3 = Conv2D("conv3", inputChannels: 8, filters: 8, kernelSize: (3, 3), padding: .same, generator: &g)
            let (bn1, bn2) = (BatchNormalization("bn1", channels: 8), BatchNormalization("bn2", channels: 8))
            let (relu1, relu2, relu3) = (Layers.activation("relu1", .relu), Layers.activation("relu2", .relu), Layers.activation("relu3", .relu))
            let add = Merge("add", .add), pool = Layers.globalAveragePooling("pool")
            let dense = Dense("predictions", inputs: 8, units: 4, generator: &g)
            let model = Model(name: "fusable", inputShape: [12, 12, 1], layers: [conv1, bn1, relu1, conv2, bn2, relu2, conv3, add, relu3, pool, dense],
                              tapNames: ["bn2"]) { ctx, x in
                let first = try ctx.call(relu1, ctx.call(bn1, ctx.call(conv1, x)))
                let second = try ctx.call(relu2, ctx.call(bn2, ctx.call(conv2, first)))
                let residual = try ctx.call(relu3, ctx.call(add, [ctx.call(conv3, second), first]))
                return [try ctx.call(dense, ctx.call(pool, residual))]
            }
            let profiler = ProfilingBackend(backend)
            let logits = try Runtime.using(profiler) {
                let out = try model(Variable(images), training: true, taps: taps)
                try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: out.main, targets: labels).backward()
                return out.main.value
            }
            return ([logits] + model.weights.map { $0.variable.grad ?? $0.value }, profiler.profile)
        }
        let (fused, oracle) = (try pass(Runtime.dnnl.get()), try pass(Runtime.reference))
        for (index, (a, b)) in zip(fused.values, oracle.values).enumerated() {
            #expect(a.maxAbsoluteDifference(b) / max(1, b.maxMagnitude) <= 1e-4, "value \(index) (logits, then each weight's gradient or statistic)")
        }
        #expect(fused.profile["batch norm + relu training"]?.calls == 2 - taps.count)
        #expect(fused.profile["activation"]?.calls == (taps.isEmpty ? nil : 1), "relu3 runs inside the add")
        #expect(oracle.profile["batch norm + relu training"] == nil && oracle.profile["activation"]?.calls == 3,
                "the reference backend runs no plans and fuses nothing")
    }

    /// A training pass that reads a fused BatchNorm's output where its (inference) trace showed only the ReLU would
    /// get a rectified value it did not ask for: it fails, naming the layer and the way out.
    @Test func aTrainingPassThatStraysFromItsTraceFailsClearly() throws {
        var g = SeededGenerator(seed: 12)
        let conv = Conv2D("conv", inputChannels: 1, filters: 4, kernelSize: (3, 3), padding: .same, generator: &g)
        let norm = BatchNormalization("bn", channels: 4), relu = Layers.activation("relu", .relu)
        let extra = Layers.activation("extra", .tanh), add = Merge("add", .add)
        let model = Model(name: "stray", inputShape: [12, 12, 1], layers: [conv, norm, relu, extra, add], tapNames: []) { ctx, x in
            let normalized = try ctx.call(norm, ctx.call(conv, x))
            let rectified = try ctx.call(relu, normalized)
            // Only in training does a second layer read the BatchNorm's output.
            return [ctx.training ? try ctx.call(add, [rectified, ctx.call(extra, normalized)]) : rectified]
        }
        let images = Variable(Self.dataset(count: 4, seed: 9).images)
        let error = #expect(throws: GraphTraceError.self) { try Runtime.using(Runtime.dnnl.get()) { _ = try model(images, training: true) } }
        #expect(error?.description.contains("layer 'extra'") == true && error?.description.contains("ZOO_PLANS=0") == true,
                "\(String(describing: error))")
    }

    @Test func trainingBatchNormUpdatesItsMovingStatistics() throws {
        let model = Self.model(seed: 3)
        let before = model.layer(named: "bn1")!.weights.map(\.value)
        try Self.train(model, epochs: 1, optimizer: SGD(learningRate: 0.01))
        let after = model.layer(named: "bn1")!.weights.map(\.value)
        #expect(zip(before, after).allSatisfy { $0 != $1 }, "gamma, beta and both moving statistics change in training")
    }
}
