import Testing
import ZooNN
import ZooTensor

/// Keras's augmentation layers, by their properties: the identity at inference, a flip an exact mirror, a zero or a
/// half-turn rotation what it should be, values kept in range, draws that repeat from a seed and differ per image.
@Suite struct RandomImageLayerTests {
    /// Images whose every pixel differs: 4 images of 6×7 with 3 channels, values in 0…1.
    static let images: Tensor = {
        var generator = SeededGenerator(seed: 11)
        return Tensor.uniform([4, 6, 7, 3], low: 0, high: 1, using: &generator)
    }()

    static func pixel(_ t: Tensor, _ n: Int, _ y: Int, _ x: Int, _ c: Int) -> Float {
        t[flat: ((n * t.shape[1] + y) * t.shape[2] + x) * t.shape[3] + c]
    }

    @Test func everyLayerButCropIsTheIdentityAtInference() throws {
        let transforms: [RandomImageLayer.Transform] = [
            .flip(horizontal: true, vertical: true), .rotation(lower: -0.3, upper: 0.3), .zoom(height: -0.2...0.2, width: nil),
            .translation(height: -0.2...0.2, width: -0.1...0.1), .contrast(0.5...1.5, valueRange: 0...1), .brightness(-0.2...0.2, valueRange: 0...1),
            .crop(height: 6, width: 7),
        ]
        for transform in transforms {
            let layer = RandomImageLayer("augment", transform)
            #expect(try layer(Variable(Self.images), training: false).value == Self.images, "\(transform)")
        }
    }

    @Test func aFlipIsAnExactMirrorOrNothingPerImage() throws {
        let layer = RandomImageLayer("flip", .flip(horizontal: true, vertical: false), seed: 5)
        var mirrored = 0
        for step in 0..<4 {
            layer.reseed(UInt64(step))
            let y = try layer(Variable(Self.images), training: true).value
            for n in 0..<4 {
                let (height, width) = (Self.images.shape[1], Self.images.shape[2])
                var same = true, mirror = true
                for row in 0..<height {
                    for column in 0..<width {
                        for c in 0..<3 {
                            let value = Self.pixel(y, n, row, column, c)
                            same = same && value == Self.pixel(Self.images, n, row, column, c)
                            mirror = mirror && value == Self.pixel(Self.images, n, row, width - 1 - column, c)
                        }
                    }
                }
                #expect(same != mirror, "image \(n), step \(step): neither itself nor its mirror")
                if mirror { mirrored += 1 }
            }
        }
        #expect(mirrored > 0 && mirrored < 16, "\(mirrored) of 16 images mirrored")
    }

    @Test func aZeroTransformIsTheIdentityAndAHalfTurnTurnsTheImage() throws {
        for transform: RandomImageLayer.Transform in [.rotation(lower: 0, upper: 0), .zoom(height: 0...0, width: 0...0),
                                                      .translation(height: 0...0, width: 0...0)] {
            let y = try RandomImageLayer("still", transform)(Variable(Self.images), training: true).value
            #expect(y.maxAbsoluteDifference(Self.images) <= 1e-6, "\(transform): \(y.maxAbsoluteDifference(Self.images))")
        }
        let turned = try RandomImageLayer("half", .rotation(lower: 0.5, upper: 0.5))(Variable(Self.images), training: true).value
        let (height, width) = (Self.images.shape[1], Self.images.shape[2])
        var largest: Float = 0
        for n in 0..<4 {
            for row in 0..<height {
                for column in 0..<width {
                    for c in 0..<3 {
                        largest = max(largest, abs(Self.pixel(turned, n, row, column, c) - Self.pixel(Self.images, n, height - 1 - row, width - 1 - column, c)))
                    }
                }
            }
        }
        #expect(largest <= 1e-5, "a half turn is off by \(largest)")
    }

    @Test func geometricDrawsStayInRangeAndDifferPerImage() throws {
        for transform: RandomImageLayer.Transform in [.rotation(lower: -0.25, upper: 0.25), .zoom(height: -0.5...0.5, width: -0.3...0.3),
                                                      .translation(height: -0.4...0.4, width: -0.4...0.4)] {
            for fill: TransformFill in [.reflect, .wrap, .nearest, .constant(0)] {
                let layer = RandomImageLayer("geometry", transform, fill: fill, seed: 9)
                let y = try layer(Variable(Self.images), training: true).value
                #expect(y.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(transform) \(fill): values left 0…1")
                let first = y.rows(0..<1), second = y.rows(1..<2)
                let moved = zip([first, second], [Self.images.rows(0..<1), Self.images.rows(1..<2)]).map { $0.maxAbsoluteDifference($1) }
                #expect(moved.allSatisfy { $0 > 0 }, "\(transform) \(fill): an image was left as it was")
                // The same seed draws the same transforms.
                let again = RandomImageLayer("geometry", transform, fill: fill, seed: 9)
                #expect(try again(Variable(Self.images), training: true).value == y)
            }
        }
    }

    @Test func contrastAndBrightnessStayInTheirValueRange() throws {
        for transform: RandomImageLayer.Transform in [.contrast(0.2...3, valueRange: 0...1), .brightness(-0.6...0.6, valueRange: 0...1)] {
            let y = try RandomImageLayer("colour", transform, seed: 2)(Variable(Self.images), training: true).value
            #expect(y.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(transform)")
            #expect(y != Self.images, "\(transform)")
        }
        // A contrast factor of exactly 1 keeps each image.
        let kept = try RandomImageLayer("colour", .contrast(1...1, valueRange: 0...1))(Variable(Self.images), training: true).value
        #expect(kept.maxAbsoluteDifference(Self.images) <= 1e-6)
    }

    @Test func aCropCutsTheTargetSizeInTrainingAndTheCentreAtInference() throws {
        let layer = RandomImageLayer("crop", .crop(height: 4, width: 5), seed: 1)
        let trained = try layer(Variable(Self.images), training: true).value
        #expect(trained.shape == [4, 4, 5, 3])
        // Each crop is a window of its image.
        for n in 0..<4 {
            let found = (0...2).contains { top in (0...2).contains { left in
                (0..<4).allSatisfy { row in (0..<5).allSatisfy { column in (0..<3).allSatisfy { c in
                    Self.pixel(trained, n, row, column, c) == Self.pixel(Self.images, n, top + row, left + column, c)
                } } }
            } }
            #expect(found, "image \(n) is no window of its input")
        }
        // At inference: the centre window of the target's aspect (6×7.5 does not fit, so 5.6×7 → 5×7), resized.
        let centre = try layer(Variable(Self.images), training: false).value
        let window = try crop2d(Variable(Self.images), top: 0, bottom: 1, left: 0, right: 0)
        let expected = try resize2d(window, to: (4, 5), method: .bilinear).value
        #expect(centre.shape == [4, 4, 5, 3] && centre.maxAbsoluteDifference(expected) <= 1e-6)
    }
}
