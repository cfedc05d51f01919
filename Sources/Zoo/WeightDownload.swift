import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads a published weight file into a cache folder: resumes a partial download (HTTP range requests), checks
/// the published MD5, and moves the file into place only when it matches.
public struct WeightDownload: Sendable {
    public let url: URL
    public let md5: String
    public let destination: URL

    /// Where keras.applications files are published; `ZOO_WEIGHTS_URL` replaces this prefix to use a mirror.
    public static let publishedBase = "https://storage.googleapis.com/tensorflow/keras-applications"

    public init(url: URL, md5: String, destination: URL) {
        self.url = url; self.md5 = md5.lowercased(); self.destination = destination
    }

    /// The download of a plugin's published file into `cache`, from the mirror `ZOO_WEIGHTS_URL` names if set.
    public init(_ weights: PublishedWeights, cache: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var address = weights.url
        if let mirror = environment["ZOO_WEIGHTS_URL"], !mirror.isEmpty, address.hasPrefix(Self.publishedBase) {
            address = mirror.trimmingSuffix("/") + address.dropFirst(Self.publishedBase.count)
        }
        guard let url = URL(string: address), url.scheme == "http" || url.scheme == "https" else {
            throw DownloadError("'\(address)' is not an http(s) URL; check ZOO_WEIGHTS_URL")
        }
        self.init(url: url, md5: weights.hash, destination: cache.appendingPathComponent(weights.fileName))
    }

    /// The partial file a download appends to.
    public var partial: URL { destination.appendingPathExtension("part") }

    /// Downloads unless a verified file is already there; returns its location. `progress` gets (bytes, total).
    @discardableResult
    public func run(progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> URL {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw DownloadError("cannot create the cache folder \(destination.deletingLastPathComponent().path)")
        }
        if fileManager.fileExists(atPath: destination.path) {
            if try Digest.hexDigest(.md5, ofFile: destination) == md5 { return destination }
            try? fileManager.removeItem(at: destination)  // damaged since it was verified: fetch again
        }
        try HTTPFetch(url: url, file: partial, progress: progress).run()
        let actual = try Digest.hexDigest(.md5, ofFile: partial)
        guard actual == md5 else {
            try? fileManager.removeItem(at: partial)
            throw DownloadError("\(url.absoluteString) gave a file whose MD5 is \(actual), not the published \(md5); it was deleted, try again")
        }
        guard rename(partial.path, destination.path) == 0 else {
            throw DownloadError("cannot move the download into place at \(destination.path)")
        }
        return destination
    }
}

public struct DownloadError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One HTTP GET that appends to `file`, asking for the missing range when part of it is there.
final class HTTPFetch: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let url: URL
    let file: URL
    let progress: @Sendable (Int, Int) -> Void
    private var handle: FileHandle?
    private var received = 0
    private var total = 0
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)

    init(url: URL, file: URL, progress: @escaping @Sendable (Int, Int) -> Void) {
        self.url = url; self.file = file; self.progress = progress
    }

    func run() throws {
        let existing = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        var request = URLRequest(url: url, timeoutInterval: 60)
        if existing > 0 { request.setValue("bytes=\(existing)-", forHTTPHeaderField: "Range") }
        received = existing
        let session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)
        session.dataTask(with: request).resume()
        done.wait()
        session.finishTasksAndInvalidate()
        try? handle?.close()
        if let failure { throw failure }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        do {
            switch status {
            case 206:  // the rest of a partial file
                handle = try FileHandle(forWritingTo: file)
                try handle!.seekToEnd()
                total = received + Int(max(0, response.expectedContentLength))
            case 200:  // the whole file (the server ignored or was not asked for a range)
                guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                    throw DownloadError("cannot create \(file.path)")
                }
                handle = try FileHandle(forWritingTo: file)
                received = 0
                total = Int(max(0, response.expectedContentLength))
            case 416:  // nothing left to send: the partial file is complete (the hash decides)
                completionHandler(.cancel)
                return
            default:
                throw DownloadError("\(url.absoluteString) answered HTTP \(status)")
            }
            completionHandler(.allow)
        } catch {
            failure = error is DownloadError ? error : DownloadError("cannot write \(file.path): \(error.localizedDescription)")
            completionHandler(.cancel)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil, let handle else { return }
        do {
            try handle.write(contentsOf: data)
            received += data.count
            progress(received, total)
        } catch {
            failure = DownloadError("cannot write \(file.path): \(error.localizedDescription) (is the disk full?)")
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if failure == nil, let error, (error as NSError).code != NSURLErrorCancelled {
            failure = DownloadError("the download from \(url.absoluteString) stopped after \(received) bytes (\(error.localizedDescription)); "
                + "run the command again to resume")
        }
        done.signal()
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
