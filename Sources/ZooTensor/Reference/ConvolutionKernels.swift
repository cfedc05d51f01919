extension ReferenceKernels {
    /// y[n, oh, ow, co] = bias[co] + Σ x[n, ih, iw, g·Cig + ci] · w[kh, kw, ci, co], with g = co / Cog.
    public static func conv2d<T: KernelScalar>(_ x: UnsafePointer<T>, _ w: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                               _ y: UnsafeMutablePointer<T>, _ g: ConvolutionGeometry) {
        let win = g.window
        let cig = g.inputChannels / g.groups, cog = g.outputChannels / g.groups
        let rows = g.batch * win.outputHeight
        parallelFor(rows) { range in
            for row in range {
                let n = row / win.outputHeight, oh = row % win.outputHeight
                for ow in 0..<win.outputWidth {
                    let out = y + ((row * win.outputWidth) + ow) * g.outputChannels
                    for co in 0..<g.outputChannels { out[co] = bias?[co] ?? 0 }
                    forEachTap(win, oh, ow) { kh, kw, ih, iw in
                        let input = x + ((n * win.inputHeight + ih) * win.inputWidth + iw) * g.inputChannels
                        let taps = w + (kh * win.kernelWidth + kw) * cig * g.outputChannels
                        for group in 0..<g.groups {
                            for ci in 0..<cig {
                                let value = input[group * cig + ci]
                                let weights = taps + ci * g.outputChannels + group * cog
                                let target = out + group * cog
                                for co in 0..<cog { target[co] += value * weights[co] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dx = the transpose of the convolution applied to dy.
    public static func conv2dBackwardData<T: KernelScalar>(_ dy: UnsafePointer<T>, _ w: UnsafePointer<T>,
                                                           _ dx: UnsafeMutablePointer<T>, _ g: ConvolutionGeometry) {
        let win = g.window
        let cig = g.inputChannels / g.groups, cog = g.outputChannels / g.groups
        let imageSize = win.inputHeight * win.inputWidth * g.inputChannels
        parallelFor(g.batch) { images in
            for n in images {
                (dx + n * imageSize).initialize(repeating: 0, count: imageSize)
                for oh in 0..<win.outputHeight {
                    for ow in 0..<win.outputWidth {
                        let gradient = dy + ((n * win.outputHeight + oh) * win.outputWidth + ow) * g.outputChannels
                        forEachTap(win, oh, ow) { kh, kw, ih, iw in
                            let target = dx + ((n * win.inputHeight + ih) * win.inputWidth + iw) * g.inputChannels
                            let taps = w + (kh * win.kernelWidth + kw) * cig * g.outputChannels
                            for group in 0..<g.groups {
                                for ci in 0..<cig {
                                    let weights = taps + ci * g.outputChannels + group * cog
                                    var sum: T = 0
                                    for co in 0..<cog { sum += gradient[group * cog + co] * weights[co] }
                                    target[group * cig + ci] += sum
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dw[kh, kw, ci, co] = Σ x · dy over every output position; dbias[co] = Σ dy.
    public static func conv2dBackwardWeights<T: KernelScalar>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>,
                                                              _ dw: UnsafeMutablePointer<T>, dbias: UnsafeMutablePointer<T>?,
                                                              _ g: ConvolutionGeometry) {
        let win = g.window
        let cig = g.inputChannels / g.groups, cog = g.outputChannels / g.groups
        let taps = win.kernelHeight * win.kernelWidth
        parallelFor(taps * cig) { range in
            for index in range {
                let tap = index / cig, ci = index % cig
                let kh = tap / win.kernelWidth, kw = tap % win.kernelWidth
                let row = dw + index * g.outputChannels
                row.initialize(repeating: 0, count: g.outputChannels)
                for n in 0..<g.batch {
                    for oh in 0..<win.outputHeight {
                        let ih = oh * win.strideHeight - win.padTop + kh * win.dilationHeight
                        guard ih >= 0, ih < win.inputHeight else { continue }
                        for ow in 0..<win.outputWidth {
                            let iw = ow * win.strideWidth - win.padLeft + kw * win.dilationWidth
                            guard iw >= 0, iw < win.inputWidth else { continue }
                            let input = x + ((n * win.inputHeight + ih) * win.inputWidth + iw) * g.inputChannels
                            let gradient = dy + ((n * win.outputHeight + oh) * win.outputWidth + ow) * g.outputChannels
                            for group in 0..<g.groups {
                                let value = input[group * cig + ci]
                                for co in group * cog..<(group + 1) * cog { row[co] += value * gradient[co] }
                            }
                        }
                    }
                }
            }
        }
        if let dbias { sumRows(dy, rows: g.batch * win.outputHeight * win.outputWidth, columns: g.outputChannels, into: dbias) }
    }

    /// Calls `body(kh, kw, ih, iw)` for every kernel tap of output (oh, ow) that lands inside the input.
    @inline(__always)
    static func forEachTap(_ win: WindowGeometry, _ oh: Int, _ ow: Int, _ body: (Int, Int, Int, Int) -> Void) {
        for kh in 0..<win.kernelHeight {
            let ih = oh * win.strideHeight - win.padTop + kh * win.dilationHeight
            guard ih >= 0, ih < win.inputHeight else { continue }
            for kw in 0..<win.kernelWidth {
                let iw = ow * win.strideWidth - win.padLeft + kw * win.dilationWidth
                guard iw >= 0, iw < win.inputWidth else { continue }
                body(kh, kw, ih, iw)
            }
        }
    }

    /// out[c] = Σ_r m[r, c] for a row-major rows × columns matrix.
    public static func sumRows<T: KernelScalar>(_ m: UnsafePointer<T>, rows: Int, columns: Int, into out: UnsafeMutablePointer<T>) {
        out.initialize(repeating: 0, count: columns)
        for r in 0..<rows {
            let row = m + r * columns
            for c in 0..<columns { out[c] += row[c] }
        }
    }

    /// C[m, n] = Σ_k op(A)[m, k] · op(B)[k, n], where op transposes when asked; A is m×k (or k×m), B is k×n (or n×k).
    public static func matmul<T: KernelScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>,
                                               m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
        parallelFor(m) { rows in
            for i in rows {
                let out = c + i * n
                out.initialize(repeating: 0, count: n)
                for p in 0..<k {
                    let av = transposeA ? a[p * m + i] : a[i * k + p]
                    if transposeB {
                        for j in 0..<n { out[j] += av * b[j * k + p] }
                    } else {
                        let row = b + p * n
                        for j in 0..<n { out[j] += av * row[j] }
                    }
                }
            }
        }
    }
}
