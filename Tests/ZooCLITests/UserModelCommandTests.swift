import Foundation
import Testing
import ZooTestSupport
import Zoo

/// `zoo info` and `zoo predict FILE inputs.npy --output` on every user-model fixture (Tests/ZooModelsTests/Fixtures/
/// user-models: U-Nets, autoencoders, a generator, a detector with free size and two outputs, models on (28, 28) and
/// flat inputs, augmentation layers, a Teachable-Machine nesting, a channels-first net with two heads), with no
/// --labels, the outputs read back against Keras's.
@Suite struct UserModelCommandTests {
    static let folder = repository.appendingPathComponent("Tests/ZooModelsTests/Fixtures/user-models")
    struct Case: Decodable, Sendable { let name: String, files: [String], inputs: [[Int]], output_names: [String], channels_first: Bool }
    struct Manifest: Decodable { let cases: [Case] }
    static let cases = try! JSONDecoder().decode(Manifest.self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json"))).cases
    static let files = cases.flatMap { fixture in fixture.files.map { "\(fixture.name)/\($0)" } }

    @Test(arguments: files)
    func predictWritesKerassOutputs(_ entry: String) throws {
        let parts = entry.split(separator: "/").map(String.init)
        let fixture = try #require(Self.cases.first { $0.name == parts[0] })
        let file = Self.folder.appendingPathComponent(parts[1]).path
        let outputNames = fixture.output_names, inputCount = fixture.inputs.count
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }

        let info = try runZoo(["info", file, "--json"])
        #expect(info.status == 0, "\(entry): \(info.stderr)")

        let inputs = (0..<inputCount).map { Self.folder.appendingPathComponent("\(parts[0]).input\($0).npy").path }
        let output = folder.appendingPathComponent("out.npy")
        let predicted = try runZoo(["predict", "--weights", file] + inputs + ["--output", output.path])
        #expect(predicted.status == 0, "\(entry): \(predicted.stderr)")
        for (index, name) in outputNames.enumerated() {
            let written = outputNames.count == 1 ? output : folder.appendingPathComponent("out.\(name).npy")
            let zoo = try NumPyArray.read(written)
            let keras = try NumPyArray.read(Self.folder.appendingPathComponent("\(parts[0]).output\(index).npy"))
            // A channels-first network's 4-D outputs come back channels-last.
            let comparable = fixture.channels_first && zoo.shape.count == 4 ? try permute(Variable(zoo), [3, 1, 2]).value : zoo
            #expect(comparable.shape == keras.shape, "\(entry) \(name): \(comparable.shape) against Keras's \(keras.shape)")
            let deviation = comparable.maxAbsoluteDifference(keras) / max(1, keras.maxMagnitude)
            #expect(deviation <= 1e-4, "\(entry) \(name): \(deviation)")
        }
    }

    /// A network without a classifier prints what each output is; one whose output ranks classes it has no names
    /// for prints class indices; --labels is only refused where there is nothing to name.
    @Test func printsWhatEachNetworkGives() throws {
        let unet = Self.folder.appendingPathComponent("unet_transpose_keras3.h5").path
        let input = Self.folder.appendingPathComponent("unet_transpose_keras3.input0.npy").path
        let printed = try runZoo(["predict", "--weights", unet, input])
        #expect(printed.status == 0 && printed.stdout.contains("[0]\n  mask  (32, 32, 1)  min "), "\(printed.stdout) \(printed.stderr)")
        let labelled = try runZoo(["predict", "--weights", unet, "--labels", unet, input])
        #expect(labelled.status == 1 && labelled.stderr.contains("has no classifier to name the classes of (its outputs: mask)"), "\(labelled.stderr)")

        let mlp = Self.folder.appendingPathComponent("mnist_mlp_tf_keras.h5").path
        let ranked = try runZoo(["predict", "--weights", mlp, "--top", "2", "--json", Self.folder.appendingPathComponent("mnist_mlp_tf_keras.input0.npy").path])
        #expect(ranked.status == 0, "\(ranked.stderr)")
        let results = try #require(try json(ranked.stdout) as? [[String: Any]])
        #expect(results.count == 2 && (results[0]["top"] as? [[String: Any]])?.count == 2 && (results[0]["top"] as? [[String: Any]])?.first?["label"] == nil,
                "\(ranked.stdout)")

