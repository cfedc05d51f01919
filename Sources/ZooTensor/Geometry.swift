/// How a window op treats the border, with Keras/TensorFlow semantics.
public enum Padding: Hashable, Sendable {
    /// No padding; trailing pixels that do not fill a window are dropped.
    case valid
    /// Output size ⌈input / stride⌉; the odd padding pixel goes to the bottom and right.
    case same
    /// Fixed zero padding on each side.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
}

/// The spatial arithmetic shared by convolution and pooling: output size and padding of each side.
public struct WindowGeometry: Hashable, Sendable {
    public let inputHeight, inputWidth: Int
    public let outputHeight, outputWidth: Int
    public let kernelHeight, kernelWidth: Int
    public let strideHeight, strideWidth: Int
    public let dilationHeight, dilationWidth: Int
    public let padTop, padBottom, padLeft, padRight: Int

    public init(op: String, input: (Int, Int), kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int) = (1, 1),
                padding: Padding) throws(ShapeError) {
        guard kernel.0 > 0, kernel.1 > 0, strides.0 > 0, strides.1 > 0, dilation.0 > 0, dilation.1 > 0 else {
            throw ShapeError(op, "window \(kernel.0)×\(kernel.1), strides \(strides.0)×\(strides.1) and dilation "
                + "\(dilation.0)×\(dilation.1) must all be positive")
        }
        func axis(_ size: Int, _ k: Int, _ s: Int, _ d: Int, _ explicit: (Int, Int)?) throws(ShapeError) -> (out: Int, lo: Int, hi: Int) {
            let extent = (k - 1) * d + 1
            switch padding {
            case .valid:
                guard size >= extent else {
                    throw ShapeError(op, "input \(input.0)×\(input.1) is smaller than the window \(kernel.0)×\(kernel.1) with valid padding")
                }
                return ((size - extent) / s + 1, 0, 0)
            case .same:
                let out = (size + s - 1) / s
                let total = max((out - 1) * s + extent - size, 0)
                return (out, total / 2, total - total / 2)
            case .explicit:
                let (lo, hi) = explicit!
                guard lo >= 0, hi >= 0, size + lo + hi >= extent else {
                    throw ShapeError(op, "input \(input.0)×\(input.1) padded by (\(lo), \(hi)) does not fit the window \(kernel.0)×\(kernel.1)")
                }
                return ((size + lo + hi - extent) / s + 1, lo, hi)
            }
        }
        var explicitRows: (Int, Int)?, explicitColumns: (Int, Int)?
        if case let .explicit(top, bottom, left, right) = padding {
            explicitRows = (top, bottom)
            explicitColumns = (left, right)
        }
        let rows = try axis(input.0, kernel.0, strides.0, dilation.0, explicitRows)
        let columns = try axis(input.1, kernel.1, strides.1, dilation.1, explicitColumns)
        inputHeight = input.0; inputWidth = input.1
        outputHeight = rows.out; outputWidth = columns.out
        kernelHeight = kernel.0; kernelWidth = kernel.1
        strideHeight = strides.0; strideWidth = strides.1
        dilationHeight = dilation.0; dilationWidth = dilation.1
        padTop = rows.lo; padBottom = rows.hi; padLeft = columns.lo; padRight = columns.hi
    }

    /// A 1×1 window without padding or dilation: each output pixel reads one input pixel (at any stride).
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && padTop + padBottom + padLeft + padRight == 0 && dilationHeight == 1 && dilationWidth == 1
    }
}

/// A 2-D convolution: input NHWC, kernel HWIO with I = input channels / groups, output NHWC.
public struct ConvolutionGeometry: Hashable, Sendable {
    public let batch, inputChannels, outputChannels, groups: Int
    public let window: WindowGeometry

    public var inputShape: [Int] { [batch, window.inputHeight, window.inputWidth, inputChannels] }
    public var kernelShape: [Int] { [window.kernelHeight, window.kernelWidth, inputChannels / groups, outputChannels] }
    public var outputShape: [Int] { [batch, window.outputHeight, window.outputWidth, outputChannels] }

    /// Multiply-adds × 2 for one forward pass.
    public var flops: Double {
        2 * Double(batch * window.outputHeight * window.outputWidth * outputChannels)
            * Double(window.kernelHeight * window.kernelWidth * inputChannels / groups)
    }

    public init(input: [Int], kernel: [Int], strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1),
                padding: Padding = .valid, groups: Int = 1) throws(ShapeError) {
        let op = "conv2d"
        guard input.count == 4, kernel.count == 4 else {
            throw ShapeError(op, "expects an NHWC input and an HWIO kernel, got input \(describe(shape: input)) and kernel \(describe(shape: kernel))")
        }
        guard groups > 0, input[3] % groups == 0, kernel[3] % groups == 0 else {
            throw ShapeError(op, "\(groups) groups must divide the input channels (\(input[3])) and output channels (\(kernel[3]))")
        }
        guard kernel[2] * groups == input[3] else {
            throw ShapeError(op, "kernel \(describe(shape: kernel)) expects \(kernel[2] * groups) input channels"
                + (groups > 1 ? " (\(kernel[2]) per group × \(groups) groups)" : "") + ", input \(describe(shape: input)) has \(input[3])")
        }
        batch = input[0]; inputChannels = input[3]; outputChannels = kernel[3]; self.groups = groups
        window = try WindowGeometry(op: op, input: (input[1], input[2]), kernel: (kernel[0], kernel[1]), strides: strides,
                                    dilation: dilation, padding: padding)
    }
}

/// A 2-D pooling window over NHWC input.
public struct PoolingGeometry: Hashable, Sendable {
    public let batch, channels: Int
    public let window: WindowGeometry

    public var inputShape: [Int] { [batch, window.inputHeight, window.inputWidth, channels] }
    public var outputShape: [Int] { [batch, window.outputHeight, window.outputWidth, channels] }

    public init(op: String, input: [Int], size: (Int, Int), strides: (Int, Int), padding: Padding) throws(ShapeError) {
        guard input.count == 4 else { throw ShapeError(op, "expects an NHWC input, got \(describe(shape: input))") }
        batch = input[0]; channels = input[3]
        window = try WindowGeometry(op: op, input: (input[1], input[2]), kernel: size, strides: strides, padding: padding)
    }
}
