import ZooCore
import ZooNN
import ZooTensor

/// GoogLeNet / Inception v1 (Szegedy et al. 2014), Table 1: nine inception modules with the paper's #1×1,
/// #3×3 reduce, #3×3, #5×5 reduce, #5×5 and pool-proj widths; LRN after pool1 and conv2 (Caffe's n = 5, α = 1e-4,
/// β = 0.75, k = 1, whose α is divided by n); two auxiliary classifiers on inception 4a and 4d (5×5/3 average pooling,
/// 1×1 conv 128, FC 1024, dropout 0.7, FC) that run in training; 7×7 average pooling, dropout 0.4, linear classifier.
/// Layer names are the Caffe release's with '/' as '_' (Keras 3 forbids '/'); files with the '/' names load too.
public struct GoogLeNet: Backbone {
    public init() {}

    public let name = "googlenet"
    public let aliases = ["inception-v1", "inceptionv1"]
    public let family = "GoogLeNet"
    public let paper = "Szegedy et al., Going Deeper with Convolutions"
    public let year = 2014
    public let defaultInputSize = (224, 224)
    public let inputChannels = 3
    public let preprocessing = Preprocessing.caffe
    public let classifierLayers = ["loss3_classifier", "loss1_classifier", "loss2_classifier"]
    public let auxiliaryClassifiers = 2

