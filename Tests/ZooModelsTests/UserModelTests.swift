import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooModels
import ZooNN
import ZooONNX
import ZooTensor

/// Keras models of the kinds people bring that are not plain image classifiers (tools/keras/make_user_model_fixtures.py:
/// U-Nets with Conv2DTranspose and with UpSampling2D, a convolutional autoencoder, a colouriser with LeakyReLU
/// objects as activations, a DCGAN generator from a latent vector, MTCNN's P-Net with free height and width and two
/// 4-D outputs, a residual denoiser with free size, a classifier without a Dense layer, models on (28, 28) and flat
/// inputs, augmentation layers inside the model, a Teachable-Machine nesting, a channels-first net with two heads),
/// saved by Keras 3 (.h5 and .keras) and tf-keras 2. Each is built from its own config and must give Keras's outputs
/// on both backends, through an inference plan and exported to ONNX, in ONNX Runtime.
@Suite struct UserModelTests {
    struct Manifest: Decodable {
        struct Case: Decodable {
            let name: String, files: [String], inputs: [[Int]], outputs: [[Int]], output_names: [String], parameters: Int
            let channels_first: Bool
        }
        let cases: [Case]
    }
    static let folder = repository.appendingPathComponent("Tests/ZooModelsTests/Fixtures/user-models")
    static let manifest = try! JSONDecoder().decode(Manifest.self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))
    static let files = manifest.cases.flatMap { fixture in fixture.files.map { "\(fixture.name)/\($0)" } }

    /// Keras's arrays for a case, channels-last as Zoo runs them.
    static func arrays(_ fixture: Manifest.Case, _ kind: String) throws -> [Tensor] {
        let count = kind == "input" ? fixture.inputs.count : fixture.outputs.count
        return try (0..<count).map { index in
            let array = try NumPyArray.read(folder.appendingPathComponent("\(fixture.name).\(kind)\(index).npy"))
            return fixture.channels_first && array.shape.count == 4 ? try permute(Variable(array), [2, 3, 1]).value : array
        }
    }

    @Test(arguments: files)
    func matchesKeras(_ entry: String) throws {
        let parts = entry.split(separator: "/").map(String.init)
        let fixture = try #require(Self.manifest.cases.first { $0.name == parts[0] })
        let bundle = try formats.read(Self.folder.appendingPathComponent(parts[1]))
        let config = try KerasModelConfig(json: try #require(bundle.metadata[MetadataKey.modelConfig]))
        let inputs = try Self.arrays(fixture, "input"), expected = try Self.arrays(fixture, "output")
        let size = inputs[0].shape.count == 4 ? (inputs[0].shape[1], inputs[0].shape[2]) : nil
        let model = try KerasModel.build(config: config, inputSize: size, limits: KerasBuildLimits(loading: bundle.parameterCount))
        #expect(try model.load(bundle).matching == .byName)
        #expect(model.parameterCount == fixture.parameters, "\(entry): \(model.parameterCount) parameters, Keras counts \(fixture.parameters)")
        if fixture.outputs.count > 1 { #expect(model.outputNames == fixture.output_names, "\(entry): outputs \(model.outputNames)") }
        func compare(_ outputs: [Tensor], _ how: String) {
            #expect(outputs.count == expected.count, "\(entry) \(how): \(outputs.count) outputs, Keras has \(expected.count)")
            for (index, (output, keras)) in zip(outputs, expected).enumerated() {
                #expect(output.shape == keras.shape && deviation(output, keras) <= 1e-4, "\(entry) \(how), output \(index): \(output.shape) \(deviation(output, keras))")
            }
        }
        for backend in [try Runtime.dnnl.get(), Runtime.reference] as [any Backend] {
            let result = try Runtime.using(backend) { try Gradients.off { try model(inputs.map { Variable($0) }) } }
            compare(result.outputs.map(\.value), "on \(backend.name)")
        }
        if inputs[0].shape.count == 4 {
            compare(try model.plan(for: inputs.map(\.shape)).run(inputs).outputs, "through an inference plan")
        }
        // Exported to ONNX (once per network: its files differ only in their container), ONNX Runtime gives Keras's outputs.
        if parts[1] == fixture.files[0] {
            let exported = try ONNXExport.model(model)
            compare(try ONNXRuntime.run(exported.bytes, input: inputs[0]).outputs.map(\.value), "through ONNX Runtime")
        }
    }

    /// "Augmentation inside the model": the random layers are the identity at inference and augment in a training
    /// pass, seeded as a fine-tuning step seeds them (every layer reseeded from the run's seed and position): the same
    /// seeds draw the same images, other seeds other ones, and the values stay in the image's range.
    @Test func augmentationLayersAugmentInTrainingAsSeeded() throws {
        let bundle = try formats.read(Self.folder.appendingPathComponent("augmented_keras3.h5"))
        let config = try KerasModelConfig(json: try #require(bundle.metadata[MetadataKey.modelConfig]))
        let model = try KerasModel.build(config: config, limits: KerasBuildLimits(loading: bundle.parameterCount))
        try model.load(bundle)
        let random = model.layers.compactMap { $0 as? RandomImageLayer }
        #expect(random.map(\.name) == ["flip", "rotate", "zoom", "translate", "contrast"])
        var generator = SeededGenerator(seed: 5)
        let images = Tensor.uniform([4, 32, 32, 3], low: 0, high: 255, using: &generator)
        func augmented(_ seed: UInt64, training: Bool) throws -> Tensor {
            for (index, layer) in model.layers.enumerated() { (layer as? Reseedable)?.reseed(seed &+ UInt64(index)) }
            return try #require(try Gradients.off { try model(Variable(images), training: training, taps: ["contrast"]) }.taps["contrast"]).value
        }
        #expect(try augmented(1, training: false).scalars == images.scalars)
        let first = try augmented(1, training: true), again = try augmented(1, training: true), other = try augmented(2, training: true)
        #expect(first.scalars == again.scalars)
        #expect(first.scalars != images.scalars && first.scalars != other.scalars)
        #expect(first.scalars.allSatisfy { $0 >= 0 && $0 <= 255 })
        for image in 0..<4 {
            let size = 32 * 32 * 3
            #expect(first.scalars[image * size..<(image + 1) * size] != images.scalars[image * size..<(image + 1) * size], "image \(image) passed unchanged")
        }
    }
}
