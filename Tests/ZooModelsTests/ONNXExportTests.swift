import Foundation
import Testing
import ZooTestSupport
import ZooConverters
import ZooCore
import ZooModels
import ZooNN
import ZooONNX
import ZooTensor

/// Each backbone exported to ONNX with the Keras fixtures' randomized weights, checked by onnx.checker and run in
/// ONNX Runtime on the fixture's input: its outputs within max|Δ| ≤ 1e-5 · max|Zoo| of Zoo's on oneDNN. Classifiers
/// are exported without their softmax, whose saturated probabilities would hide differences in the logits.
@Suite(.serialized) struct ONNXExportTests {
    /// Fixture, and the export options beyond the defaults: every plugin family with its top, LRN and grouped
    /// convolutions (AlexNet), 'same' pooling (GoogLeNet), both layouts, the opset range; then every other backbone
    /// without its top at a small input (4-D outputs, and pooled ones).
    static let cases: [(fixture: String, opset: Int, nchw: Bool, batch: Int?)] = [
        ("lenet5", 17, false, nil), ("lenet5", 13, true, 2), ("lenet5", 21, false, 2),
        ("alexnet-grouped", 17, false, nil), ("vgg_a", 17, false, nil), ("googlenet", 17, false, nil),
        ("resnet18", 17, false, nil), ("resnet50", 17, false, nil), ("resnet50_notop_64", 17, true, nil),
        ("densenet121", 17, false, nil),
    ] + ["alexnet_notop_67", "vgg_a-lrn_notop_64", "vgg_b_notop_64", "vgg_c_notop_64", "vgg16_notop_avg_64", "vgg19_notop_64",
         "resnet34_notop_64", "resnet101_notop_64", "resnet152_notop_64", "densenet169_notop_64", "densenet201_notop_64",
         "googlenet_notop_96"].map { ($0, 17, false, nil) }

    @Test(arguments: cases.indices)
    func runsInONNXRuntimeAsInZoo(_ index: Int) throws {
        let (name, opset, nchw, batch) = Self.cases[index]
        let fixture = BackboneFixtures.manifest.cases.first { $0.name == name }!
        var (backbone, options) = KerasFidelityTests.plugin(for: name)
        options.classifierActivation = nil
        let model = try backbone.build(options)
        try model.load(try formats.read(BackboneFixtures.folder.appendingPathComponent(fixture.weights)))
        let input = try BackboneFixtures.tensor(fixture.arrays["input"]!)
        let expected = try Runtime.using(try Runtime.dnnl.get()) { try model.predict(input) }

        var exportOptions = ONNXExportOptions()
        exportOptions.opset = opset
        exportOptions.nchw = nchw
        exportOptions.batch = batch
        let exported = try ONNXExport.model(model, options: exportOptions)
        let run = try ONNXRuntime.run(exported.bytes, input: nchw ? try transposed(input, [0, 3, 1, 2]) : input)
        #expect(run.outputs.count == 1 && run.outputs[0].name == exported.outputNames[0], "\(name): outputs \(run.outputs.map(\.name))")
        var output = run.outputs[0].value
        if nchw && output.rank == 4 { output = try transposed(output, [0, 2, 3, 1]) }
        #expect(output.shape == expected.shape, "\(name): ONNX Runtime gives \(output.shape), Zoo \(expected.shape)")
        guard output.shape == expected.shape else { return }
        let relative = output.maxAbsoluteDifference(expected) / expected.maxMagnitude
        #expect(relative <= 1e-5, "\(name) opset \(opset)\(nchw ? " NCHW" : ""): ONNX Runtime deviates from Zoo by \(relative) of max|Zoo| \(expected.maxMagnitude)")
    }

