import ArgumentParser
import Foundation
import Zoo

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download a backbone's official keras.applications weight file.",
        discussion: """
            The file goes to the cache folder (default $ZOO_CACHE/weights, or ~/.cache/zoo/weights). An interrupted \
            download resumes where it stopped; the file is checked against the MD5 keras.applications publishes and \
            deleted if it does not match. ZOO_WEIGHTS_URL replaces \(WeightDownload.publishedBase) to use a mirror \
            with the same layout. Prints the file's path.

            Examples:
              zoo pull resnet50
              zoo pull vgg16 --notop --cache ./weights
              zoo convert "$(zoo pull densenet121 --notop)"
            """)

    @Argument(help: "A backbone with published weights (zoo list shows which).") var name: String
    @Flag(help: "The file without the classifier (for feature extraction and fine-tuning).") var notop = false
    @Option(help: "The cache folder.") var cache: String?
    @Flag(help: "Print JSON instead of the path.") var json = false

    func run() throws {
        let backbone = try Plugins.backbones.backbone(named: name)
        guard let weights = backbone.publishedWeights.first(where: { $0.includesTop == !notop }) else {
            let available = Plugins.backbones.all.filter { !$0.publishedWeights.isEmpty }.map(\.name).joined(separator: ", ")
            throw CLIError("keras.applications publishes no \(notop ? "notop " : "")weights for \(backbone.name); these have them: \(available)")
        }
        let environment = ProcessInfo.processInfo.environment
        let folder = cache.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["ZOO_CACHE"] ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/zoo").path)
                .appendingPathComponent("weights")
        let download = try WeightDownload(weights, cache: folder)
        let bar = ProgressBar(weights.fileName, total: 0, unit: .bytes)
        let path = try download.run { received, total in bar.update(received, total: total) }
        bar.finish()
        if json {
            try Output.json(["path": path.path, "url": download.url.absoluteString, "md5": download.md5, "bytes": (try? FileManager.default.attributesOfItem(atPath: path.path)[.size] as? Int) ?? 0])
        } else {
            print(path.path)
        }
    }
}
