import Foundation
import Testing
import ZooTestSupport
import Zoo

/// The test's own HTTP server on 127.0.0.1 (weights_server.py), serving a folder.
final class WeightsServer {
    let process = Process()
    let port: Int
    private let output = Pipe()

    init(serving folder: URL, cutFirstResponseAfter cut: Int? = nil) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("weights_server.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path, folder.path] + (cut.map { ["--cut-first", String($0)] } ?? [])
        process.standardOutput = output
        try process.run()
        var line = Data()
        while case let byte = readChunk(output.fileHandleForReading, upTo: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw DownloadError.serverDidNotStart }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// The request lines logged so far (call after stopping).
    func stop() -> String {
        kill(process.processIdentifier, SIGKILL)  // SIGTERM may be ignored in the test runner's children
        process.waitUntilExit()
        return String(decoding: readToEnd(output.fileHandleForReading), as: UTF8.self)
    }

    enum DownloadError: Error { case serverDidNotStart }
}

/// A generated "weight file" and its MD5 from coreutils' md5sum (the oracle).
func servedFile(in folder: URL, size: Int) throws -> (data: Data, md5: String) {
    var generator = SystemRandomNumberGenerator()
    let data = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
    let file = folder.appendingPathComponent("served/weights.h5")
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try data.write(to: file)
    return (data, String(try runProcess(URL(fileURLWithPath: "/usr/bin/md5sum"), [file.path]).stdout.prefix(32)))
}

func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-cli-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

@Suite(.serialized) struct PullTests {
    @Test func cleanDownloadIsVerifiedAndCached() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (data, md5) = try servedFile(in: folder, size: 3_000_000)
        let server = try WeightsServer(serving: folder.appendingPathComponent("served"))
        let download = WeightDownload(url: URL(string: "\(server.base)/weights.h5")!, md5: md5,
                                      destination: folder.appendingPathComponent("cache/weights.h5"))
        let path = try download.run()
        #expect(try Data(contentsOf: path) == data)
        #expect(!FileManager.default.fileExists(atPath: download.partial.path))
        try download.run()  // already there and verified: no second request
        let log = server.stop()
        #expect(log.components(separatedBy: "GET ").count - 1 == 1, "requests: \(log)")
    }

    @Test func interruptedDownloadResumes() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (data, md5) = try servedFile(in: folder, size: 2_500_000)
        let server = try WeightsServer(serving: folder.appendingPathComponent("served"), cutFirstResponseAfter: 1_000_000)
        let download = WeightDownload(url: URL(string: "\(server.base)/weights.h5")!, md5: md5,
                                      destination: folder.appendingPathComponent("cache/weights.h5"))
        #expect(throws: DownloadError.self) { try download.run() }
        let kept = try Data(contentsOf: download.partial)
        #expect(kept.count > 0 && kept.count <= 1_000_000 && kept == data.prefix(kept.count))
        let path = try download.run()
        #expect(try Data(contentsOf: path) == data)
        let log = server.stop()
        #expect(log.contains("range=bytes=\(kept.count)-"), "the second request asks for the rest: \(log)")
    }

    @Test func corruptedDownloadIsRejectedAndDeleted() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (_, md5) = try servedFile(in: folder, size: 100_000)
        let wrong = String(md5.reversed())
        let server = try WeightsServer(serving: folder.appendingPathComponent("served"))
        defer { _ = server.stop() }
        let download = WeightDownload(url: URL(string: "\(server.base)/weights.h5")!, md5: wrong,
                                      destination: folder.appendingPathComponent("cache/weights.h5"))
        #expect(throws: DownloadError.self) { try download.run() }
        #expect(!FileManager.default.fileExists(atPath: download.partial.path))
        #expect(!FileManager.default.fileExists(atPath: download.destination.path))
    }

    @Test func zooPullUsesTheMirrorAndRefusesAFileThatIsNotThePublishedOne() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try servedFile(in: folder, size: 50_000)
        // The mirror keeps keras.applications' layout; the generated file cannot have the published MD5.
        let mirror = folder.appendingPathComponent("served/vgg16")
        try FileManager.default.createDirectory(at: mirror, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: folder.appendingPathComponent("served/weights.h5"),
                                        to: mirror.appendingPathComponent("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"))
        let server = try WeightsServer(serving: folder.appendingPathComponent("served"))
        defer { _ = server.stop() }
        let cache = folder.appendingPathComponent("cache")
        let result = try runZoo(["pull", "vgg16", "--notop", "--cache", cache.path], environment: ["ZOO_WEIGHTS_URL": server.base])
        #expect(result.status == 1)
        #expect(result.stderr.contains("6d6bbae143d832006294945121d1f1fc"), "names the published MD5: \(result.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []).isEmpty, "nothing is left in the cache")

        let missing = try runZoo(["pull", "lenet5"])
        #expect(missing.status == 1 && missing.stderr.contains("publishes no weights for lenet5"))
    }
}
