import Foundation

extension WeightFormatRegistry {
    /// Reads `source` in whatever format it is, records where it came from (file name, SHA-256, format, Keras
    /// version) in the metadata, and writes it in `format`, atomically.
    @discardableResult
    public func convert(_ source: URL, to destination: URL, as format: any WeightFormat,
                        metadata extra: [String: String] = [:]) throws -> WeightBundle {
        guard format.canWrite else { throw WeightFileError(destination, "the \(format.name) format is read-only here") }
        var bundle = try read(source)
        bundle.recordSource(source, sha256: try Digest.hexDigest(.sha256, ofFile: source), format: bundle.format)
        bundle.metadata.merge(extra) { $1 }
        try format.write(bundle, to: destination)
        return bundle
    }
}

extension WeightBundle {
    /// Records where the weights came from: file name, its SHA-256 and the format it was read in.
    public mutating func recordSource(_ url: URL, sha256: String, format: String) {
        metadata[MetadataKey.sourceFile] = url.lastPathComponent
        metadata[MetadataKey.sourceSHA256] = sha256
        metadata[MetadataKey.sourceFormat] = format
    }
}
