import ZooTensor

/// What a layer computes at inference, in terms a compiler can rewrite (fold, fuse, run on other kernels). Layers
/// that say nothing are `opaque`: a plan calls them as they are.
public enum LayerComputation {
    case convolution(Conv2D)
    case dense(Dense)
    case batchNormalization(BatchNormalization)
    case activation(Activation)
    case softmax
    case pooling(PoolingKind, size: (Int, Int), strides: (Int, Int), padding: Padding)
    case globalPooling(PoolingKind)
    case flatten
    case zeroPadding(top: Int, bottom: Int, left: Int, right: Int)
    case lrn(LRNParameters)
    case add
    case concatenate
    /// Passes its input through at inference (Dropout).
    case identity
    case opaque
}

extension Conv2D { public var computation: LayerComputation { .convolution(self) } }
extension Dense { public var computation: LayerComputation { .dense(self) } }
extension BatchNormalization { public var computation: LayerComputation { .batchNormalization(self) } }
extension Dropout { public var computation: LayerComputation { .identity } }
extension Merge {
    public var computation: LayerComputation {
        switch operation {
        case .add: .add
        case .concatenate: .concatenate
        case .combination, .scaledSum: .opaque
        }
    }
}
