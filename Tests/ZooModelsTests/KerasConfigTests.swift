import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooModels
import ZooNN
import ZooONNX
import ZooTensor

/// Models built from a Keras file's own config (`KerasModel`) against Keras on the same file and input
/// (tools/keras/make_keras_config_fixtures.py, each model saved by Keras 3 and by tf-keras 2: a Sequential CNN, a
/// Functional residual net, every activation and activation layer, a mini-Xception with separable, depthwise and
/// dilated convolutions, models nested three deep, keras.applications MobileNetV2 nested as Teachable Machine exports
/// it, the structural and preprocessing layers, a network with four inputs and two outputs, and a channels-first CNN
/// saved by Keras 3 on JAX). Every output and one inner feature map are compared; every output again
/// through an inference plan and exported to ONNX, in ONNX Runtime.
@Suite struct KerasConfigTests {
    struct Manifest: Decodable {
        struct Tap: Decodable { let layer: String, shape: [Int] }
        struct Case: Decodable {
            let name: String, file: String, inputs: [[Int]], outputs: [[Int]], parameters: Int, tap: Tap, layers: [String]
            /// Keras's loss from the weights' regularizers.
            let regularization: Double
            /// Keras's input and tap are NCHW; Zoo runs the model channels-last.
            let channels_first: Bool
        }
        let cases: [Case]
    }

