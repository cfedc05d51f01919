import ZooTensor

/// The activation a Keras Conv2D, Dense or Activation layer applies to its output: an elementwise one, or softmax
/// over the last axis.
public enum LayerActivation: Hashable, Sendable {
    case function(Activation)
    case softmax

    public static let relu = LayerActivation.function(.relu)
    public static let tanh = LayerActivation.function(.tanh)
    public static let sigmoid = LayerActivation.function(.sigmoid)

    func apply(_ x: Variable) throws -> Variable {
        switch self {
        case .function(let kind): try ZooTensor.activation(kind, x)
        case .softmax: try ZooTensor.softmax(x)
        }
    }

    /// The elementwise activation a kernel can apply; softmax is not one.
    public var elementwise: Activation? {
        if case .function(let kind) = self { return kind }
        return nil
    }
}

/// Keras Conv2D (NHWC input, HWIO kernel, optional bias and activation), and DepthwiseConv2D: one group per input
/// channel, its kernel stored as Keras does, [height, width, channels, multiplier].
public final class Conv2D: Layer {
    public let name: String
    /// The kernel in Keras's layout: HWIO, or [height, width, channels, multiplier] for a depthwise layer.
    public let kernel: Weight
    public let bias: Weight?
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let groups: Int
    public let activation: LayerActivation?
    /// Whether the layer is a Keras DepthwiseConv2D.
    public let isDepthwise: Bool

    public init(_ name: String, inputChannels: Int, filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                padding: Padding = .valid, dilation: (Int, Int) = (1, 1), groups: Int = 1, useBias: Bool = true,
                activation: LayerActivation? = nil, generator: inout SeededGenerator) {
        self.name = name
        kernel = Weight("kernel", Initializer.glorotUniform.make([kernelSize.0, kernelSize.1, inputChannels / groups, filters], using: &generator))
        bias = useBias ? Weight("bias", Tensor(zeros: [filters])) : nil
        self.strides = strides; self.padding = padding; self.dilation = dilation; self.groups = groups; self.activation = activation
        isDepthwise = false
    }

    /// A DepthwiseConv2D: `multiplier` filters per input channel.
    public init(depthwise name: String, channels: Int, multiplier: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                padding: Padding = .valid, dilation: (Int, Int) = (1, 1), useBias: Bool = true, activation: LayerActivation? = nil,
                generator: inout SeededGenerator) {
        self.name = name
        kernel = Weight("depthwise_kernel", Initializer.glorotUniform.make([kernelSize.0, kernelSize.1, channels, multiplier], using: &generator))
        bias = useBias ? Weight("bias", Tensor(zeros: [channels * multiplier])) : nil
        self.strides = strides; self.padding = padding; self.dilation = dilation; groups = channels; self.activation = activation
        isDepthwise = true
    }

    public var kind: String { isDepthwise ? "DepthwiseConv2D" : "Conv2D" }
    public var weights: [Weight] { [kernel] + (bias.map { [$0] } ?? []) }

    /// The kernel's shape as the convolution reads it: HWIO with I = input channels / groups. A depthwise kernel
    /// [h, w, channels, multiplier] is the same memory as [h, w, 1, channels · multiplier].
    public var convolutionKernelShape: [Int] {
        let shape = kernel.shape
        return isDepthwise ? [shape[0], shape[1], 1, shape[2] * shape[3]] : shape
    }

    /// The kernel's values in `convolutionKernelShape`.
    public var convolutionKernel: Tensor { isDepthwise ? try! kernel.value.reshaped(convolutionKernelShape) : kernel.value }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        let k = isDepthwise ? try reshape(kernel.variable, convolutionKernelShape) : kernel.variable
        let y = try conv2d(x, k, bias: bias?.variable, strides: strides, padding: padding, dilation: dilation, groups: groups)
        return try activation.map { try $0.apply(y) } ?? y
    }
}

/// Keras Dense: [batch, in] · [in, out] + bias, with an optional activation.
public final class Dense: Layer {
    public let name: String
    public let kernel: Weight
    public let bias: Weight?
    public let activation: LayerActivation?

