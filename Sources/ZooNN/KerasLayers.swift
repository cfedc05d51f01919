import ZooTensor

/// Keras's layers that draw noise in training and pass their input through at inference: SpatialDropout2D (whole
/// channels of each image dropped), GaussianNoise (N(0, σ) added) and GaussianDropout (multiplied by
/// N(1, rate / (1 − rate))). Seeded like Dropout.
public final class TrainingNoise: Reseedable {
    public enum Kind: Sendable {
        case spatialDropout(rate: Float)
        case gaussianNoise(standardDeviation: Float)
        case gaussianDropout(rate: Float)
    }

    public let name: String
    public let noise: Kind
    private var draws: TrainingDraws

    public init(_ name: String, _ noise: Kind, seed: UInt64 = 0) {
        self.name = name
        self.noise = noise
        draws = TrainingDraws(seed: seed)
    }

    public var kind: String {
        switch noise {
        case .spatialDropout: "SpatialDropout2D"
        case .gaussianNoise: "GaussianNoise"
        case .gaussianDropout: "GaussianDropout"
        }
    }
    public var weights: [Weight] { [] }
    /// Noise in training only.
    public var computation: LayerComputation { .identity }
    public func reseed(_ seed: UInt64, firstSample: Int) { draws.reseed(seed, firstSample: firstSample) }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        guard training else { return x }
        let elements = x.value.count / max(1, x.shape.first ?? 1)
        // Spatial dropout draws one uniform number per channel, the Gaussian kinds one normal (two numbers) per element.
        let perSample = if case .spatialDropout = noise { x.shape.last ?? 1 } else { 2 * elements }
        var generator = draws.forBatch(drawsPerSample: perSample)
        defer { draws.generator = generator }
        switch noise {
        case .spatialDropout(let rate):
            guard x.shape.count == 4 else { throw ShapeError(name, "SpatialDropout2D needs an NHWC input, got \(describe(shape: x.shape))") }
            guard rate > 0 else { return x }
            let (n, positions, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
            let kept = (0..<(n * c)).map { _ in generator.uniform(0, 1) < rate ? Float(0) : 1 / (1 - rate) }
            let mask = Tensor(shape: x.shape) { m in
                for i in 0..<n { for p in 0..<positions { for k in 0..<c { m[(i * positions + p) * c + k] = kept[i * c + k] } } }
            }
            return try multiplied(x, byConstant: mask)
        case .gaussianNoise(let deviation):
            return try add(x, Variable(Tensor.normal(x.shape, standardDeviation: deviation, using: &generator)))
        case .gaussianDropout(let rate):
            guard rate > 0 else { return x }
            let mask = Tensor.normal(x.shape, mean: 1, standardDeviation: (rate / (1 - rate)).squareRoot(), using: &generator)
            return try multiplied(x, byConstant: mask)
        }
    }
}

/// Keras Rescaling (`x · scale + offset`, one value or one per channel) and Normalization (`(x − mean) / √variance`
/// per channel, the statistics stored as the layer's weights, as Keras saves them with the element count).
public final class ChannelAffine: Layer {
    public enum Form { case rescaling(scale: [Float], offset: [Float]), normalization(mean: Weight, variance: Weight, count: Weight) }

    public let name: String
    public let form: Form

    public init(rescaling name: String, scale: [Float], offset: [Float]) {
        self.name = name
        form = .rescaling(scale: scale, offset: offset)
    }

    public init(normalization name: String, channels: Int) {
        self.name = name
        form = .normalization(mean: Weight("mean", Tensor(zeros: [channels]), trainable: false),
                              variance: Weight("variance", Tensor(shape: [channels], repeating: 1), trainable: false),
                              count: Weight("count", Tensor(zeros: []), trainable: false))
    }

    public var kind: String {
        if case .rescaling = form { return "Rescaling" }
        return "Normalization"
    }

    public var weights: [Weight] {
        if case let .normalization(mean, variance, count) = form { return [mean, variance, count] }
        return []
    }

    /// The map's scale and offset, per channel or one for all.
    public var coefficients: (scale: [Float], offset: [Float]) {
        switch form {
        case let .rescaling(scale, offset):
            return (scale, offset)
        case let .normalization(mean, variance, _):
            // Keras divides by max(√variance, ε) with its backend's ε, 1e-7.
            let scale = variance.value.scalars.map { 1 / max($0.squareRoot(), 1e-7) }
            return (scale, zip(mean.value.scalars, scale).map { -$0 * $1 })
        }
    }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        let (scale, offset) = coefficients
        return try channelAffine(x, scale: scale, offset: offset)
    }
}

