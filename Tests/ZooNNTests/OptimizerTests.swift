import Foundation
import Testing
import ZooNN
import ZooTensor

/// Keras 3.15.1's optimizers applied to one weight for four steps (tools/keras/make_optimizer_fixtures.py).
struct OptimizerFixtures: Decodable {
    struct Case: Decodable {
        let after_each_step: [[Float]]
    }
    let shape: [Int]
    let start: [Float]
    let gradients: [[Float]]
    let cases: [String: Case]
    let schedules: [String: [Float]]

    static let shared: OptimizerFixtures = {
        let url = Bundle.module.url(forResource: "keras_optimizers", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(OptimizerFixtures.self, from: Data(contentsOf: url))
    }()
}

@Suite struct OptimizerTests {
    static let optimizers: [(String, @Sendable () -> Optimizer)] = [
        ("sgd", { SGD(learningRate: 0.1) }),
        ("sgd_momentum", { SGD(learningRate: 0.1, momentum: 0.9) }),
        ("sgd_nesterov", { SGD(learningRate: 0.1, momentum: 0.9, nesterov: true) }),
        ("sgd_weight_decay", { SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01) }),
        ("adam", { Adam(learningRate: 0.01) }),
        ("adam_weight_decay", { Adam(learningRate: 0.01, weightDecay: 0.05) }),
        ("rmsprop", { RMSProp(learningRate: 0.01) }),
        ("rmsprop_momentum", { RMSProp(learningRate: 0.01, rho: 0.8, momentum: 0.5) }),
        ("adagrad", { AdaGrad(learningRate: 0.1) }),
    ]

    /// A weight at the fixture's starting values, and a fresh optimizer of the named configuration.
    func start(_ name: String) throws -> (weight: Weight, make: @Sendable () -> Optimizer) {
        let fixtures = OptimizerFixtures.shared
        let make = try #require(Self.optimizers.first { $0.0 == name }?.1)
        return (Weight("kernel", try Tensor(shape: fixtures.shape, scalars: fixtures.start)), make)
    }

    /// Runs `steps` updates of the fixture's gradients, starting from step `from`.
    func run(_ optimizer: Optimizer, on weight: Weight, steps: Range<Int>) throws -> [[Float]] {
        let fixtures = OptimizerFixtures.shared
        var trajectory: [[Float]] = []
        for step in steps {
            weight.variable.grad = try Tensor(shape: fixtures.shape, scalars: fixtures.gradients[step])
            optimizer.step([weight])
            trajectory.append(weight.value.scalars)
        }
        return trajectory
    }

    @Test(arguments: optimizers.map(\.0))
    func matchesKeras(_ name: String) throws {
        let (weight, make) = try start(name)
        let ours = try run(make(), on: weight, steps: 0..<4)
        let keras = try #require(OptimizerFixtures.shared.cases[name]).after_each_step
        for (step, (a, b)) in zip(ours, keras).enumerated() {
            let deviation = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max()!
            #expect(deviation < 1e-5, "\(name) step \(step + 1): deviation \(deviation)")
        }
    }

    @Test(arguments: optimizers.map(\.0))
    func resumesFromSavedState(_ name: String) throws {
        let (straight, make) = try start(name)
        let expected = try run(make(), on: straight, steps: 0..<4)

        let weight = try start(name).weight
        let first = make()
        _ = try run(first, on: weight, steps: 0..<2)
        let saved = first.state.export([("dense/kernel", weight)])
        let second = make()
        try second.state.restore(tensors: saved.tensors, steps: saved.steps, [("dense/kernel", weight)], initial: second.initialSlots)
        #expect(try run(second, on: weight, steps: 2..<4) == Array(expected[2...]), "bit-identical after a restore")

        #expect(throws: OptimizerStateError.self) {
            try make().state.restore(tensors: saved.tensors, steps: saved.steps, [("other/kernel", weight)], initial: second.initialSlots)
        }
    }

    @Test func learningRateMultiplierScalesTheRate() throws {
        let slow = try start("sgd").weight, reference = try start("sgd").weight
        slow.learningRateMultiplier = 0.1
        let a = try run(SGD(learningRate: 0.1, momentum: 0.9), on: slow, steps: 0..<4)
        let b = try run(SGD(learningRate: 0.01, momentum: 0.9), on: reference, steps: 0..<4)
        for (x, y) in zip(a.joined(), b.joined()) { #expect(abs(x - y) < 1e-6) }
    }
}

@Suite struct LearningRateScheduleTests {
    @Test func piecewiseFollowsLeNetsSchedule() throws {
        let schedule = try LearningRateSchedule.parse("piecewise:2=5e-4,5=2e-4,9=5e-5,1e-5", epochs: 20)
        // LeCun et al. 1998: 5e-4 for the first two passes, 2e-4 for the next three, 5e-5 for the next four, then 1e-5.
        let expected: [Float] = [5e-4, 5e-4, 2e-4, 2e-4, 2e-4, 5e-5, 5e-5, 5e-5, 5e-5, 1e-5, 1e-5]
        #expect((0..<11).map { schedule.rate(epoch: $0) } == expected)
        #expect(try LearningRateSchedule.parse("step:0.1,every=3,factor=0.5", epochs: 9).rate(epoch: 7) == 0.1 * 0.25)
        #expect(try LearningRateSchedule.parse("0.01", epochs: 1) == .constant(0.01))
        for bad in ["piecewise:5=1e-3,2=1e-4,1e-5", "piecewise:2=1e-3", "step:0.1", "cosine:", "linear:0.1", "-1", "fast"] {
            #expect(throws: ScheduleError.self, "\(bad)") { try LearningRateSchedule.parse(bad, epochs: 5) }
        }
    }

    @Test func cosineMatchesKerasCosineDecay() throws {
        let keras = try #require(OptimizerFixtures.shared.schedules["cosine_0.01_10_alpha_0.1"])
        let schedule = try LearningRateSchedule.parse("cosine:0.01,alpha=0.1", epochs: 10)
        for (step, expected) in keras.enumerated() {
            #expect(abs(schedule.rate(epoch: step) - expected) < 1e-8, "epoch \(step)")
        }
        // Within an epoch the rate moves with progress; warm-up rises linearly to the schedule's value.
        #expect(schedule.rate(epoch: 4, progress: 0.5) < schedule.rate(epoch: 4) && schedule.rate(epoch: 4, progress: 0.5) > schedule.rate(epoch: 5))
        let warm = LearningRateSchedule.warmup(epochs: 2, then: .constant(0.1))
        #expect(warm.rate(epoch: 0, progress: 0.5) == 0.025 && warm.rate(epoch: 1, progress: 0.5) == 0.075 && warm.rate(epoch: 2) == 0.1)
    }
}
