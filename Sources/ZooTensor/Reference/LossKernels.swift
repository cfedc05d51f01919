/// Training losses with Keras's definitions, averaged over the batch ("sum over batch size").
public enum LossFunction: Hashable, Sendable {
    /// Targets are distributions over the last axis. From probabilities Keras renormalizes each row, then clips to [ε, 1−ε].
    case categoricalCrossEntropy(fromLogits: Bool)
    /// Targets are class indices. From probabilities Keras clips to [ε, 1−ε], takes the log and renormalizes.
    case sparseCategoricalCrossEntropy(fromLogits: Bool)
    /// Element-wise, averaged over the last axis. From probabilities Keras clips to [ε, 1−ε].
    case binaryCrossEntropy(fromLogits: Bool)
    case meanSquaredError

    /// Keras's backend epsilon.
    public static let epsilon = 1e-7
}

extension ReferenceKernels {
    /// The mean loss over `rows` samples of `columns` values each, and, when asked, its gradient with respect to the
    /// predictions. Sparse targets hold one class index per row.
    public static func loss<T: KernelScalar>(_ function: LossFunction, predictions p: UnsafePointer<T>, targets t: UnsafePointer<T>,
                                             rows: Int, columns: Int, gradient: UnsafeMutablePointer<T>?) -> T {
        let eps = T(LossFunction.epsilon)
        func clip(_ v: T) -> T { Swift.min(Swift.max(v, eps), 1 - eps) }
        func inside(_ v: T) -> T { v >= eps && v <= 1 - eps ? 1 : 0 }  // the gradient of clip
        var total: T = 0
        let scale = 1 / T(rows)
        for r in 0..<rows {
            let row = p + r * columns, g = gradient.map { $0 + r * columns }
            switch function {
            case .categoricalCrossEntropy(fromLogits: true), .sparseCategoricalCrossEntropy(fromLogits: true):
                let sparse = function == .sparseCategoricalCrossEntropy(fromLogits: true)
                var peak = -T.infinity
                for c in 0..<columns { peak = Swift.max(peak, row[c]) }
                var sum: T = 0
                for c in 0..<columns { sum += T.exp(row[c] - peak) }
                let logSum = peak + T.log(sum)
                var targetMass: T = 0
                for c in 0..<columns {
                    let target = sparse ? (Int(t[r]) == c ? 1 : 0) : t[r * columns + c]
                    total -= target * (row[c] - logSum)
                    targetMass += target
                }
                if let g {
                    for c in 0..<columns {
                        let target = sparse ? (Int(t[r]) == c ? 1 : 0) : t[r * columns + c]
                        g[c] = scale * (T.exp(row[c] - logSum) * targetMass - target)
                    }
                }
            case .categoricalCrossEntropy(fromLogits: false):
                var sum: T = 0
                for c in 0..<columns { sum += row[c] }
                var weighted: T = 0  // Σ_j dL/dq_j · q_j, for the renormalization's gradient
                for c in 0..<columns {
                    let q = row[c] / sum, target = t[r * columns + c]
                    total -= target * T.log(clip(q))
                    weighted += -target / clip(q) * inside(q) * q
                }
                if let g {
                    for c in 0..<columns {
                        let q = row[c] / sum, target = t[r * columns + c]
                        g[c] = scale * (-target / clip(q) * inside(q) - weighted) / sum
                    }
                }
            case .sparseCategoricalCrossEntropy(fromLogits: false):
                let label = Int(t[r])
                var sum: T = 0
                for c in 0..<columns { sum += clip(row[c]) }
                total -= T.log(clip(row[label]) / sum)
                if let g {
                    for c in 0..<columns {
                        let softmax = clip(row[c]) / sum
                        g[c] = scale * (softmax - (c == label ? 1 : 0)) / clip(row[c]) * inside(row[c])
                    }
                }
            case .binaryCrossEntropy(let fromLogits):
                let mean = 1 / T(columns)
                for c in 0..<columns {
                    let v = row[c], target = t[r * columns + c]
                    if fromLogits {
                        total += mean * (Swift.max(v, 0) - v * target + T.log(1 + T.exp(-abs(v))))
                        g?[c] = scale * mean * (1 / (1 + T.exp(-v)) - target)
                    } else {
                        total -= mean * (target * T.log(clip(v)) + (1 - target) * T.log(1 - clip(v)))
                        g?[c] = -scale * mean * (target / clip(v) - (1 - target) / (1 - clip(v))) * inside(v)
                    }
                }
            case .meanSquaredError:
                let mean = 1 / T(columns)
                for c in 0..<columns {
                    let d = row[c] - t[r * columns + c]
                    total += mean * d * d
                    g?[c] = scale * mean * 2 * d
                }
            }
        }
        return total * scale
    }
}
