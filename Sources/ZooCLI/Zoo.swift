import ArgumentParser
import Foundation
import Zoo

@main
struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo",
        abstract: "Classic CNN backbones in Swift: Keras weights, a native runtime, transfer learning.",
        discussion: """
            Examples:
              zoo runtime            the backend in use, oneDNN's version, threads
              zoo runtime --check    one network on both backends, compared
            """,
        version: zooVersion,
        subcommands: [ListCommand.self, InfoCommand.self, InspectCommand.self, ConvertCommand.self, PredictCommand.self, PullCommand.self,
                      FinetuneCommand.self, ExtractCommand.self, EvaluateCommand.self, ServeCommand.self, RuntimeCommand.self])

    /// Exit codes: 0 success, 1 invalid or mismatched input, 2 usage.
    static func main() {
        // A file-size limit (ulimit -f) should fail a write with an error naming the file, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode where exit.rawValue > 2 {
            Foundation.exit(exit.rawValue)  // 130 after Ctrl-C
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(code == .validationFailure ? 2 : 1)
        }
    }
}
