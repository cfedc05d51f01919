import Foundation
import Testing
import ZooCore
import ZooImaging
import ZooTensor
import ZooTransfer

/// A gray image whose pixels count up from `start`.
func ramp(width: Int, height: Int, channels: Int = 1, start: Int = 0) -> Image {
    Image(width: width, height: height, channels: channels, pixels: (0..<(width * height * channels)).map { UInt8((start + $0) % 256) })
}

func smallDataset(count: Int = 23, classes: Int = 3) throws -> Dataset {
    try Dataset(name: "ramps", classNames: (0..<classes).map(String.init),
                samples: (0..<count).map { Sample(.image(ramp(width: 6, height: 5, start: $0 * 11)), label: $0 % classes) })
}

let unitPreparation = ImagePreparation(height: 4, width: 4, channels: 1, cropFraction: 1, preprocessing: .unit)

@Suite struct LoaderTests {
    func drain(_ loader: BatchLoader) throws -> [Batch] {
        var batches: [Batch] = []
        while let batch = try loader.next() { batches.append(batch) }
        return batches
    }

    @Test func preparesLikeImagePreparationInOrder() throws {
        let data = try smallDataset()
        let batches = try drain(BatchLoader(data, preparation: unitPreparation, batchSize: 5, shuffle: false))
        #expect(batches.count == 5 && batches.map(\.images.shape[0]) == [5, 5, 5, 5, 3])
        #expect(batches.flatMap(\.indices) == Array(0..<23))
        for batch in batches {
            let images = try batch.indices.map { try data.samples[$0].image() }
            #expect(batch.images == unitPreparation.batch(images))
            #expect(batch.labels.scalars == batch.indices.map { Float($0 % 3) })
        }
    }

    @Test func shuffledEpochsAreReproducibleAndResumable() throws {
        let data = try smallDataset()
        let augmentation = Augmentation(padding: 1, horizontalFlip: true)
        func run(epoch: Int, from: Int = 0, seed: UInt64 = 9) throws -> [Batch] {
            try drain(BatchLoader(data, preparation: unitPreparation, batchSize: 4, shuffle: true, seed: seed, epoch: epoch,
                                  augmentation: augmentation, startingAt: from))
        }
        let first = try run(epoch: 0)
        #expect(first.flatMap(\.indices).sorted() == Array(0..<23), "every sample once per epoch")
        #expect(first.flatMap(\.indices) != Array(0..<23))
        let again = try run(epoch: 0)
        #expect(zip(first, again).allSatisfy { $0.images == $1.images && $0.indices == $1.indices })
        let resumed = try run(epoch: 0, from: 3)
        #expect(resumed.map(\.number) == Array(3..<6))
        #expect(zip(first.dropFirst(3), resumed).allSatisfy { $0.images == $1.images && $0.indices == $1.indices && $0.labels == $1.labels })
        #expect(try run(epoch: 1).flatMap(\.indices) != first.flatMap(\.indices))
        #expect(try run(epoch: 0, seed: 10).flatMap(\.indices) != first.flatMap(\.indices))
    }

    @Test func skipsOrStopsAtUnreadableImages() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["a", "b"] { try FileManager.default.createDirectory(at: folder.appendingPathComponent(name), withIntermediateDirectories: true) }
        let png = try ImageCodec.encodePNG(ramp(width: 8, height: 8))
        for file in ["a/1.png", "a/2.png", "b/1.png"] { try png.write(to: folder.appendingPathComponent(file)) }
        try Data("not a picture".utf8).write(to: folder.appendingPathComponent("b/broken.png"))
        let data = try ImageFolder.dataset(folder)

        let loader = BatchLoader(data, preparation: unitPreparation, batchSize: 3, shuffle: false)
        let batches = try drain(loader)
        #expect(batches.map(\.indices) == [[0, 1, 2], []], "the broken image is left out of the second batch")
        #expect(loader.skipped.count == 1 && loader.skipped[0].sample.hasSuffix("b/broken.png"))

