/// Computes nothing: every kernel returns zeros of its output's shape. Running a model on it yields every layer's
/// output shape in microseconds (`Model.profile`); the values are meaningless.
public final class ShapeOnlyBackend: Backend {
    public init() {}
    public let name = "shapes"

    public func conv2d(_ x: Tensor, _ kernel: Tensor, bias: Tensor?, _ g: ConvolutionGeometry) throws -> Tensor {
        Tensor(reservedZeros: g.outputShape)
    }
    public func conv2dBackwardData(_ dy: Tensor, _ kernel: Tensor, _ g: ConvolutionGeometry) throws -> Tensor {
        Tensor(reservedZeros: g.inputShape)
    }
    public func conv2dBackwardWeights(_ dy: Tensor, _ x: Tensor, _ g: ConvolutionGeometry, withBias: Bool) throws -> (kernel: Tensor, bias: Tensor?) {
        (Tensor(reservedZeros: g.kernelShape), withBias ? Tensor(reservedZeros: [g.outputChannels]) : nil)
    }
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws -> Tensor {
        Tensor(reservedZeros: [transposeA ? a.shape[1] : a.shape[0], transposeB ? b.shape[0] : b.shape[1]])
    }
    public func activation(_ kind: Activation, _ x: Tensor) throws -> Tensor { Tensor(reservedZeros: x.shape) }
    public func activationBackward(_ kind: Activation, _ dy: Tensor, x: Tensor, y: Tensor) throws -> Tensor { Tensor(reservedZeros: x.shape) }
    public func pool2d(_ kind: PoolingKind, _ x: Tensor, _ g: PoolingGeometry) throws -> Tensor { Tensor(reservedZeros: g.outputShape) }
    public func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
        Tensor(reservedZeros: g.inputShape)
    }
    public func lrn(_ x: Tensor, _ p: LRNParameters) throws -> Tensor { Tensor(reservedZeros: x.shape) }
    public func lrnBackward(_ dy: Tensor, x: Tensor, _ p: LRNParameters) throws -> Tensor { Tensor(reservedZeros: x.shape) }
    public func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor {
        Tensor(reservedZeros: x.shape)
    }
    public func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) throws -> (y: Tensor, mean: Tensor, variance: Tensor) {
        let channels = x.shape.last ?? 1
        return (Tensor(reservedZeros: x.shape), Tensor(reservedZeros: [channels]), Tensor(reservedZeros: [channels]))
    }
    public func batchNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
                                  batchStatistics: Bool, inputGradient: Bool) throws -> (dx: Tensor?, dgamma: Tensor, dbeta: Tensor) {
        let channels = x.shape.last ?? 1
        return (inputGradient ? Tensor(reservedZeros: x.shape) : nil, Tensor(reservedZeros: [channels]), Tensor(reservedZeros: [channels]))
    }
}
