import ZooTensor

/// Keras SeparableConv2D: a depthwise convolution (`multiplier` filters per input channel, no bias) followed by a
/// 1×1 convolution to `filters` channels with the bias and activation. Weights as Keras stores them:
/// depthwise_kernel [h, w, channels, multiplier], pointwise_kernel [1, 1, channels · multiplier, filters], bias.
public final class SeparableConv2D: Layer {
    public let name: String
    public let depthwiseKernel, pointwiseKernel: Weight
    public let bias: Weight?
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let activation: LayerActivation?

    public init(_ name: String, inputChannels: Int, filters: Int, kernelSize: (Int, Int), multiplier: Int = 1,
                strides: (Int, Int) = (1, 1), padding: Padding = .valid, dilation: (Int, Int) = (1, 1), useBias: Bool = true,
                activation: LayerActivation? = nil, generator: inout SeededGenerator) {
        self.name = name
        depthwiseKernel = Weight("depthwise_kernel", Initializer.glorotUniform.make([kernelSize.0, kernelSize.1, inputChannels, multiplier], using: &generator))
        pointwiseKernel = Weight("pointwise_kernel", Initializer.glorotUniform.make([1, 1, inputChannels * multiplier, filters], using: &generator))
        bias = useBias ? Weight("bias", Tensor(zeros: [filters])) : nil
        self.strides = strides; self.padding = padding; self.dilation = dilation; self.activation = activation
    }

    public var weights: [Weight] { [depthwiseKernel, pointwiseKernel] + (bias.map { [$0] } ?? []) }

    /// The depthwise step as a grouped convolution: one group per input channel, kernel [h, w, 1, channels · multiplier].
    public var depthwiseGroups: Int { depthwiseKernel.shape[2] }
    public var depthwiseConvolutionKernelShape: [Int] {
        let shape = depthwiseKernel.shape
        return [shape[0], shape[1], 1, shape[2] * shape[3]]
    }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        let depthwise = try reshape(depthwiseKernel.variable, depthwiseConvolutionKernelShape)
        let spread = try conv2d(x, depthwise, bias: nil, strides: strides, padding: padding, dilation: dilation, groups: depthwiseGroups)
        let y = try conv2d(spread, pointwiseKernel.variable, bias: bias?.variable)
        return try activation.map { try $0.apply(y) } ?? y
    }
}
