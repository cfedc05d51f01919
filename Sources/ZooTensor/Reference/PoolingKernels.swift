/// Pooling algorithms. Padded cells never take part: max ignores them, average divides by the real cells only
/// (TensorFlow's "same" semantics).
public enum PoolingKind: String, Hashable, Sendable {
    case max, average
}

extension ReferenceKernels {
    public static func pool2d<T: KernelScalar>(_ kind: PoolingKind, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                               _ g: PoolingGeometry) {
        let win = g.window, c = g.channels
        parallelFor(g.batch * win.outputHeight) { rows in
            for row in rows {
                let n = row / win.outputHeight, oh = row % win.outputHeight
                for ow in 0..<win.outputWidth {
                    let out = y + (row * win.outputWidth + ow) * c
                    out.initialize(repeating: kind == .max ? -T.infinity : 0, count: c)
                    var cells = 0
                    forEachTap(win, oh, ow) { _, _, ih, iw in
                        cells += 1
                        let input = x + ((n * win.inputHeight + ih) * win.inputWidth + iw) * c
                        for ch in 0..<c {
                            out[ch] = kind == .max ? Swift.max(out[ch], input[ch]) : out[ch] + input[ch]
                        }
                    }
                    if kind == .average { for ch in 0..<c { out[ch] /= T(cells) } }
                }
            }
        }
    }

    /// Max sends each gradient to the first maximal cell of its window; average spreads it over the real cells.
    public static func pool2dBackward<T: KernelScalar>(_ kind: PoolingKind, _ dy: UnsafePointer<T>, _ x: UnsafePointer<T>,
                                                       _ dx: UnsafeMutablePointer<T>, _ g: PoolingGeometry) {
        let win = g.window, c = g.channels
        let imageSize = win.inputHeight * win.inputWidth * c
        parallelFor(g.batch) { images in
            for n in images {
                (dx + n * imageSize).initialize(repeating: 0, count: imageSize)
                for oh in 0..<win.outputHeight {
                    for ow in 0..<win.outputWidth {
                        let gradient = dy + ((n * win.outputHeight + oh) * win.outputWidth + ow) * c
                        var cells = 0
                        forEachTap(win, oh, ow) { _, _, _, _ in cells += 1 }
                        for ch in 0..<c {
                            var best = -T.infinity, bestOffset = -1
                            forEachTap(win, oh, ow) { _, _, ih, iw in
                                let offset = ((n * win.inputHeight + ih) * win.inputWidth + iw) * c + ch
                                if kind == .average {
                                    dx[offset] += gradient[ch] / T(cells)
                                } else if x[offset] > best || bestOffset < 0 {
                                    best = x[offset]
                                    bestOffset = offset
                                }
                            }
                            if kind == .max, bestOffset >= 0 { dx[bestOffset] += gradient[ch] }
                        }
                    }
                }
            }
        }
    }
}
