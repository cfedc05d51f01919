import ZooCore
import ZooNN
import ZooTensor

/// ResNet (He, Zhang, Ren, Sun 2015). 50, 101 and 152 are keras.applications ResNet50/101/152 exactly: bottleneck
/// blocks with the stride on their first 1×1 convolution, biases on every convolution, BatchNorm ε = 1.001e-5, and
/// its layer names. 18 and 34 use basic blocks (two 3×3 convolutions) under the same naming.
public struct ResNet: Backbone {
    let depth: Int
    let stages: [Int]
    var bottleneck: Bool { depth >= 50 }

    public static let resnet18 = ResNet(depth: 18, stages: [2, 2, 2, 2])
    public static let resnet34 = ResNet(depth: 34, stages: [3, 4, 6, 3])
    public static let resnet50 = ResNet(depth: 50, stages: [3, 4, 6, 3])
    public static let resnet101 = ResNet(depth: 101, stages: [3, 4, 23, 3])
    public static let resnet152 = ResNet(depth: 152, stages: [3, 8, 36, 3])
    public static let all = [resnet18, resnet34, resnet50, resnet101, resnet152]

    public var name: String { "resnet\(depth)" }
    public var aliases: [String] { ["resnet-\(depth)"] }
    public let family = "ResNet"
    public let paper = "He et al., Deep Residual Learning for Image Recognition"
    public let year = 2015
    public let defaultInputSize = (224, 224)
    public let inputChannels = 3
    public let preprocessing = Preprocessing.caffe
    public let classifierLayers = ["predictions"]
    static let epsilon: Float = 1.001e-5