    /// Activations ONNX has no single operator for, written out: GELU before opset 20 (exact and tanh forms) and
    /// Keras's ReLU with a threshold, a slope and a cap; ONNX Runtime gives what the reference backend gives.
    @Test(arguments: [17, 20])
    func writtenOutActivationsRunAsInZoo(_ opset: Int) throws {
        let kinds: [Activation] = [.gelu(approximate: true), .gelu(approximate: false),
                                   .rectifier(negativeSlope: 0.2, maxValue: 1.25, threshold: -0.5),
                                   .rectifier(negativeSlope: 0.1, maxValue: nil, threshold: 0.3)]
        var generator = SeededGenerator(seed: 11)
        let input = Tensor.normal([2, 5, 4, 3], standardDeviation: 2, using: &generator)
        for kind in kinds {
            let model = Model.sequential(name: "net", inputShape: [5, 4, 3], layers: [Layers.activation("act", kind)], tapNames: [])
            let expected = try Runtime.using(Runtime.reference) { try model.predict(input) }
            var options = ONNXExportOptions()
            options.opset = opset
            let output = try #require(try ONNXRuntime.run(try ONNXExport.model(model, options: options).bytes, input: input).outputs.first).value
            #expect(output.shape == expected.shape && output.maxAbsoluteDifference(expected) <= 1e-5, "\(kind) at opset \(opset): \(output.maxAbsoluteDifference(expected))")
        }
    }

    @Test func aLayerWithoutAnONNXFormIsNamedInTheError() throws {
        let opaque = Lambda("custom_scale") { x, _ in x }
        let model = Model.sequential(name: "net", inputShape: [8, 8, 3], layers: [Layers.flatten("flatten"), opaque], tapNames: [])
        #expect {
            try ONNXExport.model(model)
        } throws: { error in
            "\(error)".contains("'custom_scale' (Lambda)") && "\(error)".contains("no ONNX form")
        }
    }
}

/// A tensor with its axes permuted (NHWC ↔ NCHW).
func transposed(_ t: Tensor, _ permutation: [Int]) throws -> Tensor {
    let shape = permutation.map { t.shape[$0] }
    var strides = Array(repeating: 1, count: t.rank)
    for axis in stride(from: t.rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * t.shape[axis + 1] }
    let source = t.scalars
    var out = [Float](repeating: 0, count: source.count)
    var index = Array(repeating: 0, count: t.rank)
    for position in out.indices {
        var offset = 0
        for axis in 0..<t.rank { offset += index[axis] * strides[permutation[axis]] }
        out[position] = source[offset]
        for axis in stride(from: t.rank - 1, through: 0, by: -1) {
            index[axis] += 1
            if index[axis] < shape[axis] { break }
            index[axis] = 0
        }
    }
    return try Tensor(shape: shape, scalars: out)
}

/// tools/onnx/run.py: onnx.checker, then ONNX Runtime on one input.
enum ONNXRuntime {
    struct Output { let name: String, value: Tensor }

    static func run(_ model: Data, input: Tensor) throws -> (outputs: [Output], metadata: [String: String]) {
        try run(model, inputs: [input])
    }

    /// Runs a model with several inputs, given in the model's order.
    static func run(_ model: Data, inputs: [Tensor]) throws -> (outputs: [Output], metadata: [String: String]) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let modelURL = folder.appendingPathComponent("model.onnx")
        try model.write(to: modelURL)
        let inputURLs = try inputs.enumerated().map { index, input in
            let url = folder.appendingPathComponent("input\(index).f32")
            try input.withUnsafeBufferPointer { try Data(buffer: $0).write(to: url) }
            return url.path
        }
        let run = try runProcess(repository.appendingPathComponent("tools/python"), [repository.appendingPathComponent("tools/onnx/run.py").path,
                                 modelURL.path, inputURLs.joined(separator: ","), folder.appendingPathComponent("out").path])
        guard run.status == 0 else { throw ShapeError("onnx", "tools/onnx/run.py failed (status \(run.status)): \(run.stderr)") }
        let report = Data(run.stdout.utf8)
        struct Report: Decodable {
            struct Value: Decodable { let name: String, shape: [Int] }
            let outputs: [Value]
            let metadata: [String: String]
        }
        let decoded = try JSONDecoder().decode(Report.self, from: report)
        let outputs = try decoded.outputs.map { output in
            let data = try Data(contentsOf: folder.appendingPathComponent("out.\(output.name).f32"))
            return Output(name: output.name, value: try Tensor(shape: output.shape, scalars: data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }))
        }
        return (outputs, decoded.metadata)
    }
}
