import Foundation
import ZooConverters
import ZooCore

// libFuzzer entry shared by the Keras targets: the bytes become a file named with the target's `suffix`, which Zoo
// reads as any user's file is read (format detection, then the isolated reader, every array decoded). This process
// must never crash or hang, whatever the child does; the child's crashes, hangs and limit hits must come back as
// errors naming the file. Those inputs are kept in fuzz-out/TARGET/child/ and tallied at exit.
let path = "/dev/shm/zoo-fuzz-\(getpid())" + suffix
let kept = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ZOO_FUZZ_CHILD_FINDINGS"] ?? "fuzz-out/child")
let formats = builtInWeightFormats()
nonisolated(unsafe) var tally: [String: Int] = [:]

/// What became of one input: read, refused with an ordinary error, or stopped in the child.
func outcome(_ error: WeightFileError) -> String {
    if error.message.contains("crashed reading this file") { return "child crashed" }
    if error.message.contains("took longer than") { return "child timed out" }
    if error.message.contains("forbidden system call") { return "child made a forbidden call" }
    if error.message.contains("more output than") { return "child hit a limit" }
    return "clean error"
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    try? FileManager.default.createDirectory(at: kept, withIntermediateDirectories: true)
    atexit {
        let lines = tally.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }
        FileHandle.standardError.write(Data(("outcomes:\n" + lines.joined(separator: "\n") + "\n").utf8))
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    FileManager.default.createFile(atPath: path, contents: bytes)
    let url = URL(fileURLWithPath: path)
    let result: String
    do {
        let bundle = try formats.read(url)
        for layer in bundle.layers { for array in layer.arrays { _ = try array.tensor() } }
        result = "read"
    } catch let error as WeightFileError {
        precondition(error.file == path, "an error that does not name the file: \(error)")
        result = outcome(error)
    } catch {
        preconditionFailure("an error that is not a WeightFileError: \(error)")
    }
    tally[result, default: 0] += 1
    if result.hasPrefix("child"), (try? FileManager.default.contentsOfDirectory(atPath: kept.path).count) ?? 0 < 500 {
        let digest = Digest(.sha256)
        digest.update(bytes)
        let name = result.replacingOccurrences(of: " ", with: "-") + "-" + digest.hexDigest().prefix(16) + suffix
        try? bytes.write(to: kept.appendingPathComponent(name))
    }
    return 0
}
