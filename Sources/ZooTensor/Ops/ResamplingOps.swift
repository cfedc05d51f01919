/// Cropping of an NHWC tensor's height and width (Keras Cropping2D); the gradient pads the cropped border with
/// zeros.
public func crop2d(_ x: Variable, top: Int, bottom: Int, left: Int, right: Int) throws -> Variable {
    guard x.shape.count == 4, min(top, bottom, left, right) >= 0, top + bottom < x.shape[1], left + right < x.shape[2] else {
        throw ShapeError("crop2d", "cannot crop (\(top), \(bottom), \(left), \(right)) from \(describe(shape: x.shape)): "
            + "it needs an NHWC input larger than the cropping")
    }
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (ch, cw) = (h - top - bottom, w - left - right)
    let y = produce([n, ch, cw, c]) { out in
        let source = ptr(x.value)
        for i in 0..<n { for r in 0..<ch {
            (out + (i * ch + r) * cw * c).update(from: source + ((i * h + r + top) * w + left) * c, count: cw * c)
        } }
    }
    return Variable.result(y, [x]) { dy in
        [produce([n, h, w, c]) { out in
            out.initialize(repeating: 0, count: n * h * w * c)
            let source = ptr(dy)
            for i in 0..<n { for r in 0..<ch {
                (out + ((i * h + r + top) * w + left) * c).update(from: source + (i * ch + r) * cw * c, count: cw * c)
            } }
        }]
    }
}

/// How `resize2d` samples: TensorFlow's `tf.image.resize` rules with half-pixel centres, which Keras's
/// UpSampling2D and Resizing use.
public enum ResizeMethod: String, Sendable {
    case nearest, bilinear
}

/// An NHWC tensor resized to `size` (height, width). Nearest takes the pixel under each output pixel's centre;
/// bilinear blends the two nearest rows and columns, clamped at the border. The gradient spreads each output
/// gradient back over the pixels it was made from.
public func resize2d(_ x: Variable, to size: (Int, Int), method: ResizeMethod) throws -> Variable {
    guard x.shape.count == 4, size.0 > 0, size.1 > 0 else {
        throw ShapeError("resize2d", "resizes an NHWC input to a positive size, got \(describe(shape: x.shape)) to \(size.0)×\(size.1)")
    }
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let rows = samples(output: size.0, input: h, method), columns = samples(output: size.1, input: w, method)
    // Each output pixel as four (input pixel, weight) terms; nearest uses one with weight 1.
    func forEachTerm(_ body: (_ outputPixel: Int, _ inputPixel: Int, _ weight: Float) -> Void) {
        for r in 0..<size.0 { for q in 0..<size.1 {
            let (row, column) = (rows[r], columns[q]), out = r * size.1 + q
            body(out, row.lower * w + column.lower, (1 - row.lerp) * (1 - column.lerp))
            if column.lerp != 0 { body(out, row.lower * w + column.upper, (1 - row.lerp) * column.lerp) }
            if row.lerp != 0 {
                body(out, row.upper * w + column.lower, row.lerp * (1 - column.lerp))
                if column.lerp != 0 { body(out, row.upper * w + column.upper, row.lerp * column.lerp) }
            }
        } }
    }
    let (inputPixels, outputPixels) = (h * w, size.0 * size.1)
    let y = produce([n, size.0, size.1, c]) { out in
        out.initialize(repeating: 0, count: n * outputPixels * c)
        let source = ptr(x.value)
        for i in 0..<n {
            let image = source + i * inputPixels * c, target = out + i * outputPixels * c
            forEachTerm { o, p, weight in for k in 0..<c { target[o * c + k] += weight * image[p * c + k] } }
        }
    }
    return Variable.result(y, [x]) { dy in
        [produce([n, h, w, c]) { out in
            out.initialize(repeating: 0, count: n * inputPixels * c)
            let gradient = ptr(dy)
            for i in 0..<n {
                let source = gradient + i * outputPixels * c, target = out + i * inputPixels * c
                forEachTerm { o, p, weight in for k in 0..<c { target[p * c + k] += weight * source[o * c + k] } }
            }
        }]
    }
}

/// Where each output row (or column) samples the input: TensorFlow's half-pixel rules.
private func samples(output: Int, input: Int, _ method: ResizeMethod) -> [(lower: Int, upper: Int, lerp: Float)] {
    let scale = Float(input) / Float(output)
    return (0..<output).map { i in
        switch method {
        case .nearest:
            let source = min(Int(((Float(i) + 0.5) * scale).rounded(.down)), input - 1)
            return (source, source, 0)
        case .bilinear:
            let position = (Float(i) + 0.5) * scale - 0.5, floor = position.rounded(.down)
            let lower = max(Int(floor), 0), upper = min(Int(position.rounded(.up)), input - 1)
            return (lower, upper, lower == upper ? 0 : position - floor)
        }
    }
}

/// A tensor with its axes reordered: axis i of the result is axis `axes[i]` of `t` (a transpose of any rank).
public func transposed(_ t: Tensor, _ axes: [Int]) throws -> Tensor {
    let rank = t.shape.count
    guard axes.count == rank, Set(axes) == Set(0..<rank) else {
        throw ShapeError("transposed", "axes \(axes) are not a permutation of the axes of \(describe(shape: t.shape))")
    }
    let shape = axes.map { t.shape[$0] }
    var strides = [Int](repeating: 1, count: rank)
    for a in stride(from: rank - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * t.shape[a + 1] }
    let sourceStrides = axes.map { strides[$0] }
    return produce(shape) { out in
        let source = ptr(t)
        var index = [Int](repeating: 0, count: rank)
        for j in 0..<t.count {
            var offset = 0
            for a in 0..<rank { offset += index[a] * sourceStrides[a] }
            out[j] = source[offset]
            var a = rank - 1
            while a >= 0 {
                index[a] += 1
                if index[a] < shape[a] { break }
                index[a] = 0
                a -= 1
            }
        }
    }
}

/// The axes after the batch axis reordered (Keras Permute: `order` lists them 1-based, as Keras does).
public func permute(_ x: Variable, _ order: [Int]) throws -> Variable {
    let rank = x.shape.count
    guard order.count == rank - 1, Set(order) == Set(1..<rank) else {
        throw ShapeError("permute", "order \(order) is not a permutation of the axes 1…\(rank - 1) of \(describe(shape: x.shape))")
    }
    let axes = [0] + order
    var inverse = [Int](repeating: 0, count: rank)
    for (position, axis) in axes.enumerated() { inverse[axis] = position }
    return Variable.result(try transposed(x.value, axes), [x]) { dy in [try transposed(dy, inverse)] }
}
