import Foundation
import Testing
import ZooCore
import ZooModels
import ZooNN
import ZooTensor

/// A training pass runs its frozen prefix through an inference plan on oneDNN. Oracle: the same pass on the
/// reference backend, which runs every layer eagerly.
@Suite(.serialized) struct FrozenPrefixTests {
    /// Outputs of a training pass, then the gradients of `trained` weights for the loss ½ Σ y² over every output.
    static func trainingPass(_ model: Model, _ images: Tensor, trained: [Weight], on backend: any Backend) throws -> [Tensor] {
        for weight in trained { weight.variable.grad = nil }
        for layer in model.layers { (layer as? Reseedable)?.reseed(7) }
        return try Runtime.using(backend) {
            let outputs = try model(Variable(images), training: true).outputs
            for output in outputs { try output.backward(seed: output.value) }
            return outputs.map(\.value) + trained.map { $0.variable.grad! }
        }
    }

    @Test func aResNetFrozenThroughItsFourthStageTrainsItsFifthAsTheReferenceDoes() throws {
        let (backbone, options) = KerasFidelityTests.plugin(for: "resnet18_notop_64")
        let model = try backbone.build(options)
        let fixture = BackboneFixtures.manifest.cases.first { $0.name == "resnet18_notop_64" }!
        try model.load(try formats.read(BackboneFixtures.folder.appendingPathComponent(fixture.weights)))
        let last = model.layers.firstIndex { $0.name == "conv4_block2_out" }!
        for (index, layer) in model.layers.enumerated() { layer.trainable = index > last }
        var generator = SeededGenerator(seed: 3)
        let images = Tensor.uniform([2, 64, 64, 3], low: -1, high: 1, using: &generator)

        let prefix = try model.frozenPrefixLayers(for: images.shape)
        #expect(prefix.last == "conv4_block2_out" && prefix.contains("conv1_conv") && !prefix.contains { $0.hasPrefix("conv5") }, "\(prefix)")
        let trained = model.layers.dropFirst(last + 1).flatMap(\.weights).filter { $0.variable.requiresGrad }
        let fast = try Self.trainingPass(model, images, trained: trained, on: try Runtime.dnnl.get())
        let oracle = try Self.trainingPass(model, images, trained: trained, on: Runtime.reference)
        for (index, (a, b)) in zip(fast, oracle).enumerated() {
            #expect(a.shape == b.shape && deviation(a, b) <= 1e-4, "value \(index) deviates by \(deviation(a, b))")
        }
        // Nothing frozen: no prefix.
        for layer in model.layers { layer.trainable = true }
        #expect(try model.frozenPrefixLayers(for: images.shape).isEmpty)
    }

    /// An auxiliary head that reads from inside the prefix gets the prefix's value; the prefix stops at a Dropout
    /// (it draws a mask in training) and at a BatchNorm that learns (it normalizes with the batch's statistics).
    @Test func auxiliaryHeadsDropoutAndLearningBatchNormBoundThePrefix() throws {
        var generator = SeededGenerator(seed: 11)
        let conv1 = Conv2D("conv1", inputChannels: 3, filters: 4, kernelSize: (3, 3), padding: .same, generator: &generator)
        let bn1 = BatchNormalization("bn1", channels: 4)
        bn1.movingMean.value = Tensor.uniform([4], low: -0.5, high: 0.5, using: &generator)
        bn1.movingVariance.value = Tensor.uniform([4], low: 0.5, high: 2, using: &generator)
        let relu1 = Layers.activation("relu1", .relu)
        let pool1 = Layers.maxPooling("pool1", size: (2, 2))
        let conv2 = Conv2D("conv2", inputChannels: 4, filters: 6, kernelSize: (3, 3), padding: .same, activation: .relu, generator: &generator)
        let bn2 = BatchNormalization("bn2", channels: 6)
        let drop = Dropout("drop", rate: 0.5)
        let gap = Layers.globalAveragePooling("gap")
        let dense = Dense("dense", inputs: 6, units: 3, generator: &generator)
        let auxGap = Layers.globalAveragePooling("aux_gap")
        let auxDense = Dense("aux_dense", inputs: 4, units: 3, generator: &generator)
        let layers: [Layer] = [conv1, bn1, relu1, pool1, conv2, bn2, drop, gap, dense, auxGap, auxDense]
        let model = Model(name: "two-heads", inputShape: [8, 8, 3], layers: layers, tapNames: []) { context, x in
            let early = try context.call(relu1, context.call(bn1, context.call(conv1, x)))
            let late = try context.call(bn2, context.call(conv2, context.call(pool1, early)))
            let main = try context.call(dense, context.call(gap, context.call(drop, late)))
            guard context.auxiliaryOutputs else { return [main] }
            return [main, try context.call(auxDense, context.call(auxGap, early))]
        }
        for layer in [conv1, bn1, conv2, bn2] as [Layer] { layer.trainable = false }
        let images = Tensor.uniform([3, 8, 8, 3], low: -1, high: 1, using: &generator)

        // The auxiliary head's pooling learns nothing and reads the prefix: it joins it; its Dense learns.
        #expect(try model.frozenPrefixLayers(for: images.shape) == ["conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "aux_gap"])
        #expect(try model.frozenPrefixLayers(for: images.shape, auxiliaryOutputs: false) == ["conv1", "bn1", "relu1", "pool1", "conv2", "bn2"])
        bn2.trainable = true
        #expect(try model.frozenPrefixLayers(for: images.shape) == ["conv1", "bn1", "relu1", "pool1", "conv2", "aux_gap"])
        let trained = ([bn2, dense, auxDense] as [Layer]).flatMap(\.weights).filter { $0.variable.requiresGrad }
        let fast = try Self.trainingPass(model, images, trained: trained, on: try Runtime.dnnl.get())
        let oracle = try Self.trainingPass(model, images, trained: trained, on: Runtime.reference)
        #expect(fast.count == 2 + trained.count)
        for (index, (a, b)) in zip(fast, oracle).enumerated() {
            #expect(a.shape == b.shape && deviation(a, b) <= 1e-4, "value \(index) deviates by \(deviation(a, b))")
        }
    }

