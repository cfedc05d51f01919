import Foundation

/// Writes a file so that readers see either the old file or the complete new one: `body` writes a temporary file
/// in the same folder, which is renamed over the target when `body` returns; on failure it is removed.
public func writeAtomically(to url: URL, _ body: (URL) throws -> Void) throws {
    let folder = url.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw WeightFileError(url, "the folder \(folder.path) does not exist")
    }
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).partial")
    do {
        try body(temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw WeightFileError(url, "cannot move the finished file into place: \(String(cString: strerror(errno)))")
        }
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    }
}
