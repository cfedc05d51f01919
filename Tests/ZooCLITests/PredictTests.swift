import Foundation
import Testing
import ZooTestSupport
import Zoo

@Suite struct ConvertAndPredictTests {
    /// A LeNet-5 with seeded random weights saved as a Keras HDF5 file under Keras's layer names.
    func lenetFile(in folder: URL, classes: Int = 10) throws -> (Model, URL) {
        let model = try LeNet5().build(BackboneOptions(classes: classes, seed: 7))
        let file = folder.appendingPathComponent("lenet.h5")
        try KerasH5Format().write(model.weightBundle(metadata: [MetadataKey.kerasVersion: "3.15.1"]), to: file)
        return (model, file)
    }

    @Test func findsTheArchitectureAndPredictsWithIt() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (model, file) = try lenetFile(in: folder)
        let native = folder.appendingPathComponent("lenet.safetensors")
        // Weights alone (no model config) cannot tell lenet5 from lenet5-relu, whose layers differ only in their
        // activations and pooling: the error says so, names both, writes nothing, and --arch settles it.
        let ambiguous = try runZoo(["convert", file.path, "-o", native.path])
        #expect(ambiguous.status == 1 && ambiguous.stderr.contains("fit several backbones equally (lenet5, lenet5-relu)")
                && ambiguous.stderr.contains("--arch"), "\(ambiguous.stderr)")
        #expect(!FileManager.default.fileExists(atPath: native.path))
        let converted = try runZoo(["convert", file.path, "--arch", "lenet5", "-o", native.path, "--json"])
        #expect(converted.status == 0, "\(converted.stderr)")
        let summary = try #require(try json(converted.stdout) as? [String: Any])
        #expect(summary["architecture"] as? String == "lenet5" && summary["classes"] as? Int == 10)
        #expect(summary["parameters"] as? Int == model.parameterCount)
        let bundle = try Plugins.weightFormats.read(native)
        #expect(bundle.metadata[MetadataKey.architecture] == "lenet5")
        for weight in model.layers.flatMap({ layer in layer.weights.map { (layer.name, $0) } }) {
            let stored = try #require(bundle.layer(named: weight.0)?.arrays.first { $0.variableName == weight.1.name })
            #expect(try stored.tensor() == weight.1.value)
        }

        // Two images: predictions must equal the library's forward pass on the reference backend.
        let labels = folder.appendingPathComponent("labels.txt")
        try (0..<10).map { "class \($0)" }.joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)
        var images: [Image] = []
        for (index, seed) in [3, 11].enumerated() {
            var generator = SeededGenerator(seed: UInt64(seed))
            let image = Image(width: 28, height: 28, channels: 1, pixels: (0..<784).map { _ in UInt8(generator.next() % 256) })
            try ImageCodec.encodePNG(image).write(to: folder.appendingPathComponent("image\(index).png"))
            images.append(image)
        }
        let result = try runZoo(["predict", "--arch", "lenet5", "--weights", native.path, "--labels", labels.path, "--top", "3", "--json",
                                 folder.appendingPathComponent("image0.png").path, folder.appendingPathComponent("image1.png").path])
        #expect(result.status == 0, "\(result.stderr)")
        let predictions = try #require(try json(result.stdout) as? [[String: Any]])
        let expected = try Runtime.using(ReferenceBackend()) {
            try model(Variable(ImagePreparation(for: LeNet5()).batch(images))).main.value
        }
        for (row, prediction) in predictions.enumerated() {
            let top = try #require(prediction["top"] as? [[String: Any]])
            #expect(top.count == 3)
            let scores = (0..<10).map { expected[flat: row * 10 + $0] }
            let best = scores.indices.max { scores[$0] < scores[$1] }!
            #expect(top[0]["class"] as? Int == best && top[0]["label"] as? String == "class \(best)")
            for entry in top {
                #expect(abs((entry["probability"] as! Double) - Double(scores[entry["class"] as! Int])) < 1e-5)
            }
        }
    }

    @Test func explainsWhatDoesNotFit() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (_, file) = try lenetFile(in: folder, classes: 5)
        let image = folder.appendingPathComponent("image.png")
        try ImageCodec.encodePNG(Image(width: 32, height: 32, channels: 1, pixels: .init(repeating: 128, count: 1024))).write(to: image)

        let other = try runZoo(["predict", "--arch", "vgg16", "--weights", file.path, image.path])
        #expect(other.status == 1 && other.stderr.contains("do not fit vgg16") && other.stderr.contains("block1_conv1"))
        // Classes without names are printed by index: --labels is never required.
        let noLabels = try runZoo(["predict", "--arch", "lenet5", "--weights", file.path, image.path])
        #expect(noLabels.status == 0 && noLabels.stdout.contains("%  class "), "\(noLabels.stdout) \(noLabels.stderr)")
        let classes = try runZoo(["convert", file.path, "--classes", "10", "-o", folder.appendingPathComponent("x.safetensors").path])
        #expect(classes.status == 1 && classes.stderr.contains("5 classes, not 10"))

        let labels = folder.appendingPathComponent("labels.txt")
        try "a\nb\nc\nd\ne\n".write(to: labels, atomically: true, encoding: .utf8)
        let notImage = folder.appendingPathComponent("photo.jpg")
        try Data("GIF89a, not really".utf8).write(to: notImage)
        let result = try runZoo(["predict", "--arch", "lenet5", "--weights", file.path, "--labels", labels.path, notImage.path, image.path])
        #expect(result.status == 1 && result.stderr.contains("photo.jpg: is not a JPEG or PNG image"))
        #expect(result.stdout.contains(image.path), "the readable image is still classified")
        let usage = try runZoo(["predict", "--arch", "lenet5", "--weights", file.path])
        #expect(usage.status == 2)
    }
}

