import ArgumentParser
import Foundation
import ZooTensor

/// Times Zoo's kernels for tools/bench: one JSON object per measurement on stdout.
@main
struct ZooBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo-bench",
        abstract: "Times Zoo's convolution kernels on the shapes of a JSON file (see tools/bench/ops).",
        discussion: "Example: zoo-bench --shapes tools/bench/resnet50_convolutions.json --batch 32 --backend dnnl")

    @Option(help: "JSON file listing the convolutions (tools/bench/resnet50_convolutions.json).")
    var shapes: String

    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Comma-separated backends: dnnl, reference.") var backend = "dnnl"
    @Option(help: "Seconds to spend timing each measurement after warm-up (at least 3 runs; 1 on the reference backend).")
    var seconds = 1.0

    struct Shapes: Decodable {
        struct Shape: Decodable {
            let name: String, size: Int, `in`: Int, out: Int, kernel: Int, stride: Int
            let padding: PaddingSpec
        }
        enum PaddingSpec: Decodable {
            case named(String), pixels(Int)
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let n = try? c.decode(Int.self) { self = .pixels(n) } else { self = .named(try c.decode(String.self)) }
            }
            var padding: Padding {
                switch self {
                case .pixels(let n): .explicit(top: n, bottom: n, left: n, right: n)
                case .named(let name): name == "same" ? .same : .valid
                }
            }
        }
        let shapes: [Shape]
    }

    mutating func run() throws {
        let list = try JSONDecoder().decode(Shapes.self, from: Data(contentsOf: URL(fileURLWithPath: shapes))).shapes
        for name in backend.split(separator: ",") {
            let backend = try Runtime.backend(named: String(name))
            for shape in list {
                var generator = SeededGenerator(seed: 1)
                let g = try ConvolutionGeometry(input: [batch, shape.size, shape.size, shape.in],
                                                kernel: [shape.kernel, shape.kernel, shape.in, shape.out],
                                                strides: (shape.stride, shape.stride), padding: shape.padding.padding)
                let x = Tensor.uniform(g.inputShape, using: &generator), w = Tensor.uniform(g.kernelShape, using: &generator)
                let dy = Tensor.uniform(g.outputShape, using: &generator)
                let measurements: [(String, () throws -> Void)] = [
                    ("forward", { _ = try backend.conv2d(x, w, bias: nil, g) }),
                    ("backward_data", { _ = try backend.conv2dBackwardData(dy, w, g) }),
                    ("backward_weights", { _ = try backend.conv2dBackwardWeights(dy, x, g, withBias: false) }),
                ]
                for (direction, body) in measurements {
                    let seconds = try median(of: body, minimumRuns: backend is ReferenceBackend ? 1 : 3)
                    let line: [String: Any] = ["name": shape.name, "backend": backend.name, "direction": direction,
                                               "seconds": seconds, "gflops": g.flops / seconds / 1e9]
                    FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) + Data("\n".utf8))
                }
            }
        }
    }

    /// Median wall time of `body` after one warm-up run.
    func median(of body: () throws -> Void, minimumRuns: Int) throws -> Double {
        let clock = ContinuousClock()
        try body()
        var times: [Double] = []
        let start = clock.now
        while times.count < minimumRuns || (clock.now - start) < .seconds(seconds) {
            let t0 = clock.now
            try body()
            let d = clock.now - t0
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
            if minimumRuns == 1 { break }
        }
        return times.sorted()[times.count / 2]
    }
}