/// Keras PReLU: a learned slope below zero, per element of an image or shared along `shared_axes` (its `alpha`
/// then has 1 there).
public final class PReLU: Layer {
    public let name: String
    public let alpha: Weight

    public init(_ name: String, alphaShape: [Int]) {
        self.name = name
        alpha = Weight("alpha", Tensor(zeros: alphaShape))
    }

    public var weights: [Weight] { [alpha] }
    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable { try prelu(x, alpha: alpha.variable) }
}

/// Keras LayerNormalization over the channel axis.
public final class LayerNormalization: Layer {
    public let name: String
    public let gamma, beta: Weight
    public let epsilon: Float

    public init(_ name: String, channels: Int, epsilon: Float = 1e-3) {
        self.name = name
        gamma = Weight("gamma", Tensor(shape: [channels], repeating: 1))
        beta = Weight("beta", Tensor(zeros: [channels]))
        self.epsilon = epsilon
    }

    public var weights: [Weight] { [gamma, beta] }
    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        try layerNorm(x, gamma: gamma.variable, beta: beta.variable, epsilon: epsilon)
    }
}

/// Keras Conv2DTranspose: kernel [h, w, filters, input channels], optional bias and activation.
public final class Conv2DTranspose: Layer {
    public let name: String
    public let kernel: Weight
    public let bias: Weight?
    public let strides: (Int, Int)
    public let padding: Padding
    public let activation: LayerActivation?

    public init(_ name: String, inputChannels: Int, filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                padding: Padding = .valid, useBias: Bool = true, activation: LayerActivation? = nil, generator: inout SeededGenerator) {
        self.name = name
        kernel = Weight("kernel", Initializer.glorotUniform.make([kernelSize.0, kernelSize.1, filters, inputChannels], using: &generator))
        bias = useBias ? Weight("bias", Tensor(zeros: [filters])) : nil
        self.strides = strides; self.padding = padding; self.activation = activation
    }

    public var weights: [Weight] { [kernel] + (bias.map { [$0] } ?? []) }
    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        let y = try conv2dTranspose(x, kernel.variable, bias: bias?.variable, strides: strides, padding: padding)
        return try activation.map { try $0.apply(y) } ?? y
    }
}

/// A layer that adds a penalty on its output to the training loss (Keras's activity regularization); the trainer
/// collects it after each training step's forward pass.
public protocol PenalizingLayer: Layer {
    /// The penalty of the last training pass, handed over once.
    func takePenalty() -> Variable?
}

/// Keras ActivityRegularization: the identity, adding `(l1 · Σ|x| + l2 · Σx²) / batch` to the loss in training.
public final class ActivityRegularization: PenalizingLayer {
    public let name: String
    public let l1, l2: Float
    private var penalty: Variable?

    public init(_ name: String, l1: Float, l2: Float) {
        self.name = name; self.l1 = l1; self.l2 = l2
    }

    public var weights: [Weight] { [] }
    public var computation: LayerComputation { .identity }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        if training && (l1 != 0 || l2 != 0) { penalty = try ZooTensor.penalty(x, l1: l1, l2: l2, perBatch: true) }
        return x
    }

    public func takePenalty() -> Variable? {
        defer { penalty = nil }
        return penalty
    }
}

/// Keras applications' LayerScale (ConvNeXt): each channel multiplied by a learned factor, `x · γ`.
public final class LayerScale: Layer {
    public let name: String
    public let gamma: Weight

    public init(_ name: String, channels: Int, initialValue: Float = 1e-6) {
        self.name = name
        gamma = Weight("gamma", Tensor(shape: [channels], repeating: initialValue))
    }

    public var kind: String { "LayerScale" }
    public var weights: [Weight] { [gamma] }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        guard x.shape.last == gamma.value.count else {
            throw ShapeError(name, "scales \(gamma.value.count) channels, got \(describe(shape: x.shape))")
        }
        return try combine(.multiply, [x, try broadcast(gamma.variable, to: x.shape)])
    }
}
