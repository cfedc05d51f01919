import Foundation

/// The compute kernels that have a fast implementation in oneDNN. Every requirement has the reference implementation
/// as its default, so a backend overrides only what it accelerates. Inputs arrive validated by the op layer.
public protocol Backend: AnyObject, Sendable {
    var name: String { get }

    func conv2d(_ x: Tensor, _ kernel: Tensor, bias: Tensor?, _ g: ConvolutionGeometry) throws -> Tensor
    func conv2dBackwardData(_ dy: Tensor, _ kernel: Tensor, _ g: ConvolutionGeometry) throws -> Tensor
    func conv2dBackwardWeights(_ dy: Tensor, _ x: Tensor, _ g: ConvolutionGeometry, withBias: Bool) throws -> (kernel: Tensor, bias: Tensor?)

    /// op(a) · op(b) for 2-D tensors.
    func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws -> Tensor

    func activation(_ kind: Activation, _ x: Tensor) throws -> Tensor
    func activationBackward(_ kind: Activation, _ dy: Tensor, x: Tensor, y: Tensor) throws -> Tensor

    func pool2d(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> Tensor
    func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, x: Tensor, _ g: PoolingGeometry) throws -> Tensor
    /// Pooling in a training pass: the output and, where the backend has one, what its backward needs in place of the
    /// input (opaque; nil when the backward reads the input).
    func pool2dTraining(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> (y: Tensor, workspace: AnyObject?)
    /// The backward of `pool2dTraining` from its workspace.
    func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, workspace: AnyObject, _ g: PoolingGeometry) throws -> Tensor

    /// Across the last (channel) axis.
    func lrn(_ x: Tensor, _ p: LRNParameters) throws -> Tensor
    func lrnBackward(_ dy: Tensor, x: Tensor, _ p: LRNParameters) throws -> Tensor

    /// Normalizes with the given statistics (inference mode).
    func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor
    /// Normalizes with the batch's own statistics (training mode) and returns them: mean and biased variance.
    func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor)
    func batchNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
                           batchStatistics: Bool, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor)

    /// Training-mode batch normalization followed by ReLU, in one pass where the backend can; `workspace` is what
    /// its backward needs in place of the output (opaque; nil when the backward reads the output).
    func batchNormReLUTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: AnyObject?)
    /// The backward of `batchNormReLUTraining`, given its `workspace`, or its output `y` when the workspace is nil.
    func batchNormReLUBackward(_ dy: Tensor, x: Tensor, y: Tensor?, workspace: AnyObject?, gamma: Tensor, mean: Tensor, variance: Tensor,
                               epsilon: Float, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor)
}

extension Backend {
    public func pool2dTraining(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> (y: Tensor, workspace: AnyObject?) {
        (try pool2d(kind, x, g), nil)
    }

    public func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, workspace: AnyObject, _ g: PoolingGeometry) throws -> Tensor {
        throw ShapeError("pool2dBackward", "\(name) keeps no pooling workspace: the backward pass needs the forward pass's input")
    }
}

extension Tensor {
    /// Positions × channels, for kernels that work per channel over every other axis.
    var positionsAndChannels: (positions: Int, channels: Int) {
        let channels = shape.last ?? 1
        return (channels == 0 ? 0 : count / channels, channels)
    }
}

/// Read-only pointers for kernel calls; the tensors stay alive for the call.
@inline(__always) func ptr(_ t: Tensor) -> UnsafePointer<Float> { UnsafePointer(t.storage.pointer) }

/// A fresh tensor whose buffer `body` fills completely (it starts uninitialized).
@inline(__always) func produce(_ shape: [Int], _ body: (UnsafeMutablePointer<Float>) throws -> Void) rethrows -> Tensor {
    var t = Tensor(uninitialized: shape)
    try t.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    return t
}

extension Backend {
    public func conv2d(_ x: Tensor, _ kernel: Tensor, bias: Tensor?, _ g: ConvolutionGeometry) throws -> Tensor {
        produce(g.outputShape) { ReferenceKernels.conv2d(ptr(x), ptr(kernel), bias: bias.map(ptr), $0, g) }
    }

    public func conv2dBackwardData(_ dy: Tensor, _ kernel: Tensor, _ g: ConvolutionGeometry) throws -> Tensor {
        produce(g.inputShape) { ReferenceKernels.conv2dBackwardData(ptr(dy), ptr(kernel), $0, g) }
    }