    /// A model with two image inputs of different sizes: the frozen branches of both join the prefix, which the
    /// training pass gives both inputs.
    @Test func aPrefixReadsEveryInput() throws {
        var generator = SeededGenerator(seed: 13)
        let left = Conv2D("left", inputChannels: 3, filters: 4, kernelSize: (3, 3), padding: .same, activation: .relu, generator: &generator)
        let pool = Layers.maxPooling("pool", size: (2, 2))
        let right = Conv2D("right", inputChannels: 1, filters: 2, kernelSize: (3, 3), padding: .same, generator: &generator)
        let join = Merge("join", .concatenate)
        let conv = Conv2D("conv", inputChannels: 6, filters: 5, kernelSize: (3, 3), generator: &generator)
        let gap = Layers.globalAveragePooling("gap")
        let dense = Dense("dense", inputs: 5, units: 3, generator: &generator)
        let model = Model(name: "two-inputs", inputShapes: [[8, 8, 3], [4, 4, 1]], layers: [left, pool, right, join, conv, gap, dense],
                          tapNames: []) { context, inputs in
            let a = try context.call(pool, context.call(left, inputs[0]))
            let joined = try context.call(join, [a, try context.call(right, inputs[1])])
            return [try context.call(dense, context.call(gap, context.call(conv, joined)))]
        }
        left.trainable = false; right.trainable = false
        let images = Tensor.uniform([2, 8, 8, 3], low: -1, high: 1, using: &generator), masks = Tensor.uniform([2, 4, 4, 1], using: &generator)
        #expect(try model.frozenPrefixLayers(for: [images.shape, masks.shape]) == ["left", "pool", "right", "join"])
        let trained = ([conv, dense] as [Layer]).flatMap(\.weights)
        func pass(on backend: any Backend) throws -> [Tensor] {
            for weight in trained { weight.variable.grad = nil }
            return try Runtime.using(backend) {
                let output = try model([Variable(images), Variable(masks)], training: true).main
                try output.backward(seed: output.value)
                return [output.value] + trained.map { $0.variable.grad! }
            }
        }
        let fast = try pass(on: try Runtime.dnnl.get()), oracle = try pass(on: Runtime.reference)
        for (index, (a, b)) in zip(fast, oracle).enumerated() {
            #expect(a.shape == b.shape && deviation(a, b) <= 1e-4, "value \(index) deviates by \(deviation(a, b))")
        }
        let one = #expect(throws: ShapeError.self) { _ = try model(Variable(images)) }
        #expect("\(one!)".contains("takes 2 inputs ((None, 8, 8, 3), (None, 4, 4, 1)), got 1"), "\(one!)")
    }

    /// A training pass that calls a prefix layer's reader the trace never saw (a forward pass that branches on
    /// training) fails loudly instead of reading a value the prefix skipped.
    @Test func aReaderTheTraceDidNotShowIsRefused() throws {
        var generator = SeededGenerator(seed: 12)
        let conv1 = Conv2D("conv1", inputChannels: 3, filters: 4, kernelSize: (3, 3), generator: &generator)
        let conv2 = Conv2D("conv2", inputChannels: 4, filters: 4, kernelSize: (3, 3), generator: &generator)
        let gap = Layers.globalAveragePooling("gap")
        let dense = Dense("dense", inputs: 4, units: 2, generator: &generator)
        let model = Model(name: "branching", inputShape: [9, 9, 3], layers: [conv1, conv2, gap, dense], tapNames: []) { context, x in
            let a = try context.call(conv1, x)
            let b = try context.call(conv2, a)
            return [try context.call(dense, context.call(gap, context.training ? a : b))]
        }
        conv1.trainable = false; conv2.trainable = false
        let images = Tensor.uniform([1, 9, 9, 3], using: &generator)
        Runtime.using(try Runtime.dnnl.get()) {
            let error = #expect(throws: GraphTraceError.self) { _ = try model(Variable(images), training: true) }
            #expect(error?.inTraining == true && error?.layer == "gap", "\(String(describing: error))")
        }
    }
}