    /// A case's inputs or outputs as Keras had them: `name.input.f32`, or `name.input.0.f32`, … when several.
    static func arrays(_ fixture: Manifest.Case, _ kind: String) throws -> [Tensor] {
        let shapes = kind == "input" ? fixture.inputs : fixture.outputs
        return try shapes.enumerated().map { index, shape in
            try array("\(fixture.name).\(kind)\(shapes.count == 1 ? "" : ".\(index)").f32", shape)
        }
    }
    static let folder = repository.appendingPathComponent("Tests/ZooModelsTests/Fixtures/keras-config")
    static let manifest = try! JSONDecoder().decode(Manifest.self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))

    static func array(_ name: String, _ shape: [Int]) throws -> Tensor {
        let data = try Data(contentsOf: folder.appendingPathComponent(name))
        return try Tensor(shape: shape, scalars: data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    @Test(arguments: manifest.cases.map(\.name))
    func matchesKeras(_ name: String) throws {
        let fixture = Self.manifest.cases.first { $0.name == name }!
        let bundle = try formats.read(Self.folder.appendingPathComponent(fixture.file))
        let config = try KerasModelConfig(json: try #require(bundle.metadata[MetadataKey.modelConfig]))
        let model = try KerasModel.build(config: config)
        let report = try model.load(bundle)
        #expect(report.matching == .byName)
        #expect(model.layers.map(\.name) == fixture.layers && model.parameterCount == fixture.parameters, "\(name): layers and parameters as Keras counts them")
        // The weights' regularizers (L1, L2, L1L2 on kernels, biases and scales) add what Keras adds to the loss.
        let regularization = try model.weights.reduce(0.0) { sum, weight in
            try weight.regularizer.map { sum + Double(try penalty(weight.variable, l1: $0.l1, l2: $0.l2).value.scalars[0]) } ?? sum
        }
        #expect(abs(regularization - fixture.regularization) <= 1e-5 * max(1, fixture.regularization), "\(name): \(regularization) against Keras's \(fixture.regularization)")
        // The registry finds the network through the `keras` plugin: no fixed architecture fits.
        #expect(try backbones.match(bundle, file: fixture.file).backbone is KerasConfigBackbone)
        func channelsLast(_ t: Tensor) throws -> Tensor { fixture.channels_first && t.shape.count == 4 ? try permute(Variable(t), [2, 3, 1]).value : t }
        let inputs = try Self.arrays(fixture, "input").map(channelsLast), expected = try Self.arrays(fixture, "output")
        let expectedTap = try channelsLast(Self.array("\(name).tap.f32", fixture.tap.shape))
        func compare(_ outputs: [Variable], _ how: String) {
            #expect(outputs.count == expected.count, "\(name) \(how): \(outputs.count) outputs, Keras has \(expected.count)")
            for (index, (output, keras)) in zip(outputs.map(\.value), expected).enumerated() {
                #expect(output.shape == keras.shape && deviation(output, keras) <= 1e-5, "\(name) \(how), output \(index): \(deviation(output, keras))")
            }
        }
        for backend in [try Runtime.dnnl.get(), Runtime.reference] as [any Backend] {
            let result = try Runtime.using(backend) { try model(inputs.map { Variable($0) }, taps: [fixture.tap.layer]) }
            compare(result.outputs, "on \(backend.name)")
            let tap = try #require(result.taps[fixture.tap.layer]).value
            #expect(tap.shape == expectedTap.shape && deviation(tap, expectedTap) <= 1e-5,
                    "\(name) on \(backend.name), \(fixture.tap.layer): \(deviation(tap, expectedTap))")
        }
        // The residual net's Add reads a value its own branch's convolution reads too: a plan that summed in place
        // over that value overwrote the convolution's source while it ran.
        let planned = try model.plan(for: inputs.map(\.shape)).run(inputs).outputs
        compare(planned.map { Variable($0) }, "through an inference plan")
        let exported = try ONNXExport.model(model)
        compare(try ONNXRuntime.run(exported.bytes, inputs: inputs).outputs.map { Variable($0.value) }, "in ONNX Runtime")
    }

    @Test func unsupportedLayersAreListedTogether() throws {
        let json = """
        {"class_name": "Sequential", "config": {"name": "odd", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1], "name": "in"}},
          {"class_name": "Lambda", "config": {"name": "scale", "function": "..."}},
          {"class_name": "Conv2D", "config": {"name": "dilated", "filters": 2, "kernel_size": [3, 3], "strides": 2, "dilation_rate": [2, 2]}},
          {"class_name": "Conv3D", "config": {"name": "volume", "filters": 2, "kernel_size": [3, 3, 3]}},
          {"class_name": "Flatten", "config": {"name": "flat"}}]}}
        """
        let error = #expect(throws: KerasConfigError.self) { try KerasModel.build(config: try KerasModelConfig(json: json)) }
        let text = error?.description ?? ""
        #expect(text.contains("scale (Lambda: its code is Python, which Zoo never runs)") && text.contains("dilated (Conv2D: both strides [2, 2] and dilation [2, 2])")
                && text.contains("volume (Conv3D)")
                && text.contains("--arch none"), "\(text)")
    }

    /// A Keras 3 Functional config of an input and one layer reading it, the layer given as `layer` (its call's
    /// arguments `args`, where "x" stands for the input tensor).
    static func oneLayer(_ layer: String, args: String = "[x]") -> String {
        let tensor = #"{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 5, 3], "dtype": "float32", "keras_history": ["image", 0, 0]}}"#
        return """
        {"class_name": "Functional", "config": {"name": "net", "layers": [
          {"class_name": "InputLayer", "name": "image", "config": {"batch_shape": [null, 6, 5, 3], "dtype": "float32", "name": "image"}, "inbound_nodes": []},
          \(layer.dropLast()), "inbound_nodes": [{"args": \(args.replacingOccurrences(of: "x", with: tensor)), "kwargs": {}}]}],
          "input_layers": [["image", 0, 0]], "output_layers": [["out", 0, 0]]}}
        """
    }

    /// Keras 3's arithmetic with a number (`x + 3.0`, `x / 255`) computes what it says; other arithmetic, antialiased
    /// resizing, and augmentation layers with options out of range, are one error naming the layer and what is wrong.
    @Test func arithmeticAndAugmentationOptionsAreCheckedByName() throws {
        var generator = SeededGenerator(seed: 3)
        let x = Tensor.uniform([2, 6, 5, 3], using: &generator)
        for (op, args, expected) in [("Add", "[x, 3.0]", x.scalars.map { $0 + 3 }), ("Subtract", "[1.0, x]", x.scalars.map { 1 - $0 }),
                                     ("TrueDivide", "[x, 4.0]", x.scalars.map { $0 / 4 }), ("Multiply", "[x, -2.0]", x.scalars.map { $0 * -2 })] {
            let model = try KerasModel.build(config: try KerasModelConfig(json: Self.oneLayer(#"{"class_name": "\#(op)", "name": "out", "config": {"name": "out"}}"#, args: args)))
            let y = try Runtime.using(Runtime.reference) { try model.predict(x) }
            #expect(zip(y.scalars, expected).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(op) \(args)")
        }
        let refusals: [(layer: String, args: String, message: String)] = [
            (#"{"class_name": "TrueDivide", "name": "out", "config": {"name": "out"}}"#, "[1.0, x]", "out (TrueDivide): Zoo builds +, −, × and division by a number"),
            (#"{"class_name": "Add", "name": "out", "config": {"name": "out"}}"#, "[x, 1.0, 2.0]", "out (Add): Zoo builds arithmetic of one tensor and one number"),
            (#"{"class_name": "RandomRotation", "name": "out", "config": {"name": "out", "factor": "big"}}"#, "[x]", "out (RandomRotation): cannot read its factor big"),
            (#"{"class_name": "RandomZoom", "name": "out", "config": {"name": "out", "height_factor": [0.5, -0.5]}}"#, "[x]",
             "out (RandomZoom): its height_factor"),
            (#"{"class_name": "RandomZoom", "name": "out", "config": {"name": "out", "height_factor": 1e30}}"#, "[x]", "is not a range of moderate numbers"),
            (#"{"class_name": "RandomFlip", "name": "out", "config": {"name": "out", "mode": "diagonal"}}"#, "[x]", "out (RandomFlip): mode diagonal"),
            (#"{"class_name": "RandomTranslation", "name": "out", "config": {"name": "out", "height_factor": 0.1, "width_factor": 0.1, "fill_mode": "mirror"}}"#, "[x]",
             "out (RandomTranslation): fill_mode mirror"),
            (#"{"class_name": "RandomContrast", "name": "out", "config": {"name": "out", "factor": 0.2, "value_range": [255, 0]}}"#, "[x]",
             "out (RandomContrast): its value_range must be two increasing numbers"),
            (#"{"class_name": "Resizing", "name": "out", "config": {"name": "out", "height": 4, "width": 4, "antialias": true}}"#, "[x]",
             "out (Resizing: antialiasing)"),
            (#"{"class_name": "RandomCrop", "name": "out", "config": {"name": "out", "height": 70000, "width": 4}}"#, "[x]",
             "out (RandomCrop): its height and width must be whole numbers from 1 to 65536"),
        ]
        for (layer, args, message) in refusals {
            let error = #expect(throws: KerasConfigError.self, "\(layer)") { try KerasModel.build(config: try KerasModelConfig(json: Self.oneLayer(layer, args: args))) }
            #expect(error?.description.contains(message) == true, "\(layer): \(error?.description ?? "built")")
        }
    }
}
