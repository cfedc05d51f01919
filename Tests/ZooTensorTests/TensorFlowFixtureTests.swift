import Foundation
import Testing
import ZooTensor

/// Zoo's ops against outputs TensorFlow/Keras computed on random inputs (tools/keras/make_op_fixtures.py).
@Suite struct TensorFlowFixtureTests {
    struct Fixture: Decodable {
        let tensorflow: String
        let cases: [Case]
    }

    struct Case: Decodable {
        let op: String
        let params: [String: Parameter]
        let inputs: [String: Array]
        let outputs: [String: Array]
    }

    struct Array: Decodable {
        let shape: [Int]
        let data: [Float]
        var tensor: Tensor { try! Tensor(shape: shape, scalars: data) }
    }

    enum Parameter: Decodable {
        case number(Double), text(String), list([Int])

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Double.self) { self = .number(v) } else if let v = try? c.decode([Int].self) { self = .list(v) } else {
                self = .text(try c.decode(String.self))
            }
        }

        var number: Double { if case .number(let v) = self { return v }; fatalError("not a number: \(self)") }
        var text: String { if case .text(let v) = self { return v }; fatalError("not text: \(self)") }
        var list: [Int] { if case .list(let v) = self { return v }; fatalError("not a list: \(self)") }
        var pair: (Int, Int) { (list[0], list[1]) }
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "tensorflow_ops", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    static func cases(_ op: String) -> [Case] { fixture.cases.filter { $0.op == op } }

    static func padding(_ p: Parameter) -> Padding {
        if case .list(let l) = p { return .explicit(top: l[0], bottom: l[1], left: l[2], right: l[3]) }
        return p.text == "same" ? .same : .valid
    }

    /// The fidelity bound: max|Δ| ≤ 1e-4 · max(1, max|ref|), on both backends.
    func expectMatches(_ label: String, _ expected: Tensor, sourceLocation: SourceLocation = #_sourceLocation,
                       _ compute: () throws -> Tensor) throws {
        for backend in [dnnl as any Backend, reference] {
            let actual = try on(backend) { try compute() }
            #expect(actual.shape == expected.shape, "\(label) on \(backend.name): shape", sourceLocation: sourceLocation)
            guard actual.shape == expected.shape else { continue }
            #expect(deviation(actual, expected) <= 1e-4, "\(label) on \(backend.name): deviation \(deviation(actual, expected))",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases("conv2d").count >= 10)
        #expect(Self.cases("max_pool").count >= 6 && Self.cases("average_pool").count >= 6)
        #expect(Self.cases("lrn").count >= 3 && Self.cases("batch_norm").count >= 2 && Self.cases("loss").count == 7)
    }

    @Test func convolution() throws {
        for c in Self.cases("conv2d") {
            let x = Variable(c.inputs["x"]!.tensor), k = Variable(c.inputs["kernel"]!.tensor), b = c.inputs["bias"].map { Variable($0.tensor) }
            try expectMatches("conv2d \(x.shape) \(k.shape)", c.outputs["y"]!.tensor) {
                try conv2d(x, k, bias: b, strides: c.params["strides"]!.pair, padding: Self.padding(c.params["padding"]!),
                           dilation: c.params["dilation"]!.pair, groups: Int(c.params["groups"]!.number)).value
            }
        }
    }

    @Test(arguments: ["max", "average"])
    func pooling(_ kind: String) throws {
        for c in Self.cases(kind + "_pool") {
            let x = Variable(c.inputs["x"]!.tensor)
            let (size, strides, padding) = (c.params["size"]!.pair, c.params["strides"]!.pair, Self.padding(c.params["padding"]!))
            try expectMatches("\(kind) pool \(x.shape) \(size)/\(strides) \(padding)", c.outputs["y"]!.tensor) {
                kind == "max" ? try maxPool2d(x, size: size, strides: strides, padding: padding).value
                    : try averagePool2d(x, size: size, strides: strides, padding: padding).value
            }
        }
        for c in Self.cases("global_\(kind)_pool") {
            let x = Variable(c.inputs["x"]!.tensor)
            try expectMatches("global \(kind) pool", c.outputs["y"]!.tensor) {
                kind == "max" ? try globalMaxPool2d(x).value : try globalAveragePool2d(x).value
            }
        }
    }

    @Test func localResponseNormalization() throws {
        for c in Self.cases("lrn") {
            let p = LRNParameters(size: Int(c.params["size"]!.number), alpha: Float(c.params["alpha"]!.number),
                                  beta: Float(c.params["beta"]!.number), k: Float(c.params["k"]!.number))
            let x = Variable(c.inputs["x"]!.tensor)
            try expectMatches("lrn \(x.shape) \(p)", c.outputs["y"]!.tensor) { try lrn(x, p).value }
        }
    }

    @Test func batchNormalization() throws {
        for c in Self.cases("batch_norm") {
            let t = c.inputs.mapValues(\.tensor)
            let (epsilon, momentum) = (Float(c.params["epsilon"]!.number), Float(c.params["momentum"]!.number))
            for backend in [dnnl as any Backend, reference] {
                let mean = Variable(t["moving_mean"]!), variance = Variable(t["moving_variance"]!)
                func run(_ training: Bool) throws -> Tensor {
                    try on(backend) {
                        try batchNorm(Variable(t["x"]!), gamma: Variable(t["gamma"]!), beta: Variable(t["beta"]!), movingMean: mean,
                                      movingVariance: variance, epsilon: epsilon, momentum: momentum, training: training).value
                    }
                }
                let label = "batch norm \(t["x"]!.shape) on \(backend.name)"
                #expect(deviation(try run(false), c.outputs["inference"]!.tensor) <= 1e-4, "\(label): inference")
                #expect(deviation(try run(true), c.outputs["training"]!.tensor) <= 1e-4, "\(label): training")
                #expect(deviation(mean.value, c.outputs["moving_mean"]!.tensor) <= 1e-5, "\(label): moving mean")
                #expect(deviation(variance.value, c.outputs["moving_variance"]!.tensor) <= 1e-5, "\(label): moving variance")
            }
        }
    }

    @Test func losses() throws {
        let functions: [String: LossFunction] = [
            "categorical_logits": .categoricalCrossEntropy(fromLogits: true),
            "categorical_probabilities": .categoricalCrossEntropy(fromLogits: false),
            "sparse_logits": .sparseCategoricalCrossEntropy(fromLogits: true),
            "sparse_probabilities": .sparseCategoricalCrossEntropy(fromLogits: false),
            "binary_logits": .binaryCrossEntropy(fromLogits: true),
            "binary_probabilities": .binaryCrossEntropy(fromLogits: false),
            "mean_squared_error": .meanSquaredError,
        ]
        for c in Self.cases("loss") {
            let name = c.params["function"]!.text
            let predictions = Variable(c.inputs["predictions"]!.tensor, requiresGrad: true)
            let value = try loss(functions[name]!, predictions: predictions, targets: c.inputs["targets"]!.tensor)
            try value.backward()
            let expected = c.outputs["loss"]!.tensor.scalars[0]
            #expect(abs(value.value.scalar - expected) <= 1e-5 * max(1, abs(expected)), "\(name): \(value.value.scalar) vs \(expected)")
            #expect(deviation(predictions.grad!, c.outputs["gradient"]!.tensor) <= 1e-4, "\(name): gradient")
        }
    }

    @Test func softmaxAndLogSoftmax() throws {
        for c in Self.cases("softmax") {
            let x = Variable(c.inputs["x"]!.tensor)
            #expect(deviation(try softmax(x).value, c.outputs["softmax"]!.tensor) <= 1e-5)
            #expect(deviation(try logSoftmax(x).value, c.outputs["log_softmax"]!.tensor) <= 1e-5)
        }
    }
}
