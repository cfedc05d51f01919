import ZooCore
import ZooNN
import ZooTensor

/// VGG (Simonyan & Zisserman 2014), the configurations of their Table 1. D and E are keras.applications VGG16 and
/// VGG19, with its layer names (block1_conv1 … block5_pool, flatten, fc1, fc2, predictions); A, A-LRN, B and C use
/// the same scheme. Like keras.applications, the classifier has no dropout layers.
public struct VGG: Backbone {
    /// One convolution of a block: 3×3, or C's 1×1.
    enum Convolution { case three, one }

    let configuration: String
    let blocks: [(filters: Int, convolutions: [Convolution])]
    let lrn: Bool

    public static let a = VGG("A", blocks: [(64, [.three]), (128, [.three]), (256, [.three, .three]), (512, [.three, .three]), (512, [.three, .three])])
    public static let aLRN = VGG("A-LRN", blocks: a.blocks, lrn: true)
    public static let b = VGG("B", blocks: [(64, [.three, .three]), (128, [.three, .three]), (256, [.three, .three]), (512, [.three, .three]),
                                            (512, [.three, .three])])
    public static let c = VGG("C", blocks: [(64, [.three, .three]), (128, [.three, .three]), (256, [.three, .three, .one]),
                                            (512, [.three, .three, .one]), (512, [.three, .three, .one])])
    public static let d = VGG("D", blocks: [(64, [.three, .three]), (128, [.three, .three]), (256, [.three, .three, .three]),
                                            (512, [.three, .three, .three]), (512, [.three, .three, .three])])
    public static let e = VGG("E", blocks: [(64, [.three, .three]), (128, [.three, .three]), (256, Array(repeating: .three, count: 4)),
                                            (512, Array(repeating: .three, count: 4)), (512, Array(repeating: .three, count: 4))])
    public static let all = [a, aLRN, b, c, d, e]

    init(_ configuration: String, blocks: [(filters: Int, convolutions: [Convolution])], lrn: Bool = false) {
        self.configuration = configuration
        self.blocks = blocks
        self.lrn = lrn
    }

    var depth: Int { blocks.reduce(0) { $0 + $1.convolutions.count } + 3 }

    public var name: String {
        switch configuration {
        case "D": "vgg16"
        case "E": "vgg19"
        case "A-LRN": "vgg11-lrn"
        case "C": "vgg16-c"
        default: "vgg\(depth)"
        }
    }

    public var aliases: [String] { ["vgg-\(configuration.lowercased())"] }
    public let family = "VGG"
    public let paper = "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition"
    public let year = 2014
    public let defaultInputSize = (224, 224)
    public let inputChannels = 3
    public let preprocessing = Preprocessing.caffe
    public let classifierLayers = ["predictions"]

    public var publishedWeights: [PublishedWeights] {
        switch configuration {
        case "D": PublishedWeights.kerasApplications("vgg16", folder: "vgg16", top: "64373286793e3c8b2b4e3219cbf3544b", notop: "6d6bbae143d832006294945121d1f1fc")
        case "E": PublishedWeights.kerasApplications("vgg19", folder: "vgg19", top: "cbe5617147190e668d6c5d5026f83318", notop: "253f8cb515780f3b799900260a226db6")
        default: []
        }
    }

    public func build(_ options: BackboneOptions) throws -> Model {
        try Heads.validate(options, name)
        let (h, w) = options.inputSize ?? defaultInputSize
        guard h >= 32, w >= 32 else { throw BackboneError.invalidOptions("\(name): input \(h)×\(w) is too small; it needs at least 32×32") }
        var g = SeededGenerator(seed: options.seed)
        var layers: [Layer] = []
        var channels = inputChannels
        for (index, block) in blocks.enumerated() {
            for (i, kind) in block.convolutions.enumerated() {
                let size = kind == .three ? (3, 3) : (1, 1)
                layers.append(Conv2D("block\(index + 1)_conv\(i + 1)", inputChannels: channels, filters: block.filters, kernelSize: size,
                                     padding: .same, activation: .relu, generator: &g))
                channels = block.filters
                if lrn, index == 0, i == 0 { layers.append(Layers.lrn("block1_lrn", LRNParameters(size: 5, alpha: 1e-4, beta: 0.75, k: 2))) }
            }
            layers.append(Layers.maxPooling("block\(index + 1)_pool", size: (2, 2)))
        }
        if options.includeTop {
            layers += [
                Layers.flatten("flatten"),
                Dense("fc1", inputs: (h / 32) * (w / 32) * channels, units: 4096, activation: .relu, generator: &g),
                Dense("fc2", inputs: 4096, units: 4096, activation: .relu, generator: &g),
                Dense("predictions", inputs: 4096, units: options.classes, activation: options.classifierActivation, generator: &g),
            ]
        } else {
            layers += Heads.pooling(options)
        }
        let taps = (1...blocks.count).map { "block\($0)_pool" } + (options.includeTop ? ["fc1", "fc2"] : [])
        let model = Model.sequential(name: name, inputShape: [h, w, inputChannels], layers: layers, tapNames: taps)
        model.classifierLayers = classifierLayers
        return model
    }
}
