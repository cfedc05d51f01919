import ZooTensor

/// Keras's image augmentation layers (RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast,
/// RandomBrightness, RandomCrop), which people put at the start of a model ("augmentation inside the model"). In
/// training each image gets its own random draw, seeded like Dropout so that runs repeat and resume; at inference
/// they pass the image through, as Keras does, except RandomCrop, which then takes the largest centre window of its
/// target's aspect and resizes it to the target. They augment a network's input: no gradient flows through them.
public final class RandomImageLayer: Reseedable {
    public enum Transform: Sendable, Equatable {
        case flip(horizontal: Bool, vertical: Bool)
        /// Fractions of a full turn, counter-clockwise for positive values.
        case rotation(lower: Float, upper: Float)
        /// Zoom factors as Keras gives them: the image is seen at 1 + factor of its size (positive zooms out); a nil
        /// width zooms as the height does.
        case zoom(height: ClosedRange<Float>, width: ClosedRange<Float>?)
        /// Shifts as fractions of the height and width.
        case translation(height: ClosedRange<Float>, width: ClosedRange<Float>)
        /// (x − mean) · factor + mean per image and channel, the factor in the range, clipped to `valueRange`.
        case contrast(ClosedRange<Float>, valueRange: ClosedRange<Float>)
        /// x + factor · (the value range's width), clipped to `valueRange`.
        case brightness(ClosedRange<Float>, valueRange: ClosedRange<Float>)
        case crop(height: Int, width: Int)
    }

    public let name: String
    public let transform: Transform
    public let interpolation: ResizeMethod
    public let fill: TransformFill
    private var draws: TrainingDraws

    public init(_ name: String, _ transform: Transform, interpolation: ResizeMethod = .bilinear, fill: TransformFill = .reflect, seed: UInt64 = 0) {
        self.name = name
        self.transform = transform
        self.interpolation = interpolation
        self.fill = fill
        draws = TrainingDraws(seed: seed)
    }

    public var kind: String {
        switch transform {
        case .flip: "RandomFlip"
        case .rotation: "RandomRotation"
        case .zoom: "RandomZoom"
        case .translation: "RandomTranslation"
        case .contrast: "RandomContrast"
        case .brightness: "RandomBrightness"
        case .crop: "RandomCrop"
        }
    }

    public var weights: [Weight] { [] }
    public var computation: LayerComputation {
        if case .crop = transform { return .opaque }
        return .identity
    }
    public func reseed(_ seed: UInt64, firstSample: Int) { draws.reseed(seed, firstSample: firstSample) }

    public func callAsFunction(_ x: Variable, training: Bool) throws -> Variable {
        guard x.shape.count == 4 else { throw ShapeError(name, "\(kind) takes NHWC images, got \(describe(shape: x.shape))") }
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        guard training else {
            guard case .crop(let height, let width) = transform, (height, width) != (h, w) else { return x }
            return try centreCrop(x, height: height, width: width)
        }
        guard !x.requiresGrad else {
            throw ShapeError(name, "\(kind) augments a network's input; here it reads a value that trains, which Zoo does not differentiate through")
        }
        var generator = draws.forBatch(drawsPerSample: 2)
        defer { draws.generator = generator }
        func draw(_ range: ClosedRange<Float>) -> Float { generator.uniform(range.lowerBound, range.upperBound) }
        let images = x.value
        switch transform {
        case .flip(let horizontal, let vertical):
            var across: [Bool] = [], down: [Bool] = []
            for _ in 0..<n {
                across.append(horizontal && generator.uniform(0, 1) < 0.5)
                down.append(vertical && generator.uniform(0, 1) < 0.5)
            }
            return Variable(try flipImages(images, horizontal: across, vertical: down))
        case .rotation(let lower, let upper):
            let maps = (0..<n).map { _ -> AffineMap in
                let turn = draw(lower...upper); _ = generator.uniform(0, 1)
                return .rotation(2 * Float.pi * turn, height: h, width: w)
            }
            return Variable(try transformImages(images, maps, interpolation: interpolation, fill: fill))
        case .zoom(let height, let width):
            let maps = (0..<n).map { _ -> AffineMap in
                let zy = 1 + draw(height), zx = width.map { 1 + draw($0) } ?? zy
                if width == nil { _ = generator.uniform(0, 1) }
                return .zoom(height: zy, width: zx, imageHeight: h, imageWidth: w)
            }
            return Variable(try transformImages(images, maps, interpolation: interpolation, fill: fill))
        case .translation(let height, let width):
            let maps = (0..<n).map { _ in AffineMap.translation(dy: draw(height) * Float(h), dx: draw(width) * Float(w)) }
            return Variable(try transformImages(images, maps, interpolation: interpolation, fill: fill))
        case .contrast(let factors, let range):
            let factors = (0..<n).map { _ -> Float in defer { _ = generator.uniform(0, 1) }; return draw(factors) }
            return Variable(adjusted(images) { image, channel, values in
                let mean = values.reduce(0, +) / Float(values.count)
                return values.map { min(max(($0 - mean) * factors[image] + mean, range.lowerBound), range.upperBound) }
            })
        case .brightness(let factors, let range):
            let shifts = (0..<n).map { _ -> Float in defer { _ = generator.uniform(0, 1) }; return draw(factors) * (range.upperBound - range.lowerBound) }
            return Variable(adjusted(images) { image, _, values in
                values.map { min(max($0 + shifts[image], range.lowerBound), range.upperBound) }
            })
        case .crop(let height, let width):
            guard h >= height && w >= width else { return try centreCrop(x, height: height, width: width) }
            var crops: [Tensor] = []
            for image in 0..<n {
                let top = Int(generator.uniform(0, Float(h - height + 1)).rounded(.down)), left = Int(generator.uniform(0, Float(w - width + 1)).rounded(.down))
                let cropped = try crop2d(Variable(images.rows(image..<(image + 1))), top: min(top, h - height), bottom: h - height - min(top, h - height),
                                         left: min(left, w - width), right: w - width - min(left, w - width))
                crops.append(cropped.value)
            }
            return Variable(Tensor(stacking: crops))
        }
    }

    /// Each image's channels, one at a time as a list of its values, replaced by what `change` makes of them.
    private func adjusted(_ x: Tensor, _ change: (Int, Int, [Float]) -> [Float]) -> Tensor {
        let (n, positions, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        return x.withUnsafeBufferPointer { source in
            Tensor(uninitializedShape: x.shape) { out in
                for image in 0..<n {
                    for channel in 0..<c {
                        let indices = (0..<positions).map { (image * positions + $0) * c + channel }
                        for (index, value) in zip(indices, change(image, channel, indices.map { source[$0] })) { out[index] = value }
                    }
                }
            }
        }
    }

    /// Keras's RandomCrop at inference: the largest centre window of the target's aspect ratio, resized to it.
    private func centreCrop(_ x: Variable, height: Int, width: Int) throws -> Variable {
        let (h, w) = (x.shape[1], x.shape[2])
        let scale = min(Double(h) / Double(height), Double(w) / Double(width))
        let (windowHeight, windowWidth) = (max(1, Int(Double(height) * scale)), max(1, Int(Double(width) * scale)))
        let top = (h - windowHeight) / 2, left = (w - windowWidth) / 2
        let window = try crop2d(x, top: top, bottom: h - windowHeight - top, left: left, right: w - windowWidth - left)
        return (windowHeight, windowWidth) == (height, width) ? window : try resize2d(window, to: (height, width), method: interpolation)
    }
}
