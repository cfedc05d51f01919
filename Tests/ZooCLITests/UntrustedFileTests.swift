import Foundation
import Testing
import ZIPFoundation

/// Files on which Debian 12's libhdf5 1.10.8 crashes, allocates without bound or loops forever (found by tools/fuzz),
/// each alone and inside a .keras archive as its model.weights.h5.
private let findings = try! FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("tools/fuzz/findings").path)
    .filter { $0.hasSuffix(".h5") }.sorted()

private func crafted(_ name: String, archived: Bool, in folder: URL) throws -> URL {
    let finding = repository.appendingPathComponent("tools/fuzz/findings/\(name)")
    guard archived else { return finding }
    let url = folder.appendingPathComponent(name.replacingOccurrences(of: ".h5", with: ".keras"))
    let archive = try Archive(url: url, accessMode: .create, pathEncoding: nil)
    try archive.addEntry(with: "model.weights.h5", fileURL: finding)
    return url
}

@Suite struct UntrustedFileTests {
    @Test func theFindingsAreThere() {
        #expect(findings.count >= 3, "tools/fuzz/findings holds the crafted files: \(findings)")
    }

    /// Every subcommand that reads weights ends with exit status 1 and one error naming the file, writes nothing, and
    /// keeps running (the parse happens in zoo-reader, which is what crashes).
    @Test(arguments: findings, [false, true])
    func craftedFilesGiveOneCleanErrorEverywhere(_ name: String, archived: Bool) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try crafted(name, archived: archived, in: folder)
        let output = folder.appendingPathComponent("out")
        let image = repository.appendingPathComponent("Tests/ZooImagingTests/Fixtures/rgb.png").path
        let data = ["--data", "fashion-mnist", "--classes", "5-9", "--per-class", "2"]
        let commands: [[String]] = [
            ["inspect", file.path],
            ["convert", file.path, "--arch", "none", "-o", output.appendingPathExtension("safetensors").path],
            ["predict", "--arch", "lenet5", "--weights", file.path, image],
            ["evaluate", "--arch", "lenet5", "--weights", file.path] + data,
            ["extract", "--arch", "lenet5", "--weights", file.path, "-o", output.path] + data,
            ["finetune", "--arch", "lenet5", "--weights", file.path, "--epochs", "1", "--out", output.path] + data,
        ]
        for command in commands {
            // One of the findings never ends: 2 s is plenty for the others, which fail at once.
            let result = try runZoo(command, environment: ["ZOO_READ_TIMEOUT": "2"])
            let shown = "zoo \(command[0]) \(file.lastPathComponent): status \(result.status), stderr: \(result.stderr)"
            #expect(result.status == 1, "\(shown)")
            #expect(result.stderr.contains(file.path), "the error names the file: \(shown)")
            #expect(result.stderr.contains("the file is damaged or crafted"), "\(shown)")
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Crash"), "\(shown)")
            let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != file.lastPathComponent }
            #expect(left.isEmpty, "no output from \(command[0]): \(left)")
        }
    }

    /// A read that outlives ZOO_READ_TIMEOUT is stopped and reported; no reader can start, let alone finish, in 1 ms.
    @Test func aReadPastTheTimeoutIsStopped() throws {
        let file = kerasFixtures.appendingPathComponent("keras3/small_cnn.h5")
        let result = try runZoo(["inspect", file.path], environment: ["ZOO_READ_TIMEOUT": "0.001"])
        #expect(result.status == 1 && result.stderr.contains(file.path) && result.stderr.contains("took longer than 0.001 s (ZOO_READ_TIMEOUT)"),
                "\(result.stderr)")
        let invalid = try runZoo(["inspect", file.path], environment: ["ZOO_READ_TIMEOUT": "soon"])
        #expect(invalid.status == 1 && invalid.stderr.contains("ZOO_READ_TIMEOUT must be a positive number of seconds"), "\(invalid.stderr)")
        let trusted = try runZoo(["inspect", file.path], environment: ["ZOO_READ_TIMEOUT": "60"])
        #expect(trusted.status == 0, "\(trusted.stderr)")
    }

    /// Once the input is mapped, zoo-reader cannot open files, reach the network, start programs or take more memory
    /// than its limit; the first two are errors, starting anything kills it (SIGSYS).
    @Test(arguments: [("open", "open: refused"), ("memory", "memory: refused"), ("socket", nil), ("exec", nil)] as [(String, String?)])
    func theReaderIsConfined(_ attempt: String, _ refusal: String?) throws {
        let reader = zooExecutable().deletingLastPathComponent().appendingPathComponent("zoo-reader")
        let process = Process()
        process.executableURL = reader
        process.arguments = ["sandbox-check", attempt, kerasFixtures.appendingPathComponent("keras3/small_cnn.h5").path]
        process.environment = ["SWIFT_BACKTRACE": "enable=no"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if let refusal {
            #expect(process.terminationReason == .exit && process.terminationStatus == 0 && printed.hasPrefix(refusal), "\(attempt): \(printed)")
        } else {
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGSYS, "\(attempt): \(printed)")
        }
    }
}
