import CZooSystem
import Foundation
import ZooTensor

/// A file a writer finished: where it is, how long, and the SHA-256 of its bytes (provenance for summaries and
/// metadata, computed while the file was written or flushed, so it costs no extra pass).
public struct WrittenFile: Sendable, Equatable {
    public let url: URL
    public let byteCount: Int
    public let sha256: String
}

/// Writes a file so that readers see either the old file or the complete new one: `body` writes a temporary file
/// in the same folder, which is flushed to disk and renamed over the target when `body` returns; on failure it is
/// removed and the target is left as it was.
@discardableResult
public func writeAtomically(to url: URL, _ body: (URL) throws -> Void) throws -> WrittenFile {
    try replace(url) { temporary in
        try body(temporary)
        return nil
    }
}

/// `writeAtomically` for writers that produce bytes: `body` writes them to the open temporary file.
@discardableResult
public func writeAtomically(to url: URL, bytes body: (FileOutput) throws -> Void) throws -> WrittenFile {
    try replace(url) { temporary in
        let output = try FileOutput(creating: temporary, reportingAs: url)
        defer { output.close() }
        try body(output)
        return (output.bytesWritten, output.sha256())
    }
}

/// `body` fills the temporary file and returns its size and digest when it knows them; otherwise they are computed
/// from the file while it is flushed.
private func replace(_ url: URL, _ body: (URL) throws -> (Int, String)?) throws -> WrittenFile {
    let folder = url.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw WeightFileError(url, "the folder \(folder.path) does not exist")
    }
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).partial")
    let written: (Int, String)
    do {
        let known = try body(temporary)
        // Durable before visible: without the sync a crash soon after the rename can leave an empty file in place.
        let sync = Concurrently { try synchronize(temporary, reportingAs: url) }
        let hashed = Result { try known ?? (fileSize(temporary), Digest.hexDigest(.sha256, ofFile: temporary)) }
        try sync.wait()
        written = try hashed.get()
        guard rename(temporary.path, url.path) == 0 else {
            throw WeightFileError(url, "cannot move the finished file into place: \(String(cString: strerror(errno)))")
        }
    } catch {
        unlink(temporary.path)
        throw error
    }
    try? synchronize(folder, reportingAs: url)  // the rename itself; some file systems cannot sync a folder
    return WrittenFile(url: url, byteCount: written.0, sha256: written.1)
}

private func synchronize(_ path: URL, reportingAs url: URL) throws {
    let descriptor = open(path.path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw WeightFileError(url, "cannot open \(path.path) to flush it: \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    guard fsync(descriptor) == 0 else { throw WeightFileError(url, "cannot flush \(path.lastPathComponent) to disk: \(String(cString: strerror(errno)))") }
}

private func fileSize(_ url: URL) throws -> Int {
    var info = stat()
    guard stat(url.path, &info) == 0 else { throw WeightFileError(url, "cannot stat: \(String(cString: strerror(errno)))") }
    return Int(info.st_size)
}

/// A new file open for writing with plain `write` calls (no buffering, no copies). Its SHA-256 is computed on a
/// second thread while each piece is written.
public final class FileOutput {
    private var descriptor: Int32
    private let url: URL
    private let digest = Digest(.sha256)
    public private(set) var bytesWritten = 0

    /// Creates `path`, which must not exist yet; errors name `url`, the file the caller means to produce.
    public init(creating path: URL, reportingAs url: URL) throws {
        descriptor = open(path.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        self.url = url
        guard descriptor >= 0 else {
            throw WeightFileError(url, "cannot create \(path.lastPathComponent) in \(path.deletingLastPathComponent().path): \(String(cString: strerror(errno)))")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count < 1 << 20 {
            digest.update(bytes)
            return try writeAll(bytes)
        }
        let digest = UncheckedSendable(digest)
        let hashing = Concurrently { digest.value.update(bytes) }
        defer { try? hashing.wait() }  // the bytes must outlive the hashing
        try writeAll(bytes)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(descriptor, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw WeightFileError(url, "writing failed after \(bytesWritten + done) bytes: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        bytesWritten += done
        // Writeback starts as the file grows, so the final fsync waits for the last stretch, not the whole file.
        if bytesWritten - bytesHandedToDisk >= Self.writebackStretch {
            _ = zoo_start_writeback(descriptor, off_t(bytesHandedToDisk), off_t(bytesWritten - bytesHandedToDisk))
            bytesHandedToDisk = bytesWritten
        }
    }

    private static let writebackStretch = 8 << 20
    private var bytesHandedToDisk = 0

    /// The SHA-256 of everything written; call once, when done.
    public func sha256() -> String { digest.hexDigest() }

    public func close() {
        if descriptor >= 0 { Foundation.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}
