import Foundation
import Hummingbird
import MultipartKit

/// A request that cannot be answered with outputs, with the HTTP status that says why.
enum RequestError: Error, CustomStringConvertible {
    case badRequest(String)
    case notFound(String)
    case notAcceptable(String)
    case unsupportedMediaType(String)

    var status: HTTPResponse.Status {
        switch self {
        case .badRequest: .badRequest
        case .notFound: .notFound
        case .notAcceptable: .notAcceptable
        case .unsupportedMediaType: .unsupportedMediaType
        }
    }

    var description: String {
        switch self {
        case .badRequest(let message), .notFound(let message), .notAcceptable(let message), .unsupportedMediaType(let message): message
        }
    }
}

/// The files a request carries: its whole body (an image), or each part of a multipart/form-data body, named by
/// the part's filename (else its field name).
enum RequestParts {
    static func files(body: ByteBuffer, contentType: String?) throws -> [(name: String, data: Data)] {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/") else {
            return [("image", Data(body.readableBytesView))]
        }
        guard let boundary = parameter("boundary", of: contentType) else {
            throw RequestError.badRequest("a multipart body needs a boundary in its Content-Type")
        }
        var parts: [(name: String, data: Data)] = []
        var name = "", data = Data()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { field, value in
            guard field.lowercased() == "content-disposition" else { return }
            if let file = parameter("filename", of: value) { name = file } else if name.isEmpty, let field = parameter("name", of: value) { name = field }
        }
        parser.onBody = { buffer in data.append(contentsOf: buffer.readableBytesView) }
        parser.onPartComplete = {
            parts.append((name.isEmpty ? "image\(parts.count + 1)" : name, data))
            name = ""
            data = Data()
        }
        do { try parser.execute(body) } catch {
            throw RequestError.badRequest("the multipart body cannot be read: \(error)")
        }
        guard !parts.isEmpty else { throw RequestError.badRequest("the multipart body holds no parts") }
        return parts
    }

    /// A `key=value` parameter of a header value (quotes removed).
    static func parameter(_ key: String, of header: String) -> String? {
        for piece in header.split(separator: ";") {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            let value = pair[1]
            return value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? String(value.dropFirst().dropLast()) : value
        }
        return nil
    }
}
