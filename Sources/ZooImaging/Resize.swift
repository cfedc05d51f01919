extension Image {
    /// Resampled to `width` × `height` with a triangle (bilinear) filter on half-pixel centres. Upscaling is plain
    /// bilinear interpolation with edges clamped, as `tf.image.resize(method="bilinear")`; downscaling widens the
    /// filter by the scale factor so every source pixel contributes (antialiased, like PIL's BILINEAR).
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "cannot resize to an empty image")
        if newWidth == width && newHeight == height { return self }
        let horizontal = ResampleTaps(from: width, to: newWidth)
        let vertical = ResampleTaps(from: height, to: newHeight)
        let rowLength = newWidth * channels
        // Rows first into a float buffer, then columns, rounding once at the end. Each output value sums its taps in
        // source order, so the result does not depend on how the loops are laid out.
        var rows = [Float](repeating: 0, count: height * rowLength)
        var out = [UInt8](repeating: 0, count: newHeight * rowLength)
        pixels.withUnsafeBufferPointer { source in
            rows.withUnsafeMutableBufferPointer { rows in
                for y in 0..<height {
                    let sourceRow = source.baseAddress! + y * width * channels
                    let row = rows.baseAddress! + y * rowLength
                    for x in 0..<newWidth {
                        horizontal.withTaps(of: x) { first, weights in
                            let start = sourceRow + first * channels
                            if channels == 3 {
                                var r: Float = 0, g: Float = 0, b: Float = 0
                                for (k, weight) in weights.enumerated() {
                                    r += weight * Float(start[3 * k]); g += weight * Float(start[3 * k + 1]); b += weight * Float(start[3 * k + 2])
                                }
                                row[3 * x] = r; row[3 * x + 1] = g; row[3 * x + 2] = b
                            } else {
                                for c in 0..<channels {
                                    var sum: Float = 0
                                    for (k, weight) in weights.enumerated() { sum += weight * Float(start[k * channels + c]) }
                                    row[x * channels + c] = sum
                                }
                            }
                        }
                    }
                }
            }
        }
        // Columns a whole output row at a time: the row of sums gets each tap's source row in turn, which vectorizes.
        var sums = [Float](repeating: 0, count: rowLength)
        rows.withUnsafeBufferPointer { rows in
            sums.withUnsafeMutableBufferPointer { sums in
                out.withUnsafeMutableBufferPointer { out in
                    for y in 0..<newHeight {
                        for i in 0..<rowLength { sums[i] = 0 }
                        vertical.withTaps(of: y) { first, weights in
                            for (k, weight) in weights.enumerated() {
                                let row = rows.baseAddress! + (first + k) * rowLength
                                for i in 0..<rowLength { sums[i] += weight * row[i] }
                            }
                        }
                        let outRow = out.baseAddress! + y * rowLength
                        for i in 0..<rowLength { outRow[i] = UInt8(max(0, min(255, sums[i].rounded()))) }
                    }
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

/// For each output position along one axis, the run of source positions it reads and their normalized weights. A
/// triangle filter's nonzero taps are consecutive, so a run is its first position and its weights.
struct ResampleTaps {
    private let firsts: [Int]
    /// Output i's weights are `weights[offsets[i]..<offsets[i + 1]]`.
    private let offsets: [Int]
    private let weights: [Float]

    init(from source: Int, to target: Int) {
        let scale = Double(source) / Double(target)
        let support = max(scale, 1)
        var firsts: [Int] = [], offsets = [0], weights: [Float] = []
        for i in 0..<target {
            let centre = (Double(i) + 0.5) * scale
            let first = max(0, Int((centre - support).rounded(.down)))
            let last = min(source - 1, Int((centre + support).rounded(.up)))
            var run: [(Int, Float)] = []
            var total = 0.0
            for j in first...max(first, last) {
                let weight = max(0, 1 - abs(Double(j) + 0.5 - centre) / support)
                if weight > 0 { run.append((j, Float(weight))); total += weight }
            }
            if run.isEmpty {
                firsts.append(min(source - 1, max(0, Int(centre))))
                weights.append(1)
            } else {
                firsts.append(run[0].0)
                weights += run.map { Float(Double($0.1) / total) }
            }
            offsets.append(weights.count)
        }
        self.firsts = firsts; self.offsets = offsets; self.weights = weights
    }

    /// Calls `body` with output `i`'s first source position and its weights.
    @inline(__always)
    func withTaps<T>(of i: Int, _ body: (Int, UnsafeBufferPointer<Float>) -> T) -> T {
        weights.withUnsafeBufferPointer { all in
            body(firsts[i], UnsafeBufferPointer(rebasing: all[offsets[i]..<offsets[i + 1]]))
        }
    }
}
