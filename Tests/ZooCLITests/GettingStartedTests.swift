import Foundation
import Testing
import ZooTestSupport
import Zoo

/// The DocC article "Getting started" and the example it walks through (docs/examples/getting-started): the
/// article's code is the example's, and the example classifies, fine-tunes and exports as the command line does.
@Suite struct GettingStartedTests {
    static let article = repository.appendingPathComponent("Sources/Zoo/Zoo.docc/GettingStarted.md")
    static let example = repository.appendingPathComponent("docs/examples/getting-started/main.swift")

    /// Every Swift block of the article but the package manifest lines stands in the example verbatim.
    @Test func theArticleShowsTheExamplesCode() throws {
        let article = try String(contentsOf: Self.article, encoding: .utf8)
        let example = try String(contentsOf: Self.example, encoding: .utf8)
        let blocks = article.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```").first! }
        let code = blocks.filter { !$0.contains(".package(") && !$0.contains("try Plugins.backbones.backbone(named:") }
        #expect(code.count == 4, "\(blocks.count) Swift blocks")
        for block in code { #expect(example.contains(block), "not in the example:\n\(block)") }
    }

    /// The example's predictions are the images' true classes (the file names carry Fashion-MNIST's labels), and its
    /// ONNX export gives in ONNX Runtime (softmax applied) what `zoo predict` gives for the fine-tuned weights it wrote.
    @Test func theExampleRunsAndItsExportMatchesZooPredict() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        let example = zooExecutable().deletingLastPathComponent().appendingPathComponent("getting-started-example")
        let (status, stdout, stderr) = try runProcess(example, [run.path], environment: ProcessInfo.processInfo.environment, in: repository)
        #expect(status == 0, "\(stderr)")
        #expect(stdout.contains("lenet5-relu: 5 classes, input [32, 32, 1]"), "\(stdout)")
        #expect(stdout.contains("examples/images/1-trouser-1.png: Trouser ("), "\(stdout)")
        #expect(stdout.contains("examples/images/3-dress-2.png: Dress ("), "\(stdout)")

        var generator = SeededGenerator(seed: 7)
        let input = Tensor.uniform([3, 32, 32, 1], using: &generator)
        let inputs = folder.appendingPathComponent("inputs.npy"), outputs = folder.appendingPathComponent("outputs.npy")
        try NumPyArray.write(input, to: inputs)
        let predicted = try runZoo(["predict", "--weights", run.appendingPathComponent("weights.safetensors").path, inputs.path,
                                    "--output", outputs.path])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let zoo = try NumPyArray.read(outputs)
        let first = try #require(try onnxRuntime(run.appendingPathComponent("model.onnx"), input: input, in: folder).outputs.first)
        #expect(first.shape == zoo.shape, "ONNX Runtime \(first.shape), zoo \(zoo.shape)")
        // The graph gives logits, zoo predict probabilities.
        let runtime = try softmax(Variable(try Tensor(shape: first.shape, scalars: first.values))).value.scalars
        let deviation = largestDifference(runtime, zoo.scalars)
        #expect(deviation <= 1e-5, "ONNX Runtime against zoo predict: \(deviation)")
    }
}
