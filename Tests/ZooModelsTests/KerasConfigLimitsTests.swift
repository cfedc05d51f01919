import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooModels
import ZooNN
import ZooTensor

/// A model config is untrusted input: a real MNIST model's config (mnist_cnn, Keras 3) edited the way a damaged or
/// crafted file would be, each built as `zoo info` builds it. Every one must end in one `KerasConfigError` naming the
/// layer, never a trap, an abort, a huge allocation or a run without end. The first five crashed `zoo` before these
/// checks (SIGILL on reserving 7.7 PB, SIGILL on a negative size, SIGABRT allocating 200 GB, no end after 120 s).
@Suite struct KerasConfigLimitsTests {
    static let file = KerasConfigTests.folder.appendingPathComponent("mnist_cnn_keras3.h5")

    /// The file's config with `change` applied to the layer named `layer`'s options.
    static func edited(_ layer: String, _ change: (inout [String: Any]) -> Void) throws -> String {
        let bundle = try formats.read(file)
        let text = try #require(bundle.metadata[MetadataKey.modelConfig])
        var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var config = try #require(object["config"] as? [String: Any])
        var layers = try #require(config["layers"] as? [[String: Any]])
        let index = try #require(layers.firstIndex { ($0["config"] as? [String: Any])?["name"] as? String == layer })
        var options = try #require(layers[index]["config"] as? [String: Any])
        change(&options)
        layers[index]["config"] = options
        config["layers"] = layers
        object["config"] = config
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    static let cases: [(layer: String, what: String, change: @Sendable (inout [String: Any]) -> Void, message: String)] = [
        ("fc1", "2^40 units", { $0["units"] = 1 << 40 }, "fc1 (Dense): its units 1099511627776 must be whole numbers from 1 to"),
        ("fc1", "-5 units", { $0["units"] = -5 }, "fc1 (Dense): its units -5 must be"),
        ("fc1", "2.5 units", { $0["units"] = 2.5 }, "fc1 (Dense): its units 2.5 must be"),
        ("fc1", "units as text", { $0["units"] = "ten" }, "fc1 (Dense): its units ten must be"),
        ("fc1", "no units", { $0["units"] = nil }, "fc1 (Dense): it gives no units"),
        ("conv1", "kernel [-3, 0]", { $0["kernel_size"] = [-3, 0] }, "conv1 (Conv2D): its kernel_size"),
        ("conv1", "2^31-1 filters", { $0["filters"] = Int(Int32.max) }, "conv1 (Conv2D): its filters 2147483647 must be"),
        ("conv1", "kernel [100000, 100000]", { $0["kernel_size"] = [100000, 100000] }, "conv1 (Conv2D): its height window of 100000"),
        ("conv2", "a 100000 'same' kernel", { $0["kernel_size"] = [1000, 1000]; $0["filters"] = 100_000 },
         "conv2 (Conv2D): its weights [1000, 1000, 8, 100000] would hold more than"),
        ("conv1", "stride -2", { $0["strides"] = [-2, 1] }, "conv1 (Conv2D): its strides"),
        ("conv1", "three strides", { $0["strides"] = [1, 1, 1] }, "conv1 (Conv2D): its strides"),
        ("pool1", "pool 0", { $0["pool_size"] = [0, 2] }, "pool1 (MaxPooling2D): its pool_size"),
        ("pool1", "a pool larger than its input", { $0["pool_size"] = [40, 40] }, "pool1 (MaxPooling2D): its height window of 40"),
        ("dropout", "rate 7", { $0["rate"] = 7 }, "dropout (Dropout): its rate 7.0 must lie in [0, 1)"),
        ("bn2", "epsilon -1", { $0["epsilon"] = -1 }, "bn2 (BatchNormalization): its epsilon -1.0 must be"),
    ]

    @Test(arguments: cases.indices)
    func aCraftedNumberIsOneErrorNamingTheLayer(_ index: Int) throws {
        let (layer, what, change, message) = Self.cases[index]
        let json = try Self.edited(layer, change)
        let error = #expect(throws: KerasConfigError.self, "\(what)") { try KerasModel.build(config: try KerasModelConfig(json: json)) }
        #expect(error?.description.contains(message) == true, "\(what): \(error?.description ?? "no error")")
    }

    /// An input whose declared size is absurd is refused before the sizing pass allocates it.
    @Test func aHugeInputIsRefused() throws {
        let json = try Self.edited("input_layer") { $0["batch_shape"] = [NSNull(), 1 << 40, 28, 1] }
        let error = #expect(throws: KerasConfigError.self) { try KerasModel.build(config: try KerasModelConfig(json: json)) }
        #expect(error?.description.contains("its input input_layer has the shape [1099511627776, 28, 1]") == true, "\(error?.description ?? "")")
    }

    /// A network needing more weights than its file holds cannot load them, and is refused before they are made;
    /// the file's own network fits exactly.
    @Test func aNetworkLargerThanItsFileIsRefused() throws {
        let bundle = try formats.read(Self.file)
        let limits = KerasBuildLimits(loading: bundle.parameterCount)
        let own = try KerasModel.build(config: try KerasModelConfig(json: try #require(bundle.metadata[MetadataKey.modelConfig])), limits: limits)
        #expect(own.parameterCount == bundle.parameterCount)
        let wider = try Self.edited("fc1") { $0["units"] = 4096 }
        let error = #expect(throws: KerasConfigError.self) { try KerasModel.build(config: try KerasModelConfig(json: wider), limits: limits) }
        #expect(error?.description.contains("fc1 (Dense): its weights [784, 4096] would hold more than the \(bundle.parameterCount) weights the file holds") == true,
                "\(error?.description ?? "")")
        // Through the registry, as zoo info and predict build it.
        var crafted = bundle
        crafted.metadata[MetadataKey.modelConfig] = wider
        #expect(throws: KerasConfigError.self) { try backbones.match(crafted, file: "crafted.h5") }
    }

    /// Options that must agree with what reaches the layer: a reshape of the wrong size, a permutation that is not
    /// one, cropping that leaves nothing, upsampling past the activation limit.
    @Test func shapeOptionsAreCheckedAgainstTheirInput() throws {
        func network(_ layer: String) -> String {
            """
            {"class_name": "Sequential", "config": {"name": "shapes", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 2], "name": "in"}}, \(layer)]}}
            """
        }
        let cases = [
            (#"{"class_name": "Reshape", "config": {"name": "r", "target_shape": [7, 9]}}"#, "r (Reshape): cannot reshape 128 values"),
            (#"{"class_name": "Reshape", "config": {"name": "r", "target_shape": [-1, -1]}}"#, "r (Reshape): its target_shape"),
            (#"{"class_name": "Permute", "config": {"name": "p", "dims": [1, 1, 2]}}"#, "p (Permute): its dims"),
            (#"{"class_name": "Cropping2D", "config": {"name": "c", "cropping": [[4, 4], [0, 0]]}}"#, "c (Cropping2D): cropping [4, 4, 0, 0] leaves nothing"),
            (#"{"class_name": "UpSampling2D", "config": {"name": "u", "size": [100000, 100000]}}"#, "u (UpSampling2D): its output"),
            (#"{"class_name": "ZeroPadding2D", "config": {"name": "z", "padding": [-1, 2]}}"#, "z (ZeroPadding2D): its padding"),
            (#"{"class_name": "Resizing", "config": {"name": "s", "height": 0, "width": 4}}"#, "s (Resizing): its height 0"),
        ]
        for (layer, message) in cases {
            let error = #expect(throws: KerasConfigError.self) { try KerasModel.build(config: try KerasModelConfig(json: network(layer))) }
            #expect(error?.description.contains(message) == true, "\(layer): \(error?.description ?? "no error")")
        }
    }

    /// Configs the keras_config fuzz target (tools/fuzz/run keras_config) found crashing the build path, kept as
    /// they were found: each must now be one error (or a network), as `zoo info` would report it.
    @Test(arguments: try! FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("Tests/ZooModelsTests/Fixtures/crafted-configs").path).sorted())
    func aFuzzFindingIsAnError(_ name: String) throws {
        let text = try String(contentsOf: repository.appendingPathComponent("Tests/ZooModelsTests/Fixtures/crafted-configs/\(name)"), encoding: .utf8)
        do {
            _ = try KerasModel.build(config: try KerasModelConfig(json: text), inputSize: (32, 32), limits: KerasBuildLimits(loading: 1 << 24))
        } catch {
            #expect(!"\(error)".isEmpty)
        }
    }
}
