import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooModels
import ZooNN
import ZooONNX
import ZooTensor
import ZooTestSupport

/// Every keras.applications family of the pinned Keras (ConvNeXt, DenseNet, EfficientNet and EfficientNetV2,
/// InceptionResNetV2, InceptionV3, MobileNet, MobileNetV2, MobileNetV3, NASNet, ResNet and ResNetV2, VGG, Xception),
/// randomized and saved as a `.keras` archive (some also by tf-keras 2 as legacy HDF5), built from the file's own
/// config: Keras's logits within 1e-4 · max(1, max|ref|), eagerly on oneDNN, through an inference plan and exported
/// to ONNX in ONNX Runtime, with Keras's parameter count.
@Suite struct KerasApplicationsTests {
    @Test(arguments: ApplicationFixtures.cases.map(\.name))
    func matchesKeras(_ name: String) throws {
        let fixture = try #require(ApplicationFixtures.cases.first { $0.name == name })
        let folder = ApplicationFixtures.folder
        let bundle = try formats.read(folder.appendingPathComponent(fixture.file))
        let config = try KerasModelConfig(json: try #require(bundle.metadata[MetadataKey.modelConfig]))
        let model = try KerasModel.build(config: config, limits: KerasBuildLimits(loading: bundle.parameterCount))
        #expect(try model.load(bundle).matching == .byName)
        #expect(model.parameterCount == fixture.parameters, "\(name): \(model.parameterCount) parameters, Keras counts \(fixture.parameters)")
        let input = try NumPyArray.read(folder.appendingPathComponent("\(name).input.npy"))
        let expected = try NumPyArray.read(folder.appendingPathComponent("\(name).output.npy"))
        let eager = try Gradients.off { try Runtime.using(try Runtime.dnnl.get()) { try model(Variable(input)).main.value } }
        #expect(eager.shape == expected.shape && deviation(eager, expected) <= 1e-4, "\(name) eagerly: \(deviation(eager, expected))")
        let planned = try model.plan(for: input.shape).run([input]).outputs[0]
        #expect(deviation(planned, expected) <= 1e-4, "\(name) through a plan: \(deviation(planned, expected))")
        let exported = try ONNXExport.model(model)
        let run = try #require(try ONNXRuntime.run(exported.bytes, input: input).outputs.first).value
        #expect(run.shape == expected.shape && deviation(run, expected) <= 1e-4, "\(name) in ONNX Runtime: \(run.shape) \(deviation(run, expected))")
    }
}
