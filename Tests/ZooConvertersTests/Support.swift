import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooTensor

let formats = builtInWeightFormats()
let fixtures = Bundle.module.url(forResource: "keras", withExtension: nil, subdirectory: "Fixtures")!

struct Manifest: Decodable {
    struct File: Decodable, CustomTestStringConvertible, Sendable {
        let file: String, writer: String, format: String, ordered: Bool
        let metadata: [String: String]
        let layers: [Layer]
        var testDescription: String { file }
        var url: URL { fixtures.appendingPathComponent(file) }
    }
    struct Layer: Decodable, Sendable {
        let name: String
        let arrays: [Array]
    }
    struct Array: Decodable, Sendable {
        let name: String, shape: [Int], dtype: String, values: String
        var bits: [UInt32] {
            let data = Data(base64Encoded: values)!
            return data.withUnsafeBytes { raw in (0..<data.count / 4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian } }
        }
    }
    let files: [File]

    static let shared: Manifest = try! JSONDecoder().decode(Manifest.self, from: Data(contentsOf: fixtures.appendingPathComponent("manifest.json")))
}

/// A fresh folder for a test's output files.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Expects two bundles to hold the same layers, array names, shapes and bit-identical values.
func expectSameArrays(_ a: WeightBundle, _ b: WeightBundle, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(a.layers.map(\.name) == b.layers.map(\.name), "\(label): layer names", sourceLocation: sourceLocation)
    for (x, y) in zip(a.layers, b.layers) {
        #expect(x.arrays.map(\.name) == y.arrays.map(\.name), "\(label): arrays of \(x.name)", sourceLocation: sourceLocation)
        for (p, q) in zip(x.arrays, y.arrays) {
            let same = try p.shape == q.shape && p.tensor() == q.tensor()
            #expect(same, "\(label): \(x.name)/\(p.name)", sourceLocation: sourceLocation)
        }
    }
}
