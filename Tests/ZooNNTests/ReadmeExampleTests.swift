import Testing
import ZooNN
import ZooTensor

/// README's first example, verbatim, so it keeps compiling and doing what it says.
@Suite struct ReadmeExampleTests {
    @Test func firstExampleTrainsAndFreezes() throws {
        var seed = SeededGenerator(seed: 42)
        let model = Sequential([
            Conv2D("conv1", inputChannels: 1, filters: 8, kernelSize: (3, 3), padding: .same, generator: &seed),
            BatchNormalization("bn1", channels: 8),
            Layers.activation("relu1", .relu),
            Layers.maxPooling("pool1", size: (2, 2)),
            Layers.flatten("flatten"),
            Dense("predictions", inputs: 6 * 6 * 8, units: 4, generator: &seed),
        ])
        let optimizer = Adam(learningRate: 0.01)

        let images = Tensor.uniform([32, 12, 12, 1], using: &seed)          // NHWC
        let labels = Tensor(shape: [32]) { for i in $0.indices { $0[i] = Float(i % 4) } }
        let logits = try model(Variable(images), training: true)
        try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: labels).backward()
        let before = model.weights.map(\.value)
        optimizer.step(model.weights)                                        // frozen layers are left alone

        model.layer(named: "conv1")!.trainable = false                       // freeze: no gradient, no update

        #expect(logits.shape == [32, 4])
        let after = model.weights.map(\.value)
        #expect(before[0] != after[0] && before.last != after.last, "the step moves conv1's kernel and the classifier")
        let frozen = model.layer(named: "conv1")!.weights.map(\.value)
        try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: model(Variable(images), training: true), targets: labels).backward()
        optimizer.step(model.weights)
        #expect(model.layer(named: "conv1")!.weights.map(\.value) == frozen)
    }
}
