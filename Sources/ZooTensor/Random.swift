import Foundation

/// A small seeded generator (SplitMix64): the same seed gives the same initial weights, dropout masks and shuffles.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Moves past `draws` numbers at once, as if `next()` had been called that many times.
    public mutating func skip(_ draws: Int) {
        state &+= UInt64(draws) &* 0x9E37_79B9_7F4A_7C15
    }

    /// A uniform Float in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) * 0x1p-24
    }

    /// A standard normal sample (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, .leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}


extension Tensor {
    /// Uniform values in [low, high).
    public static func uniform(_ shape: [Int], low: Float = -1, high: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { buffer in for i in buffer.indices { buffer[i] = rng.uniform(low, high) } }
    }

    /// Normal values with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { buffer in for i in buffer.indices { buffer[i] = mean + standardDeviation * rng.normal() } }
    }
}