        // A free-size network runs at each array's size; images need a size to run at.
        let detector = Self.folder.appendingPathComponent("face_proposals_keras3.h5").path
        let image = repository.appendingPathComponent("examples/images/0-t-shirt-top-1.png").path
        let unsized = try runZoo(["predict", "--weights", detector, image])
        #expect(unsized.status == 1 && unsized.stderr.contains("give the size to run at with --input HxW"), "\(unsized.stderr)")
        let sized = try runZoo(["predict", "--weights", detector, "--input", "24x36", image])
        #expect(sized.status == 0 && sized.stdout.contains("  face  (7, 13, 2)  min "), "\(sized.stdout) \(sized.stderr)")
    }

    /// Fine-tuning replaces a Dense classifier, and feature extraction reads what it read: a U-Net has neither, and
    /// is told so there (nothing written), while a head on one of its layers (--tap) trains.
    @Test func fineTuningAsksForAClassifierThereAndOnlyThere() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try Self.twoClasses(in: folder)
        let unet = Self.folder.appendingPathComponent("unet_transpose_keras3.h5").path
        let common = ["finetune", "--weights", unet, "--data", data.path, "--validation", "0", "--epochs", "1", "--batch", "2"]
        let finetune = try runZoo(common + ["--out", folder.appendingPathComponent("finetune").path], environment: ["ZOO_CACHE": folder.path])
        #expect(finetune.status == 1 && finetune.stderr.contains("does not come from a Dense classifier") && finetune.stderr.contains("--tap LAYER"),
                "\(finetune.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("finetune").path))
        let untapped = try runZoo(common + ["--mode", "features", "--out", folder.appendingPathComponent("features").path], environment: ["ZOO_CACHE": folder.path])
        #expect(untapped.status == 1 && untapped.stderr.contains("name the layer to read them from with --tap LAYER"), "\(untapped.stderr)")
        let tapped = try runZoo(common + ["--mode", "features", "--tap", "bottleneck", "--out", folder.appendingPathComponent("tapped").path],
                                environment: ["ZOO_CACHE": folder.path])
        #expect(tapped.status == 0, "\(tapped.stderr)")
    }

    /// A data folder of two classes, two example images each.
    static func twoClasses(in folder: URL) throws -> URL {
        let data = folder.appendingPathComponent("data")
        for (index, name) in ["sneaker", "coat"].enumerated() {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(name), withIntermediateDirectories: true)
            for copy in 0..<2 {
                let image = repository.appendingPathComponent("examples/images/\(index == 0 ? "7-sneaker" : "4-coat")-\(copy + 1).png")
                try FileManager.default.copyItem(at: image, to: data.appendingPathComponent("\(name)/\(copy).png"))
            }
        }
        return data
    }

    /// A model with augmentation layers fine-tunes, augmenting as seeded: two runs with one seed write the same
    /// weights, bit for bit, and another seed other ones.
    @Test func fineTuningAugmentsAsSeeded() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try Self.twoClasses(in: folder)
        let model = Self.folder.appendingPathComponent("augmented_keras3.h5").path
        func run(_ name: String, seed: Int) throws -> Data {
            let out = folder.appendingPathComponent(name)
            let result = try runZoo(["finetune", "--weights", model, "--data", data.path, "--validation", "0", "--epochs", "2", "--batch", "2",
                                     "--seed", String(seed), "--out", out.path], environment: ["ZOO_CACHE": folder.path])
            #expect(result.status == 0, "\(result.stderr)")
            return try Data(contentsOf: out.appendingPathComponent("weights.safetensors"))
        }
        let first = try run("first", seed: 7), again = try run("again", seed: 7), other = try run("other", seed: 8)
        #expect(first == again)
        #expect(first != other)
    }

    /// Networks on vectors and (28, 28) arrays export to ONNX too: ONNX Runtime gives Keras's outputs.
    @Test(arguments: ["tabular_keras3/tabular_keras3.keras", "mnist_mlp_tf_keras/mnist_mlp_tf_keras.h5"])
    func nonImageNetworksExportToONNX(_ entry: String) throws {
        let parts = entry.split(separator: "/").map(String.init)
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("model.onnx")
        let exported = try runZoo(["convert", Self.folder.appendingPathComponent(parts[1]).path, "--to", "onnx", "-o", model.path])
        #expect(exported.status == 0, "\(entry): \(exported.stderr)")
        let input = try NumPyArray.read(Self.folder.appendingPathComponent("\(parts[0]).input0.npy"))
        let keras = try NumPyArray.read(Self.folder.appendingPathComponent("\(parts[0]).output0.npy"))
        let first = try #require(try onnxRuntime(model, input: input, in: folder).outputs.first)
        let values = first.values
        #expect(first.shape == keras.shape, "\(entry): \(first.shape)")
        let deviation = largestDifference(values, keras.scalars)
        #expect(deviation <= 1e-4 * max(1, keras.maxMagnitude), "\(entry): ONNX Runtime \(deviation) from Keras")
    }

    /// A network whose config leaves its size free is written at the size --input gives: ONNX Runtime gives Keras's
    /// outputs on the fixture's arrays, which are that size.
    @Test func aFreeSizeNetworkExportsAtTheGivenSize() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("model.onnx")
        let exported = try runZoo(["convert", Self.folder.appendingPathComponent("face_proposals_keras3.keras").path, "--to", "onnx",
                                   "--input", "30x41", "-o", model.path, "--json"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect((try json(exported.stdout) as? [String: Any])?["input_shape"] as? String == "[batch, 30, 41, 3] NHWC", "\(exported.stdout)")
        let input = try NumPyArray.read(Self.folder.appendingPathComponent("face_proposals_keras3.input0.npy"))
        let outputs = try onnxRuntime(model, input: input, in: folder).outputs
        #expect(outputs.map(\.name) == ["face", "box"])
        for (index, output) in outputs.enumerated() {
            let keras = try NumPyArray.read(Self.folder.appendingPathComponent("face_proposals_keras3.output\(index).npy"))
            let deviation = largestDifference(output.values, keras.scalars)
            #expect(output.shape == keras.shape && deviation <= 1e-4 * max(1, keras.maxMagnitude), "\(output.name): \(output.shape) \(deviation)")
        }
        let misplaced = try runZoo(["convert", Self.folder.appendingPathComponent("face_proposals_keras3.keras").path, "--input", "30x41"])
        #expect(misplaced.status != 0 && misplaced.stderr.contains("apply to --to onnx only"), "\(misplaced.stderr)")
        // A size for a network without an image input, and one past 2¹⁶ a side, are refused before anything is written.
        let tabular = try runZoo(["convert", Self.folder.appendingPathComponent("tabular_keras3.keras").path, "--to", "onnx", "--input", "8x8",
                                  "-o", folder.appendingPathComponent("tabular.onnx").path])
        #expect(tabular.status != 0 && tabular.stderr.contains("--input sizes an image input, but the network takes"), "\(tabular.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("tabular.onnx").path))
        let huge = try runZoo(["convert", Self.folder.appendingPathComponent("face_proposals_keras3.keras").path, "--to", "onnx", "--input", "70000x41"])
        #expect(huge.status != 0 && huge.stderr.contains("70000x41") && huge.stderr.contains("--input"), "\(huge.stderr)")
    }

    /// Networks with elementwise merges (the denoiser's Subtract) and PReLU (the detector, two outputs) export too,
    /// at the size the free-size network is described at: ONNX Runtime gives what `zoo predict` gives.
    @Test(arguments: ["denoiser_keras3.keras", "face_proposals_keras3.keras"])
    func mergesAndPReLUExportToONNX(_ file: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = Self.folder.appendingPathComponent(file).path, model = folder.appendingPathComponent("model.onnx")
        let exported = try runZoo(["convert", source, "--to", "onnx", "-o", model.path, "--json"])
        #expect(exported.status == 0, "\(file): \(exported.stderr)")
        let summary = try #require(try json(exported.stdout) as? [String: Any])
        let dimensions = try #require((summary["input_shape"] as? String)?.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) })
        var generator = SeededGenerator(seed: 3)
        let input = Tensor.uniform([2] + dimensions, low: 0, high: 1, using: &generator)
        let inputs = folder.appendingPathComponent("input.npy")
        try NumPyArray.write(input, to: inputs)
        let predicted = try runZoo(["predict", "--weights", source, inputs.path, "--output", folder.appendingPathComponent("zoo.npy").path])
        #expect(predicted.status == 0, "\(file): \(predicted.stderr)")
        let outputs = try onnxRuntime(model, input: input, in: folder).outputs
        for output in outputs {
            let zoo = try NumPyArray.read(folder.appendingPathComponent(outputs.count == 1 ? "zoo.npy" : "zoo.\(output.name).npy"))
            #expect(output.shape == zoo.shape, "\(file) \(output.name): \(output.shape)")
            let deviation = largestDifference(output.values, zoo.scalars)
            #expect(deviation <= 1e-4 * max(1, zoo.maxMagnitude), "\(file) \(output.name): ONNX Runtime \(deviation) from zoo predict")
        }
    }
}
