import Foundation

/// What a geometric transform puts where its source lies outside the image (Keras's `fill_mode`): the image
/// reflected about its edge (d c b a | a b c d | d c b a), repeated, its edge pixel extended, or a constant.
public enum TransformFill: Sendable, Equatable {
    case reflect, wrap, nearest
    case constant(Float)
}

/// A 2-D affine map from output pixel coordinates (x, y) to source coordinates: x' = a·x + b·y + c,
/// y' = d·x + e·y + f, pixel centres at whole numbers (the convention of TensorFlow's projective transforms that
/// Keras's rotation, zoom and translation layers build).
public struct AffineMap: Sendable, Equatable {
    public var a: Float, b: Float, c: Float, d: Float, e: Float, f: Float

    public init(a: Float, b: Float, c: Float, d: Float, e: Float, f: Float) {
        self.a = a; self.b = b; self.c = c; self.d = d; self.e = e; self.f = f
    }

    public static let identity = AffineMap(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)

    /// A rotation by `angle` radians (counter-clockwise as Keras turns a positive factor) about the image's centre.
    public static func rotation(_ angle: Float, height: Int, width: Int) -> AffineMap {
        let (w, h) = (Float(width - 1), Float(height - 1))
        let (cosine, sine) = (cos(angle), sin(angle))
        return AffineMap(a: cosine, b: -sine, c: (w - (cosine * w - sine * h)) / 2,
                         d: sine, e: cosine, f: (h - (sine * w + cosine * h)) / 2)
    }

    /// A zoom about the centre: source = centre + (output − centre) · zoom (a zoom above 1 shows more of the image).
    public static func zoom(height: Float, width: Float, imageHeight: Int, imageWidth: Int) -> AffineMap {
        AffineMap(a: width, b: 0, c: Float(imageWidth - 1) / 2 * (1 - width), d: 0, e: height, f: Float(imageHeight - 1) / 2 * (1 - height))
    }

    /// A shift of the content by (dy, dx) pixels.
    public static func translation(dy: Float, dx: Float) -> AffineMap { AffineMap(a: 1, b: 0, c: -dx, d: 0, e: 1, f: -dy) }
}

/// Resamples each image of an NHWC batch through its own affine map (one per image), bilinearly or from the nearest
/// pixel, filling as `fill` says. The result depends on the input's values only: no gradient flows through it (it
/// augments a network's input).
public func transformImages(_ x: Tensor, _ maps: [AffineMap], interpolation: ResizeMethod, fill: TransformFill) throws -> Tensor {
    guard x.shape.count == 4, maps.count == x.shape[0] else {
        throw ShapeError("transformImages", "takes an NHWC batch and one map per image, got \(describe(shape: x.shape)) and \(maps.count) maps")
    }
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return x.withUnsafeBufferPointer { source in
        Tensor(uninitializedShape: x.shape) { out in
            parallelFor(n) { images in for image in images {
                let map = maps[image], base = image * h * w * c
                /// The source value at integer pixel (row, column) of channel k, or nil where the fill is a constant.
                func value(_ row: Int, _ column: Int, _ k: Int) -> Float {
                    guard let r = fillIndex(row, h, fill), let q = fillIndex(column, w, fill) else {
                        if case .constant(let constant) = fill { return constant }
                        return 0
                    }
                    return source[base + (r * w + q) * c + k]
                }
                for row in 0..<h {
                    for column in 0..<w {
                        let (sx, sy) = (map.a * Float(column) + map.b * Float(row) + map.c, map.d * Float(column) + map.e * Float(row) + map.f)
                        let target = base + (row * w + column) * c
                        switch interpolation {
                        case .nearest:
                            let (r, q) = (Int((sy).rounded()), Int((sx).rounded()))
                            for k in 0..<c { out[target + k] = value(r, q, k) }
                        case .bilinear:
                            let (r0, q0) = (Int(sy.rounded(.down)), Int(sx.rounded(.down)))
                            let (fy, fx) = (sy - Float(r0), sx - Float(q0))
                            for k in 0..<c {
                                let top = value(r0, q0, k) * (1 - fx) + value(r0, q0 + 1, k) * fx
                                let bottom = value(r0 + 1, q0, k) * (1 - fx) + value(r0 + 1, q0 + 1, k) * fx
                                out[target + k] = top * (1 - fy) + bottom * fy
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// The pixel index `index` stands for along an axis of `size` under `fill`; nil where a constant fills.
private func fillIndex(_ index: Int, _ size: Int, _ fill: TransformFill) -> Int? {
    if index >= 0 && index < size { return index }
    switch fill {
    case .constant: return nil
    case .nearest: return min(max(index, 0), size - 1)
    case .wrap: return ((index % size) + size) % size
    case .reflect:
        // Period 2·size: a b c d | d c b a.
        let period = 2 * size, folded = ((index % period) + period) % period
        return folded < size ? folded : period - 1 - folded
    }
}

/// Each image mirrored left to right (`horizontal`) and/or top to bottom (`vertical`), per image.
public func flipImages(_ x: Tensor, horizontal: [Bool], vertical: [Bool]) throws -> Tensor {
    guard x.shape.count == 4, horizontal.count == x.shape[0], vertical.count == x.shape[0] else {
        throw ShapeError("flipImages", "takes an NHWC batch and one choice per image, got \(describe(shape: x.shape))")
    }
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return x.withUnsafeBufferPointer { source in
        Tensor(uninitializedShape: x.shape) { out in
            for image in 0..<n {
                let base = image * h * w * c
                for row in 0..<h {
                    let from = vertical[image] ? h - 1 - row : row
                    for column in 0..<w {
                        let across = horizontal[image] ? w - 1 - column : column
                        for k in 0..<c { out[base + (row * w + column) * c + k] = source[base + (from * w + across) * c + k] }
                    }
                }
            }
        }
    }
}
