import ZooTensor

/// What a layer computes at inference, in terms a compiler can rewrite (fold, fuse, run on other kernels) or write
/// out in another format (ONNX). Layers that say nothing are `opaque`: a plan calls them as they are.
///
/// Shapes and axes are Zoo's (and Keras's): channels last, the batch axis first and never named.
public enum LayerComputation {
    case convolution(Conv2D)
    /// A depthwise convolution followed by a 1×1 convolution (Keras SeparableConv2D).
    case separableConvolution(SeparableConv2D)
    case transposedConvolution(Conv2DTranspose)
    /// A Dense layer, on the last axis of an input of any rank.
    case dense(Dense)
    case batchNormalization(BatchNormalization)
    case layerNormalization(LayerNormalization)
    /// `x · scale + offset` per channel (one value for all, or one per channel).
    case channelAffine(scale: [Float], offset: [Float])
    /// Each channel times its learned factor (Keras applications' LayerScale).
    case layerScale(LayerScale)
    case prelu(PReLU)
    case activation(Activation)
    case softmax
    case pooling(PoolingKind, size: (Int, Int), strides: (Int, Int), padding: Padding)
    /// Pooling over height and width to [N, C], or to [N, 1, 1, C] keeping the dimensions.
    case globalPooling(PoolingKind, keepDimensions: Bool)
    /// To [N, everything else] in NHWC element order.
    case flatten
    /// To [N, everything else] in NCHW element order (Keras's Flatten in a channels-first network).
    case flattenChannelsFirst
    /// To [N] + the shape, in NHWC element order.
    case reshape([Int])
    /// Axes reordered as Keras's Permute gives them: counted from 1, the batch axis excluded.
    case permute([Int])
    case zeroPadding(top: Int, bottom: Int, left: Int, right: Int)
    case cropping(top: Int, bottom: Int, left: Int, right: Int)
    /// Height and width resampled to a size (TensorFlow's half-pixel rules).
    case resizing(height: Int, width: Int, method: ResizeMethod)
    case lrn(LRNParameters)
    case add
    case concatenate
    /// Inputs combined elementwise, broadcast as NumPy broadcasts.
    case combination(ElementwiseCombination)
    /// The first input plus a constant times the second (Inception-ResNet's residual scaling).
    case scaledSum(Float)
    /// Passes its input through at inference (Dropout).
    case identity
    case opaque
}

extension Conv2D { public var computation: LayerComputation { .convolution(self) } }
extension SeparableConv2D { public var computation: LayerComputation { .separableConvolution(self) } }
extension Conv2DTranspose { public var computation: LayerComputation { .transposedConvolution(self) } }
extension Dense { public var computation: LayerComputation { .dense(self) } }
extension BatchNormalization { public var computation: LayerComputation { .batchNormalization(self) } }
extension LayerNormalization { public var computation: LayerComputation { .layerNormalization(self) } }
extension LayerScale { public var computation: LayerComputation { .layerScale(self) } }
extension PReLU { public var computation: LayerComputation { .prelu(self) } }
extension Dropout { public var computation: LayerComputation { .identity } }
extension ChannelAffine {
    public var computation: LayerComputation {
        let (scale, offset) = coefficients
        return .channelAffine(scale: scale, offset: offset)
    }
}
extension Merge {
    public var computation: LayerComputation {
        switch operation {
        case .add: .add
        case .concatenate: .concatenate
        case .combination(let kind): .combination(kind)
        case .scaledSum(let scale): .scaledSum(scale)
        }
    }
}
