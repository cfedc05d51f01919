// Transfer learning with the library: the example LeNet-5 (ReLU and max pooling; Keras, Fashion-MNIST classes 0, 1,
// 3, 5, 8) taken to classes 2, 4, 6, 7, 9 with 10 images per class, by feature extraction and by fine-tuning, each
// scored on the 5,000 test images.
//
// Run from the repository after tools/setup:  swift run -c release transfer-example [OUTPUT-FOLDER]
import Foundation
import Zoo

let output = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? "runs/library-example")
let weights = URL(fileURLWithPath: "examples/lenet5-relu_fashion_0-1-3-5-8.h5")  // any Keras flavour or native file
let backbone = try Plugins.backbones.backbone(named: "lenet5-relu")

// Data: Fashion-MNIST from Debian's dataset-fashion-mnist, classes 2, 4, 6, 7, 9 relabelled 0–4, 10 training images each.
let classes = try ClassSelection.parse("2,4,6,7,9", classCount: 10)
let training = try IDXFiles.dataset(folder: IDXFiles.fashionMNISTFolder, split: .train, classNames: IDXFiles.fashionMNISTClassNames)
    .selecting(classes: classes).capped(perClass: 10, seed: 0)
let test = try IDXFiles.dataset(folder: IDXFiles.fashionMNISTFolder, split: .test, classNames: IDXFiles.fashionMNISTClassNames)
    .selecting(classes: classes)

for mode in [TransferConfiguration.Mode.features, .finetune] {
    let plan = TrainingPlan(epochs: 30, batchSize: 32, schedule: .constant(1e-2), seed: 0)
    var configuration = TransferConfiguration(mode: mode, backbone: backbone, weights: weights, training: training, plan: plan,
                                              optimizer: OptimizerChoice(.adam), output: output.appendingPathComponent(mode.rawValue))
    configuration.freeze = .through("s4")  // fine-tuning trains c5, f6 and a new classifier
    configuration.tap = "s4"               // feature extraction trains one Dense layer on s4's 5×5×16 values
    configuration.pooling = .flatten
    let job = TransferJob(configuration, formats: Plugins.weightFormats)
    let result = try job.run()

    // Score the trained network (backbone and head) on the test images, prepared as the plugin says.
    let scores = try Trainer.evaluate(result.model, on: ImageData(test, preparation: ImagePreparation(for: backbone)), batchSize: 64)
    print(String(format: "%@: top-1 %.2f%% on %d test images; wrote %@", mode.rawValue, 100 * scores.top1, scores.count,
                 result.files.map(\.lastPathComponent).joined(separator: ", ")))
}
