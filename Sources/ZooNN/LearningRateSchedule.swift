import Foundation

/// The learning rate over training, as a function of the position in it: `epoch` counts from 0 and `progress` is the
/// fraction of that epoch already done, so schedules can change per step (cosine, warm-up) or per epoch.
public indirect enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    case constant(Float)
    /// `rates[i]` through epoch `lastEpochs[i]` (counted from 1), then `after`: LeNet's 5e-4 for epochs 1–2, 2e-4 for
    /// 3–5, 5e-5 for 6–9 and 1e-5 after is `piecewise([(2, 5e-4), (5, 2e-4), (9, 5e-5)], after: 1e-5)`.
    case piecewise([Piece], after: Float)
    /// `initial × factor^⌊epoch / every⌋`.
    case step(initial: Float, every: Int, factor: Float)
    /// Keras's CosineDecay over `epochs`: `initial × ((1 − α)·½(1 + cos(π·t/epochs)) + α)`, then `initial × α`.
    case cosine(initial: Float, epochs: Int, alpha: Float)
    /// Rises linearly from 0 to `then`'s rate over the first `epochs` (fractions allowed), then follows `then`.
    case warmup(epochs: Double, then: LearningRateSchedule)

    public struct Piece: Sendable, Equatable {
        public let lastEpoch: Int
        public let rate: Float
        public init(_ lastEpoch: Int, _ rate: Float) { self.lastEpoch = lastEpoch; self.rate = rate }
    }

    public func rate(epoch: Int, progress: Double = 0) -> Float {
        let t = Double(epoch) + progress
        switch self {
        case .constant(let rate): return rate
        case .piecewise(let pieces, let after): return pieces.first { epoch + 1 <= $0.lastEpoch }?.rate ?? after
        case .step(let initial, let every, let factor): return initial * Float.pow(factor, Float(epoch / every))
        case .cosine(let initial, let epochs, let alpha):
            let decayed = (1 - alpha) * Float(0.5 * (1 + cos(Double.pi * min(t, Double(epochs)) / Double(epochs)))) + alpha
            return initial * decayed
        case .warmup(let epochs, let then):
            let target = then.rate(epoch: epoch, progress: progress)
            return t < epochs ? target * Float(t / epochs) : target
        }
    }

    public var description: String {
        switch self {
        case .constant(let rate): return "\(rate)"
        case .piecewise(let pieces, let after): return "piecewise:" + (pieces.map { "\($0.lastEpoch)=\($0.rate)" } + ["\(after)"]).joined(separator: ",")
        case .step(let initial, let every, let factor): return "step:\(initial),every=\(every),factor=\(factor)"
        case .cosine(let initial, let epochs, let alpha): return "cosine:\(initial),epochs=\(epochs),alpha=\(alpha)"
        case .warmup(let epochs, let then): return "\(then) after \(epochs) warm-up epochs"
        }
    }

    /// Reads the command line's forms: `0.01`; `piecewise:2=5e-4,5=2e-4,9=5e-5,1e-5`;
    /// `step:0.1,every=30,factor=0.1`; `cosine:0.01[,alpha=0]` (over `epochs`, the length of training).
    public static func parse(_ text: String, epochs: Int) throws(ScheduleError) -> LearningRateSchedule {
        func fail(_ why: String) -> ScheduleError { ScheduleError(description: "cannot read the learning rate '\(text)': \(why)") }
        func rate(_ s: Substring) throws(ScheduleError) -> Float {
            guard let r = Float(s), r >= 0, r.isFinite else { throw fail("'\(s)' is not a learning rate") }
            return r
        }
        if Float(text) != nil { return .constant(try rate(Substring(text))) }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { throw fail("write a rate (0.01) or piecewise:…, step:…, cosine:…") }
        let fields = parts[1].split(separator: ",")
        var options: [Substring: Substring] = [:], plain: [Substring] = []
        for field in fields {
            let kv = field.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { options[kv[0]] = kv[1] } else { plain.append(field) }
        }
        switch parts[0] {
        case "piecewise":
            var pieces: [Piece] = []
            for field in fields {
                let kv = field.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                guard let epoch = Int(kv[0]), epoch > (pieces.last?.lastEpoch ?? 0) else { throw fail("epochs must rise: '\(field)'") }
                pieces.append(Piece(epoch, try rate(kv[1])))
            }
            guard !pieces.isEmpty, plain.count == 1, fields.last.map({ !$0.contains("=") }) == true else {
                throw fail("write last-epoch=rate pairs, then the rate after them: piecewise:2=5e-4,5=2e-4,1e-5")
            }
            return .piecewise(pieces, after: try rate(plain[0]))
        case "step":
            guard plain.count == 1, let every = options["every"].flatMap({ Int($0) }), every > 0 else {
                throw fail("write step:RATE,every=EPOCHS,factor=F")
            }
            return .step(initial: try rate(plain[0]), every: every, factor: try rate(options["factor"] ?? "0.1"))
        case "cosine":
            guard plain.count == 1 else { throw fail("write cosine:RATE[,alpha=A]") }
            return .cosine(initial: try rate(plain[0]), epochs: max(1, epochs), alpha: try rate(options["alpha"] ?? "0"))
        default:
            throw fail("unknown schedule '\(parts[0])'; use piecewise, step or cosine")
        }
    }
}

public struct ScheduleError: Error, CustomStringConvertible, Equatable {
    public let description: String
}
