import Foundation
import Testing
import ZooTestSupport
import Zoo

/// `zoo predict FILE x.npy --output` on every keras.applications family as a user saved it (see
/// KerasApplicationsTests): the file's own numbers, logits where its config ends without a softmax, also for the
/// families Zoo registers as backbones (ResNet50, VGG16, DenseNet121) and at the size the file's config declares;
/// and `zoo convert --to onnx` of each, run in ONNX Runtime.
@Suite struct KerasApplicationsCommandTests {
    @Test(arguments: ApplicationFixtures.cases.map(\.name))
    func predictGivesKerassLogits(_ name: String) throws {
        let fixture = try #require(ApplicationFixtures.cases.first { $0.name == name })
        let folder = ApplicationFixtures.folder
        let scratch = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("out.npy")
        let run = try runZoo(["predict", "--weights", folder.appendingPathComponent(fixture.file).path,
                              folder.appendingPathComponent("\(name).input.npy").path, "--output", output.path])
        #expect(run.status == 0, "\(name): \(run.stderr)")
        let zoo = try NumPyArray.read(output), keras = try NumPyArray.read(folder.appendingPathComponent("\(name).output.npy"))
        #expect(zoo.shape == keras.shape, "\(name): \(zoo.shape) against \(keras.shape)")
        let deviation = zoo.maxAbsoluteDifference(keras) / max(1, keras.maxMagnitude)
        #expect(deviation <= 1e-4, "\(name): \(deviation)")

        // `zoo convert --to onnx` writes the same network, at the size the file declares: ONNX Runtime gives Keras's logits.
        let model = scratch.appendingPathComponent("model.onnx")
        let exported = try runZoo(["convert", folder.appendingPathComponent(fixture.file).path, "--to", "onnx", "-o", model.path])
        #expect(exported.status == 0, "\(name): \(exported.stderr)")
        let input = try NumPyArray.read(folder.appendingPathComponent("\(name).input.npy"))
        let onnx = try #require(try onnxRuntime(model, input: input, in: scratch).outputs.first)
        #expect(onnx.shape == keras.shape, "\(name) in ONNX Runtime: \(onnx.shape)")
        let onnxDeviation = largestDifference(onnx.values, keras.scalars)
        #expect(onnxDeviation <= 1e-4 * max(1, keras.maxMagnitude), "\(name) in ONNX Runtime: \(onnxDeviation)")
    }
}