/// `--crop-fraction` against Keras on the same images and weights (the example LeNet-5, whose plugin resizes
/// straight to 32×32): 1 is Keras's `load_img(target_size=…)`, a fraction below 1 a resize of the shorter side and a
/// centre crop (tools/keras/crop_oracle.py prepares them with Keras and PIL).
@Suite struct CropFractionTests {
    /// The example image framed in black to `width` × `height`, so that every shape holds the same garment.
    func framed(_ image: Image, width: Int, height: Int) -> Image {
        let left = (width - image.width) / 2, top = (height - image.height) / 2
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<image.height { for x in 0..<image.width { pixels[(y + top) * width + x + left] = image[y, x, 0] } }
        return Image(width: width, height: height, channels: 1, pixels: pixels)
    }

    @Test func cropFractionsPrepareAsKerasAndPILDo() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = repository.appendingPathComponent("examples/lenet5-relu_fashion_0-1-3-5-8.h5")
        let garment = try ImageCodec.decode(contentsOf: repository.appendingPathComponent("examples/images/3-dress-2.png"))
        // Square at the input size (no resampling at crop 1), wide, and tall.
        var images: [String] = []
        for (width, height) in [(32, 32), (48, 32), (30, 44)] {
            let url = folder.appendingPathComponent("dress-\(width)x\(height).png")
            try ImageCodec.encodePNG(framed(garment, width: width, height: height)).write(to: url)
            images.append(url.path)
        }
        func zoo(_ extra: [String]) throws -> [[Double]] {
            let result = try runZoo(["predict", "--weights", model.path, "--labels", repository.appendingPathComponent("examples/fashion_0-1-3-5-8.txt").path,
                                     "--top", "5", "--json"] + extra + images)
            #expect(result.status == 0, "\(result.stderr)")
            let rows = try #require(try json(result.stdout) as? [[String: Any]])
            return rows.map { row in
                var probabilities = [Double](repeating: .nan, count: 5)
                for entry in row["top"] as! [[String: Any]] { probabilities[entry["class"] as! Int] = entry["probability"] as! Double }
                return probabilities
            }
        }
        func keras(_ fraction: String) throws -> [[Double]] {
            let result = try runProcess(repository.appendingPathComponent("tools/python"),
                                        [repository.appendingPathComponent("tools/keras/crop_oracle.py").path, model.path, fraction] + images,
                                        environment: ProcessInfo.processInfo.environment)
            #expect(result.status == 0, "\(result.stderr)")
            let rows = try #require(try json(result.stdout) as? [String: [Double]])
            return images.map { rows[$0]! }
        }
        func largestDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
            zip(a.joined(), b.joined()).map { abs($0 - $1) }.max() ?? .infinity
        }
        let straight = try keras("1"), cropped = try keras("0.875")
        let zooStraight = try zoo(["--crop-fraction", "1"]), zooDefault = try zoo([]), zooCropped = try zoo(["--crop-fraction", "0.875"])
        // The square image needs no resampling at crop 1: the same pixels, so the same probabilities.
        #expect(largestDifference([zooStraight[0]], [straight[0]]) <= 1e-5, "\(zooStraight[0]) against Keras \(straight[0])")
        // Resampled images differ by one rounding step in some pixels (PIL's fixed-point filter against Zoo's floats:
        // 106 of 1,369 pixels in the 0.875 crop, none by more than 1), which moves probabilities by up to ~2.5e-3.
        #expect(largestDifference(zooStraight, straight) <= 5e-3, "crop 1: \(zooStraight) against Keras \(straight)")
        #expect(largestDifference(zooCropped, cropped) <= 5e-3, "crop 0.875: \(zooCropped) against Keras and PIL \(cropped)")
        #expect(zooDefault == zooStraight, "the LeNet plugins resize straight to the input by default")
        // The two preparations are really different inputs: the oracle tells them apart.
        #expect(largestDifference(straight, cropped) > 1e-2)
    }
}

