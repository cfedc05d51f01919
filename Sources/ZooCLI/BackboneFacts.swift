import Zoo

/// What `zoo list` and `zoo info` say about a backbone, measured on the model the plugin builds.
struct BackboneFacts {
    let backbone: any Backbone
    let model: Model
    let profile: [LayerProfile]

    init(_ backbone: any Backbone, options: BackboneOptions = BackboneOptions()) throws {
        self.backbone = backbone
        model = try backbone.skeleton(options)
        profile = try model.profile()
    }

    var parameters: Int { model.parameterCount }
    var gflops: Double { profile.reduce(0) { $0 + $1.flops } / 1e9 }
    var input: [Int] { model.inputShape }

    func weightFile(top: Bool) -> PublishedWeights? { backbone.publishedWeights.first { $0.includesTop == top } }

    var json: [String: Any] {
        [
            "name": backbone.name, "aliases": backbone.aliases, "family": backbone.family, "year": backbone.year,
            "paper": backbone.paper, "parameters": parameters, "gflops": (gflops * 1000).rounded() / 1000, "input": input,
            "preprocessing": backbone.preprocessing.rawValue, "auxiliary_classifiers": backbone.auxiliaryClassifiers,
            "keras_weights": ["top": weightFile(top: true)?.fileName as Any, "notop": weightFile(top: false)?.fileName as Any]
                .compactMapValues { $0 as? String },
        ]
    }
}

extension Array where Element == Int {
    /// 224×224×3
    var dimensions: String { map(String.init).joined(separator: "×") }
}
