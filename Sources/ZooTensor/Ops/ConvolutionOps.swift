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

/// Transposed 2-D convolution (Keras Conv2DTranspose) of an NHWC input with a kernel [h, w, filters, input
/// channels]: the gradient of a convolution with respect to its input, run forward. Its output is `input · stride`
/// ('same') or `(input − 1) · stride + kernel` ('valid'), the sizes a convolution with these options maps back to
/// the input's.
public func conv2dTranspose(_ x: Variable, _ kernel: Variable, bias: Variable? = nil, strides: (Int, Int) = (1, 1),
                            padding: Padding = .valid) throws -> Variable {
    guard x.shape.count == 4, kernel.shape.count == 4, kernel.shape[3] == x.shape[3] else {
        throw ShapeError("conv2dTranspose", "needs an NHWC input and a kernel [h, w, filters, \(x.shape.last ?? 0)], got "
            + "\(describe(shape: x.shape)) and \(describe(shape: kernel.shape))")
    }
    let (kh, kw, filters) = (kernel.shape[0], kernel.shape[1], kernel.shape[2])
    let size: (Int, Int)
    switch padding {
    case .same: size = (x.shape[1] * strides.0, x.shape[2] * strides.1)
    case .valid: size = ((x.shape[1] - 1) * strides.0 + kh, (x.shape[2] - 1) * strides.1 + kw)
    case .explicit: throw ShapeError("conv2dTranspose", "takes 'same' or 'valid' padding")
    }
    // The convolution this one transposes: from the output's shape back to the input's.
    let g = try ConvolutionGeometry(input: [x.shape[0], size.0, size.1, filters], kernel: kernel.shape, strides: strides, padding: padding)
    guard g.outputShape == x.shape else {
        throw ShapeError("conv2dTranspose", "\(describe(shape: x.shape)) is not what a convolution maps \(describe(shape: g.inputShape)) to")
    }
    let backend = Runtime.backend
    let (input, weights) = (x.value, kernel.value)
    let (needsInput, needsKernel) = (x.requiresGrad, kernel.requiresGrad)
    let product = Variable.result(try backend.conv2dBackwardData(input, weights, g), [x, kernel]) { dy in
        [needsInput ? try backend.conv2d(dy, weights, bias: nil, g) : nil,
         needsKernel ? try backend.conv2dBackwardWeights(input, dy, g, withBias: false).kernel : nil]
    }
    return try bias.map { try biasAdd(product, $0) } ?? product
}