/// A user's own Keras CNN, from its file alone (the `keras` plugin): described, converted, and classifying an image
/// as Keras does (tools/keras/crop_oracle.py loads the same file in Keras and feeds it the same image).
@Suite struct KerasConfigCommandTests {
    @Test func describesConvertsAndPredictsAsKeras() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixtures = kerasConfigFixtures
        let file = fixtures.appendingPathComponent("mnist_cnn_keras3.h5")
        let fixture = try kerasConfigFixture("mnist_cnn_keras3")

        let info = try runZoo(["info", file.path, "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let described = try #require(try json(info.stdout) as? [String: Any])
        #expect((described["layers"] as? [[String: Any]])?.map { $0["name"] as! String } == fixture["layers"] as? [String])
        #expect(described["parameters"] as? Int == fixture["parameters"] as? Int && described["name"] as? String == "keras")

        let native = folder.appendingPathComponent("mnist.safetensors")
        let converted = try runZoo(["convert", file.path, "-o", native.path, "--json"])
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect((try json(converted.stdout) as? [String: Any])?["architecture"] as? String == "keras")

        let labels = folder.appendingPathComponent("labels.txt")
        try (0..<10).map { "class \($0)" }.joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)
        let images = ["0-t-shirt-top-1.png", "7-sneaker-2.png"].map { repository.appendingPathComponent("examples/images/\($0)").path }
        let keras = try runProcess(repository.appendingPathComponent("tools/python"),
                                   [repository.appendingPathComponent("tools/keras/crop_oracle.py").path, file.path, "1"] + images,
                                   environment: ProcessInfo.processInfo.environment)
        #expect(keras.status == 0, "\(keras.stderr)")
        let expected = try #require(try json(keras.stdout) as? [String: [Double]])
        // From the Keras file and from the native file the conversion wrote (which keeps the config).
        for weights in [file, native] {
            let predicted = try runZoo(["predict", "--weights", weights.path, "--labels", labels.path, "--top", "10", "--json"] + images)
            #expect(predicted.status == 0, "\(predicted.stderr)")
            for row in try #require(try json(predicted.stdout) as? [[String: Any]]) {
                let probabilities = try #require(expected[row["image"] as! String])
                for entry in row["top"] as! [[String: Any]] {
                    let zoo = entry["probability"] as! Double, reference = probabilities[entry["class"] as! Int]
                    #expect(abs(zoo - reference) <= 1e-5, "\(weights.lastPathComponent), \(row["image"]!): class \(entry["class"]!) \(zoo) against Keras \(reference)")
                }
            }
        }
    }

    /// A Teachable-Machine-style model (MobileNetV2 nested in a Sequential, saved by tf-keras) fine-tuned to two
    /// new classes from its file alone: the frozen layers stay bit-identical, tf-keras loads the Keras file the run
    /// wrote (nested models grouped as Keras saves them), and its outputs equal Zoo's from the native file.
    @Test func fineTunesANestedModelThatKerasLoadsBack() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixtures = kerasConfigFixtures
        let original = fixtures.appendingPathComponent("teachable_mobilenet_v2_tf_keras.h5"), run = folder.appendingPathComponent("run")
        let tuned = try runZoo(["finetune", "--weights", original.path, "--data", "fashion-mnist", "--classes", "0,1", "--per-class", "8",
                                "--epochs", "2", "--freeze", "out_relu", "--validation", "0", "--out", run.path])
        #expect(tuned.status == 0, "\(tuned.stderr)")
        let said = tuned.stdout + tuned.stderr
        #expect(said.contains("frozen through out_relu") && said.contains("new: head_output"), "\(said)")

        let inputs = folder.appendingPathComponent("inputs.npy"), outputs = folder.appendingPathComponent("outputs.npy")
        let python = """
            import sys, numpy as np, tf_keras
            original, tuned, fixture, inputs, outputs = sys.argv[1:6]
            if outputs == "-":
                np.save(inputs, np.fromfile(fixture, "<f4").reshape(2, 96, 96, 3))
                sys.exit()
            before, after = tf_keras.models.load_model(original), tf_keras.models.load_model(tuned)
            pairs = list(zip(before.layers[0].weights, after.layers[0].weights))
            changed = [a.name for a, b in pairs if not np.array_equal(a.numpy(), b.numpy())]
            print(len(pairs), len(changed), after.output_shape[-1], float(np.abs(after.predict(np.load(inputs), verbose=0) - np.load(outputs)).max()))
            """
        func oracle(_ outputArgument: String) throws -> String {
            let result = try runProcess(repository.appendingPathComponent("tools/python"),
                                        ["-c", python, original.path, run.appendingPathComponent("weights.h5").path,
                                         fixtures.appendingPathComponent("teachable_mobilenet_v2_tf_keras.input.f32").path, inputs.path, outputArgument],
                                        environment: ProcessInfo.processInfo.environment)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try oracle("-")
        let predicted = try runZoo(["predict", "--weights", run.appendingPathComponent("weights.safetensors").path, inputs.path, "--output", outputs.path])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let report = try oracle(outputs.path).split(separator: " ")
        #expect(report.count == 4 && Int(report[0])! > 250 && report[1] == "0" && report[2] == "2",
                "MobileNetV2's arrays, those that changed, and the classes: \(report)")
        #expect((Double(report.last ?? "") ?? 1) <= 1e-5, "largest difference from tf-keras's outputs: \(report)")
    }

    /// Weights saved alone (`save_weights`: Keras 3's .weights.h5, tf-keras's HDF5) with the architecture apart
    /// (`to_json()`, or YAML as Keras 1 and 2's `to_yaml()` wrote it, tuples tagged): `--config` builds the network,
    /// nested models included, and its outputs equal Keras's. Without it, the error says how to give one.
    @Test(arguments: ["mnist_cnn_keras3", "mnist_cnn_tf_keras", "nested_net_tf_keras"])
    func weightsWithTheirConfigApartMatchKeras(_ name: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixtures = kerasConfigFixtures
        let fixture = try kerasConfigFixture(name)
        let files = try #require(fixture["weights_only"] as? [String: String])
        let weights = fixtures.appendingPathComponent(files["weights"]!).path, config = fixtures.appendingPathComponent(files["config"]!).path
        let inputs = folder.appendingPathComponent("inputs.npy"), outputs = folder.appendingPathComponent("outputs.npy")
        try NumPyArray.write(try kerasConfigArray(fixture, "input"), to: inputs)
        let labels = folder.appendingPathComponent("labels.txt")
        try (0..<(fixture["outputs"] as! [[Int]])[0][1]).map { "class \($0)" }.joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)

        let refused = try runZoo(["predict", "--weights", weights, "--labels", labels.path, inputs.path])
        #expect(refused.status == 1 && refused.stderr.contains("--config"), "\(refused.stderr)")
        let notAConfig = folder.appendingPathComponent("labels.json")
        try Data("{\"labels\": [1, 2]}".utf8).write(to: notAConfig)
        for (path, problem) in [(notAConfig.path, "is not a Keras model config"), (folder.appendingPathComponent("none.json").path, "no such file")] {
            let wrong = try runZoo(["predict", "--weights", weights, "--config", path, "--labels", labels.path, inputs.path])
            #expect(wrong.status == 1 && wrong.stderr.contains("\(path): \(problem)"), "\(wrong.stderr)")
        }
        let predicted = try runZoo(["predict", "--weights", weights, "--config", config, "--labels", labels.path, inputs.path, "--output", outputs.path])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let zoo = try NumPyArray.read(outputs), keras = try kerasConfigArray(fixture, "output")
        #expect(zoo.shape == keras.shape && zoo.maxAbsoluteDifference(keras) <= 1e-5, "largest difference from Keras: \(zoo.maxAbsoluteDifference(keras))")
    }

    /// A network that rescales pixels itself (Rescaling first) takes them as they are; others take them scaled to 0…1.
    @Test func aRescalingLayerTakesRawPixels() throws {
        let fixtures = kerasConfigFixtures
        for (file, expected) in [("layers_net_keras3.h5", "none"), ("mnist_cnn_keras3.h5", "unit")] {
            let info = try runZoo(["info", fixtures.appendingPathComponent(file).path, "--json"])
            #expect(info.status == 0, "\(info.stderr)")
            #expect((try json(info.stdout) as? [String: Any])?["preprocessing"] as? String == expected, "\(file): \(info.stdout.prefix(300))")
        }
    }

    /// docs/examples/keras-model, the library's example, gives Keras's outputs: from a full-model file, and from
    /// weights saved alone with their YAML config.
    @Test(arguments: [("mnist_cnn_tf_keras", false), ("nested_net_tf_keras", true), ("channels_first_net_keras3_jax", false)])
    func libraryExampleRunsAKerasFile(_ name: String, _ weightsOnly: Bool) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixtures = kerasConfigFixtures
        let fixture = try kerasConfigFixture(name)
        let inputs = folder.appendingPathComponent("inputs.npy"), outputs = folder.appendingPathComponent("outputs.npy")
        try NumPyArray.write(try kerasConfigArray(fixture, "input"), to: inputs)
        let files = fixture["weights_only"] as? [String: String]
        let model = weightsOnly ? [files!["weights"]!] : [fixture["file"] as! String]
        let arguments = model.map { fixtures.appendingPathComponent($0).path } + [inputs.path, outputs.path]
            + (weightsOnly ? [fixtures.appendingPathComponent(files!["config"]!).path] : [])
        let example = zooExecutable().deletingLastPathComponent().appendingPathComponent("keras-model-example")
        let (status, stdout, stderr) = try runProcess(example, arguments, environment: ProcessInfo.processInfo.environment)
        #expect(status == 0, "\(stderr)")
        #expect(stdout.contains("matched by name"), "\(stdout)")
        let zoo = try NumPyArray.read(outputs), keras = try kerasConfigArray(fixture, "output")
        #expect(zoo.shape == keras.shape && zoo.maxAbsoluteDifference(keras) <= 1e-5, "largest difference from Keras: \(zoo.maxAbsoluteDifference(keras))")
    }

    /// NumPy in and out: Keras's fixture inputs saved by NumPy, classified as they are, and the outputs NumPy reads
    /// back equal to Keras's (probabilities for the CNN that ends in a softmax, logits for the net that does not; NCHW
    /// arrays for the channels-first net, as Keras takes them).
    @Test(arguments: ["mnist_cnn_keras3", "residual_net_tf_keras", "channels_first_net_keras3_jax"])
    func numPyInputsAndOutputsMatchKeras(_ name: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixtures = kerasConfigFixtures
        let fixture = try kerasConfigFixture(name)
        let inputs = folder.appendingPathComponent("inputs.npy"), outputs = folder.appendingPathComponent("outputs.npy")
        let python = """
            import sys, numpy as np
            folder, name, shape, inputs, outputs = sys.argv[1], sys.argv[2], [int(v) for v in sys.argv[3].split(",")], sys.argv[4], sys.argv[5]
            if outputs == "-":
                np.save(inputs, np.fromfile(f"{folder}/{name}.input.f32", "<f4").reshape(shape))
            else:
                out, keras = np.load(outputs), np.fromfile(f"{folder}/{name}.output.f32", "<f4")
                print(out.dtype, out.shape, float(np.abs(out.reshape(-1) - keras).max()))
            """
        let shape = (fixture["inputs"] as! [[Int]])[0].map(String.init).joined(separator: ",")
        func run(_ outputArgument: String) throws -> String {
            let result = try runProcess(repository.appendingPathComponent("tools/python"),
                                        ["-c", python, fixtures.path, name, shape, inputs.path, outputArgument],
                                        environment: ProcessInfo.processInfo.environment)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try run("-")
        let classes = (fixture["outputs"] as! [[Int]])[0][1]
        let labels = folder.appendingPathComponent("labels.txt")
        try (0..<classes).map { "class \($0)" }.joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)
        let predicted = try runZoo(["predict", "--weights", fixtures.appendingPathComponent(fixture["file"] as! String).path, "--labels", labels.path,
                                    "--top", "1", "--batch", "1", inputs.path, "--output", outputs.path])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(predicted.stdout.contains("inputs.npy[0]") && predicted.stdout.contains("inputs.npy[1]"), "\(predicted.stdout)")
        let report = try run(outputs.path).split(separator: " ")
        #expect(report.count == 4 && report[0] == "float32" && report[1] + report[2] == "(2,\(classes))", "\(report)")
        #expect((Double(report.last ?? "") ?? 1) <= 1e-5, "largest difference from Keras's outputs: \(report)")

        let wrong = folder.appendingPathComponent("wrong.npy")
        try NumPyArray.write(Tensor(zeros: [1, 5, 5, 1]), to: wrong)
        let refused = try runZoo(["predict", "--weights", fixtures.appendingPathComponent(fixture["file"] as! String).path, "--labels", labels.path, wrong.path])
        #expect(refused.status == 1 && refused.stderr.contains("an array of shape [1, 5, 5, 1], but the network takes"), "\(refused.stderr)")
    }

    /// A network with four inputs (two images through a shared convolution, a mask, a vector) and two outputs: one
    /// .npy per input in, one .npy per output out, each equal to Keras's; `zoo info` lists them; a wrong number or
    /// order of arrays, images, and fine-tuning are refused with what the network takes.
    @Test(arguments: ["multi_io_net_keras3", "multi_io_net_tf_keras"])
    func severalInputsAndOutputsMatchKeras(_ name: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixture = try kerasConfigFixture(name)
        let file = kerasConfigFixtures.appendingPathComponent(fixture["file"] as! String).path
        let inputs = try (0..<4).map { index in
            let url = folder.appendingPathComponent("input\(index).npy")
            try NumPyArray.write(try kerasConfigArray(fixture, "input", index), to: url)
            return url.path
        }
        let labels = folder.appendingPathComponent("labels.txt")
        try "cat\ndog\nbird".write(to: labels, atomically: true, encoding: .utf8)
        let outputs = folder.appendingPathComponent("out.npy").path
        let predicted = try runZoo(["predict", "--weights", file, "--labels", labels.path, "--batch", "1"] + inputs + ["--output", outputs])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(predicted.stdout.contains("input0.npy[1]"), "\(predicted.stdout)")
        for (index, output) in ["classes", "score"].enumerated() {
            let zoo = try NumPyArray.read(folder.appendingPathComponent("out.\(output).npy")), keras = try kerasConfigArray(fixture, "output", index)
            #expect(zoo.shape == keras.shape && zoo.maxAbsoluteDifference(keras) <= 1e-5, "\(output): \(zoo.shape), \(zoo.maxAbsoluteDifference(keras)) from Keras")
        }

        let info = try runZoo(["info", file])
        #expect(info.stdout.contains("left (None, 16, 16, 3), right (None, 16, 16, 3), mask (None, 8, 8, 1), meta (None, 5)")
            && info.stdout.contains("outputs:        classes, score"), "\(info.stdout)")
        let three = try runZoo(["predict", "--weights", file, "--labels", labels.path] + inputs.dropLast())
        #expect(three.status == 1 && three.stderr.contains("takes 4 inputs") && three.stderr.contains("one .npy file per input"), "\(three.stderr)")
        let swapped = try runZoo(["predict", "--weights", file, "--labels", labels.path, inputs[0], inputs[1], inputs[3], inputs[2]])
        #expect(swapped.status == 1 && swapped.stderr.contains("input 3 (mask) takes [N, 8, 8, 1]"), "\(swapped.stderr)")
        let image = repository.appendingPathComponent("examples/images/7-sneaker-2.png").path
        let images = try runZoo(["predict", "--weights", file, "--labels", labels.path, image, image, image, image])
        #expect(images.status == 1 && images.stderr.contains("one .npy file per input"), "\(images.stderr)")
        let data = folder.appendingPathComponent("data")
        for (index, name) in ["sneaker", "coat"].enumerated() {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(name), withIntermediateDirectories: true)
            for copy in 0..<2 {
                try FileManager.default.copyItem(atPath: image, toPath: data.appendingPathComponent("\(name)/\(index)-\(copy).png").path)
            }
        }
        let finetune = try runZoo(["finetune", "--weights", file, "--data", data.path, "--out", folder.appendingPathComponent("run").path])
        #expect(finetune.status == 1 && finetune.stderr.contains("fine-tuning feeds images to a network with one image input"), "\(finetune.stderr)")
    }
}

let kerasConfigFixtures = repository.appendingPathComponent("Tests/ZooModelsTests/Fixtures/keras-config")

/// One model of the keras-config fixtures' manifest (tools/keras/make_keras_config_fixtures.py).
func kerasConfigFixture(_ name: String) throws -> [String: Any] {
    let text = try String(contentsOf: kerasConfigFixtures.appendingPathComponent("manifest.json"), encoding: .utf8)
    guard let fixture = ((try json(text) as? [String: Any])?["cases"] as? [[String: Any]])?.first(where: { $0["name"] as? String == name }) else {
        throw MissingFixture(name: name)
    }
    return fixture
}

struct MissingFixture: Error { let name: String }

/// A fixture's Keras input or output (`kind`), the `index`th when the model has several, as Keras computed it.
func kerasConfigArray(_ fixture: [String: Any], _ kind: String, _ index: Int = 0) throws -> Tensor {
    let shapes = fixture[kind + "s"] as! [[Int]]
    let file = "\(fixture["name"] as! String).\(kind)\(shapes.count == 1 ? "" : ".\(index)").f32"
    let data = try Data(contentsOf: kerasConfigFixtures.appendingPathComponent(file))
    return try Tensor(shape: shapes[index], scalars: data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
}
