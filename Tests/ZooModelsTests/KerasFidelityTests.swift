import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooModels
import ZooNN
import ZooTensor

/// Each plugin against the same architecture built in Keras with the same randomized weights: outputs and feature
/// taps within max|Δ| ≤ 1e-4 · max(1, max|ref|), on oneDNN, and on the reference backend at reduced input sizes.
@Suite(.serialized) struct KerasFidelityTests {
    /// The plugin and options behind a fixture name: `lenet5`, `vgg16`, `vgg_a-lrn_notop_64`, `resnet50_notop_avg_64`, …
    static func plugin(for name: String) -> (backbone: any Backbone, options: BackboneOptions) {
        let parts = name.split(separator: "_").map(String.init)
        if parts[0] == "lenet5" { return (LeNet5(), BackboneOptions(classes: 10)) }
        if parts[0] == "lenet5-relu" { return (LeNet5.relu, BackboneOptions(classes: 10)) }
        let backbone: any Backbone = parts[0] == "vgg" ? ["a": VGG.a, "a-lrn": VGG.aLRN, "b": VGG.b, "c": VGG.c][parts[1]]! : backbones.find(parts[0])!
        guard name.contains("notop") else { return (backbone, BackboneOptions(auxiliaryClassifiers: name.hasSuffix("_aux"))) }
        let size = Int(parts.last!)!
        return (backbone, BackboneOptions(includeTop: false, pooling: name.contains("_avg") ? .average : nil, inputSize: (size, size)))
    }

    @Test(arguments: BackboneFixtures.manifest.cases.map(\.name))
    func matchesKeras(_ name: String) throws {
        let fixture = BackboneFixtures.manifest.cases.first { $0.name == name }!
        let (backbone, options) = Self.plugin(for: name)
        let model = try backbone.build(options)
        let report = try model.load(try formats.read(BackboneFixtures.folder.appendingPathComponent(fixture.weights)))
        #expect(report.matching == (name.hasSuffix("_legacy") ? .byLegacyName : .byName))
        let layout = model.layers.map { BackboneManifest.LayoutLayer(name: $0.name, weights: $0.weights.map(\.shape)) }
        if !name.hasSuffix("_legacy"), !name.hasSuffix("_aux") { #expect(layout == fixture.layout, "\(name): layers, their order and weight shapes differ from Keras") }
        #expect(model.parameterCount == fixture.parameters, "\(name): \(model.parameterCount) parameters, Keras counts \(fixture.parameters)")
        let input = try BackboneFixtures.tensor(fixture.arrays["input"]!)
        let expected = try BackboneFixtures.tensor(fixture.arrays["output"]!)
        var backends: [any Backend] = [try Runtime.dnnl.get()]
        if fixture.size[0] <= 96 { backends.append(Runtime.reference) }
        for backend in backends {
            let result = try Runtime.using(backend) { try model(Variable(input), taps: Set(fixture.taps)) }
            let output = result.main.value
            #expect(output.shape == expected.shape, "\(name) on \(backend.name): output \(output.shape), Keras \(expected.shape)")
            guard output.shape == expected.shape else { continue }
            #expect(deviation(output, expected) <= 1e-4, "\(name) on \(backend.name): output deviates by \(deviation(output, expected))")
            let heads = fixture.arrays.keys.filter { $0.hasPrefix("output_") }.sorted()
            if !heads.isEmpty {
                // Auxiliary heads run in training only; asked for explicitly, they run without dropout, as Keras's inference.
                let all = try Runtime.using(backend) { try model(Variable(input), auxiliaryOutputs: true) }.outputs
                let inference = try Runtime.using(backend) { try model(Variable(input)) }.outputs
                #expect(all.count == heads.count + 1 && inference.count == 1, "\(name): auxiliary heads only when asked")
                for (index, head) in heads.enumerated() where index + 1 < all.count {
                    let want = try BackboneFixtures.tensor(fixture.arrays[head]!)
                    #expect(deviation(all[index + 1].value, want) <= 1e-4, "\(name): \(head)")
                }
            }
            for tap in fixture.taps {
                let want = try BackboneFixtures.tensor(fixture.arrays["tap_\(tap)"]!)
                let got = result.taps[tap]!.value
                #expect(got.shape == want.shape && deviation(got, want) <= 1e-4, "\(name) on \(backend.name): tap \(tap)")
            }
        }
    }

    @Test(arguments: ["vgg16", "vgg19", "resnet50", "resnet101", "resnet152", "densenet121", "densenet169", "densenet201"])
    func layoutEqualsKerasApplications(_ name: String) throws {
        for (top, key) in [(true, "top"), (false, "notop")] {
            let model = try backbones.find(name)!.build(BackboneOptions(includeTop: top))
            let ours = model.layers.map { BackboneManifest.LayoutLayer(name: $0.name, weights: $0.weights.map(\.shape)) }
            #expect(ours == BackboneFixtures.manifest.layouts[name]![key]!, "\(name) \(key)")
        }
    }
}
