/// Pointwise activations with their derivatives.
public enum Activation: String, Hashable, Sendable, CaseIterable {
    case relu, tanh, sigmoid
}

extension ReferenceKernels {
    public static func activation<T: KernelScalar>(_ kind: Activation, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int) {
        parallelFor(count, minimumPerChunk: 1 << 14) { range in
            for i in range {
                switch kind {
                case .relu: y[i] = x[i] > 0 ? x[i] : 0
                case .tanh: y[i] = T.tanh(x[i])
                case .sigmoid: y[i] = 1 / (1 + T.exp(-x[i]))
                }
            }
        }
    }

    /// dx from dy, the input x and the output y (ReLU uses x; tanh and sigmoid use y).
    public static func activationBackward<T: KernelScalar>(_ kind: Activation, _ dy: UnsafePointer<T>, x: UnsafePointer<T>,
                                                           y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, count: Int) {
        parallelFor(count, minimumPerChunk: 1 << 14) { range in
            for i in range {
                switch kind {
                case .relu: dx[i] = x[i] > 0 ? dy[i] : 0
                case .tanh: dx[i] = dy[i] * (1 - y[i] * y[i])
                case .sigmoid: dx[i] = dy[i] * y[i] * (1 - y[i])
                }
            }
        }
    }

    /// Softmax (or its logarithm) of each row, shifted by the row maximum for stability.
    public static func softmax<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, rows: Int, columns: Int, log: Bool) {
        parallelFor(rows, minimumPerChunk: 16) { range in
            for r in range {
                let input = x + r * columns, output = y + r * columns
                var peak = -T.infinity
                for c in 0..<columns { peak = Swift.max(peak, input[c]) }
                var sum: T = 0
                for c in 0..<columns { sum += T.exp(input[c] - peak) }
                let logSum = T.log(sum)
                for c in 0..<columns {
                    output[c] = log ? input[c] - peak - logSum : T.exp(input[c] - peak) / sum
                }
            }
        }
    }

    /// Softmax: dx = y ⊙ (dy − Σ dy ⊙ y). Log-softmax: dx = dy − softmax · Σ dy, with softmax = exp(y).
    public static func softmaxBackward<T: KernelScalar>(_ dy: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
                                                        rows: Int, columns: Int, log: Bool) {
        for r in 0..<rows {
            let g = dy + r * columns, out = y + r * columns, target = dx + r * columns
            var sum: T = 0
            for c in 0..<columns { sum += log ? g[c] : g[c] * out[c] }
            for c in 0..<columns { target[c] = log ? g[c] - T.exp(out[c]) * sum : out[c] * (g[c] - sum) }
        }
    }
}
