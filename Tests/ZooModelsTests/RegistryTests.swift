import Foundation
import Testing
import ZooCore
import ZooModels
import ZooNN
import ZooTensor

@Suite struct RegistryTests {
    @Test func findsByNameAndAlias() throws {
        #expect(backbones.find("vgg16")?.name == "vgg16")
        #expect(backbones.find("VGG-D")?.name == "vgg16")
        #expect(backbones.find("vgg_e")?.name == "vgg19")
        #expect(backbones.find("LeNet-5")?.name == "lenet5")
        do {
            _ = try backbones.backbone(named: "vgg61")
            Issue.record("found a backbone named vgg61")
        } catch {
            #expect("\(error)".hasPrefix("no backbone named 'vgg61'; did you mean vgg11, "), "\(error)")  // one edit away
        }
    }

    /// A third-party plugin registers through the same call as the built-ins.
    struct TinyNet: Backbone {
        let name = "tinynet", family = "Tiny", paper = "—", year = 2026
        let defaultInputSize = (8, 8), inputChannels = 1
        let preprocessing = Preprocessing.none
        let classifierLayers = ["predictions"]
        func build(_ options: BackboneOptions) throws -> Model {
            var g = SeededGenerator(seed: options.seed)
            return .sequential(name: name, inputShape: [8, 8, 1], layers: [
                Layers.flatten("flatten"), Dense("predictions", inputs: 64, units: options.classes, generator: &g),
            ], tapNames: [])
        }
    }

    @Test func thirdPartyPluginsRegister() throws {
        let registry = builtInBackbones()
        registry.register(TinyNet())
        let model = try registry.backbone(named: "tinynet").build(BackboneOptions(classes: 3))
        #expect(try model(Variable(Tensor(zeros: [2, 8, 8, 1]))).main.shape == [2, 3])
        #expect(registry.all.count == builtInBackbones().all.count + 1)
    }

    @Test func profileCountsParametersAndFlops() throws {
        let lenet = try LeNet5().build(BackboneOptions(classes: 10))
        let rows = try lenet.profile()
        #expect(rows.map(\.name) == ["c1", "s2", "c3", "s4", "c5", "flatten", "f6", "predictions"])
        #expect(rows.map(\.outputShape) == [[28, 28, 6], [14, 14, 6], [10, 10, 16], [5, 5, 16], [1, 1, 120], [120], [84], [10]])
        // C1: 28·28·6 outputs × 5·5·1 taps × 2; C3: 10·10·16 × 5·5·6 × 2; C5: 120 × 5·5·16 × 2; F6, output: 2·in·out.
        let expected = 2.0 * Double(28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 120 * 400 + 120 * 84 + 84 * 10)
        #expect(rows.reduce(0) { $0 + $1.flops } == expected)
        #expect(lenet.parameterCount == 6 * 26 + 16 * 151 + 120 * 401 + 84 * 121 + 10 * 85)
        #expect(try lenet.summary().contains("c5 (Conv2D)"))
    }

    @Test func unknownTapListsTheValidOnes() throws {
        let vgg = try VGG.a.build(BackboneOptions(includeTop: false, inputSize: (32, 32)))
        #expect(throws: ShapeError("vgg11", "no layer named 'block9_pool' to tap; feature taps: block1_pool, block2_pool, block3_pool, block4_pool, block5_pool")) {
            try vgg(Variable(Tensor(zeros: [1, 32, 32, 3])), taps: ["block9_pool"])
        }
    }

    @Test func resetClassifierKeepsTheBackbone() throws {
        let model = try LeNet5().build(BackboneOptions(classes: 10))
        let before = model.layer(named: "c5")!.weights.map(\.value)
        try model.resetClassifier(classes: 3)
        #expect(try model(Variable(Tensor(zeros: [2, 32, 32, 1]))).main.shape == [2, 3])
        #expect(model.layer(named: "c5")!.weights.map(\.value) == before)
        #expect(throws: ShapeError.self) { try LeNet5().build(BackboneOptions(includeTop: false)).resetClassifier(classes: 3) }
    }

    @Test func googLeNetAuxiliaryOutputsOnlyInTraining() throws {
        let model = try GoogLeNet().build(BackboneOptions(classes: 7, auxiliaryClassifiers: true))
        let x = Variable(Tensor(zeros: [1, 224, 224, 3]))
        #expect(try model(x, training: true).outputs.map(\.shape) == [[1, 7], [1, 7], [1, 7]])
        #expect(try model(x).outputs.map(\.shape) == [[1, 7]])
        try model.resetClassifier(classes: 4)  // the main head and both auxiliary ones
        #expect(try model(x, training: true).outputs.map(\.shape) == [[1, 4], [1, 4], [1, 4]])
    }

    @Test func invalidOptionsAreExplained() {
        #expect(throws: BackboneError.invalidOptions("lenet5: input 16×16 is too small; it needs at least 32×32")) {
            try LeNet5().build(BackboneOptions(inputSize: (16, 16)))
        }
        #expect(throws: BackboneError.invalidOptions("vgg16: pooling applies only without the top (includeTop: false)")) {
            try VGG.d.build(BackboneOptions(pooling: .average))
        }
        #expect(throws: BackboneError.invalidOptions("resnet50: classes must be positive, got 0")) {
            try ResNet.resnet50.build(BackboneOptions(classes: 0))
        }
        #expect(throws: BackboneError.invalidOptions("googlenet: input 128×128 is too small; it needs 64×64, and 224×224 with the top")) {
            try GoogLeNet().build(BackboneOptions(inputSize: (128, 128)))
        }
    }
}
