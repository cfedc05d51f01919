import ZooTensor

/// Keras's default initializers, seeded for reproducible runs.
public enum Initializer: Sendable {
    /// U(−l, l) with l = √(6 / (fan_in + fan_out)); for kernels, fans multiply the receptive field
    /// (all axes but the last two) by the input and output axes.
    case glorotUniform
    case zeros
    case ones
    case constant(Float)

    /// While true, every initializer gives untouched zeros (`Tensor(reservedZeros:)`): for building a model to
    /// learn its layout — names, shapes, parameter counts — without paying for its values (`Backbone.skeleton`).
    @TaskLocal public static var shapesOnly = false

    public func make(_ shape: [Int], using generator: inout SeededGenerator) -> Tensor {
        if Self.shapesOnly { return Tensor(reservedZeros: shape) }
        switch self {
        case .zeros: return Tensor(zeros: shape)
        case .ones: return Tensor(shape: shape, repeating: 1)
        case .constant(let value): return Tensor(shape: shape, repeating: value)
        case .glorotUniform:
            let receptive = shape.dropLast(2).reduce(1, *)
            let fanIn = shape.count >= 2 ? shape[shape.count - 2] * receptive : shape.first ?? 1
            let fanOut = (shape.last ?? 1) * (shape.count >= 2 ? receptive : 1)
            let limit = (6 / Float(max(1, fanIn + fanOut))).squareRoot()
            return .uniform(shape, low: -limit, high: limit, using: &generator)
        }
    }
}
