/// Local response normalization across channels, TensorFlow's definition:
/// y_c = x_c / (k + α · Σ_{|j−c| ≤ (size−1)/2} x_j²)^β. (Caffe divides α by `size`; the AlexNet paper and TF do not.)
public struct LRNParameters: Hashable, Sendable {
    public let size: Int
    public let alpha, beta, k: Float

    public init(size: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 2) {
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
    }

    public var radius: Int { (size - 1) / 2 }
}

extension ReferenceKernels {
    /// The sum k + α Σ x_j² over each channel's window, for every position.
    static func lrnScale<T: KernelScalar>(_ x: UnsafePointer<T>, _ s: UnsafeMutablePointer<T>, positions: Int, channels: Int,
                                          _ p: LRNParameters) {
        let alpha = T(p.alpha), k = T(p.k)
        parallelFor(positions) { range in
            for position in range {
                let input = x + position * channels, scale = s + position * channels
                for c in 0..<channels {
                    var sum: T = 0
                    for j in Swift.max(0, c - p.radius)...Swift.min(channels - 1, c + p.radius) { sum += input[j] * input[j] }
                    scale[c] = k + alpha * sum
                }
            }
        }
    }

    public static func lrn<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, positions: Int, channels: Int,
                                            _ p: LRNParameters) {
        lrnScale(x, y, positions: positions, channels: channels, p)
        for i in 0..<positions * channels { y[i] = x[i] * T.pow(y[i], -T(p.beta)) }
    }

    /// dx_j = dy_j · s_j^−β − 2αβ · x_j · Σ_{c: j in window(c)} dy_c · x_c · s_c^(−β−1).
    public static func lrnBackward<T: KernelScalar>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
                                                    positions: Int, channels: Int, _ p: LRNParameters) {
        let scale = UnsafeMutablePointer<T>.allocate(capacity: positions * channels)
        defer { scale.deallocate() }
        lrnScale(x, scale, positions: positions, channels: channels, p)
        let beta = T(p.beta), twoAlphaBeta = 2 * T(p.alpha) * T(p.beta)
        parallelFor(positions) { range in
            for position in range {
                let base = position * channels
                for j in 0..<channels {
                    var sum: T = 0
                    for c in Swift.max(0, j - p.radius)...Swift.min(channels - 1, j + p.radius) {
                        sum += dy[base + c] * x[base + c] * T.pow(scale[base + c], -beta - 1)
                    }
                    dx[base + j] = dy[base + j] * T.pow(scale[base + j], -beta) - twoAlphaBeta * x[base + j] * sum
                }
            }
        }
    }

    /// Per-channel mean and biased variance over every position (the batch statistics of batch normalization).
    public static func moments<T: KernelScalar>(_ x: UnsafePointer<T>, positions: Int, channels: Int,
                                                mean: UnsafeMutablePointer<T>, variance: UnsafeMutablePointer<T>) {
        sumRows(x, rows: positions, columns: channels, into: mean)
        for c in 0..<channels { mean[c] /= T(positions) }
        variance.initialize(repeating: 0, count: channels)
        for r in 0..<positions {
            for c in 0..<channels {
                let d = x[r * channels + c] - mean[c]
                variance[c] += d * d
            }
        }
        for c in 0..<channels { variance[c] /= T(positions) }
    }

    /// y = γ · (x − mean) / √(variance + ε) + β, per channel (the last axis).
    public static func batchNorm<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, positions: Int, channels: Int,
                                                  gamma: UnsafePointer<T>, beta: UnsafePointer<T>, mean: UnsafePointer<T>,
                                                  variance: UnsafePointer<T>, epsilon: T) {
        parallelFor(positions, minimumPerChunk: 64) { range in
            for r in range {
                for c in 0..<channels {
                    let i = r * channels + c
                    y[i] = gamma[c] * (x[i] - mean[c]) / T.sqrt(variance[c] + epsilon) + beta[c]
                }
            }
        }
    }

    /// Gradients of batch normalization. With `batchStatistics` the mean and variance are functions of x
    /// (training mode); otherwise they are constants (inference mode, or a frozen layer).
    public static func batchNormBackward<T: KernelScalar>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, positions: Int, channels: Int,
                                                          gamma: UnsafePointer<T>, mean: UnsafePointer<T>, variance: UnsafePointer<T>,
                                                          epsilon: T, batchStatistics: Bool, dx: UnsafeMutablePointer<T>?,
                                                          dgamma: UnsafeMutablePointer<T>, dbeta: UnsafeMutablePointer<T>) {
        dgamma.initialize(repeating: 0, count: channels)
        dbeta.initialize(repeating: 0, count: channels)
        for r in 0..<positions {
            for c in 0..<channels {
                let i = r * channels + c
                dbeta[c] += dy[i]
                dgamma[c] += dy[i] * (x[i] - mean[c]) / T.sqrt(variance[c] + epsilon)
            }
        }
        guard let dx else { return }
        let m = T(positions)
        for r in 0..<positions {
            for c in 0..<channels {
                let i = r * channels + c
                let inverseDeviation = 1 / T.sqrt(variance[c] + epsilon)
                if batchStatistics {
                    let normalized = (x[i] - mean[c]) * inverseDeviation
                    dx[i] = gamma[c] * inverseDeviation / m * (m * dy[i] - dbeta[c] - normalized * dgamma[c])
                } else {
                    dx[i] = gamma[c] * inverseDeviation * dy[i]
                }
            }
        }
    }
}
