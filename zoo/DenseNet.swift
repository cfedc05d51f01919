import ZooCore
import ZooNN
import ZooTensor

/// DenseNet (Huang, Liu, van der Maaten, Weinberger 2016): keras.applications DenseNet121/169/201 exactly — growth
/// rate 32, bottleneck 4k, compression 0.5, pre-activation BatchNorm (ε = 1.001e-5), its layer names. The published
/// files name three layers the older way (conv1/conv, conv1/bn, fc1000); they load too.
public struct DenseNet: Backbone {
    let depth: Int
    let blocks: [Int]

    public static let densenet121 = DenseNet(depth: 121, blocks: [6, 12, 24, 16])
    public static let densenet169 = DenseNet(depth: 169, blocks: [6, 12, 32, 32])
    public static let densenet201 = DenseNet(depth: 201, blocks: [6, 12, 48, 32])
    public static let all = [densenet121, densenet169, densenet201]

    public var name: String { "densenet\(depth)" }
    public var aliases: [String] { ["densenet-\(depth)"] }
    public let family = "DenseNet"
    public let paper = "Huang et al., Densely Connected Convolutional Networks"
    public let year = 2016
    public let defaultInputSize = (224, 224)
    public let inputChannels = 3
    public let preprocessing = Preprocessing.torch
    public let classifierLayers = ["predictions"]
    static let growth = 32
    static let epsilon: Float = 1.001e-5

    public var publishedWeights: [PublishedWeights] {
        let hashes = [121: ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
                      169: ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
                      201: ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1")]
        let (top, notop) = hashes[depth]!
        return PublishedWeights.kerasApplications(name, folder: "densenet", top: top, notop: notop)
    }

    public func build(_ options: BackboneOptions) throws -> Model {
        try Heads.validate(options, name)
        let (h, w) = options.inputSize ?? defaultInputSize
        guard h >= 32, w >= 32 else { throw BackboneError.invalidOptions("\(name): input \(h)×\(w) is too small; it needs at least 32×32") }
        var g = SeededGenerator(seed: options.seed)
        let bn = { (name: String, channels: Int) in BatchNormalization(name, channels: channels, epsilon: Self.epsilon) }
        let relu = { (name: String) in Layers.activation(name, .relu) }
        // Keras names these two paddings automatically.
        var layers: [Layer] = [
            Layers.zeroPadding("zero_padding2d", top: 3, bottom: 3, left: 3, right: 3),
            Conv2D("conv1_conv", inputChannels: inputChannels, filters: 64, kernelSize: (7, 7), strides: (2, 2), useBias: false, generator: &g),
            bn("conv1_bn", 64), relu("conv1_relu"),
            Layers.zeroPadding("zero_padding2d_1", top: 1, bottom: 1, left: 1, right: 1),
            Layers.maxPooling("pool1", size: (3, 3), strides: (2, 2)),
        ]
        /// Layers in order; a concatenation joins the block's input to the output of the layers since the block began.
        enum Step { case layer(Layer), concatenate(Merge, blockStart: Int) }
        var steps: [Step] = layers.map { .layer($0) }
        var channels = 64
        for (index, count) in blocks.enumerated() {
            let stage = "conv\(index + 2)"
            for b in 1...count {
                let prefix = "\(stage)_block\(b)"
                let start = steps.count
                let block: [Layer] = [
                    bn("\(prefix)_0_bn", channels), relu("\(prefix)_0_relu"),
                    Conv2D("\(prefix)_1_conv", inputChannels: channels, filters: 4 * Self.growth, kernelSize: (1, 1), useBias: false, generator: &g),
                    bn("\(prefix)_1_bn", 4 * Self.growth), relu("\(prefix)_1_relu"),
                    Conv2D("\(prefix)_2_conv", inputChannels: 4 * Self.growth, filters: Self.growth, kernelSize: (3, 3), padding: .same,
                           useBias: false, generator: &g),
                ]
                let concat = Merge("\(prefix)_concat", .concatenate)
                layers += block + [concat]
                steps += block.map { .layer($0) } + [.concatenate(concat, blockStart: start)]
                channels += Self.growth
            }
            if index < blocks.count - 1 {
                let pool = "pool\(index + 2)"
                let transition: [Layer] = [
                    bn("\(pool)_bn", channels), relu("\(pool)_relu"),
                    Conv2D("\(pool)_conv", inputChannels: channels, filters: channels / 2, kernelSize: (1, 1), useBias: false, generator: &g),
                    Layers.averagePooling("\(pool)_pool", size: (2, 2), strides: (2, 2)),
                ]
                layers += transition
                steps += transition.map { .layer($0) }
                channels /= 2
            }
        }
        let tail: [Layer] = [bn("bn", channels), relu("relu")] + Heads.applications(channels: channels, options, generator: &g)
        layers += tail
        steps += tail.map { .layer($0) }
        let blockStarts = Set(steps.compactMap { if case let .concatenate(_, start) = $0 { start } else { nil } })
        let model = Model(name: name, inputShape: [h, w, inputChannels], layers: layers,
                          tapNames: ["pool1", "pool2_pool", "pool3_pool", "pool4_pool", "relu"]) { ctx, x in
            var y = x, blockInput = x  // only the current block's input is kept: the concatenation needs it
            for (index, step) in steps.enumerated() {
                if blockStarts.contains(index) { blockInput = y }
                switch step {
                case .layer(let layer): y = try ctx.call(layer, y)
                case let .concatenate(merge, _): y = try ctx.call(merge, [blockInput, y])
                }
            }
            return [y]
        }
        model.legacyNames = ["conv1_conv": "conv1/conv", "conv1_bn": "conv1/bn", "predictions": "fc1000"]
        model.classifierLayers = classifierLayers
        return model
    }
}
