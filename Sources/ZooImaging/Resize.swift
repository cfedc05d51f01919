extension Image {
    /// Resampled to `width` × `height` with a triangle (bilinear) filter on half-pixel centres. Upscaling is plain
    /// bilinear interpolation with edges clamped, as `tf.image.resize(method="bilinear")`; downscaling widens the
    /// filter by the scale factor so every source pixel contributes (antialiased, like PIL's BILINEAR).
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "cannot resize to an empty image")
        if newWidth == width && newHeight == height { return self }
        let horizontal = ResampleTaps(from: width, to: newWidth)
        let vertical = ResampleTaps(from: height, to: newHeight)
        // Rows first into a float buffer, then columns, rounding once at the end.
        var rows = [Float](repeating: 0, count: height * newWidth * channels)
        for y in 0..<height {
            for x in 0..<newWidth {
                let taps = horizontal.taps[x]
                for c in 0..<channels {
                    var sum: Float = 0
                    for (j, weight) in taps { sum += weight * Float(pixels[(y * width + j) * channels + c]) }
                    rows[(y * newWidth + x) * channels + c] = sum
                }
            }
        }
        var out = [UInt8](repeating: 0, count: newHeight * newWidth * channels)
        for y in 0..<newHeight {
            let taps = vertical.taps[y]
            for x in 0..<newWidth {
                for c in 0..<channels {
                    var sum: Float = 0
                    for (j, weight) in taps { sum += weight * rows[(j * newWidth + x) * channels + c] }
                    out[(y * newWidth + x) * channels + c] = UInt8(max(0, min(255, sum.rounded())))
                }
            }
        }
        return Image(width: newWidth, height: newHeight, channels: channels, pixels: out)
    }

    /// Resized so that the shorter side is `shorterSide`, keeping the aspect ratio.
    public func resized(shorterSide: Int) -> Image {
        if width <= height {
            return resized(width: shorterSide, height: max(1, Int((Double(height) * Double(shorterSide) / Double(width)).rounded())))
        }
        return resized(width: max(1, Int((Double(width) * Double(shorterSide) / Double(height)).rounded())), height: shorterSide)
    }
}

/// For each output position along one axis, the source positions and their normalized weights.
struct ResampleTaps {
    let taps: [[(Int, Float)]]

    init(from source: Int, to target: Int) {
        let scale = Double(source) / Double(target)
        let support = max(scale, 1)
        taps = (0..<target).map { i in
            let centre = (Double(i) + 0.5) * scale
            let first = max(0, Int((centre - support).rounded(.down)))
            let last = min(source - 1, Int((centre + support).rounded(.up)))
            var taps: [(Int, Float)] = []
            var total = 0.0
            for j in first...max(first, last) {
                let weight = max(0, 1 - abs(Double(j) + 0.5 - centre) / support)
                if weight > 0 { taps.append((j, Float(weight))); total += weight }
            }
            if taps.isEmpty { return [(min(source - 1, max(0, Int(centre))), 1)] }
            return taps.map { ($0.0, Float(Double($0.1) / total)) }
        }
    }
}