    public init(_ name: String, inputs: Int, units: Int, useBias: Bool = true, activation: LayerActivation? = nil,
                generator: inout SeededGenerator) {
        self.name = name
        kernel = Weight("kernel", Initializer.glorotUniform.make([inputs, units], using: &generator))
        bias = useBias ? Weight("bias", Tensor(zeros: [units])) : nil
        self.activation = activation
    }

    public var weights: [Weight] { [kernel] + (bias.map { [$0] } ?? []) }

    /// Re-initializes the layer for `units` outputs (a new classifier head), keeping its inputs.
    public func reset(units: Int, generator: inout SeededGenerator) {
        kernel.value = Initializer.glorotUniform.make([kernel.shape[0], units], using: &generator)
        bias?.value = Tensor(zeros: [units])
    }

    /// On a vector per sample; on more axes (ConvNeXt's pointwise layers), on the last axis of every position, as
    /// Keras applies Dense.
    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        guard x.shape.count > 2 else {
            let y = try dense(x, kernel: kernel.variable, bias: bias?.variable)
            return try activation.map { try $0.apply(y) } ?? y
        }
        let positions = x.shape.dropLast().reduce(1, *)
        let y = try self(try reshape(x, [positions, x.shape.last!]), training: training)
        return try reshape(y, Array(x.shape.dropLast()) + [y.shape[1]])
    }
}

/// Keras BatchNormalization over the channel axis. A frozen layer runs in inference mode even while the model
/// trains, as Keras does since 2.1.3: its statistics stay fixed and gradients flow through the moving statistics.
public final class BatchNormalization: Layer {
    public let name: String
    public let gamma, beta, movingMean, movingVariance: Weight
    public var epsilon: Float
    public let momentum: Float
    /// Set for data-parallel training with synchronized BatchNorm: a training pass then normalizes with the
    /// statistics of every process's batch (`syncBatchNorm`).
    public var statisticsSync: (any BatchStatisticsSync)?

    /// Whether the layer learns a shift (β) and a scale (γ); Keras's `center` and `scale`. Without one, it is a
    /// constant (0 or 1) that is neither stored nor trained, as in Keras (InceptionV3 leaves out γ).
    public let center: Bool, scale: Bool

    public init(_ name: String, channels: Int, epsilon: Float = 1e-3, momentum: Float = 0.99, center: Bool = true, scale: Bool = true) {
        self.name = name
        gamma = Weight("gamma", Tensor(shape: [channels], repeating: 1), trainable: scale)
        beta = Weight("beta", Tensor(zeros: [channels]), trainable: center)
        movingMean = Weight("moving_mean", Tensor(zeros: [channels]), trainable: false)
        movingVariance = Weight("moving_variance", Tensor(shape: [channels], repeating: 1), trainable: false)
        self.epsilon = epsilon
        self.momentum = momentum
        self.center = center
        self.scale = scale
    }

    public var weights: [Weight] { (scale ? [gamma] : []) + (center ? [beta] : []) + [movingMean, movingVariance] }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        if training && trainable, let statisticsSync {
            return try syncBatchNorm(x, gamma: gamma.variable, beta: beta.variable, movingMean: movingMean.variable,
                                     movingVariance: movingVariance.variable, epsilon: epsilon, momentum: momentum, sync: statisticsSync)
        }
        return try batchNorm(x, gamma: gamma.variable, beta: beta.variable, movingMean: movingMean.variable,
                             movingVariance: movingVariance.variable, epsilon: epsilon, momentum: momentum,
                             training: training && trainable)
    }

    /// A training pass with the ReLU after the layer fused in (see `ReLUFusions`); synchronized statistics leave
    /// them apart.
    func trainingWithReLU(_ x: Variable) throws -> Variable {
        if statisticsSync != nil { return try relu(self(x, training: true)) }
        return try batchNormReLU(x, gamma: gamma.variable, beta: beta.variable, movingMean: movingMean.variable,
                                 movingVariance: movingVariance.variable, epsilon: epsilon, momentum: momentum)
    }
}

