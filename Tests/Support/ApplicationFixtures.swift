import Foundation

/// keras.applications families saved as people save them (tools/keras/make_application_fixtures.py), generated once
/// per run on first use into the cache (about 1 GB), in a folder named by the script's contents. Shared by the test
/// targets, so that suites running at once generate them once.
public enum ApplicationFixtures {
    public struct Case: Decodable, Sendable {
        public let family: String, name: String, file: String, input: [Int], output: [Int], parameters: Int
    }
    struct Manifest: Decodable { let cases: [Case] }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let folder: URL = {
        let script = (try? Data(contentsOf: repository.appendingPathComponent("tools/keras/make_application_fixtures.py"))) ?? Data()
        // FNV-1a of the script: a changed script makes new fixtures.
        let hash = script.reduce(UInt64(0xcbf29ce484222325)) { ($0 ^ UInt64($1)) &* 0x100000001b3 }
        let cache = ProcessInfo.processInfo.environment["ZOO_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/zoo")
        return cache.appendingPathComponent("application-fixtures-" + String(hash, radix: 16))
    }()

    public static let cases: [Case] = {
        let manifest = folder.appendingPathComponent("manifest.json")
        if !FileManager.default.fileExists(atPath: manifest.path) {
            let made = try! runProcess(repository.appendingPathComponent("tools/python"),
                                       [repository.appendingPathComponent("tools/keras/make_application_fixtures.py").path, folder.path])
            precondition(made.status == 0, "tools/keras/make_application_fixtures.py failed (run tools/setup first): \(made.stderr)")
        }
        return try! JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifest)).cases
    }()
}
