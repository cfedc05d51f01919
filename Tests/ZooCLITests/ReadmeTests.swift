import Foundation
import Testing
import ZooTestSupport

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

/// One image `zoo predict` scored: its path, the line of its top class ("  99.81%  Dress (2)"), and whether that
/// class is the image's true one. The oracle is Fashion-MNIST's own label, which the file name carries as the class
/// name ("3-dress-2.png"); the class index printed is the classifier's, which need not be Fashion-MNIST's.
struct ScoredImage {
    let path: String, topLine: String, correct: Bool
    /// The class name without its probability and index: "Dress".
    var topClass: String { String(topLine.split(separator: "%").last!.trimmingCharacters(in: .whitespaces).split(separator: " (").first!) }
    /// Fashion-MNIST's label, from the file name.
    var label: Int { Int(String(path.split(separator: "/").last!.prefix(1)))! }
}

/// Every image in `zoo predict`'s text (or anything printing an image path, then its top class as "… NAME (N)").
func scoredImages(_ stdout: String) -> [ScoredImage] {
    let lines = stdout.split(separator: "\n").map(String.init)
    return lines.indices.filter { lines[$0].hasSuffix(".png") && $0 + 1 < lines.count }.map { i in
        let file = lines[i].split(separator: "/").last!.dropLast(".png".count)      // "3-dress-2"
        let truth = file.split(separator: "-").dropFirst().dropLast().joined(separator: "-")
        let top = lines[i + 1].split(separator: "%").last!.split(separator: " (").first!.trimmingCharacters(in: .whitespaces)
        let named = top.lowercased().replacingOccurrences(of: "/", with: "-").replacingOccurrences(of: " ", with: "-")
        return ScoredImage(path: lines[i], topLine: lines[i + 1], correct: named == truth)
    }
}

@Suite struct ReadmeTests {
    /// The source network classifies its own classes' test images; the network fine-tuned from it on 10 images per
    /// class classifies the five new classes' images far above chance (1 in 5).
    @Test func quickstartRunsAsWrittenAndPredictsTheTrueClasses() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, stdout, stderr) = try runReadmeCommands(try readmeSection("Quickstart").commands, in: folder)
        #expect(status == 0, "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("examples/lenet5-relu_fashion_0-1-3-5-8.safetensors").path))
        let scored = scoredImages(stdout)
        let source = scored.filter { [0, 1, 3, 5, 8].contains($0.label) }, target = scored.filter { [2, 4, 6, 7, 9].contains($0.label) }
        #expect(source.count == 10 && target.count == 10, "\(stdout)")
        #expect(source.filter(\.correct).count >= 9, "\(stdout)")
        #expect(target.filter(\.correct).count >= 5, "\(stdout)")
    }

    /// tools/quickstart, README's first command, runs what the Quickstart section shows.
    @Test func quickstartScriptRunsTheSectionsCommands() throws {
        let script = try String(contentsOf: repository.appendingPathComponent("tools/quickstart"), encoding: .utf8)
        let commands = try #require(script.components(separatedBy: "cd \"$(dirname \"$0\")/..\"\n").dropFirst().first)
        #expect(commands == (try readmeSection("Quickstart").commands))
        #expect(try readmeSection("Two commands").commands.hasPrefix("tools/setup && tools/quickstart"))
    }

    /// The exported model classifies in ONNX Runtime alone, from what its metadata says, as zoo predict does.
    @Test func onnxExportRunsAsWrittenAndClassifiesAsZooDoes() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, stdout, stderr) = try runReadmeCommands(try readmeSection("Export to ONNX").commands, in: folder)
        #expect(status == 0, "\(stderr)")
        let runtime = scoredImages(stdout)
        #expect(runtime.count == 10 && runtime.filter(\.correct).count >= 9, "\(stdout)")
        let predicted = try runZoo(["predict", "--weights", folder.appendingPathComponent("examples/lenet5-relu_fashion_0-1-3-5-8.h5").path,
                                    "--labels", folder.appendingPathComponent("examples/fashion_0-1-3-5-8.txt").path, "--top", "1"]
                                   + runtime.map { folder.appendingPathComponent($0.path).path })
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(runtime.map(\.topClass) == scoredImages(predicted.stdout).map(\.topClass), "ONNX Runtime's top classes against zoo predict's")
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

    /// The sweep's 10-image row, run again with its five seeds: every cell within a point of README's table, and the
    /// two transfer strategies ahead of scratch by the margins the table shows (3.6 and 2.6 points, less a point for
    /// other CPUs' rounding).
    @Test func transferSweepReproducesItsTenImageRow() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, _, stderr) = try runProcess(repository.appendingPathComponent("tools/python"),
                                                 [repository.appendingPathComponent("tools/examples/transfer_sweep.py").path, "--sizes", "10",
                                                  "--seeds", "5", "--out", folder.path, "--zoo", zooExecutable().path],
                                                 environment: ProcessInfo.processInfo.environment)
        #expect(status == 0, "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("accuracy.png").path))
        let rows = try String(contentsOf: folder.appendingPathComponent("results.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        var measured: [String: [Double]] = [:]
        for row in rows {
            let cells = row.split(separator: ",").map(String.init)
            measured[cells[2], default: []].append(100 * Double(cells[3])!)
        }
        let mean = measured.mapValues { $0.reduce(0, +) / Double($0.count) }
        let section = try readmeSection("Transfer learning").text.split(separator: "\n")
        let header = try #require(section.first { $0.hasPrefix("| images per class |") }).split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        let reported = try #require(section.first { $0.hasPrefix("| 10 |") }).split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(header.count == 5 && reported.count == 5 && measured.count == 4 && measured.values.allSatisfy { $0.count == 5 }, "\(measured)")
        for (strategy, cell) in zip(header.dropFirst(), reported.dropFirst()) {
            let value = try #require(Double(cell.split(separator: " ").first!))
            #expect(abs(try #require(mean[strategy]) - value) <= 1, "\(strategy): measured \(mean[strategy]!)%, README says \(value)%")
        }
        let scratch = try #require(mean["(d) scratch"])
        #expect(try #require(mean["(a) features"]) - scratch >= 2.6, "\(mean)")
        #expect(try #require(mean["(b) finetune s4"]) - scratch >= 1.6, "\(mean)")
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
