import Foundation
import Testing
import ZooTestSupport

/// The built `zoo` executable, which sits beside the test bundle in the build folder.
func zooExecutable() -> URL {
    let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let executable = buildFolder.appendingPathComponent("zoo")
    if FileManager.default.fileExists(atPath: executable.path) { return executable }
    return buildFolder.deletingLastPathComponent().appendingPathComponent("zoo")  // the bundle may sit one level deeper
}

/// Runs the built `zoo` executable.
func runZoo(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(zooExecutable(), arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
}

@Suite struct RuntimeCommandTests {
    @Test func checkComparesBothBackends() throws {
        let result = try runZoo(["runtime", "--check", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        #expect(report["default_backend"] as? String == "dnnl")
        let check = try #require(report["check"] as? [String: Any])
        #expect(check["agree"] as? Bool == true)
        #expect((check["output_deviation"] as! Double) <= 1e-4 && (check["gradient_deviation"] as! Double) <= 1e-4)
    }

    @Test func environmentPicksTheBackend() throws {
        let result = try runZoo(["runtime", "--json"], environment: ["ZOO_BACKEND": "reference"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\"default_backend\" : \"reference\""))
        let bogus = try runZoo(["runtime"], environment: ["ZOO_BACKEND": "bogus"])
        #expect(bogus.stderr.contains("ZOO_BACKEND=bogus: unknown backend 'bogus': choose 'dnnl' or 'reference'"))
    }

    @Test func usageErrorsExitWithTwo() throws {
        let result = try runZoo(["runtime", "--check", "--batch", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--batch must be positive"))
        #expect(try runZoo(["no-such-command"]).status == 2)
        let help = try runZoo(["runtime", "--help"])
        #expect(help.status == 0 && help.stdout.contains("Examples:"))
    }
}
