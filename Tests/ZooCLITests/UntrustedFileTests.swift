import Foundation
import Testing
import ZooTestSupport
import ZIPFoundation
import ZooConverters

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

/// Puts a copy of a program at `destination`, executable, without this process ever holding it open for writing.
/// Tests start processes from several threads at once: a child forked while this process had the file open for
/// writing would keep that descriptor, and starting the program would then fail with ETXTBSY ("Text file busy").
/// `install` writes the copy in a process of its own, which has exited before anything runs it.
private func installProgram(from source: URL, at destination: URL) throws {
    let result = try runProcess(URL(fileURLWithPath: "/usr/bin/install"), ["-m", "755", source.path, destination.path], environment: [:])
    guard result.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: result.stderr]) }
}

/// A shell script at `destination`, installed as `installProgram` does; its text is written beside it first.
private func installScript(_ text: String, at destination: URL) throws -> URL {
    let source = destination.appendingPathExtension("sh")
    try Data(text.utf8).write(to: source)
    try installProgram(from: source, at: destination)
    return destination
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
        let printed = String(decoding: readToEnd(out.fileHandleForReading), as: UTF8.self)
        process.waitUntilExit()
        if let refusal {
            #expect(process.terminationReason == .exit && process.terminationStatus == 0 && printed.hasPrefix(refusal), "\(attempt): \(printed)")
        } else {
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGSYS, "\(attempt): \(printed)")
        }
    }

    /// A reader that is missing or not a program is one error saying how to get one; a reader that answers nonsense,
    /// as a compromised one might, is one error naming the file, never a bad access.
    @Test func aMissingOrMisbehavingReaderIsAnError() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = kerasFixtures.appendingPathComponent("keras3/small_cnn.h5")

        let notAProgram = folder.appendingPathComponent("not-a-program")
        try Data("text".utf8).write(to: notAProgram)
        let named = try runZoo(["inspect", file.path], environment: ["ZOO_READER": notAProgram.path])
        #expect(named.status == 1 && named.stderr.contains("ZOO_READER names \(notAProgram.path), which is not an executable"), "\(named.stderr)")

        let alone = folder.appendingPathComponent("zoo")
        try installProgram(from: zooExecutable(), at: alone)
        let bare = ProcessInfo.processInfo.environment.merging(["ZOO_READER": "", "PATH": "/usr/bin:/bin"]) { $1 }
        let missing = try runProcess(alone, ["inspect", file.path], environment: bare)
        #expect(missing.status == 1 && missing.stderr.contains("there is no zoo-reader beside \(alone.path) or on PATH"), "\(missing.stderr)")
        // A zoo copied away from its reader finds the reader on PATH.
        let tools = folder.appendingPathComponent("tools")
        try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
        try installProgram(from: zooExecutable().deletingLastPathComponent().appendingPathComponent("zoo-reader"),
                           at: tools.appendingPathComponent("zoo-reader"))
        let onPath = try runProcess(alone, ["inspect", file.path], environment: bare.merging(["PATH": "/usr/bin:/bin:\(tools.path)"]) { $1 })
        #expect(onPath.status == 0 && onPath.stdout.contains("dense"), "\(onPath.stderr)")

        // Stand-ins for zoo-reader that write a reply to descriptor 3, as it does, and exit normally.
        func reply(_ header: String, data: Int = 0, headerOffset: UInt64? = nil) -> Data {
            var bytes = Data("ZOOREAD2".utf8)
            let json = Data(header.utf8)
            withUnsafeBytes(of: (headerOffset ?? UInt64(64 + data)).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
            return bytes + Data(count: 64 - bytes.count + data) + json
        }
        func weights(_ source: String, offset: Int, shape: [Int]) -> String {
            """
            {"recognized": ["keras-h5"], "bundle": {"format": "keras-h5", "metadata": {}, "layers": [{"name": "dense", "arrays": \
            [{"name": "dense/kernel:0", "shape": \(shape), "storedType": "float32", "source": "\(source)", "offset": \(offset)}]}]}}
            """
        }
        let replies: [(Data, String)] = [
            (Data("garbage".utf8), "no ZOOREAD2 header"),
            (reply("{}", headerOffset: 1 << 40), "its header lies outside the reply"),
            (reply("[1, 2"), "its header is not the expected JSON"),
            (reply(weights("input", offset: 1 << 40, shape: [4])), "array dense/dense/kernel:0 lies outside the input file"),
            (reply(weights("input", offset: 0, shape: [1 << 40])), "array dense/dense/kernel:0 lies outside the input file"),
            (reply(weights("reply", offset: 64, shape: [17]), data: 64), "array dense/dense/kernel:0 lies outside the reply file"),
            (reply(weights("reply", offset: 68, shape: [1]), data: 128), "array dense/dense/kernel:0 lies outside the reply file"),
            (reply(weights("reply", offset: 64, shape: [-1, 4])), "an impossible shape [-1, 4]"),
        ]
        for (index, (bytes, complaint)) in replies.enumerated() {
            let saved = folder.appendingPathComponent("reply-\(index)")
            try bytes.write(to: saved)
            let reader = try installScript("#!/bin/sh\ncat '\(saved.path)' >&3\n", at: folder.appendingPathComponent("reader-\(index)"))
            let result = try runZoo(["inspect", file.path], environment: ["ZOO_READER": reader.path])
            #expect(result.status == 1 && result.stderr.contains(file.path)
                        && result.stderr.contains("the isolated reader sent a malformed reply: \(complaint)"), "reply \(index): \(result.stderr)")
        }
        // The same stand-in with a reply that is well formed: its values are taken, which shows the checks above are
        // what refused the others.
        let values: [Float] = [1.5, -2, 0.25, 8]
        var good = reply(weights("reply", offset: 64, shape: [4]), data: 64)
        values.withUnsafeBytes { good.replaceSubrange(64..<80, with: $0) }
        try good.write(to: folder.appendingPathComponent("reply-good"))
        let reader = try installScript("#!/bin/sh\ncat '\(folder.appendingPathComponent("reply-good").path)' >&3\n",
                                       at: folder.appendingPathComponent("reader-good"))
        let output = folder.appendingPathComponent("out.safetensors")
        let converted = try runZoo(["convert", file.path, "--arch", "none", "-o", output.path], environment: ["ZOO_READER": reader.path])
        #expect(converted.status == 0, "\(converted.stderr)")
        let written = try SafetensorsFormat().read(output)
        #expect(try written.layers.map(\.name) == ["dense"] && written.layers[0].arrays[0].tensor().scalars == values)
    }
}
