import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooModels
import ZooTensor

/// Loading the wrong file fails with every offending layer named.
@Suite struct LoadErrorTests {
    func weights(_ name: String) throws -> WeightBundle {
        try formats.read(BackboneFixtures.folder.appendingPathComponent("\(name).h5"))
    }

    @Test func wrongArchitecture() throws {
        _ = BackboneFixtures.manifest
        let model = try VGG.d.build(BackboneOptions(includeTop: false, inputSize: (64, 64)))
        do {
            try model.load(try weights("vgg19_notop_64"))
            Issue.record("VGG19 weights loaded into VGG16")
        } catch let error as LoadError {
            #expect(error.problems.contains { $0.contains("unexpected layer 'block3_conv4'") }, "\(error)")
            #expect(error.problems.contains { $0.contains("unexpected layer 'block5_conv4'") }, "\(error)")
        }
    }

    @Test func missingLayerAndWrongShape() throws {
        _ = BackboneFixtures.manifest
        var bundle = try weights("vgg_a_notop_64")
        bundle.layers.removeAll { $0.name == "block2_conv1" }
        let index = bundle.layers.firstIndex { $0.name == "block4_conv2" }!
        let kernel = bundle.layers[index].arrays[0]
        bundle.layers[index].arrays[0] = WeightArray(name: kernel.name, shape: [3, 3, 512, 256], tensor: Tensor(zeros: [3, 3, 512, 256]))
        let model = try VGG.a.build(BackboneOptions(includeTop: false, inputSize: (64, 64)))
        let before = model.weights.map(\.value)
        do {
            try model.load(bundle)
            Issue.record("a file with a missing layer loaded")
        } catch let error as LoadError {
            #expect(error.problems.contains("missing layer 'block2_conv1' (Conv2D, expects [3, 3, 64, 128], [128])"), "\(error)")
            #expect(error.problems.contains("layer 'block4_conv2' kernel: the file has [3, 3, 512, 256], the model expects [3, 3, 512, 512]"), "\(error)")
        }
        #expect(model.weights.map(\.value) == before, "nothing is assigned unless everything fits")
    }

    @Test func classifierForOtherClassesCanBeLeftOut() throws {
        _ = BackboneFixtures.manifest
        let model = try LeNet5().build(BackboneOptions(classes: 5))
        #expect(throws: LoadError.self) { try model.load(try weights("lenet5")) }
        let report = try model.load(try weights("lenet5"), skipping: ["predictions"])
        #expect(report.layers == 4 && report.skipped == ["predictions"])
    }

    @Test func renamedLayersLoadByOrder() throws {
        _ = BackboneFixtures.manifest
        var bundle = try weights("lenet5")
        bundle.layers = bundle.layers.map { LayerWeights(name: "old_" + $0.name, arrays: $0.arrays) }
        let report = try LeNet5().build(BackboneOptions(classes: 10)).load(bundle)
        #expect(report.matching == .byOrder && report.layers == 5)
    }
}
