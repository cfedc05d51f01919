import CDNNL

/// 1×1 convolutions as oneDNN matrix products (sgemm) where those beat its convolution kernels.
///
/// On NHWC activations and HWIO kernels a 1×1 convolution is a product over the batch's pixels: y = x · kernel,
/// dx = dy · kernelᵀ, dkernel = xᵀ · dy (x subsampled when strided). oneDNN's direct kernels on AVX2 lose ground
/// when that pixel count is long against the kernel's size, the weight gradient most: measured at ResNet-50's
/// shapes, batch 32, best of two alternated runs, 56×56 64→64, 64→256 and 256→64 took 14.0, 38.7 and 41.9 ms for
/// the weight gradient against 8.1, 22.9 and 24.0 as products, and the strided 56→28 256→128 30.0 against 16.6;
/// forward 6.3/24.1/25.7 against 5.2/20.5/22.2, backward data 6.0/26.1/23.6 against 5.7/22.3/21.2. At 28×28
/// sgemm only tied forward and won the weight gradient of 512→128 (24.5 against 32.4 ms); at 14×14 the kernels won
/// (25 against 42–47 ms). Gathering 3×3 patches to do the same lost (64→64 at 56×56: 70 against 59 ms; the 7×7
/// first convolution with 3 channels 167 against 81). The rule is fixed by shape and instruction set, not timed, so
/// runs repeat bit for bit; see `DNNLBackend.defaultMatrixProductMinimumRatio` for where it applies.
extension DNNLBackend {
    /// The batch's output pixels against the kernel's size (cin × cout): how long the products' shared dimension is.
    private func pixelsPerWeight(_ g: ConvolutionGeometry) -> Double? {
        guard g.window.isPointwise, g.groups == 1 else { return nil }
        return Double(g.batch * g.window.outputHeight * g.window.outputWidth) / Double(g.inputChannels * g.outputChannels)
    }

    /// Whether the weight gradient of `g` is a matrix product: from a quarter of `matrixProductMinimumRatio`
    /// output pixels per weight (the 28×28 shapes of the measurements above are at 0.38).
    public func computesWeightGradientAsMatrixProduct(_ g: ConvolutionGeometry) -> Bool {
        pixelsPerWeight(g).map { $0 >= matrixProductMinimumRatio / 4 } ?? false
    }

    /// Whether the forward pass and backward data of `g` are matrix products: stride 1, from
    /// `matrixProductMinimumRatio` output pixels per weight.
    public func runsAsMatrixProduct(_ g: ConvolutionGeometry) -> Bool {
        g.window.strideHeight == 1 && g.window.strideWidth == 1 && pixelsPerWeight(g).map { $0 >= matrixProductMinimumRatio } ?? false
    }

    /// y (N·h·w × cout) = x (N·h·w × cin) · kernel (cin × cout) + bias.
    func pointwiseConvolutionAsMatrixProduct(_ x: Tensor, _ kernel: Tensor, bias: Tensor?, _ g: ConvolutionGeometry) throws -> Tensor {
        let rows = g.batch * g.window.outputHeight * g.window.outputWidth, cin = g.inputChannels, cout = g.outputChannels
        return try produce(g.outputShape) { y in
            if let bias {
                let b = ptr(bias)
                parallelFor(rows, minimumPerChunk: 256) { range in
                    for row in range { (y + row * cout).update(from: b, count: cout) }
                }
            }
            try sgemm(transposeA: false, transposeB: false, rows, cout, cin, ptr(x), ptr(kernel), beta: bias == nil ? 0 : 1, y)
        }
    }

    /// dx (N·h·w × cin) = dy (N·h·w × cout) · kernelᵀ.
    func pointwiseBackwardDataAsMatrixProduct(_ dy: Tensor, _ kernel: Tensor, _ g: ConvolutionGeometry) throws -> Tensor {
        let rows = g.batch * g.window.outputHeight * g.window.outputWidth
        return try produce(g.inputShape) { dx in
            try sgemm(transposeA: false, transposeB: true, rows, g.inputChannels, g.outputChannels, ptr(dy), ptr(kernel), beta: 0, dx)
        }
    }

    /// dkernel (cin × cout, which is HWIO for 1×1) = xᵀ · dy, x subsampled first when strided; dbias = column sums of dy.
    func pointwiseWeightGradientAsMatrixProduct(_ dy: Tensor, _ x: Tensor, _ g: ConvolutionGeometry, withBias: Bool) throws -> (kernel: Tensor, bias: Tensor?) {
        let w = g.window, rows = g.batch * w.outputHeight * w.outputWidth, cout = g.outputChannels
        let source = w.strideHeight * w.strideWidth > 1 ? subsample(x, g) : x
        let kernel = try produce(g.kernelShape) { dw in
            try sgemm(transposeA: true, transposeB: false, g.inputChannels, cout, rows, ptr(source), ptr(dy), beta: 0, dw)
        }
        guard withBias else { return (kernel, nil) }
        let ones = Tensor(shape: [rows], repeating: 1)
        let bias = try produce([cout]) { db in
            try sgemm(transposeA: false, transposeB: false, 1, cout, rows, ptr(ones), ptr(dy), beta: 0, db)
        }
        return (kernel, bias)
    }

    /// c (m × n) = op(a) · op(b) + beta · c, row-major, on oneDNN's sgemm.
    func sgemm(transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>,
               _ b: UnsafePointer<Float>, beta: Float, _ c: UnsafeMutablePointer<Float>) throws {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {  // an empty sum; sgemm would refuse the zero leading dimension
            if beta == 0 { c.update(repeating: 0, count: m * n) }
            return
        }
        DNNLEngine.sizeThreadPool()
        let (t, plain) = (CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "N")))
        try check(dnnl_sgemm(transposeA ? t : plain, transposeB ? t : plain, Int64(m), Int64(n), Int64(k), 1,
                             a, Int64(transposeA ? m : k), b, Int64(transposeB ? k : n), beta, c, Int64(n)), "sgemm")
    }
}
