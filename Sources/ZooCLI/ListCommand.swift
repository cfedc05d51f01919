import ArgumentParser
import Foundation
import Zoo

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the registered backbones.",
        discussion: """
            Parameters and GFLOPs (2 per multiply-add) are for one image at the default input size with the \
            1000-class top. "Keras weights" says which official keras.applications files exist (zoo pull fetches them).

            Examples:
              zoo list
              zoo list resnet
              zoo list --family DenseNet --json
            """)

    @Argument(help: "Show only backbones whose name, alias or family contains this text.")
    var pattern: String?

    @Option(help: "Show only this family (LeNet, AlexNet, VGG, GoogLeNet, ResNet, DenseNet).")
    var family: String?

    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        let backbones = Plugins.backbones.all.filter { backbone in
            let names = [backbone.name, backbone.family] + backbone.aliases
            return (pattern.map { p in names.contains { $0.lowercased().contains(p.lowercased()) } } ?? true)
                && (family.map { $0.lowercased() == backbone.family.lowercased() } ?? true)
        }
        guard !backbones.isEmpty else {
            let families = Set(Plugins.backbones.all.map(\.family)).sorted().joined(separator: ", ")
            throw CLIError("no backbone matches\(pattern.map { " '\($0)'" } ?? "")\(family.map { " in family '\($0)'" } ?? ""); families: \(families)")
        }
        // Plugins that build from a file's config (keras) have no fixed size to measure.
        let builders = backbones.filter { $0 is any ConfigurableBackbone }
        let facts = try backbones.filter { !($0 is any ConfigurableBackbone) }.map { try BackboneFacts($0) }
        if json {
            return try Output.json(facts.map(\.json) + builders.map { ["name": $0.name, "family": $0.family, "paper": $0.paper, "from_model_config": true] })
        }
        let rows = facts.map { f in
            [f.backbone.name, f.backbone.aliases.joined(separator: ", "), f.backbone.family, String(f.backbone.year),
             String(format: "%.1fM", Double(f.parameters) / 1e6), String(format: "%.2f", f.gflops), f.input.dimensions,
             [f.weightFile(top: true).map { _ in "top" }, f.weightFile(top: false).map { _ in "notop" }].compactMap { $0 }.joined(separator: " / "),
             f.backbone.auxiliaryClassifiers > 0 ? String(f.backbone.auxiliaryClassifiers) : ""]
        }
        if !rows.isEmpty {
            print(Output.table(["NAME", "ALIASES", "FAMILY", "YEAR", "PARAMS", "GFLOPS", "INPUT", "KERAS WEIGHTS", "AUX HEADS"], rows,
                               rightAligned: [3, 4, 5]))
        }
        for builder in builders {
            print("\(builder.name): \(builder.paper) (zoo info FILE, zoo predict --weights FILE)")
        }
    }
}
