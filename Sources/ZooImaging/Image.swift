import Foundation

/// An 8-bit image in row-major height × width × channels order, 1 (gray) or 3 (RGB) channels.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "an image has 1 or 3 channels")
        precondition(pixels.count == width * height * channels, "pixel count does not match \(height)×\(width)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public subscript(y: Int, x: Int, c: Int) -> UInt8 { pixels[(y * width + x) * channels + c] }

    /// The same picture with `count` channels: gray is repeated into RGB; RGB becomes luma (ITU-R 601 weights).
    public func converted(toChannels count: Int) -> Image {
        if count == channels { return self }
        precondition(count == 1 || count == 3, "an image has 1 or 3 channels")
        let n = width * height
        if count == 3 {
            var out = [UInt8](repeating: 0, count: n * 3)
            for i in 0..<n { out[3 * i] = pixels[i]; out[3 * i + 1] = pixels[i]; out[3 * i + 2] = pixels[i] }
            return Image(width: width, height: height, channels: 3, pixels: out)
        }
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            let luma = 0.299 * Double(pixels[3 * i]) + 0.587 * Double(pixels[3 * i + 1]) + 0.114 * Double(pixels[3 * i + 2])
            out[i] = UInt8(min(255, luma.rounded()))
        }
        return Image(width: width, height: height, channels: 1, pixels: out)
    }

    /// The rectangle at (`x`, `y`) of the given size, which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop outside the image")
        var out = [UInt8]()
        out.reserveCapacity(w * h * channels)
        for row in y..<(y + h) {
            let start = (row * width + x) * channels
            out += pixels[start..<(start + w * channels)]
        }
        return Image(width: w, height: h, channels: channels, pixels: out)
    }

    /// The centred rectangle of the given size.
    public func centerCropped(width w: Int, height h: Int) -> Image {
        cropped(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }

    /// Mirrored left to right.
    public func flippedHorizontally() -> Image {
        var out = pixels
        for y in 0..<height {
            for x in 0..<width {
                let from = (y * width + width - 1 - x) * channels, to = (y * width + x) * channels
                for c in 0..<channels { out[to + c] = pixels[from + c] }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: out)
    }
}
