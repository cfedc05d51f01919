import ZooCore
import ZooNN
import ZooTensor

/// AlexNet (Krizhevsky, Sutskever, Hinton 2012): 11×11/4 96, 5×5 256, 3×3 384, 3×3 384, 3×3 256, ReLU; local response
/// normalization (n = 5, α = 1e-4, β = 0.75, k = 2) after conv1 and conv2; overlapping max pooling 3/2; FC 4096,
/// 4096, classes with dropout 0.5. Input 227×227, the size the paper's arithmetic needs. `grouped` splits conv2,
/// conv4 and conv5 in two groups, as the paper's two GPUs did.
public struct AlexNet: Backbone {
    let grouped: Bool

    public static let single = AlexNet(grouped: false)
    public static let twoGroups = AlexNet(grouped: true)

    public var name: String { grouped ? "alexnet-grouped" : "alexnet" }
    public var aliases: [String] { grouped ? ["alexnet-2gpu"] : [] }
    public let family = "AlexNet"
    public let paper = "Krizhevsky et al., ImageNet Classification with Deep Convolutional Neural Networks"
    public let year = 2012
    public let defaultInputSize = (227, 227)
    public let inputChannels = 3
    public let preprocessing = Preprocessing.caffe
    public let classifierLayers = ["predictions"]

    public func build(_ options: BackboneOptions) throws -> Model {
        try Heads.validate(options, name)
        let (h, w) = options.inputSize ?? defaultInputSize
        // conv1 (11/4, valid) and three 3/2 poolings must leave at least one pixel.
        let side = { (n: Int) in ((((n - 11) / 4 + 1 - 3) / 2 + 1 - 3) / 2 + 1 - 3) / 2 + 1 }
        guard h >= 67, w >= 67 else { throw BackboneError.invalidOptions("\(name): input \(h)×\(w) is too small; it needs at least 67×67") }
        var g = SeededGenerator(seed: options.seed)
        let groups = grouped ? 2 : 1
        let lrn = LRNParameters(size: 5, alpha: 1e-4, beta: 0.75, k: 2)
        let conv = { (name: String, inputs: Int, filters: Int, size: Int, stride: Int, padding: Padding, groups: Int, g: inout SeededGenerator) in
            Conv2D(name, inputChannels: inputs, filters: filters, kernelSize: (size, size), strides: (stride, stride), padding: padding,
                   groups: groups, activation: .relu, generator: &g)
        }
        var layers: [Layer] = [
            conv("conv1", inputChannels, 96, 11, 4, .valid, 1, &g), Layers.lrn("lrn1", lrn), Layers.maxPooling("pool1", size: (3, 3), strides: (2, 2)),
            conv("conv2", 96, 256, 5, 1, .same, groups, &g), Layers.lrn("lrn2", lrn), Layers.maxPooling("pool2", size: (3, 3), strides: (2, 2)),
            conv("conv3", 256, 384, 3, 1, .same, 1, &g),
            conv("conv4", 384, 384, 3, 1, .same, groups, &g),
            conv("conv5", 384, 256, 3, 1, .same, groups, &g), Layers.maxPooling("pool5", size: (3, 3), strides: (2, 2)),
        ]
        if options.includeTop {
            layers += [
                Layers.flatten("flatten"),
                Dense("fc6", inputs: side(h) * side(w) * 256, units: 4096, activation: .relu, generator: &g),
                Dropout("dropout6", rate: 0.5, seed: options.seed &+ 6),
                Dense("fc7", inputs: 4096, units: 4096, activation: .relu, generator: &g),
                Dropout("dropout7", rate: 0.5, seed: options.seed &+ 7),
                Dense("predictions", inputs: 4096, units: options.classes, activation: options.classifierActivation, generator: &g),
            ]
        } else {
            layers += Heads.pooling(options)
        }
        let model = Model.sequential(name: name, inputShape: [h, w, inputChannels], layers: layers,
                           tapNames: ["pool1", "pool2", "conv3", "conv4", "pool5"] + (options.includeTop ? ["fc6", "fc7"] : []))
        model.classifierLayers = classifierLayers
        return model
    }
}