        let strict = BatchLoader(data, preparation: unitPreparation, batchSize: 3, shuffle: false, strict: true)
        #expect(try strict.next()?.indices == [0, 1, 2])
        expectError("b/broken.png") { _ = try strict.next() }
    }

    @Test func droppingALoaderEarlyStopsItsThread() throws {
        let data = try smallDataset(count: 200)
        for _ in 0..<20 {
            let loader = BatchLoader(data, preparation: unitPreparation, batchSize: 2, shuffle: true, prefetch: 2)
            _ = try loader.next()
        }  // each loader's deinit waits for its thread; a leak or deadlock would hang here
    }
}

@Suite struct AugmentationTests {
    @Test func paddedCropsShiftInZeros() throws {
        let image = ramp(width: 5, height: 4, channels: 3, start: 1)
        var generator = SeededGenerator(seed: 3)
        var seen = Set<[UInt8]>()
        for _ in 0..<200 {
            let out = Augmentation(padding: 2).apply(image, using: &generator)
            seen.insert(out.pixels)
            // Every result is a 5×4 window of the image padded by 2 zeros on each side.
            let windows = (0...4).flatMap { dy in (0...4).map { dx in window(image, padding: 2, x: dx, y: dy) } }
            #expect(windows.contains(out.pixels))
        }
        #expect(seen.count == 25, "all 25 offsets occur")
    }

    /// The padded image's window, built the long way as the oracle.
    func window(_ image: Image, padding p: Int, x: Int, y: Int) -> [UInt8] {
        let w = image.width + 2 * p, h = image.height + 2 * p, c = image.channels
        var padded = [UInt8](repeating: 0, count: w * h * c)
        for yy in 0..<image.height { for xx in 0..<image.width { for k in 0..<c { padded[((yy + p) * w + xx + p) * c + k] = image[yy, xx, k] } } }
        return Image(width: w, height: h, channels: c, pixels: padded).cropped(x: x, y: y, width: image.width, height: image.height).pixels
    }

    @Test func flipsAboutHalfTheTime() throws {
        let image = ramp(width: 7, height: 3)
        var generator = SeededGenerator(seed: 1)
        let flips = (0..<1000).filter { _ in Augmentation(horizontalFlip: true).apply(image, using: &generator) != image }.count
        #expect(flips > 430 && flips < 570)
    }

    @Test func colorJitterMovesEachChannelAlongThePrincipalComponents() throws {
        let image = Image(width: 2, height: 1, channels: 3, pixels: [100, 120, 140, 10, 250, 128])
        var generator = SeededGenerator(seed: 5)
        let out = Augmentation(colorJitter: 0.1).apply(image, using: &generator)
        let shift = (0..<3).map { Int(out.pixels[$0]) - Int(image.pixels[$0]) }
        #expect(shift != [0, 0, 0])
        #expect(Int(out.pixels[3]) - 10 == shift[0] && Int(out.pixels[5]) - 128 == shift[2], "the same shift at every pixel")
        #expect(shift.allSatisfy { abs($0) <= 20 }, "σ 0.1 moves by a few levels: \(shift)")
        #expect(Augmentation(colorJitter: 0.1).apply(ramp(width: 3, height: 3), using: &generator) == ramp(width: 3, height: 3), "gray is left alone")
    }

    @Test func tenCropsAreCornersCentreAndMirrors() throws {
        let image = ramp(width: 6, height: 5)
        let crops = TenCrop.crops(image, width: 4, height: 3)
        #expect(crops.count == 10)
        #expect(crops[0] == image.cropped(x: 0, y: 0, width: 4, height: 3) && crops[3] == image.cropped(x: 2, y: 2, width: 4, height: 3))
        #expect(crops[4] == image.centerCropped(width: 4, height: 3))
        #expect((0..<5).allSatisfy { crops[$0 + 5] == crops[$0].flippedHorizontally() })
    }
}
