import ZooCore
import ZooNN
import ZooTensor

/// LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998): C1 5×5×6, S2 pool, C3 5×5×16, S4 pool, C5 5×5×120, F6 84, output;
/// tanh and average pooling throughout. C3 here connects to all six S2 maps (the paper's sparse connection table is a
/// 1998 economy). `lenet5-relu` is the same network with ReLU and max pooling, as most modern reimplementations
/// train it; its features transfer better between Fashion-MNIST's classes (README's example).
public struct LeNet5: Backbone {
    public let name: String
    public let aliases: [String]
    private let activation: LayerActivation
    private let maxPooling: Bool

    /// The 1998 network: tanh, average pooling.
    public init() { self.init(name: "lenet5", aliases: ["lenet", "lenet-5"], activation: .tanh, maxPooling: false) }

    private init(name: String, aliases: [String], activation: LayerActivation, maxPooling: Bool) {
        self.name = name; self.aliases = aliases; self.activation = activation; self.maxPooling = maxPooling
    }

    /// ReLU and max pooling, the same sizes.
    public static let relu = LeNet5(name: "lenet5-relu", aliases: ["lenet5_relu"], activation: .relu, maxPooling: true)

    public let family = "LeNet"
    public let paper = "LeCun et al., Gradient-Based Learning Applied to Document Recognition"
    public let year = 1998
    public let defaultInputSize = (32, 32)
    public let inputChannels = 1
    public let preprocessing = Preprocessing.unit
    public let cropFraction = 1.0
    public let classifierLayers = ["predictions"]

    public func build(_ options: BackboneOptions) throws -> Model {
        try Heads.validate(options, name)
        let (h, w) = options.inputSize ?? defaultInputSize
        let finalHeight = ((h - 4) / 2 - 4) / 2 - 4, finalWidth = ((w - 4) / 2 - 4) / 2 - 4
        guard finalHeight >= 1, finalWidth >= 1 else {
            throw BackboneError.invalidOptions("\(name): input \(h)×\(w) is too small; it needs at least 32×32")
        }
        func pooling(_ name: String) -> Layer {
            maxPooling ? Layers.maxPooling(name, size: (2, 2)) : Layers.averagePooling(name, size: (2, 2))
        }
        var g = SeededGenerator(seed: options.seed)
        var layers: [Layer] = [
            Conv2D("c1", inputChannels: inputChannels, filters: 6, kernelSize: (5, 5), activation: activation, generator: &g),
            pooling("s2"),
            Conv2D("c3", inputChannels: 6, filters: 16, kernelSize: (5, 5), activation: activation, generator: &g),
            pooling("s4"),
            Conv2D("c5", inputChannels: 16, filters: 120, kernelSize: (5, 5), activation: activation, generator: &g),
        ]
        if options.includeTop {
            layers += [
                Layers.flatten("flatten"),
                Dense("f6", inputs: finalHeight * finalWidth * 120, units: 84, activation: activation, generator: &g),
                Dense("predictions", inputs: 84, units: options.classes, activation: options.classifierActivation, generator: &g),
            ]
        } else {
            layers += Heads.pooling(options)
        }
        let model = Model.sequential(name: name, inputShape: [h, w, inputChannels], layers: layers,
                           tapNames: ["s2", "s4", "c5"] + (options.includeTop ? ["f6"] : []))
        model.classifierLayers = classifierLayers
        return model
    }
}