/// A weightless layer defined by a closure (activations, pooling, flatten, LRN, padding); `kind` is the Keras class
/// it stands for, for summaries.
public final class Lambda: Layer {
    public let name: String
    public let kind: String
    public let computation: LayerComputation
    private let body: (Variable, Bool) throws -> Variable

    public init(_ name: String, kind: String = "Lambda", computation: LayerComputation = .opaque,
                _ body: @escaping (Variable, Bool) throws -> Variable) {
        self.name = name
        self.kind = kind
        self.computation = computation
        self.body = body
    }

    public var weights: [Weight] { [] }
    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable { try body(x, training) }
}

/// Factories for the weightless Keras layers.
public enum Layers {
    public static func activation(_ name: String, _ kind: Activation) -> Lambda {
        Lambda(name, kind: "Activation", computation: .activation(kind)) { x, _ in try ZooTensor.activation(kind, x) }
    }
    public static func softmax(_ name: String) -> Lambda { Lambda(name, kind: "Softmax", computation: .softmax) { x, _ in try ZooTensor.softmax(x) } }
    public static func flatten(_ name: String) -> Lambda { Lambda(name, kind: "Flatten", computation: .flatten) { x, _ in try ZooTensor.flatten(x) } }

    public static func maxPooling(_ name: String, size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Lambda {
        Lambda(name, kind: "MaxPooling2D", computation: .pooling(.max, size: size, strides: strides ?? size, padding: padding)) { x, _ in
            try maxPool2d(x, size: size, strides: strides, padding: padding)
        }
    }

    public static func averagePooling(_ name: String, size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Lambda {
        Lambda(name, kind: "AveragePooling2D", computation: .pooling(.average, size: size, strides: strides ?? size, padding: padding)) { x, _ in
            try averagePool2d(x, size: size, strides: strides, padding: padding)
        }
    }

    /// Average over height and width: [N, C], or [N, 1, 1, C] keeping the dimensions.
    public static func globalAveragePooling(_ name: String, keepDimensions: Bool = false) -> Lambda {
        globalPooling(name, .average, keepDimensions: keepDimensions)
    }
    public static func globalMaxPooling(_ name: String, keepDimensions: Bool = false) -> Lambda {
        globalPooling(name, .max, keepDimensions: keepDimensions)
    }
    static func globalPooling(_ name: String, _ kind: PoolingKind, keepDimensions: Bool) -> Lambda {
        Lambda(name, kind: kind == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D",
               computation: .globalPooling(kind, keepDimensions: keepDimensions)) { x, _ in
            let pooled = kind == .max ? try globalMaxPool2d(x) : try globalAveragePool2d(x)
            return keepDimensions ? try ZooTensor.reshape(pooled, [pooled.shape[0], 1, 1, pooled.shape[1]]) : pooled
        }
    }
    public static func lrn(_ name: String, _ parameters: LRNParameters = LRNParameters()) -> Lambda {
        Lambda(name, kind: "LRN", computation: .lrn(parameters)) { x, _ in try ZooTensor.lrn(x, parameters) }
    }

    public static func zeroPadding(_ name: String, top: Int, bottom: Int, left: Int, right: Int) -> Lambda {
        Lambda(name, kind: "ZeroPadding2D", computation: .zeroPadding(top: top, bottom: bottom, left: left, right: right)) { x, _ in
            try zeroPad2d(x, top: top, bottom: bottom, left: left, right: right)
        }
    }
}

/// A layer that draws random numbers in training; a trainer reseeds it every step from the run's seed and position,
/// so that a resumed run draws what the uninterrupted one would have. Its draws for each sample follow those of the
/// samples before it in the batch: a data-parallel rank whose part of the batch starts at `firstSample` skips theirs,
/// and so draws what one process would draw for the same samples.
public protocol Reseedable: Layer {
    func reseed(_ seed: UInt64, firstSample: Int)
}

extension Reseedable {
    public func reseed(_ seed: UInt64) { reseed(seed, firstSample: 0) }
}

/// A reseeded generator and the samples' draws still to skip on the next call.
struct TrainingDraws {
    var generator: SeededGenerator
    var samplesToSkip = 0

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    mutating func reseed(_ seed: UInt64, firstSample: Int) {
        generator = SeededGenerator(seed: seed)
        samplesToSkip = firstSample
    }

    /// The generator, past the skipped samples' draws (`perSample` numbers each).
    mutating func forBatch(drawsPerSample perSample: Int) -> SeededGenerator {
        generator.skip(samplesToSkip * perSample)
        samplesToSkip = 0
        return generator
    }
}

/// Keras Dropout with its own seeded generator, so runs repeat exactly.
public final class Dropout: Reseedable {
    public let name: String
    public let rate: Float
    private var draws: TrainingDraws

    public init(_ name: String, rate: Float, seed: UInt64 = 0) {
        self.name = name
        self.rate = rate
        draws = TrainingDraws(seed: seed)
    }

    public var weights: [Weight] { [] }
    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        guard training, rate > 0 else { return try dropout(x, rate: rate, training: false, generator: &draws.generator) }
        // One number per element.
        var generator = draws.forBatch(drawsPerSample: x.value.count / max(1, x.shape.first ?? 1))
        defer { draws.generator = generator }
        return try dropout(x, rate: rate, training: training, generator: &generator)
    }

    public func reseed(_ seed: UInt64, firstSample: Int) { draws.reseed(seed, firstSample: firstSample) }
}

/// Layers applied in order.
public final class Sequential: Layer {
    public let name: String
    public let layers: [Layer]