    public func conv2dBackwardWeights(_ dy: Tensor, _ x: Tensor, _ g: ConvolutionGeometry, withBias: Bool) throws -> (kernel: Tensor, bias: Tensor?) {
        var bias = withBias ? Tensor(zeros: [g.outputChannels]) : nil
        let kernel = produce(g.kernelShape) { dw in
            if bias != nil {
                bias!.withUnsafeMutableBufferPointer { ReferenceKernels.conv2dBackwardWeights(ptr(dy), ptr(x), dw, dbias: $0.baseAddress, g) }
            } else {
                ReferenceKernels.conv2dBackwardWeights(ptr(dy), ptr(x), dw, dbias: nil, g)
            }
        }
        return (kernel, bias)
    }

    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws -> Tensor {
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let n = transposeB ? b.shape[0] : b.shape[1]
        return produce([m, n]) {
            ReferenceKernels.matmul(ptr(a), ptr(b), $0, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
        }
    }

    public func activation(_ kind: Activation, _ x: Tensor) throws -> Tensor {
        produce(x.shape) { ReferenceKernels.activation(kind, ptr(x), $0, count: x.count) }
    }

    public func activationBackward(_ kind: Activation, _ dy: Tensor, x: Tensor, y: Tensor) throws -> Tensor {
        produce(x.shape) { ReferenceKernels.activationBackward(kind, ptr(dy), x: ptr(x), y: ptr(y), $0, count: x.count) }
    }

    public func pool2d(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
        produce(g.outputShape) { ReferenceKernels.pool2d(kind, ptr(x), $0, g) }
    }

    public func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
        produce(g.inputShape) { ReferenceKernels.pool2dBackward(kind, ptr(dy), ptr(x), $0, g) }
    }

    public func lrn(_ x: Tensor, _ p: LRNParameters) throws -> Tensor {
        let (positions, channels) = x.positionsAndChannels
        return produce(x.shape) { ReferenceKernels.lrn(ptr(x), $0, positions: positions, channels: channels, p) }
    }

    public func lrnBackward(_ dy: Tensor, x: Tensor, _ p: LRNParameters) throws -> Tensor {
        let (positions, channels) = x.positionsAndChannels
        return produce(x.shape) { ReferenceKernels.lrnBackward(ptr(dy), ptr(x), $0, positions: positions, channels: channels, p) }
    }

    public func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor {
        let (positions, channels) = x.positionsAndChannels
        return produce(x.shape) {
            ReferenceKernels.batchNorm(ptr(x), $0, positions: positions, channels: channels, gamma: ptr(gamma), beta: ptr(beta),
                                       mean: ptr(mean), variance: ptr(variance), epsilon: epsilon)
        }
    }

    public func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor) {
        let (positions, channels) = x.positionsAndChannels
        var variance = Tensor(zeros: [channels])
        let mean = produce([channels]) { m in
            variance.withUnsafeMutableBufferPointer {
                ReferenceKernels.moments(ptr(x), positions: positions, channels: channels, mean: m, variance: $0.baseAddress!)
            }
        }
        return (try batchNorm(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: epsilon), mean, variance)
    }

    public func batchNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
                                  batchStatistics: Bool, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        let (positions, channels) = x.positionsAndChannels
        var dx = inputGradient ? Tensor(zeros: x.shape) : nil
        var dgamma = Tensor(zeros: [channels]), dbeta = Tensor(zeros: [channels])
        dgamma.withUnsafeMutableBufferPointer { dg in
            dbeta.withUnsafeMutableBufferPointer { db in
                func run(_ dxPointer: UnsafeMutablePointer<Float>?) {
                    ReferenceKernels.batchNormBackward(ptr(dy), ptr(x), positions: positions, channels: channels, gamma: ptr(gamma),
                                                       mean: ptr(mean), variance: ptr(variance), epsilon: epsilon,
                                                       batchStatistics: batchStatistics, dx: dxPointer,
                                                       dgamma: dg.baseAddress!, dbeta: db.baseAddress!)
                }
                if dx != nil { dx!.withUnsafeMutableBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            }
        }
        return (dx, dgamma, dbeta)
    }
}

extension Backend {
    /// The two ops one after the other.
    public func batchNormReLUTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: AnyObject?) {
        let (normalized, mean, variance) = try batchNormTraining(x, gamma: gamma, beta: beta, epsilon: epsilon)
        return (try activation(.relu, normalized), mean, variance, nil)
    }

    /// ReLU's backward reads the output (positive exactly where the input is), then batch normalization's.
    public func batchNormReLUBackward(_ dy: Tensor, x: Tensor, y: Tensor?, workspace: AnyObject?, gamma: Tensor, mean: Tensor, variance: Tensor,
                                      epsilon: Float, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        guard let y else { throw ShapeError("batchNormReLU", "the backward pass needs the forward pass's output") }
        return try batchNormBackward(activationBackward(.relu, dy, x: y, y: y), x: x, gamma: gamma, mean: mean, variance: variance,
                                     epsilon: epsilon, batchStatistics: true, inputGradient: inputGradient)
    }
}

/// Plain Swift, small and obviously correct: the oracle for tests and the fallback where oneDNN is missing.
public final class ReferenceBackend: Backend {
    public let name = "reference"
    public init() {}
}
