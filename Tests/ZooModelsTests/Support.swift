import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooModels
import ZooTensor

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let formats = builtInWeightFormats()
let backbones = builtInBackbones()

struct BackboneManifest: Decodable {
    struct Case: Decodable {
        struct Array: Decodable { let file: String, shape: [Int] }
        let name: String, weights: String, size: [Int], taps: [String], parameters: Int
        let arrays: [String: Array]
        let layout: [LayoutLayer]
    }
    struct LayoutLayer: Decodable, Equatable { let name: String, weights: [[Int]] }
    let cases: [Case]
    let layouts: [String: [String: [LayoutLayer]]]
}

/// Keras references made by tools/keras/make_backbone_fixtures.py, generated on first use into the cache
/// (`$ZOO_CACHE`, default ~/.cache/zoo) under a name that changes with the scripts; too large to commit.
enum BackboneFixtures {
    static let folder: URL = {
        let scripts = ["make_backbone_fixtures.py", "backbone_models.py"].map { repository.appendingPathComponent("tools/keras/\($0)") }
        let hash = Digest(.sha256)
        for script in scripts { hash.update((try? Data(contentsOf: script)) ?? Data()) }
        let cache = ProcessInfo.processInfo.environment["ZOO_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/zoo")
        return cache.appendingPathComponent("backbone-fixtures-\(hash.hexDigest().prefix(12))")
    }()

    static let manifest: BackboneManifest = {
        let manifestURL = folder.appendingPathComponent("manifest.json")
        if !FileManager.default.fileExists(atPath: manifestURL.path) {
            let process = Process()
            process.executableURL = repository.appendingPathComponent("tools/python")
            process.arguments = [repository.appendingPathComponent("tools/keras/make_backbone_fixtures.py").path, folder.path]
            try! process.run()
            process.waitUntilExit()
            precondition(process.terminationStatus == 0, "tools/keras/make_backbone_fixtures.py failed; run tools/setup first")
        }
        return try! JSONDecoder().decode(BackboneManifest.self, from: Data(contentsOf: manifestURL))
    }()

    static func tensor(_ array: BackboneManifest.Case.Array) throws -> Tensor {
        let data = try Data(contentsOf: folder.appendingPathComponent(array.file))
        return try Tensor(shape: array.shape, scalars: data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }
}

func deviation(_ a: Tensor, _ b: Tensor) -> Float { a.maxAbsoluteDifference(b) / max(1, b.maxMagnitude) }

