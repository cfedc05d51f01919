import CJPEG
import CPNG
import Foundation

/// An image could not be read or written: which file and why.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

/// JPEG and PNG, recognized by their first bytes rather than their names.
public enum ImageCodec {
    /// Larger images are refused before their pixels are allocated (a decompression bomb guard).
    public static let maximumPixels = 100_000_000

    static let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func decode(contentsOf url: URL) throws -> Image {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw ImageError(file: url.path, FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file")
        }
        return try decode(data, name: url.path)
    }

    /// Decodes JPEG or PNG bytes to 8-bit gray or RGB; an alpha channel is dropped, as Keras's `load_img` does.
    public static func decode(_ data: Data, name: String = "image") throws -> Image {
        let bytes = [UInt8](data.prefix(8))
        if bytes.starts(with: jpegSignature) { return try decodeJPEG(data, name: name) }
        if bytes.starts(with: pngSignature) { return try decodePNG(data, name: name) }
        let what = data.isEmpty ? "is empty (0 bytes)" : "is not a JPEG or PNG image"
        throw ImageError(file: name, "\(what); expected a file starting with FF D8 FF (JPEG) or 89 'PNG' (PNG)")
    }

    static func decodeJPEG(_ data: Data, name: String) throws -> Image {
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let pixels = data.withUnsafeBytes { raw in
            zoo_jpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), UInt(maximumPixels),
                            &width, &height, &channels, &message, message.count)
        }
        guard let pixels else { throw ImageError(file: name, "not a readable JPEG: \(text(of: message))") }
        defer { free(pixels) }
        let count = Int(width) * Int(height) * Int(channels)
        return Image(width: Int(width), height: Int(height), channels: Int(channels),
                     pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    static func decodePNG(_ data: Data, name: String) throws -> Image {
        var image = png_image()
        image.version = zoo_png_image_version()
        func failure(_ image: png_image) -> ImageError {
            let text = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return ImageError(file: name, "not a readable PNG: \(text)")
        }
        return try data.withUnsafeBytes { raw in
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else { throw failure(image) }
            defer { png_image_free(&image) }
            let width = Int(image.width), height = Int(image.height)
            guard width * height <= maximumPixels else {
                throw ImageError(file: name, "the image is \(width)x\(height), more than the \(maximumPixels) pixels allowed")
            }
            let color = image.format & zoo_png_format_flag_color() != 0
            let alpha = image.format & zoo_png_format_flag_alpha() != 0
            image.format = (color ? zoo_png_format_rgb() : zoo_png_format_gray()) | (alpha ? zoo_png_format_flag_alpha() : 0)
            let channels = color ? 3 : 1, stored = channels + (alpha ? 1 : 0)
            var pixels = [UInt8](repeating: 0, count: width * height * stored)
            let ok = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw failure(image) }
            if alpha {
                // 8-bit sRGB output is not premultiplied, so dropping alpha leaves the stored colours.
                pixels = (0..<(width * height)).flatMap { pixels[($0 * stored)..<($0 * stored + channels)] }
            }
            return Image(width: width, height: height, channels: channels, pixels: pixels)
        }
    }

    /// A NUL-terminated C message as a Swift string.
    static func text(of message: [CChar]) -> String {
        String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func encodePNG(_ image: Image) throws -> Data {
        var info = png_image()
        info.version = zoo_png_image_version()
        info.width = UInt32(image.width)
        info.height = UInt32(image.height)
        info.format = image.channels == 3 ? zoo_png_format_rgb() : zoo_png_format_gray()
        var size = 0
        guard png_image_write_to_memory(&info, nil, &size, 0, image.pixels, 0, nil) != 0 else {
            throw ImageError(file: "png", "cannot be encoded")
        }
        var data = Data(count: size)
        let ok = data.withUnsafeMutableBytes { png_image_write_to_memory(&info, $0.baseAddress, &size, 0, image.pixels, 0, nil) }
        guard ok != 0 else { throw ImageError(file: "png", "cannot be encoded") }
        return data.prefix(size)
    }

    public static func encodeJPEG(_ image: Image, quality: Int = 90) throws -> Data {
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: 256)
        guard let bytes = zoo_jpeg_encode(image.pixels, Int32(image.width), Int32(image.height), Int32(image.channels),
                                          Int32(quality), &size, &message, message.count) else {
            throw ImageError(file: "jpeg", "cannot be encoded: \(text(of: message))")
        }
        defer { free(bytes) }
        return Data(bytes: bytes, count: Int(size))
    }
}