    /// Table 1: name, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
    static let modules: [(String, Int, Int, Int, Int, Int, Int)] = [
        ("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64),
        ("4a", 192, 96, 208, 16, 48, 64), ("4b", 160, 112, 224, 24, 64, 64), ("4c", 128, 128, 256, 24, 64, 64),
        ("4d", 112, 144, 288, 32, 64, 64), ("4e", 256, 160, 320, 32, 128, 128),
        ("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128),
    ]
    static let lrn = LRNParameters(size: 5, alpha: 1e-4 / 5, beta: 0.75, k: 1)

    public func build(_ options: BackboneOptions) throws -> Model {
        try Heads.validate(options, name)
        let (h, w) = options.inputSize ?? defaultInputSize
        guard h >= 64, w >= 64, !options.includeTop || (h >= 224 && w >= 224) else {
            throw BackboneError.invalidOptions("\(name): input \(h)×\(w) is too small; it needs 64×64, and 224×224 with the top")
        }
        var g = SeededGenerator(seed: options.seed)
        func conv(_ name: String, _ inputs: Int, _ filters: Int, _ size: Int, stride: Int = 1, padding: Padding = .same) -> Conv2D {
            Conv2D(name, inputChannels: inputs, filters: filters, kernelSize: (size, size), strides: (stride, stride), padding: padding,
                   activation: .relu, generator: &g)
        }
        let stem: [Layer] = [
            Layers.zeroPadding("conv1_pad", top: 3, bottom: 3, left: 3, right: 3),
            conv("conv1_7x7_s2", inputChannels, 64, 7, stride: 2, padding: .valid),
            Layers.maxPooling("pool1_3x3_s2", size: (3, 3), strides: (2, 2), padding: .same),
            Layers.lrn("pool1_norm1", Self.lrn),
            conv("conv2_3x3_reduce", 64, 64, 1),
            conv("conv2_3x3", 64, 192, 3),
            Layers.lrn("conv2_norm2", Self.lrn),
            Layers.maxPooling("pool2_3x3_s2", size: (3, 3), strides: (2, 2), padding: .same),
        ]
        var layers = stem
        var stages: [(module: String?, body: (ForwardContext, Variable) throws -> Variable)] = []
        var auxiliary: [String: (ForwardContext, Variable) throws -> Variable] = [:]
        var channels = 192
        for (name, c1, r3, c3, r5, c5, proj) in Self.modules {
            let p = "inception_\(name)"
            let branch1 = conv("\(p)_1x1", channels, c1, 1)
            let reduce3 = conv("\(p)_3x3_reduce", channels, r3, 1), branch3 = conv("\(p)_3x3", r3, c3, 3)
            let reduce5 = conv("\(p)_5x5_reduce", channels, r5, 1), branch5 = conv("\(p)_5x5", r5, c5, 5)
            let pool = Layers.maxPooling("\(p)_pool", size: (3, 3), strides: (1, 1), padding: .same), poolProjection = conv("\(p)_pool_proj", channels, proj, 1)
            let output = Merge("\(p)_output", .concatenate)
            // Keras's order: the deeper layer of each branch first, then the branch heads, then the concatenation.
            layers += [reduce3, reduce5, pool, branch1, branch3, branch5, poolProjection, output]
            stages.append((p, { ctx, x in
                try ctx.call(output, [ctx.call(branch1, x), ctx.call(branch3, ctx.call(reduce3, x)),
                                      ctx.call(branch5, ctx.call(reduce5, x)), ctx.call(poolProjection, ctx.call(pool, x))])
            }))
            channels = c1 + c3 + c5 + proj
            if name == "3b" || name == "4e" {
                let pooling = Layers.maxPooling("pool\(name == "3b" ? 3 : 4)_3x3_s2", size: (3, 3), strides: (2, 2), padding: .same)
                layers.append(pooling)
                stages.append((nil, { ctx, x in try ctx.call(pooling, x) }))
            }
            if options.includeTop, options.auxiliaryClassifiers, name == "4a" || name == "4d" {
                let loss = name == "4a" ? "loss1" : "loss2"
                let head: [Layer] = [
                    Layers.averagePooling("\(loss)_ave_pool", size: (5, 5), strides: (3, 3)),
                    conv("\(loss)_conv", channels, 128, 1),
                    Layers.flatten("\(loss)_flatten"),
                    Dense("\(loss)_fc", inputs: ((h / 16 - 5) / 3 + 1) * ((w / 16 - 5) / 3 + 1) * 128, units: 1024, activation: .relu, generator: &g),
                    Dropout("\(loss)_drop_fc", rate: 0.7, seed: options.seed &+ (name == "4a" ? 1 : 2)),
                    Dense("\(loss)_classifier", inputs: 1024, units: options.classes, activation: options.classifierActivation, generator: &g),
                ]
                layers += head
                auxiliary[p] = { ctx, x in try head.reduce(x) { try ctx.call($1, $0) } }
            }
        }
        var top: [Layer] = []
        if options.includeTop {
            top = [Layers.averagePooling("pool5_7x7_s1", size: (7, 7), strides: (1, 1)), Dropout("pool5_drop_7x7_s1", rate: 0.4, seed: options.seed),
                   Layers.flatten("flatten"),
                   Dense("loss3_classifier", inputs: (h / 32 - 6) * (w / 32 - 6) * channels, units: options.classes,
                         activation: options.classifierActivation, generator: &g)]
        } else {
            top = Heads.pooling(options)
        }
        layers += top
        let moduleNames = Self.modules.map { "inception_\($0.0)" }
        let model = Model(name: name, inputShape: [h, w, inputChannels], layers: layers,
                          tapNames: ["pool1_3x3_s2", "pool2_3x3_s2"] + moduleNames.map { "\($0)_output" } + ["pool3_3x3_s2", "pool4_3x3_s2"]) { ctx, x in
            var y = try stem.reduce(x) { try ctx.call($1, $0) }
            var heads: [Variable] = []
            for (module, body) in stages {
                y = try body(ctx, y)
                if ctx.auxiliaryOutputs, let module, let head = auxiliary[module] { heads.append(try head(ctx, y)) }
            }
            return [try top.reduce(y) { try ctx.call($1, $0) }] + heads
        }
        model.legacyNames = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, Self.caffeName($0.name)) })
        model.classifierLayers = classifierLayers
        return model
    }

    /// The Caffe release's name: the first '_' after the block name becomes '/' (`inception_3a_3x3_reduce` →
    /// `inception_3a/3x3_reduce`, `conv1_7x7_s2` → `conv1/7x7_s2`, `loss3_classifier` → `loss3/classifier`).
    static func caffeName(_ name: String) -> String {
        let block = name.hasPrefix("inception_") ? name.split(separator: "_").prefix(2).joined(separator: "_") : String(name.split(separator: "_")[0])
        guard name.count > block.count else { return name }
        return block + "/" + name.dropFirst(block.count + 1)
    }
}
