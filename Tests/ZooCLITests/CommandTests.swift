import Foundation
import Testing
import Zoo

/// The repository's Keras fixtures (made by tools/keras with Keras 3.15.1 and tf-keras 2.21.0).
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let kerasFixtures = repository.appendingPathComponent("Tests/ZooConvertersTests/Fixtures/keras")

func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

@Suite struct ListAndInfoTests {
    @Test func listsEveryRegisteredBackbone() throws {
        let result = try runZoo(["list", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try #require(try json(result.stdout) as? [[String: Any]])
        #expect(rows.map { $0["name"] as! String } == Plugins.backbones.all.map(\.name))
        // Independent of our profile: keras.applications' documented parameter counts.
        let parameters = Dictionary(uniqueKeysWithValues: rows.compactMap { row in (row["parameters"] as? Int).map { (row["name"] as! String, $0) } })
        #expect(rows.last?["name"] as? String == "keras" && rows.last?["from_model_config"] as? Bool == true)
        #expect(parameters["vgg16"] == 138_357_544 && parameters["resnet50"] == 25_636_712 && parameters["densenet121"] == 8_062_504)
        let filtered = try runZoo(["list", "--family", "densenet"])
        #expect(filtered.stdout.split(separator: "\n").count == 2 + 3)
        let none = try runZoo(["list", "squeezenet"])
        #expect(none.status == 1 && none.stderr.contains("no backbone matches 'squeezenet'"))
    }

    @Test func infoSummarizesLikeKeras() throws {
        let result = try runZoo(["info", "vgg16", "--json"])
        #expect(result.status == 0)
        let info = try #require(try json(result.stdout) as? [String: Any])
        let layers = try #require(info["layers"] as? [[String: Any]])
        // keras.applications VGG16: block1_conv1 has 1,792 parameters, fc1 102,764,544, predictions 4,097,000.
        let byName = Dictionary(uniqueKeysWithValues: layers.map { ($0["name"] as! String, $0) })
        #expect(byName["block1_conv1"]?["parameters"] as? Int == 1_792)
        #expect(byName["fc1"]?["parameters"] as? Int == 102_764_544)
        #expect(byName["block5_pool"]?["output_shape"] as? [Int] == [7, 7, 512])
        let small = try runZoo(["info", "resnet50", "--classes", "10", "--input", "160x160"])
        #expect(small.status == 0 && small.stdout.contains("(None, 5, 5, 2048)") && small.stdout.contains("20,490"))
        let unknown = try runZoo(["info", "resnet51"])
        #expect(unknown.status == 1 && unknown.stderr.contains("did you mean resnet50"))
        let usage = try runZoo(["info", "vgg16", "--input", "big"])
        #expect(usage.status == 2)
    }
}

@Suite struct InspectAndConvertTests {
    @Test func inspectsAnyKerasFile() throws {
        let result = try runZoo(["inspect", kerasFixtures.appendingPathComponent("tfkeras/small_cnn_float16_model.h5").path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let info = try #require(try json(result.stdout) as? [String: Any])
        #expect(info["format"] as? String == "keras-h5")
        #expect((info["metadata"] as? [String: String])?["keras_version"] == "2.21.0")
        let layers = try #require(info["layers"] as? [[String: Any]])
        let conv = try #require(layers.first { $0["name"] as? String == "conv" }?["arrays"] as? [[String: Any]])
        #expect(conv.first?["shape"] as? [Int] == [3, 3, 3, 4] && conv.first?["dtype"] as? String == "float16")
        #expect((info["model_config"] as? [String: Any])?["class_name"] as? String == "Sequential")
    }

    @Test func convertsWithoutAnArchitectureAndBack() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = kerasFixtures.appendingPathComponent("keras3/functional_model.h5")
        let native = folder.appendingPathComponent("functional.safetensors"), keras = folder.appendingPathComponent("functional.h5")
        let again = folder.appendingPathComponent("again.safetensors")
        // No fixed architecture fits; the keras plugin builds the file's own config, a Functional with a Sequential
        // nested as a layer, and the nested model's weights load into its layers.
        let auto = try runZoo(["convert", source.path, "-o", native.path, "--json"])
        #expect(auto.status == 0, "\(auto.stderr)")
        let report = try #require(try json(auto.stdout) as? [String: Any])
        #expect(report["architecture"] as? String == "keras" && report["matched"] as? String == "by name", "\(auto.stdout)")
        for (from, to, format) in [(source, native, "native"), (native, keras, "keras-h5"), (keras, again, "native")] {
            let result = try runZoo(["convert", from.path, "--arch", "none", "--to", format, "-o", to.path, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        let first = try Plugins.weightFormats.read(native), last = try Plugins.weightFormats.read(again)
        #expect(first.layers.map(\.name) == last.layers.map(\.name))
        for (a, b) in zip(first.layers.flatMap(\.arrays), last.layers.flatMap(\.arrays)) { #expect(try a.tensor() == b.tensor()) }
        #expect(last.metadata[MetadataKey.modelConfig] == first.metadata[MetadataKey.modelConfig], "the model config travels along")
    }

    /// The same input converts to the same bytes, run after run (each process orders its dictionaries differently),
    /// and isolated or in process alike.
    @Test func convertingIsReproducible() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = kerasFixtures.appendingPathComponent("keras3/deep_model.h5")
        var outputs: [Data] = []
        for (index, inProcess) in [false, false, true].enumerated() {
            let output = folder.appendingPathComponent("\(index).safetensors")
            let result = try runZoo(["convert", source.path, "--arch", "none", "-o", output.path], environment: inProcess ? ["ZOO_READ_IN_PROCESS": "1"] : [:])
            #expect(result.status == 0, "\(result.stderr)")
            outputs.append(try Data(contentsOf: output))
        }
        #expect(outputs.allSatisfy { $0 == outputs[0] })
    }

    @Test(arguments: ["declared_shape_too_large.h5", "layer_names_numbers.h5", "missing_dataset.h5", "missing_layer_group.h5",
                      "no_weights.keras", "not_keras.h5", "string_weights.h5"])
    func badInputGivesOneClearErrorAndNoOutput(_ name: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors")
        let result = try runZoo(["convert", kerasFixtures.appendingPathComponent("bad/\(name)").path, "--arch", "none", "-o", output.path])
        #expect(result.status == 1, "\(name): \(result.stderr)")
        #expect(result.stderr.contains(name), "the error names the file: \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty, "no partial output")
    }

    @Test func refusesWhatIsNotAWeightFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("notes.h5"), empty = folder.appendingPathComponent("empty.h5")
        try Data("hello".utf8).write(to: text)
        try Data().write(to: empty)
        for (file, message) in [(text, "not a weight file"), (empty, "is empty"), (folder.appendingPathComponent("missing.h5"), "no such file")] {
            let result = try runZoo(["convert", file.path])
            #expect(result.status == 1 && result.stderr.contains(message), "\(result.stderr)")
        }
        let same = try runZoo(["convert", text.path, "-o", text.path])
        #expect(same.status == 1 && same.stderr.contains("is the input file"))
    }
}
