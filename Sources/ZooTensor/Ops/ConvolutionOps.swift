/// 2-D convolution of an NHWC input with an HWIO kernel (I = input channels / groups), plus an optional bias.
public func conv2d(_ x: Variable, _ kernel: Variable, bias: Variable? = nil, strides: (Int, Int) = (1, 1),
                   padding: Padding = .valid, dilation: (Int, Int) = (1, 1), groups: Int = 1) throws -> Variable {
    let g = try ConvolutionGeometry(input: x.shape, kernel: kernel.shape, strides: strides, dilation: dilation,
                                    padding: padding, groups: groups)
    if let bias, bias.shape != [g.outputChannels] {
        throw ShapeError("conv2d", "bias \(describe(shape: bias.shape)) does not match \(g.outputChannels) output channels")
    }
    let backend = Runtime.backend
    let y = try backend.conv2d(x.value, kernel.value, bias: bias?.value, g)
    let (input, weights) = (x.value, kernel.value)
    let needsInput = x.requiresGrad, needsWeights = kernel.requiresGrad || bias?.requiresGrad == true
    return Variable.result(y, [x, kernel] + (bias.map { [$0] } ?? [])) { dy in
        let dx = needsInput ? try backend.conv2dBackwardData(dy, weights, g) : nil
        guard needsWeights else { return [dx, nil, nil] }
        let (dw, db) = try backend.conv2dBackwardWeights(dy, input, g, withBias: bias != nil)
        return [dx, dw, db]
    }
}
