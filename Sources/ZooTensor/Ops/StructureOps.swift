/// Element-wise sum of tensors of one shape (residual connections).
public func add(_ a: Variable, _ b: Variable) throws -> Variable {
    guard a.shape == b.shape else { throw ShapeError("add", "shapes differ: \(describe(shape: a.shape)) and \(describe(shape: b.shape))") }
    return Variable.result(a.value + b.value, [a, b]) { dy in [dy, dy] }
}

public func + (lhs: Variable, rhs: Variable) throws -> Variable { try add(lhs, rhs) }

/// ReLU of the sum of tensors of one shape, in one pass over memory (a residual connection and the ReLU after it).
/// Bit for bit what `add` then `relu` give; every input receives the ReLU's gradient, which reads the output.
public func addReLU(_ inputs: [Variable]) throws -> Variable {
    guard let first = inputs.first, inputs.allSatisfy({ $0.shape == first.shape }) else {
        throw ShapeError("addReLU", "needs inputs of one shape, got " + inputs.map { describe(shape: $0.shape) }.joined(separator: ", "))
    }
    let backend = Runtime.backend
    let values = inputs.map(\.value)
    // Sums in the order `add` does, pairwise from the first input.
    let partial = values.count > 2 ? values.dropFirst().dropLast().reduce(values[0], +) : values[0]
    let last = values.count > 1 ? values[values.count - 1] : nil
    let y = produce(first.shape) { out in
        let a = ptr(partial), count = partial.count
        if let last {
            let b = ptr(last)
            parallelFor(count, minimumPerChunk: 1 << 15) { range in for i in range { out[i] = Swift.max(a[i] + b[i], 0) } }
        } else {
            parallelFor(count, minimumPerChunk: 1 << 15) { range in for i in range { out[i] = Swift.max(a[i], 0) } }
        }
    }
    // The pullback holds the count, not the inputs: capturing them would keep every input alive until backward.
    let count = inputs.count
    return Variable.result(y, inputs) { dy in
        let gradient = try backend.activationBackward(.relu, dy, x: y, y: y)
        return Array(repeating: gradient, count: count)
    }
}

/// `x` times a constant (weighting a loss term, such as GoogLeNet's auxiliary losses at 0.3).
public func scaled(_ x: Variable, by factor: Float) -> Variable {
    Variable.result(x.value.scaled(by: factor), [x]) { dy in [dy.scaled(by: factor)] }
}

/// Concatenation along the last (channel) axis; every other dimension must agree.
public func concatenate(_ inputs: [Variable]) throws -> Variable {
    guard let first = inputs.first else { throw ShapeError("concatenate", "needs at least one input") }
    let leading = Array(first.shape.dropLast())
    for input in inputs where Array(input.shape.dropLast()) != leading || input.shape.isEmpty {
        throw ShapeError("concatenate", "inputs differ outside the channel axis: "
            + inputs.map { describe(shape: $0.shape) }.joined(separator: ", "))
    }
    let widths = inputs.map { $0.shape.last! }
    let total = widths.reduce(0, +), positions = leading.reduce(1, *)
    let offsets = widths.reduce(into: [0]) { $0.append($0.last! + $1) }
    // One parallel pass over the output, each position's channels written in order.
    let y = produce(leading + [total]) { out in
        let sources = UncheckedSendable(inputs.indices.map { (ptr(inputs[$0].value), widths[$0], offsets[$0]) })
        parallelFor(positions, minimumPerChunk: 256) { range in
            for p in range { for (source, width, offset) in sources.value {
                (out + p * total + offset).update(from: source + p * width, count: width)
            } }
        }
    }
    // Slices only for the inputs that need a gradient, cut in one parallel pass over the output's gradient.
    let needed = inputs.map(\.requiresGrad)
    return Variable.result(y, inputs) { dy in
        let slices = widths.indices.map { needed[$0] ? Tensor(uninitialized: leading + [widths[$0]]) : nil }
        // Fresh tensors, written here before anything else sees them.
        let targets = UncheckedSendable(slices.indices.compactMap { i in slices[i].map { ($0.storage.pointer, widths[i], offsets[i]) } })
        let source = ptr(dy)
        parallelFor(positions, minimumPerChunk: 256) { range in
            for (out, width, offset) in targets.value {
                for p in range { (out + p * width).update(from: source + p * total + offset, count: width) }
            }
        }
        return slices
    }
}

/// The same values under another shape (−1 infers one dimension).
public func reshape(_ x: Variable, _ shape: [Int]) throws -> Variable {
    let y = try x.value.reshaped(shape)
    let original = x.shape
    return Variable.result(y, [x]) { dy in [try dy.reshaped(original)] }
}

/// [N, ...] → [N, product of the rest].
public func flatten(_ x: Variable) throws -> Variable {
    guard let batch = x.shape.first else { throw ShapeError("flatten", "cannot flatten a scalar") }
    return try reshape(x, [batch, x.shape.dropFirst().reduce(1, *)])
}