    public init(_ layers: [Layer], name: String = "sequential") {
        self.name = name
        self.layers = layers
    }

    public var weights: [Weight] { layers.flatMap(\.weights) }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        try layers.reduce(x) { try $1($0, training: training) }
    }

    public func layer(named name: String) -> Layer? { layers.first { $0.name == name } }
}

/// Keras's merge layers: Add, Concatenate, and the elementwise Subtract, Multiply, Average, Maximum and Minimum.
public final class Merge: Layer {
    /// `scaledSum(s)`: the first input plus `s` times the second (Keras applications' CustomScaleLayer, the residual
    /// scaling of Inception-ResNet).
    public enum Operation: Sendable, Equatable { case add, concatenate, combination(ElementwiseCombination), scaledSum(Float) }
    public let name: String
    public let operation: Operation

    public init(_ name: String, _ operation: Operation) {
        self.name = name
        self.operation = operation
    }

    public var kind: String {
        switch operation {
        case .add: "Add"
        case .concatenate: "Concatenate"
        case .combination(let kind): kind.rawValue.prefix(1).uppercased() + kind.rawValue.dropFirst()
        case .scaledSum: "CustomScaleLayer"
        }
    }
    public var weights: [Weight] { [] }

    /// A single input passes through (the protocol's one-input form).
    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable { x }

    /// Inputs of different shapes broadcast as NumPy and Keras broadcast them (a squeeze-and-excitation scale
    /// [N, 1, 1, C] times a map [N, H, W, C]).
    public func callAsFunction(_ inputs: [Variable]) throws -> Variable {
        if operation != .concatenate, let first = inputs.first, inputs.contains(where: { $0.shape != first.shape }) {
            guard let shape = broadcastShape(inputs.map(\.shape)) else {
                throw ShapeError(name, "\(kind) cannot broadcast " + inputs.map { describe(shape: $0.shape) }.joined(separator: ", ") + " together")
            }
            return try self(try inputs.map { try broadcast($0, to: shape) })
        }
        switch operation {
        case .add: return try inputs.dropFirst().reduce(inputs[0]) { try ZooTensor.add($0, $1) }
        case .concatenate: return try ZooTensor.concatenate(inputs)
        case .combination(let kind): return try combine(kind, inputs)
        case .scaledSum(let scale):
            guard inputs.count == 2 else { throw ShapeError(name, "\(kind) takes two inputs, got \(inputs.count)") }
            return try ZooTensor.add(inputs[0], scaled(inputs[1], by: scale))
        }
    }
}
