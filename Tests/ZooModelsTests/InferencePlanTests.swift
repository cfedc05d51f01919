import Foundation
import Testing
import ZooCore
import ZooModels
import ZooNN
import ZooTensor

/// Every plugin's inference plan (folded, fused, preplanned on oneDNN) against Keras on the same weights, within the
/// fidelity bound: the fixture's batch of two with its feature taps, and its first image alone.
@Suite(.serialized) struct InferencePlanTests {
    @Test(arguments: BackboneFixtures.manifest.cases.map(\.name))
    func planMatchesKeras(_ name: String) throws {
        let fixture = BackboneFixtures.manifest.cases.first { $0.name == name }!
        let (backbone, options) = KerasFidelityTests.plugin(for: name)
        let model = try backbone.build(options)
        try model.load(try formats.read(BackboneFixtures.folder.appendingPathComponent(fixture.weights)))
        let input = try BackboneFixtures.tensor(fixture.arrays["input"]!)
        let expected = try BackboneFixtures.tensor(fixture.arrays["output"]!)
        let plan = try Runtime.using(try Runtime.dnnl.get()) { try model.plan(for: input.shape, taps: Set(fixture.taps)) }
        if model.layers.contains(where: { $0 is BatchNormalization }) { #expect(plan.fusedLayers > 0, "\(name): nothing was fused") }
        let result = try plan.run(input)
        #expect(result.outputs[0].shape == expected.shape)
        #expect(deviation(result.outputs[0], expected) <= 1e-4, "\(name): planned output deviates by \(deviation(result.outputs[0], expected))")
        for tap in fixture.taps {
            let want = try BackboneFixtures.tensor(fixture.arrays["tap_\(tap)"]!)
            let got = result.taps[tap]!
            #expect(got.shape == want.shape && deviation(got, want) <= 1e-4, "\(name): planned tap \(tap) deviates by \(deviation(got, want))")
        }
        // One image, through the path inference takes by default (gradients off on oneDNN).
        let first = try Tensor(shape: [1] + input.shape.dropFirst(), scalars: Array(input.scalars.prefix(input.count / input.shape[0])))
        let want = try Tensor(shape: [1] + expected.shape.dropFirst(), scalars: Array(expected.scalars.prefix(expected.count / expected.shape[0])))
        let single = try Runtime.using(try Runtime.dnnl.get()) { try model.predict(first) }
        #expect(deviation(single, want) <= 1e-4, "\(name): planned output of one image deviates by \(deviation(single, want))")
    }

    /// At batch 1, each concatenation of block copies has its inputs written straight into their slices of its output
    /// (DenseNet's blocks become one buffer each), with outputs and feature taps still Keras's; where the CPU's
    /// convolutions run channel-blocked layouts (AVX2) that is every concatenation of DenseNet and GoogLeNet. At
    /// batch 2 the slices are not contiguous, and none is.
    @Test(arguments: ["densenet121_notop_64", "googlenet_notop_96"])
    func concatenationsAtBatchOneAreWrittenInPlace(_ name: String) throws {
        let fixture = BackboneFixtures.manifest.cases.first { $0.name == name }!
        let (backbone, options) = KerasFidelityTests.plugin(for: name)
        let model = try backbone.build(options)
        try model.load(try formats.read(BackboneFixtures.folder.appendingPathComponent(fixture.weights)))
        let concatenations = try model.trace(batch: 1).nodes.filter { if case .concatenate = $0.layer.computation { true } else { false } }.count
        let input = try BackboneFixtures.tensor(fixture.arrays["input"]!)
        func first(_ t: Tensor) throws -> Tensor {
            try Tensor(shape: [1] + t.shape.dropFirst(), scalars: Array(t.scalars.prefix(t.count / t.shape[0])))
        }
        try Runtime.using(try Runtime.dnnl.get()) {
            let plan = try model.plan(for: [1] + input.shape.dropFirst(), taps: Set(fixture.taps))
            #expect(concatenations > 0 && plan.concatenationsWrittenInPlace == plan.blockCopyConcatenations,
                    "\(name): \(plan.concatenationsWrittenInPlace) of \(plan.blockCopyConcatenations) block-copy concatenations in place")
            if DNNLBackend.instructionSet.hasPrefix("avx2") {
                #expect(plan.blockCopyConcatenations == concatenations, "\(name): on AVX2 every concatenation copies blocks")
            }
            #expect(try model.plan(for: input.shape).concatenationsWrittenInPlace == 0)
            let result = try plan.run(try first(input))
            let expected = try first(try BackboneFixtures.tensor(fixture.arrays["output"]!))
            #expect(deviation(result.outputs[0], expected) <= 1e-4, "\(name): output deviates by \(deviation(result.outputs[0], expected))")
            for tap in fixture.taps {
                let want = try first(try BackboneFixtures.tensor(fixture.arrays["tap_\(tap)"]!))
                #expect(deviation(result.taps[tap]!, want) <= 1e-4, "\(name): tap \(tap) deviates by \(deviation(result.taps[tap]!, want))")
            }
        }
    }

