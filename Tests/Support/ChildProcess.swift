import Foundation

// Foundation's FileHandle reads stop the process (a fatal `try!`) when a signal interrupts them (EINTR), and signals
// do arrive while tests run: each child that exits sends SIGCHLD, and tests run children on several threads at once.
// These reads retry an interrupted read instead.

/// Reads `handle` until its end (the writer closed it).
public func readToEnd(_ handle: FileHandle) -> Data {
    var data = Data()
    while true {
        let chunk = readChunk(handle)
        if chunk.isEmpty { return data }
        data += chunk
    }
}

/// Waits for what is available on `handle` and returns it; empty at its end.
public func readChunk(_ handle: FileHandle, upTo limit: Int = 65536) -> Data {
    var buffer = [UInt8](repeating: 0, count: limit)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, limit) }
        if count >= 0 { return Data(buffer[0..<count]) }
        if errno != EINTR { return Data() }
    }
}

/// Runs a program to its end and returns its exit status and output. Both pipes are drained at once, so a child that
/// writes much to one while the other is being read cannot block.
public func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                       in folder: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let folder { process.currentDirectoryURL = folder }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stderr = ConcurrentRead(err.fileHandleForReading)
    let stdout = String(decoding: readToEnd(out.fileHandleForReading), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stdout, String(decoding: stderr.wait(), as: UTF8.self))
}

/// A read to the end of a pipe on a thread of its own.
public final class ConcurrentRead: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    public init(_ handle: FileHandle) {
        Thread { [self] in
            data = readToEnd(handle)
            done.signal()
        }.start()
    }

    public func wait() -> Data {
        done.wait()
        return data
    }
}
