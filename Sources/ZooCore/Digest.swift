import CCrypto
import Foundation

/// A message digest (SHA-256 for provenance, MD5 for the hashes keras.applications publishes), computed by libcrypto.
public final class Digest {
    public enum Algorithm: String, Sendable {
        case sha256 = "SHA-256", md5 = "MD5"
    }

    public let algorithm: Algorithm
    private let context: OpaquePointer

    public init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
        context = EVP_MD_CTX_new()
        let ok = EVP_DigestInit_ex(context, algorithm == .sha256 ? EVP_sha256() : EVP_md5(), nil)
        precondition(ok == 1, "libcrypto cannot start a \(algorithm.rawValue) digest")
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ data: some DataProtocol) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) { _ = EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }

    /// The digest as lowercase hex digits; the digest is finished afterwards.
    public func hexDigest() -> String {
        var bytes = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &bytes, &length)
        return bytes.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    /// The digest of a whole file, hashed straight from a mapping of it.
    public static func hexDigest(_ algorithm: Algorithm, ofFile url: URL) throws -> String {
        var info = stat()
        guard stat(url.path, &info) == 0 else { throw WeightFileError(url, "cannot be read: \(String(cString: strerror(errno)))") }
        let digest = Digest(algorithm)
        if info.st_size > 0 {  // an empty file cannot be mapped; its digest is the empty message's
            let file = try MappedFile(url)
            file.adviseSequential()
            digest.update(file.bytes)
        }
        return digest.hexDigest()
    }
}