    @Test func aPlanRefusesAnotherShape() throws {
        let (backbone, options) = KerasFidelityTests.plugin(for: "resnet18_notop_64")
        let model = try backbone.build(options)
        let plan = try Runtime.using(try Runtime.dnnl.get()) { try model.plan(for: [2, 64, 64, 3]) }
        #expect { try plan.run(Tensor(zeros: [1, 64, 64, 3])) } throws: { error in
            "\(error)".contains("was built for [2, 64, 64, 3], got [1, 64, 64, 3]")
        }
    }

    @Test func aChangedWeightRecompilesThePlan() throws {
        let (backbone, options) = KerasFidelityTests.plugin(for: "resnet18_notop_64")
        let model = try backbone.build(options)
        var generator = SeededGenerator(seed: 5)
        let images = Tensor.uniform([1, 64, 64, 3], using: &generator)
        try Runtime.using(try Runtime.dnnl.get()) {
            let before = try model.plan(for: images.shape)
            let bn = model.layer(named: "conv1_bn") as! BatchNormalization
            bn.gamma.value = Tensor(shape: bn.gamma.shape, repeating: 2)
            #expect(!before.isCurrent)
            let planned = try model.predict(images)
            let eager = try model(Variable(images)).main.value  // gradients on: eager
            #expect(deviation(planned, eager) <= 1e-4)
            #expect(try model.plan(for: images.shape) !== before)
        }
    }

    /// Training follows a pass that records gradients; the plans (with their folded copies of the weights) go then,
    /// not at the next inference.
    @Test func aPassThatRecordsGradientsReleasesThePlans() throws {
        let (backbone, options) = KerasFidelityTests.plugin(for: "resnet18_notop_64")
        let model = try backbone.build(options)
        var generator = SeededGenerator(seed: 6)
        let images = Tensor.uniform([1, 64, 64, 3], using: &generator)
        weak var plan: InferencePlan?
        try Runtime.using(try Runtime.dnnl.get()) {
            plan = try model.plan(for: images.shape)
            _ = try model.predict(images)
            #expect(plan != nil, "inference keeps the plan")
            _ = try model(Variable(images))  // gradients on
            #expect(plan == nil, "a pass recording gradients releases it")
        }
    }

    @Test func aModelThatComputesBetweenItsLayersRunsEagerly() throws {
        var generator = SeededGenerator(seed: 9)
        let conv = Conv2D("conv", inputChannels: 3, filters: 4, kernelSize: (3, 3), generator: &generator)
        let dense = Dense("dense", inputs: 4 * 6 * 6, units: 5, generator: &generator)
        let model = Model(name: "mixed", inputShape: [8, 8, 3], layers: [conv, dense], tapNames: []) { context, x in
            [try context.call(dense, flatten(context.call(conv, x)))]  // flatten is no layer: not traceable
        }
        let images = Tensor.uniform([2, 8, 8, 3], using: &generator)
        try Runtime.using(try Runtime.dnnl.get()) {
            #expect(throws: GraphTraceError.self) { try model.plan(for: images.shape) }
            let inference = try model.predict(images)
            let eager = try model(Variable(images)).main.value
            #expect(inference == eager)
        }
    }

    @Test func onePlanRunsOnSeveralThreadsAtOnce() throws {
        let (backbone, options) = KerasFidelityTests.plugin(for: "resnet18_notop_64")
        let model = try backbone.build(options)
        var generator = SeededGenerator(seed: 3)
        let batches = (0..<4).map { _ in Tensor.uniform([2, 64, 64, 3], using: &generator) }
        let dnnl = try Runtime.dnnl.get()
        let plan = try Runtime.using(dnnl) { try model.plan(for: [2, 64, 64, 3]) }
        let serial = try batches.map { try plan.run($0).outputs[0] }
        let results = UncheckedSendable(ResultBox(count: batches.count))
        let shared = UncheckedSendable((plan, batches))
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let (plan, batches) = shared.value
            results.value.set(index % batches.count, Result { try plan.run(batches[index % batches.count]).outputs[0] })
        }
        for (index, expected) in serial.enumerated() {
            for result in results.value.results[index] { #expect(try result.get() == expected, "batch \(index) differs from its serial run") }
        }
    }

    final class ResultBox {
        private let lock = NSLock()
        private(set) var results: [[Result<Tensor, Error>]]
        init(count: Int) { results = Array(repeating: [], count: count) }
        func set(_ index: Int, _ result: Result<Tensor, Error>) { lock.withLock { results[index].append(result) } }
    }
}
