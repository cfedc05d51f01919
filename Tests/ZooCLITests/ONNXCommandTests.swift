import Foundation
import Testing
import ZooTestSupport
import Zoo

/// `zoo convert --to onnx` on what zoo finetune wrote, checked in ONNX Runtime against `zoo predict`.
@Suite struct ONNXCommandTests {
    @Test(arguments: ["features", "finetune"])
    func exportsWhatFinetuneWroteAndPredictsAsZooDoes(_ mode: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run"), model = folder.appendingPathComponent("lenet.onnx")
        let trained = try finetune(try exampleLeNet(in: folder), out: run, ["--mode", mode, "--epochs", "1"], cache: folder)
        #expect(trained.status == 0, "\(trained.stderr)")
        let weights = run.appendingPathComponent("weights.safetensors")
        let exported = try runZoo(["convert", weights.path, "--to", "onnx", "-o", model.path, "--json"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let wrongClasses = try runZoo(["convert", weights.path, "--to", "onnx", "--classes", "3", "-o", folder.appendingPathComponent("x.onnx").path])
        #expect(wrongClasses.status == 1 && wrongClasses.stderr.contains("the classifier has 5 classes, not the 3 --classes asks for"), "\(wrongClasses.stderr)")
        let summary = try #require(try json(exported.stdout) as? [String: Any])
        #expect(summary["outputs"] as? String == "probabilities" && summary["classes"] as? Int == 5, "\(summary)")

        // The images as zoo predict prepares them, through ONNX Runtime; the probabilities must be predict's.
        let images = ["4-coat-1.png", "7-sneaker-1.png", "9-ankle-boot-1.png"].map { repository.appendingPathComponent("examples/images/\($0)") }
        let preparation = try Network(try Plugins.weightFormats.read(weights), file: weights.path, backbones: Plugins.backbones).preparation
        let input = preparation.batch(try images.map { try ImageCodec.decode(contentsOf: $0) })
        let inputFile = folder.appendingPathComponent("input.f32")
        try input.withUnsafeBufferPointer { try Data(buffer: $0).write(to: inputFile) }
        let onnx = try runProcess(repository.appendingPathComponent("tools/python"),
                                  [repository.appendingPathComponent("tools/onnx/run.py").path, model.path, inputFile.path, folder.appendingPathComponent("out").path],
                                  environment: ProcessInfo.processInfo.environment)
        #expect(onnx.status == 0, "\(onnx.stderr)")
        let report = try #require(try json(onnx.stdout) as? [String: Any])
        let metadata = try #require(report["metadata"] as? [String: String])
        #expect(metadata["zoo.class_names"] == #"["Pullover","Coat","Shirt","Sneaker","Ankle boot"]"#, "\(metadata)")
        #expect(metadata["zoo.architecture"] == "lenet5-relu" && metadata["zoo.preprocessing"] == "unit" && metadata["zoo.input_layout"] == "NHWC")
        let probabilities = try Data(contentsOf: folder.appendingPathComponent("out.probabilities.f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(probabilities.count == 15)

        let predicted = try runZoo(["predict", "--weights", weights.path, "--json"] + images.map(\.path))
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let results = try #require(try json(predicted.stdout) as? [[String: Any]])
        for (row, result) in results.enumerated() {
            for entry in try #require(result["top"] as? [[String: Any]]) {
                let zoo = entry["probability"] as! Double, runtime = Double(probabilities[row * 5 + (entry["class"] as! Int)])
                #expect(abs(zoo - runtime) <= 1e-5, "image \(row) class \(entry["class"]!): zoo predict \(zoo), ONNX Runtime \(runtime)")
            }
        }
    }

    @Test func refusesWhatItCannotExport() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let keras = repository.appendingPathComponent("examples/lenet5-relu_fashion_0-1-3-5-8.h5").path, out = folder.appendingPathComponent("x.onnx")
        let none = try runZoo(["convert", keras, "--arch", "none", "--to", "onnx", "-o", out.path])
        #expect(none.status == 1 && none.stderr.contains("--arch none keeps only the file's arrays"), "\(none.stderr)")
        let opset = try runZoo(["convert", keras, "--to", "onnx", "--opset", "12", "-o", out.path])
        #expect(opset.status != 0 && opset.stderr.contains("--opset must be within 13–21"), "\(opset.stderr)")
        let layout = try runZoo(["convert", keras, "--nchw", "-o", out.path])
        #expect(layout.status != 0 && layout.stderr.contains("apply to --to onnx only"), "\(layout.stderr)")
        let batch = try runZoo(["convert", keras, "--to", "onnx", "--batch", "0", "-o", out.path])
        #expect(batch.status != 0 && batch.stderr.contains("--batch must be a positive number or 'dynamic'"), "\(batch.stderr)")
        let names = folder.appendingPathComponent("three.txt")
        try "a\nb\nc\n".write(to: names, atomically: true, encoding: .utf8)
        let labels = try runZoo(["convert", keras, "--to", "onnx", "--labels", names.path, "-o", out.path])
        #expect(labels.status == 1 && labels.stderr.contains("names 3 classes, but the weights have 5"), "\(labels.stderr)")
        // Class names for a network without a classifier.
        let notop = folder.appendingPathComponent("lenet5-notop.safetensors")
        let features = try Plugins.backbones.backbone(named: "lenet5").build(BackboneOptions(includeTop: false))
        _ = try SafetensorsFormat().write(features.weightBundle(metadata: [MetadataKey.architecture: "lenet5", MetadataKey.classes: "none"]), to: notop)
        let noClassifier = try runZoo(["convert", notop.path, "--to", "onnx", "--labels", names.path, "-o", out.path])
        #expect(noClassifier.status == 1 && noClassifier.stderr.contains("the network has no classifier"), "\(noClassifier.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path), "no output after a refusal")
    }
}

/// tools/onnx/run.py (onnx.checker, then ONNX Runtime) on `model` with `input`, working in `folder`: each output's
/// name, shape and values, in the model's order, and its metadata.
func onnxRuntime(_ model: URL, input: Tensor, in folder: URL) throws -> (outputs: [(name: String, shape: [Int], values: [Float])], metadata: [String: String]) {
    let raw = folder.appendingPathComponent("onnx-input.f32")
    try input.withUnsafeBufferPointer { try Data(buffer: $0).write(to: raw) }
    let prefix = folder.appendingPathComponent("onnx-output")
    let run = try runProcess(repository.appendingPathComponent("tools/python"), [repository.appendingPathComponent("tools/onnx/run.py").path,
                             model.path, raw.path, prefix.path], environment: ProcessInfo.processInfo.environment)
    guard run.status == 0 else { throw MissingFixture(name: "tools/onnx/run.py failed (status \(run.status)): \(run.stderr)") }
    let report = try #require(try json(run.stdout) as? [String: Any])
    let outputs = try (try #require(report["outputs"] as? [[String: Any]])).map { output in
        let name = try #require(output["name"] as? String), shape = try #require(output["shape"] as? [Int])
        let values = try Data(contentsOf: URL(fileURLWithPath: prefix.path + ".\(name).f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (name, shape, values)
    }
    return (outputs, report["metadata"] as? [String: String] ?? [:])
}

/// Largest |a − b| of two arrays of values (`Tensor.maxAbsoluteDifference`: NaN where either holds a NaN), infinity
/// where their lengths differ: a comparison with a bound then fails, where `max()` would have passed over a NaN.
func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count, let x = try? Tensor(shape: [a.count], scalars: a), let y = try? Tensor(shape: [b.count], scalars: b) else {
        return .infinity
    }
    return x.maxAbsoluteDifference(y)
}
