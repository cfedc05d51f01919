import Foundation
import Testing

/// README's section under `heading`: its text, and its first shell block.
func readmeSection(_ heading: String) throws -> (text: String, commands: String) {
    let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
    let section = try #require(readme.components(separatedBy: "\n## \(heading)\n").dropFirst().first?.components(separatedBy: "\n## ").first)
    let block = try #require(section.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
    return (section, block)
}

/// Runs README commands verbatim with bash in a scratch folder holding a copy of examples/ and a link to tools/, the
/// built `zoo` first on PATH and the caches inside the folder (but for the pinned Python environment's).
func runReadmeCommands(_ commands: String, in folder: URL) throws -> (status: Int32, stdout: String, stderr: String) {
    try FileManager.default.copyItem(at: repository.appendingPathComponent("examples"), to: folder.appendingPathComponent("examples"))
    try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("tools"), withDestinationURL: repository.appendingPathComponent("tools"))
    var environment = ProcessInfo.processInfo.environment
    let cache = folder.appendingPathComponent("cache")
    try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
    let sharedCache = environment["ZOO_CACHE"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/zoo")
    try FileManager.default.createSymbolicLink(at: cache.appendingPathComponent("python"), withDestinationURL: sharedCache.appendingPathComponent("python"))
    environment["PATH"] = zooExecutable().deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    environment["ZOO_CACHE"] = cache.path
    return try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-euo", "pipefail", "-c", commands], environment: environment, in: folder)
}

/// From `zoo predict`'s text (or anything printing an image path, then its top class as "… (N)"): how many images
/// were scored, and how many have the true class the file name starts with ("3-dress-2.png" is class 3) on top.
func scoredAgainstFileNames(_ stdout: String) throws -> (scored: Int, correct: Int, topLines: [String]) {
    let lines = stdout.split(separator: "\n").map(String.init)
    var scored = 0, correct = 0, tops: [String] = []
    for (i, line) in lines.enumerated() where line.hasSuffix(".png") && i + 1 < lines.count {
        let truth = try #require(Int(String(line.split(separator: "/").last!.prefix(1))))
        scored += 1
        tops.append(lines[i + 1])
        if lines[i + 1].hasSuffix("(\(truth))") { correct += 1 }
    }
    return (scored, correct, tops)
}

@Suite struct ReadmeTests {
    @Test func quickstartRunsAsWrittenAndPredictsTheTrueClasses() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, stdout, stderr) = try runReadmeCommands(try readmeSection("Quickstart").commands, in: folder)
        #expect(status == 0, "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("examples/lenet5_fashion_0-4.safetensors").path))

        // The oracle is Fashion-MNIST's own labels, which the image names carry.
        let (scored, correct, _) = try scoredAgainstFileNames(stdout)
        #expect(scored == 10)
        #expect(correct >= 8, "\(stdout)")
    }

    /// The exported model classifies in ONNX Runtime alone, from what its metadata says, as zoo predict does.
    @Test func onnxExportRunsAsWrittenAndClassifiesAsZooDoes() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, stdout, stderr) = try runReadmeCommands(try readmeSection("Export to ONNX").commands, in: folder)
        #expect(status == 0, "\(stderr)")
        let (scored, correct, tops) = try scoredAgainstFileNames(stdout)
        #expect(scored == 10 && correct >= 8, "\(stdout)")
        let predicted = try runZoo(["predict", "--arch", "lenet5", "--weights", folder.appendingPathComponent("examples/lenet5_fashion_0-4.h5").path,
                                    "--labels", folder.appendingPathComponent("examples/fashion_0-4.txt").path, "--top", "1"]
                                   + stdout.split(separator: "\n").filter { $0.hasSuffix(".png") }.map { folder.appendingPathComponent(String($0)).path })
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let zoo = try scoredAgainstFileNames(predicted.stdout).topLines.map { $0.split(separator: "%").last!.trimmingCharacters(in: .whitespaces) }
        #expect(tops.map { $0.split(separator: "%").last!.trimmingCharacters(in: .whitespaces) } == zoo, "ONNX Runtime's top classes against zoo predict's")
    }

    /// The transfer example's commands reproduce the accuracies README reports for them (to a point: thread timing
    /// may change the last digits), the three runs on one machine.
    @Test func transferExampleReproducesItsNumbers() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (text, commands) = try readmeSection("Transfer learning")
        let (status, stdout, stderr) = try runReadmeCommands(commands, in: folder)
        #expect(status == 0, "\(stderr)")
        let measured = stdout.split(separator: "\n").filter { $0.contains("on fashion-mnist test") }.compactMap { line in
            line.components(separatedBy: "top-1 ").dropFirst().first.flatMap { Double($0.prefix { $0 != "%" }) }
        }
        let reported = text.split(separator: "\n").filter { $0.hasPrefix("| (") }.compactMap { row in
            row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.dropFirst(2).first.flatMap { Double($0.dropLast()) }
        }
        #expect(measured.count == 3 && reported.count == 3, "\(stdout)")
        for (run, (m, r)) in zip(["features", "finetune", "scratch"], zip(measured, reported)) {
            #expect(abs(m - r) <= 1, "\(run): measured \(m)%, README says \(r)%")
        }
    }

    /// docs/examples/transfer, the library's runnable example, does what the command line does: the same numbers for
    /// the same protocol as README's table.
    @Test func libraryExampleMatchesTheCommandLine() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let example = zooExecutable().deletingLastPathComponent().appendingPathComponent("transfer-example")
        let (status, stdout, stderr) = try runProcess(example, [folder.path], environment: ProcessInfo.processInfo.environment, in: repository)
        #expect(status == 0, "\(stderr)")
        let measured = stdout.split(separator: "\n").compactMap { line in
            line.components(separatedBy: "top-1 ").dropFirst().first.flatMap { Double($0.prefix { $0 != "%" }) }
        }
        let reported = try readmeSection("Transfer learning").text.split(separator: "\n").filter { $0.hasPrefix("| (") }.compactMap { row in
            row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.dropFirst(2).first.flatMap { Double($0.dropLast()) }
        }
        #expect(measured.count == 2 && reported.count == 3, "\(stdout)")
        for (m, r) in zip(measured, reported) { #expect(abs(m - r) <= 1, "library \(m)%, README \(r)%") }
        for mode in ["features", "finetune"] {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(mode)/weights.h5").path))
        }
    }
}