    public var publishedWeights: [PublishedWeights] {
        let hashes = [50: ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
                      101: ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
                      152: ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c")]
        guard let (top, notop) = hashes[depth] else { return [] }
        return PublishedWeights.kerasApplications(name, folder: "resnet", top: top, notop: notop)
    }

    /// A convolution followed by its BatchNorm, named `<prefix>_conv` and `<prefix>_bn`.
    private static func convolution(_ prefix: String, _ inputs: Int, _ filters: Int, _ size: Int, stride: Int, padding: Padding,
                                    _ g: inout SeededGenerator) -> (Conv2D, BatchNormalization) {
        (Conv2D("\(prefix)_conv", inputChannels: inputs, filters: filters, kernelSize: (size, size), strides: (stride, stride),
                padding: padding, generator: &g),
         BatchNormalization("\(prefix)_bn", channels: filters, epsilon: epsilon))
    }

    /// One residual block: its layers in Keras's `model.layers` order (deepest first, the shortcut beside the last
    /// convolution) and its forward pass.
    private func block(_ name: String, inputs: Int, filters: Int, stride: Int, shortcut: Bool,
                       _ g: inout SeededGenerator) -> (layers: [Layer], output: Int, forward: (ForwardContext, Variable) throws -> Variable) {
        let relu = { (suffix: String) in Layers.activation("\(name)_\(suffix)", .relu) }
        let add = Merge("\(name)_add", .add), out = relu("out")
        let projection = shortcut
            ? Self.convolution("\(name)_0", inputs, bottleneck ? 4 * filters : filters, 1, stride: stride, padding: .valid, &g) : nil
        if bottleneck {
            let (c1, b1) = Self.convolution("\(name)_1", inputs, filters, 1, stride: stride, padding: .valid, &g)
            let (c2, b2) = Self.convolution("\(name)_2", filters, filters, 3, stride: 1, padding: .same, &g)
            let (c3, b3) = Self.convolution("\(name)_3", filters, 4 * filters, 1, stride: 1, padding: .valid, &g)
            let (r1, r2) = (relu("1_relu"), relu("2_relu"))
            var layers: [Layer] = [c1, b1, r1, c2, b2, r2]
            layers += projection.map { [$0.0, c3, $0.1, b3] } ?? [c3, b3]
            return (layers + [add, out], 4 * filters, { ctx, x in
                let s = try projection.map { try ctx.call($0.1, ctx.call($0.0, x)) } ?? x
                var y = try ctx.call(r1, ctx.call(b1, ctx.call(c1, x)))
                y = try ctx.call(r2, ctx.call(b2, ctx.call(c2, y)))
                y = try ctx.call(b3, ctx.call(c3, y))
                return try ctx.call(out, ctx.call(add, [s, y]))
            })
        }
        let (c1, b1) = Self.convolution("\(name)_1", inputs, filters, 3, stride: stride, padding: .same, &g)
        let (c2, b2) = Self.convolution("\(name)_2", filters, filters, 3, stride: 1, padding: .same, &g)
        let r1 = relu("1_relu")
        var layers: [Layer] = [c1, b1, r1]
        layers += projection.map { [$0.0, c2, $0.1, b2] } ?? [c2, b2]
        return (layers + [add, out], filters, { ctx, x in
            let s = try projection.map { try ctx.call($0.1, ctx.call($0.0, x)) } ?? x
            let y = try ctx.call(b2, ctx.call(c2, ctx.call(r1, ctx.call(b1, ctx.call(c1, x)))))
            return try ctx.call(out, ctx.call(add, [s, y]))
        })
    }

    public func build(_ options: BackboneOptions) throws -> Model {
        try Heads.validate(options, name)
        let (h, w) = options.inputSize ?? defaultInputSize
        guard h >= 32, w >= 32 else { throw BackboneError.invalidOptions("\(name): input \(h)×\(w) is too small; it needs at least 32×32") }
        var g = SeededGenerator(seed: options.seed)
        let (conv1, bn1) = Self.convolution("conv1", inputChannels, 64, 7, stride: 2, padding: .valid, &g)
        let stem: [Layer] = [
            Layers.zeroPadding("conv1_pad", top: 3, bottom: 3, left: 3, right: 3), conv1, bn1, Layers.activation("conv1_relu", .relu),
            Layers.zeroPadding("pool1_pad", top: 1, bottom: 1, left: 1, right: 1), Layers.maxPooling("pool1_pool", size: (3, 3), strides: (2, 2)),
        ]
        var layers = stem
        var blocks: [(ForwardContext, Variable) throws -> Variable] = []
        var channels = 64
        var taps = ["pool1_pool"]
        for (index, count) in stages.enumerated() {
            let filters = 64 << index
            for b in 1...count {
                let first = b == 1
                let stride = first && index > 0 ? 2 : 1
                let made = block("conv\(index + 2)_block\(b)", inputs: channels, filters: filters, stride: stride,
                                 shortcut: first && (stride != 1 || channels != (bottleneck ? 4 * filters : filters)), &g)
                layers += made.layers
                blocks.append(made.forward)
                channels = made.output
            }
            taps.append("conv\(index + 2)_block\(count)_out")
        }
        let head = Heads.applications(channels: channels, options, generator: &g)
        layers += head
        let model = Model(name: name, inputShape: [h, w, inputChannels], layers: layers, tapNames: taps) { ctx, x in
            var y = try stem.reduce(x) { try ctx.call($1, $0) }
            for forward in blocks { y = try forward(ctx, y) }
            return [try head.reduce(y) { try ctx.call($1, $0) }]
        }
        if depth == 50 {
            model.legacyNames = Self.legacyResNet50Names(layers)
            model.legacyBatchNormEpsilon = 1e-3
        }
        model.classifierLayers = classifierLayers
        return model
    }

    /// The names of the first published ResNet50 file (Keras 2.0): conv1, bn_conv1, res2a_branch2a, bn2a_branch1,
    /// fc1000, with blocks lettered a, b, c, … and branches 2a/2b/2c (main path) and 1 (projection).
    static func legacyResNet50Names(_ layers: [Layer]) -> [String: String] {
        var names = ["conv1_conv": "conv1", "conv1_bn": "bn_conv1", "predictions": "fc1000"]
        let branches = ["0": "1", "1": "2a", "2": "2b", "3": "2c"]
        for layer in layers {
            let parts = layer.name.split(separator: "_")  // conv3_block2_1_conv
            guard parts.count == 4, parts[0].hasPrefix("conv"), parts[1].hasPrefix("block"),
                  let stage = Int(parts[0].dropFirst(4)), let block = Int(parts[1].dropFirst(5)), let branch = branches[String(parts[2])] else { continue }
            let letter = String(UnicodeScalar(UInt8(96 + block)))
            names[layer.name] = (parts[3] == "conv" ? "res" : "bn") + "\(stage)\(letter)_branch\(branch)"
        }
        return names
    }
}
