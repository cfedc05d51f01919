import Testing
import ZooNN
import ZooTensor

/// Keras's layers that act only in training: what they draw, and that inference passes the input through.
@Suite struct TrainingNoiseTests {
    static let input = Tensor(shape: [8, 6, 5, 16], repeating: 1)

    @Test func spatialDropoutDropsWholeChannels() throws {
        let layer = TrainingNoise("drop", .spatialDropout(rate: 0.25), seed: 3)
        #expect(try layer(Variable(Self.input), training: false).value == Self.input)
        let y = try layer(Variable(Self.input), training: true).value.scalars
        // Each (image, channel) is all zeros or all 1 / 0.75 across its 30 positions.
        var dropped = 0
        for image in 0..<8 { for channel in 0..<16 {
            let values = Set((0..<30).map { y[(image * 30 + $0) * 16 + channel] })
            #expect(values == [0] || values == [1 / 0.75], "image \(image), channel \(channel): \(values)")
            if values == [0] { dropped += 1 }
        } }
        #expect((18...46).contains(dropped), "\(dropped) of 128 channels dropped at rate 0.25")
    }

    @Test func gaussianLayersDrawWithTheirDeviation() throws {
        let noise = TrainingNoise("noise", .gaussianNoise(standardDeviation: 0.5), seed: 4)
        let dropout = TrainingNoise("gaussian_dropout", .gaussianDropout(rate: 0.2), seed: 5)
        for (layer, mean, deviation) in [(noise, 1.5 - 0.5, 0.5), (dropout, 1.0, (0.2 / 0.8).squareRoot())] as [(TrainingNoise, Double, Double)] {
            #expect(try layer(Variable(Self.input), training: false).value == Self.input)
            let y = try layer(Variable(Self.input), training: true).value.scalars.map(Double.init)
            let m = y.reduce(0, +) / Double(y.count)
            let s = (y.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(y.count)).squareRoot()
            #expect(abs(m - mean) < 0.03 && abs(s - deviation) < 0.03, "\(layer.kind): mean \(m), deviation \(s)")
        }
    }
}

/// Keras ActivityRegularization: the identity, with `(l1 · Σ|x| + l2 · Σx²) / batch` handed to the trainer once per
/// training pass and nothing at inference.
@Suite struct ActivityRegularizationTests {
    @Test func penalizesTrainingPassesOnly() throws {
        let x = try Tensor(shape: [2, 3], scalars: [1, -2, 0.5, 0, 3, -1])
        let layer = ActivityRegularization("activity", l1: 0.1, l2: 0.01)
        #expect(try layer(Variable(x), training: false).value == x && layer.takePenalty() == nil)
        #expect(try layer(Variable(x), training: true).value == x)
        let l1: Double = 7.5, l2: Double = 15.25  // Σ|x| and Σx² of the six values
        let penalty = try #require(layer.takePenalty()).value.scalars[0]
        #expect(abs(penalty - Float((0.1 * l1 + 0.01 * l2) / 2)) < 1e-6, "\(penalty)")
        #expect(layer.takePenalty() == nil, "handed over once")
    }
}
