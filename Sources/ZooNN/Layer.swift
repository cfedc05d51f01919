import ZooTensor

/// A Keras-style layer: a stable name, its weights in Keras's order, and a forward pass.
public protocol Layer: AnyObject {
    var name: String { get }
    /// The Keras class the layer corresponds to ("Conv2D", "Dense", …).
    var kind: String { get }
    /// Every weight in the order Keras stores them (e.g. kernel, bias; gamma, beta, moving_mean, moving_variance).
    var weights: [Weight] { get }
    /// What the layer computes at inference, for plans; `opaque` by default.
    var computation: LayerComputation { get }
    func callAsFunction(_ x: Variable, training: Bool) throws -> Variable
}

/// A named weight of a layer. Trainable weights receive gradients unless the layer is frozen; non-trainable ones
/// (BatchNorm's moving statistics) never do.
public final class Weight {
    public let name: String
    public let variable: Variable
    public let isTrainableKind: Bool
    /// Scales the optimizer's learning rate for this weight (below 1 for a pre-trained backbone under a new head).
    public var learningRateMultiplier: Float = 1
    /// Keras's weight regularizer (`kernel_regularizer` and the like): `l1 · Σ|w| + l2 · Σw²` added to the training
    /// loss while the weight trains.
    public var regularizer: (l1: Float, l2: Float)?

    public init(_ name: String, _ value: Tensor, trainable: Bool = true) {
        self.name = name
        variable = Variable(value, requiresGrad: trainable, name: name)
        isTrainableKind = trainable
    }

    public var value: Tensor {
        get { variable.value }
        set { variable.value = newValue }
    }

    public var shape: [Int] { variable.shape }
}

extension Layer {
    public var kind: String { String(describing: type(of: self)) }
    public var computation: LayerComputation { .opaque }

    /// Freezes (false) or unfreezes (true) every trainable weight of the layer.
    public var trainable: Bool {
        get { weights.contains { $0.isTrainableKind && $0.variable.requiresGrad } || !weights.contains { $0.isTrainableKind } }
        set { for weight in weights where weight.isTrainableKind { weight.variable.requiresGrad = newValue } }
    }

    /// The number of scalars in the layer's weights.
    public var parameterCount: Int { weights.reduce(0) { $0 + $1.value.count } }
}
