import Foundation
import Synchronization

/// Runs every kernel on another backend and adds up the time and FLOPs per kind of kernel ("convolution backward
/// weights", "batch norm training", …): where a training step's kernel time goes (`zoo-bench --transfer --profile`).
/// Work outside the backend (elementwise ops in Swift, the tape, the optimizer) is what the step's total leaves over.
public final class ProfilingBackend: Backend, @unchecked Sendable {
    public struct Entry: Sendable {
        public var seconds = 0.0
        public var flops = 0.0
        public var calls = 0
    }

    public let inner: any Backend
    private let entries = Mutex<[String: Entry]>([:])
    public var name: String { inner.name }

    public init(_ inner: any Backend) { self.inner = inner }

    /// Time, FLOPs and calls per kind of kernel so far.
    public var profile: [String: Entry] { entries.withLock { $0 } }
    public func reset() { entries.withLock { $0 = [:] } }

    private func timed<R>(_ kind: String, flops: Double = 0, _ body: () throws -> R) rethrows -> R {
        let start = ContinuousClock.now
        let result = try body()
        let seconds = (ContinuousClock.now - start).inSeconds
        entries.withLock {
            $0[kind, default: Entry()].seconds += seconds
            $0[kind, default: Entry()].flops += flops
            $0[kind, default: Entry()].calls += 1
        }
        return result
    }

    public func conv2d(_ x: Tensor, _ kernel: Tensor, bias: Tensor?, _ g: ConvolutionGeometry) throws -> Tensor {
        try timed("convolution forward", flops: g.flops) { try inner.conv2d(x, kernel, bias: bias, g) }
    }
    public func conv2dBackwardData(_ dy: Tensor, _ kernel: Tensor, _ g: ConvolutionGeometry) throws -> Tensor {
        try timed("convolution backward data", flops: g.flops) { try inner.conv2dBackwardData(dy, kernel, g) }
    }
    public func conv2dBackwardWeights(_ dy: Tensor, _ x: Tensor, _ g: ConvolutionGeometry, withBias: Bool) throws -> (kernel: Tensor, bias: Tensor?) {
        try timed("convolution backward weights", flops: g.flops) { try inner.conv2dBackwardWeights(dy, x, g, withBias: withBias) }
    }
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws -> Tensor {
        let flops = 2.0 * Double(transposeA ? a.shape[1] : a.shape[0]) * Double(transposeA ? a.shape[0] : a.shape[1])
            * Double(transposeB ? b.shape[0] : b.shape[1])
        return try timed("matmul", flops: flops) { try inner.matmul(a, b, transposeA: transposeA, transposeB: transposeB) }
    }
    public func activation(_ kind: Activation, _ x: Tensor) throws -> Tensor {
        try timed("activation") { try inner.activation(kind, x) }
    }
    public func activationBackward(_ kind: Activation, _ dy: Tensor, x: Tensor, y: Tensor) throws -> Tensor {
        try timed("activation backward") { try inner.activationBackward(kind, dy, x: x, y: y) }
    }
    public func pool2d(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
        try timed("pooling") { try inner.pool2d(kind, x, g) }
    }
    public func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
        try timed("pooling backward") { try inner.pool2dBackward(kind, dy, x: x, g) }
    }
    public func pool2dTraining(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> (y: Tensor, workspace: AnyObject?) {
        try timed("pooling") { try inner.pool2dTraining(kind, x, g) }
    }
    public func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, workspace: AnyObject, _ g: PoolingGeometry) throws -> Tensor {
        try timed("pooling backward") { try inner.pool2dBackward(kind, dy, workspace: workspace, g) }
    }
    public func lrn(_ x: Tensor, _ p: LRNParameters) throws -> Tensor {
        try timed("lrn") { try inner.lrn(x, p) }
    }
    public func lrnBackward(_ dy: Tensor, x: Tensor, _ p: LRNParameters) throws -> Tensor {
        try timed("lrn backward") { try inner.lrnBackward(dy, x: x, p) }
    }
    public func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor {
        try timed("batch norm inference") { try inner.batchNorm(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: epsilon) }
    }
    public func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor) {
        try timed("batch norm training") { try inner.batchNormTraining(x, gamma: gamma, beta: beta, epsilon: epsilon) }
    }
    public func batchNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
                                  batchStatistics: Bool, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        try timed("batch norm backward") {
            try inner.batchNormBackward(dy, x: x, gamma: gamma, mean: mean, variance: variance, epsilon: epsilon,
                                        batchStatistics: batchStatistics, inputGradient: inputGradient)
        }
    }
    public func batchNormReLUTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: AnyObject?) {
        try timed("batch norm + relu training") { try inner.batchNormReLUTraining(x, gamma: gamma, beta: beta, epsilon: epsilon) }
    }
    public func batchNormReLUBackward(_ dy: Tensor, x: Tensor, y: Tensor?, workspace: AnyObject?, gamma: Tensor, mean: Tensor, variance: Tensor,
                                      epsilon: Float, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        try timed("batch norm + relu backward") {
            try inner.batchNormReLUBackward(dy, x: x, y: y, workspace: workspace, gamma: gamma, mean: mean, variance: variance,
                                            epsilon: epsilon, inputGradient: inputGradient)
        }
    }
}