/// Zero padding of an NHWC tensor's height and width.
public func zeroPad2d(_ x: Variable, top: Int, bottom: Int, left: Int, right: Int) throws -> Variable {
    guard x.shape.count == 4, min(top, bottom, left, right) >= 0 else {
        throw ShapeError("zeroPad2d", "expects an NHWC input and non-negative padding, got \(describe(shape: x.shape)) "
            + "padded by (\(top), \(bottom), \(left), \(right))")
    }
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (ph, pw) = (h + top + bottom, w + left + right)
    let y = produce([n, ph, pw, c]) { out in
        out.initialize(repeating: 0, count: n * ph * pw * c)
        let source = ptr(x.value)
        for i in 0..<n { for r in 0..<h {
            (out + ((i * ph + r + top) * pw + left) * c).update(from: source + (i * h + r) * w * c, count: w * c)
        } }
    }
    return Variable.result(y, [x]) { dy in
        [produce([n, h, w, c]) { out in
            let source = ptr(dy)
            for i in 0..<n { for r in 0..<h {
                (out + (i * h + r) * w * c).update(from: source + ((i * ph + r + top) * pw + left) * c, count: w * c)
            } }
        }]
    }
}

/// Inverted dropout: in training, zeroes each element with probability `rate` and scales the rest by 1 / (1 − rate);
/// the identity at inference.
public func dropout(_ x: Variable, rate: Float, training: Bool, generator: inout SeededGenerator) throws -> Variable {
    guard rate >= 0, rate < 1 else { throw ShapeError("dropout", "rate must be in [0, 1), got \(rate)") }
    guard training, rate > 0 else { return x }
    let keep = 1 / (1 - rate)
    let mask = Tensor(shape: x.shape) { m in for i in m.indices { m[i] = generator.uniform(0, 1) < rate ? 0 : keep } }
    return try multiplied(x, byConstant: mask)
}

/// The shape `shapes` broadcast to together, as NumPy broadcasts (axes aligned from the last; each size equal or 1),
/// or nil when they do not.
public func broadcastShape(_ shapes: [[Int]]) -> [Int]? {
    let rank = shapes.map(\.count).max() ?? 0
    var result = [Int](repeating: 1, count: rank)
    for shape in shapes {
        for (offset, size) in shape.reversed().enumerated() {
            let axis = rank - 1 - offset
            if size == result[axis] || size == 1 { continue }
            guard result[axis] == 1 else { return nil }
            result[axis] = size
        }
    }
    return result
}

/// `x` repeated along the axes where it has size 1 (or lacks leading axes) to `shape`; its gradient is the sum
/// over what was repeated. Runs in blocks: the trailing axes that repeat nothing are copied whole (a
/// squeeze-and-excitation scale [N, 1, 1, C] to [N, H, W, C] copies C values per position).
public func broadcast(_ x: Variable, to shape: [Int]) throws -> Variable {
    guard broadcastShape([x.shape, shape]) == shape else {
        throw ShapeError("broadcast", "cannot broadcast \(describe(shape: x.shape)) to \(describe(shape: shape))")
    }
    if x.shape == shape { return x }
    let source = [Int](repeating: 1, count: shape.count - x.shape.count) + x.shape
    // The trailing axes the source has in full make one contiguous block; the axes before it are walked.
    var split = shape.count
    while split > 0 && source[split - 1] == shape[split - 1] { split -= 1 }
    let block = shape[split...].reduce(1, *)
    // Row-major strides of the source over the walked axes, in blocks, zero along the repeated ones.
    var strides = [Int](repeating: 0, count: split), step = 1
    for axis in stride(from: split - 1, through: 0, by: -1) {
        strides[axis] = source[axis] == 1 ? 0 : step
        step *= source[axis]
    }
    let blocks = shape[..<split].reduce(1, *), walked = Array(shape[..<split])
    /// For each output block, the source block it repeats.
    func sourceBlock(_ index: Int) -> Int {
        var rest = index, offset = 0
        for axis in stride(from: split - 1, through: 0, by: -1) {
            offset += (rest % walked[axis]) * strides[axis]
            rest /= walked[axis]
        }
        return offset
    }
    let y = produce(shape) { out in
        let values = ptr(x.value)
        parallelFor(blocks, minimumPerChunk: max(1, (1 << 14) / max(1, block))) { range in
            for b in range { (out + b * block).update(from: values + sourceBlock(b) * block, count: block) }
        }
    }
    let inputShape = x.shape, inputCount = x.value.count
    return Variable.result(y, [x]) { dy in
        [produce(inputShape) { out in
            out.update(repeating: 0, count: inputCount)
            let gradient = ptr(dy)
            for b in 0..<blocks {
                let target = out + sourceBlock(b) * block, from = gradient + b * block
                for i in 0..<block { target[i] += from[i] }
            }
        }]
    }
}
