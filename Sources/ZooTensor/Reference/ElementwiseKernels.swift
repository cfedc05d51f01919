/// An elementwise activation, with the parameters Keras's forms of it take.
public enum Activation: Hashable, Sendable {
    case relu, tanh, sigmoid
    /// Keras's ReLU layer in full: x from `threshold` up to `maxValue`, `negativeSlope · (x − threshold)` below the
    /// threshold. relu6 caps at 6; LeakyReLU is a slope alone.
    case rectifier(negativeSlope: Float, maxValue: Float?, threshold: Float)
    /// x above 0, `alpha · (eˣ − 1)` below.
    case elu(alpha: Float)
    /// `scale · elu(x, alpha)` with the self-normalizing constants.
    case selu
    /// `x · Φ(x)`, or its tanh approximation.
    case gelu(approximate: Bool)
    /// `x · sigmoid(x)` (Keras's swish and silu).
    case swish
    /// `clip(slope · x + 0.5, 0, 1)`: slope 1/6 in Keras 3, 0.2 in Keras 1 and 2.
    case hardSigmoid(slope: Float)
    /// `x · clip(x / 6 + 0.5, 0, 1)`: Keras 3's hard_silu / hard_swish (MobileNetV3).
    case hardSwish
    /// `log(1 + eˣ)`.
    case softplus
    /// `x / (1 + |x|)`.
    case softsign

    public static let relu6 = Activation.rectifier(negativeSlope: 0, maxValue: 6, threshold: 0)
    public static let seluAlpha: Float = 1.6732632423543772, seluScale: Float = 1.0507009873554805

    /// One of each kind, with parameters away from the defaults where they have any: what tests run through.
    public static let representatives: [Activation] = [
        .relu, .tanh, .sigmoid, .relu6, .rectifier(negativeSlope: 0.3, maxValue: nil, threshold: 0),
        .rectifier(negativeSlope: 0.2, maxValue: 1.25, threshold: -0.5), .elu(alpha: 0.7), .selu, .gelu(approximate: false),
        .gelu(approximate: true), .swish, .hardSigmoid(slope: 0.2), .hardSigmoid(slope: 1 / 6), .hardSwish, .softplus, .softsign,
    ]
}

extension ReferenceKernels {
    public static func activation<T: KernelScalar>(_ kind: Activation, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int) {
        parallelFor(count, minimumPerChunk: 1 << 14) { range in
            for i in range { y[i] = value(kind, x[i]) }
        }
    }

    /// dx from dy, the input x and the output y (tanh and sigmoid use y; the others x).
    public static func activationBackward<T: KernelScalar>(_ kind: Activation, _ dy: UnsafePointer<T>, x: UnsafePointer<T>,
                                                           y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, count: Int) {
        parallelFor(count, minimumPerChunk: 1 << 14) { range in
            for i in range {
                switch kind {
                case .tanh: dx[i] = dy[i] * (1 - y[i] * y[i])
                case .sigmoid: dx[i] = dy[i] * y[i] * (1 - y[i])
                default: dx[i] = dy[i] * derivative(kind, x[i])
                }
            }
        }
    }

    @inline(__always) static func value<T: KernelScalar>(_ kind: Activation, _ x: T) -> T {
        switch kind {
        case .relu: return x > 0 ? x : 0
        case .tanh: return T.tanh(x)
        case .sigmoid: return 1 / (1 + T.exp(-x))
        case let .rectifier(slope, maxValue, threshold):
            if let maxValue, x >= T(maxValue) { return T(maxValue) }
            return x >= T(threshold) ? x : T(slope) * (x - T(threshold))
        case .elu(let alpha): return x > 0 ? x : T(alpha) * T.expMinusOne(x)
        case .selu: return T(Activation.seluScale) * (x > 0 ? x : T(Activation.seluAlpha) * T.expMinusOne(x))
        case .gelu(let approximate):
            let (a, b): (T, T) = geluConstants()
            if approximate { return x / 2 * (1 + T.tanh(a * (x + b * x * x * x))) }
            return x / 2 * (1 + T.erf(x / T.sqrt(2)))
        case .swish: return x / (1 + T.exp(-x))
        case .hardSigmoid(let slope): return Swift.min(1, Swift.max(0, T(slope) * x + 0.5))
        case .hardSwish: return x * Swift.min(1, Swift.max(0, x / 6 + 0.5))
        case .softplus: return x > 20 ? x : T.log(onePlus: T.exp(x))
        case .softsign: return x / (1 + Swift.abs(x))
        }
    }

    /// d value / dx at x (for the kinds whose backward reads the input).
    @inline(__always) static func derivative<T: KernelScalar>(_ kind: Activation, _ x: T) -> T {
        switch kind {
        case .relu: return x > 0 ? 1 : 0
        case .tanh: let t = T.tanh(x); return 1 - t * t
        case .sigmoid: let s = 1 / (1 + T.exp(-x)); return s * (1 - s)
        case let .rectifier(slope, maxValue, threshold):
            if let maxValue, x >= T(maxValue) { return 0 }
            return x >= T(threshold) ? 1 : T(slope)
        case .elu(let alpha): return x > 0 ? 1 : T(alpha) * T.exp(x)
        case .selu: return T(Activation.seluScale) * (x > 0 ? 1 : T(Activation.seluAlpha) * T.exp(x))
        case .gelu(let approximate):
            let (a, b): (T, T) = geluConstants()
            if approximate {
                let t = T.tanh(a * (x + b * x * x * x))
                return (1 + t) / 2 + x / 2 * (1 - t * t) * a * (1 + 3 * b * x * x)
            }
            return (1 + T.erf(x / T.sqrt(2))) / 2 + x * T.exp(-x * x / 2) / T.sqrt(2 * T.pi)
        case .swish: let s = 1 / (1 + T.exp(-x)); return s * (1 + x * (1 - s))
        case .hardSigmoid(let slope):
            let y = T(slope) * x + 0.5
            return y > 0 && y < 1 ? T(slope) : 0
        case .hardSwish: return x <= -3 ? 0 : x >= 3 ? 1 : x / 3 + 0.5
        case .softplus: return 1 / (1 + T.exp(-x))
        case .softsign: let d = 1 + Swift.abs(x); return 1 / (d * d)
        }
    }

    /// The constants of gelu's tanh approximation: √(2/π) and 0.044715.
    private static func geluConstants<T: KernelScalar>() -> (a: T, b: T) { (T.sqrt(2 / T.pi), T(0.044715)) }
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
