import Foundation

/// A weight-file format plugin: recognizes its files, reads them into a `WeightBundle`, and may write one.
public protocol WeightFormat: NamedPlugin {
    /// Short stable name: "keras-h5", "keras-weights", "keras-archive", "safetensors".
    var name: String { get }
    /// One line for listings.
    var summary: String { get }
    /// What the format looks for in a file, for the error when nothing recognizes one.
    var signature: String { get }
    /// Whether the file looks like this format (its extension and first bytes, or its structure). Throws when the
    /// file cannot be examined safely (a crash of the isolated reader), rather than answering no.
    func sniff(_ probe: FileProbe) throws -> Bool
    func read(_ url: URL) throws -> WeightBundle
    /// The file's weights if it is this format's, else nil: what `WeightFormatRegistry.read` asks each format in turn.
    /// A format that must parse a file to recognize it can answer both at once.
    func readIfRecognized(_ probe: FileProbe) throws -> WeightBundle?
    var canWrite: Bool { get }
    /// Writes atomically (`writeAtomically`): a temporary file in the target's folder, flushed to disk and renamed into
    /// place when complete.
    @discardableResult
    func write(_ bundle: WeightBundle, to url: URL) throws -> WrittenFile
}

extension WeightFormat {
    public func readIfRecognized(_ probe: FileProbe) throws -> WeightBundle? { try sniff(probe) ? try read(probe.url) : nil }

    public var canWrite: Bool { false }
    public func write(_ bundle: WeightBundle, to url: URL) throws -> WrittenFile {
        throw WeightFileError(url, "the \(name) format is read-only here")
    }
}

/// The start of a file and its name, for sniffing.
public struct FileProbe: Sendable {
    public let url: URL
    public let header: Data

    public static let hdf5Signature = Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A])
    public static let zipSignature = Data([0x50, 0x4B, 0x03, 0x04])

    /// Reads the first bytes of a regular, non-empty file; refuses folders, missing and empty files.
    public init(_ url: URL, length: Int = 512) throws {
        self.url = url
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw WeightFileError(url, "no such file")
        }
        guard !isDirectory.boolValue else { throw WeightFileError(url, "is a directory, expected a weight file") }
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw WeightFileError(url, "cannot be opened for reading") }
        defer { try? handle.close() }
        header = (try? handle.read(upToCount: length)) ?? Data()
        guard !header.isEmpty else { throw WeightFileError(url, "is empty (0 bytes)") }
    }

    /// The name in lower case, for extension checks (`.weights.h5` included).
    public var lowercasedName: String { url.lastPathComponent.lowercased() }
    public var isHDF5: Bool { header.starts(with: Self.hdf5Signature) }
    public var isZip: Bool { header.starts(with: Self.zipSignature) }
}

/// A weight file could not be read or written: which file, where in it, and what was wrong or expected.
public struct WeightFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let location: String?
    public let message: String

    public init(_ url: URL, _ message: String, at location: String? = nil) {
        file = url.path
        self.location = location
        self.message = message
    }

    public init(file: String, location: String?, message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String { "\(file)\(location.map { ": \($0)" } ?? ""): \(message)" }
}

/// The formats Zoo knows, in the order they are tried. Other packages add theirs with `register`.
public typealias WeightFormatRegistry = Registry<any WeightFormat>

extension Registry where Plugin == any WeightFormat {
    public convenience init(_ formats: [any WeightFormat] = []) { self.init(formats) { $0.name } }

    public func format(named name: String) -> (any WeightFormat)? { all.first { $0.name == name } }

    /// The format that recognizes the file.
    public func detect(_ url: URL) throws -> any WeightFormat {
        let probe = try FileProbe(url)
        if let format = try all.first(where: { try $0.sniff(probe) }) { return format }
        throw unrecognized(probe)
    }

    /// The file's weights, read by the first format that recognizes it.
    public func read(_ url: URL) throws -> WeightBundle {
        let probe = try FileProbe(url)
        for format in all { if let bundle = try format.readIfRecognized(probe) { return bundle } }
        throw unrecognized(probe)
    }

    private func unrecognized(_ probe: FileProbe) -> WeightFileError {
        let kind = probe.isHDF5 ? "an HDF5 file, but no weight format recognizes it" : probe.isZip ? "a zip archive, but no weight format recognizes it"
            : "not a weight file"
        return WeightFileError(probe.url, "\(kind); expected " + all.map { "\($0.name): \($0.signature)" }.joined(separator: "; "))
    }
}
