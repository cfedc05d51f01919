// Getting started with the library: the backbone a Keras file is for, found and loaded; images classified; the
// network fine-tuned to other classes; the result exported to ONNX. Sources/Zoo/Zoo.docc/GettingStarted.md walks
// through the same code.
//
// Run from the repository after tools/setup:  swift run -c release getting-started-example [OUTPUT-FOLDER]
import Foundation
import Zoo

let output = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? "runs/getting-started")

// Load: any Keras flavour or a native file; the registry finds which backbone the weights are for.
let file = URL(fileURLWithPath: "examples/lenet5-relu_fashion_0-1-3-5-8.h5")
let weights = try Plugins.weightFormats.read(file)
let network = try Network(weights, file: file.path, backbones: Plugins.backbones)
print("\(network.backbone.name): \(network.classes) classes, input \(network.model.inputShapes[0])")

// Predict: images decoded, then resized, cropped and normalized as the backbone's plugin says.
let names = try ClassNames.read(contentsOf: URL(fileURLWithPath: "examples/fashion_0-1-3-5-8.txt"))
let paths = ["examples/images/1-trouser-1.png", "examples/images/3-dress-2.png"]
let images = try paths.map { try ImageCodec.decode(contentsOf: URL(fileURLWithPath: $0)) }
let logits = try network.model.predict(network.preparation.batch(images))
let probabilities = try softmax(Variable(logits)).value
for (row, path) in paths.enumerated() {
    let scores = (0..<network.classes).map { probabilities[flat: row * network.classes + $0] }
    let best = scores.indices.max { scores[$0] < scores[$1] }!
    print(String(format: "%@: %@ (%.1f%%)", path, names[best], 100 * scores[best]))
}

// Fine-tune: the same network taken to Fashion-MNIST's classes 2, 4, 6, 7, 9 from 10 images each, c1–s4 frozen.
let classes = try ClassSelection.parse("2,4,6,7,9", classCount: 10)
let training = try IDXFiles.dataset(folder: IDXFiles.fashionMNISTFolder, split: .train, classNames: IDXFiles.fashionMNISTClassNames)
    .selecting(classes: classes).capped(perClass: 10, seed: 0)
var configuration = TransferConfiguration(mode: .finetune, backbone: network.backbone, weights: file, training: training,
                                          plan: TrainingPlan(epochs: 30, batchSize: 32, schedule: .constant(1e-2), seed: 0),
                                          optimizer: OptimizerChoice(.adam), output: output)
configuration.freeze = .through("s4")
let result = try TransferJob(configuration, formats: Plugins.weightFormats).run()
print("fine-tuned; wrote " + result.files.map(\.lastPathComponent).joined(separator: ", "))

// Export: the fine-tuned network as ONNX, for ONNX Runtime or any other engine.
let onnx = try ONNXExport.model(result.model)
try onnx.bytes.write(to: output.appendingPathComponent("model.onnx"))
print("exported \(onnx.nodeCount) ONNX nodes, input \(onnx.inputShape), outputs \(onnx.outputNames)")
