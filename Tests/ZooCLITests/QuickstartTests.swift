import Foundation
import Testing

/// README's quickstart, run verbatim by bash in a scratch folder holding a copy of examples/, with the built `zoo`
/// first on PATH.
@Suite struct QuickstartTests {
    func quickstart() throws -> String {
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## Quickstart").dropFirst().first)
        let block = try #require(section.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        return block
    }

    @Test func runsAsWrittenAndPredictsTheTrueClasses() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: repository.appendingPathComponent("examples"), to: folder.appendingPathComponent("examples"))
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = zooExecutable().deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        let (status, stdout, stderr) = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-euo", "pipefail", "-c", try quickstart()],
                                                      environment: environment, in: folder)
        #expect(status == 0, "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("examples/lenet5_fashion_0-4.safetensors").path))

        // The oracle is Fashion-MNIST's own labels, which the image names carry ("3-dress-2.png" is class 3).
        let lines = stdout.split(separator: "\n").map(String.init)
        var scored = 0, correct = 0
        for (i, line) in lines.enumerated() where line.hasSuffix(".png") && i + 1 < lines.count {
            let truth = try #require(Int(String(line.split(separator: "/").last!.prefix(1))))
            scored += 1
            if lines[i + 1].hasSuffix("(\(truth))") { correct += 1 }
        }
        #expect(scored == 10)
        #expect(correct >= 8, "\(stdout)")
    }
}
