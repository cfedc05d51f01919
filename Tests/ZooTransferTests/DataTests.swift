import Foundation
import Testing
import ZooImaging
import ZooTransfer

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// An IDX file of unsigned bytes, as MNIST's are laid out.
func idx(_ dimensions: [Int], _ values: [UInt8], magic: [UInt8] = [0, 0, 8]) -> Data {
    var data = Data(magic + [UInt8(dimensions.count)])
    for d in dimensions { data.append(contentsOf: [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)]) }
    return data + Data(values)
}

func gzip(_ url: URL) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-f", url.path]
    try process.run()
    process.waitUntilExit()
}

func expectError(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error mentioning '\(fragment)'", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(fragment), "\(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct FashionMNISTTests {
    // Facts of the published data set: 6,000 training and 1,000 test images per class, 28×28, and the first
    // labels of each split (Ankle boot; the test split begins 9, 2, 1, 1, 6).
    @Test func readsTheInstalledDataSet() throws {
        let train = try IDXFiles.dataset(folder: IDXFiles.fashionMNISTFolder, split: .train, classNames: IDXFiles.fashionMNISTClassNames)
        let test = try IDXFiles.dataset(folder: IDXFiles.fashionMNISTFolder, split: .test, classNames: IDXFiles.fashionMNISTClassNames)
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.classCounts == [Int](repeating: 6_000, count: 10) && test.classCounts == [Int](repeating: 1_000, count: 10))
        #expect(train.samples[0].label == 9)
        #expect(test.samples.prefix(5).map(\.label) == [9, 2, 1, 1, 6])
        let first = try test.samples[0].image()
        #expect(first.width == 28 && first.height == 28 && first.channels == 1)
        // The same image as examples/images/9-ankle-boot-1.png, which Keras's tooling wrote from this file.
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        #expect(try ImageCodec.decode(contentsOf: examples.appendingPathComponent("examples/images/9-ankle-boot-1.png")) == first)
    }
}

@Suite struct IDXTests {
    @Test func readsPlainAndGzippedFiles() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pixels = (0..<(3 * 2 * 4)).map { UInt8($0 * 7 % 256) }
        try idx([3, 2, 4], pixels).write(to: folder.appendingPathComponent("train-images-idx3-ubyte"))
        try idx([3], [2, 0, 1]).write(to: folder.appendingPathComponent("train-labels-idx1-ubyte"))
        try gzip(folder.appendingPathComponent("train-labels-idx1-ubyte"))
        let data = try IDXFiles.dataset(folder: folder, split: .train, classNames: ["a", "b", "c"])
        #expect(data.samples.map(\.label) == [2, 0, 1])
        let second = try data.samples[1].image()
        #expect(second.width == 4 && second.height == 2 && second.pixels == Array(pixels[8..<16]))
    }

    @Test func refusesDamagedFiles() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.appendingPathComponent("images"), labels = folder.appendingPathComponent("labels")
        try idx([2], [0, 1]).write(to: labels)

        try idx([2, 2, 2], [UInt8](repeating: 0, count: 8), magic: [8, 3, 0]).write(to: images)
        expectError("should start with two zero bytes") { _ = try IDXFiles.dataset(images: images, labels: labels, classNames: ["a", "b"], name: "t") }
        try idx([2, 2, 2], [UInt8](repeating: 0, count: 8), magic: [0, 0, 0x0D]).write(to: images)
        expectError("Zoo reads unsigned bytes") { _ = try IDXFiles.read(images) }
        try idx([2, 2, 2], [UInt8](repeating: 0, count: 7)).write(to: images)
        expectError("the header says 2×2×2 = 8 values, the file holds 7") { _ = try IDXFiles.read(images) }
        try idx([3, 2, 2], [UInt8](repeating: 0, count: 12)).write(to: images)
        expectError("holds 2 labels for the 3 images") { _ = try IDXFiles.dataset(images: images, labels: labels, classNames: ["a", "b"], name: "t") }
        try idx([2, 2, 2], [UInt8](repeating: 0, count: 8)).write(to: images)
        try idx([2], [0, 5]).write(to: labels)
        expectError("label 5 of image 1 is outside the 2 classes") { _ = try IDXFiles.dataset(images: images, labels: labels, classNames: ["a", "b"], name: "t") }

        // A gzip file cut short.
        try idx([400], [UInt8](repeating: 1, count: 400)).write(to: labels)
        try gzip(labels)
        let zipped = folder.appendingPathComponent("labels.gz")
        let whole = try Data(contentsOf: zipped)
        try whole.prefix(whole.count / 2).write(to: zipped)
        expectError(zipped.path) { _ = try IDXFiles.read(zipped) }
        expectError("has no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz") { _ = try IDXFiles.dataset(folder: folder, split: .test, classNames: ["a"]) }
    }
}

@Suite struct CIFARTests {
    /// A record: label byte(s), then the red, green and blue planes of a 32×32 image.
    func record(labels: [UInt8], seed: UInt8) -> [UInt8] {
        labels + (0..<3072).map { UInt8(truncatingIfNeeded: Int(seed) &+ $0 * 3) }
    }

    @Test func readsCIFAR10AndCIFAR100() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(record(labels: [3], seed: 0) + record(labels: [7], seed: 9)).write(to: folder.appendingPathComponent("test_batch.bin"))
        try Data(record(labels: [1], seed: 5)).write(to: folder.appendingPathComponent("data_batch_1.bin"))
        try "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n".write(to: folder.appendingPathComponent("batches.meta.txt"), atomically: true, encoding: .utf8)
        let test = try CIFARFiles.dataset(folder: folder, split: .test)
        #expect(test.samples.map(\.label) == [3, 7] && test.classNames[3] == "cat")
        let image = try test.samples[1].image()
        // Pixel (row 2, column 5) of the planar record: plane offset 2 * 32 + 5 = 69 in each of the three planes.
        let p = 69
        #expect(image.channels == 3 && image[2, 5, 0] == UInt8(truncatingIfNeeded: 9 + p * 3))
        #expect(image[2, 5, 1] == UInt8(truncatingIfNeeded: 9 + (1024 + p) * 3))
        #expect(image[2, 5, 2] == UInt8(truncatingIfNeeded: 9 + (2048 + p) * 3))
        #expect(try CIFARFiles.dataset(folder: folder, split: .train).samples.map(\.label) == [1])

        let hundred = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: hundred) }
        try Data(record(labels: [4, 72], seed: 1)).write(to: hundred.appendingPathComponent("test.bin"))
        let fine = try CIFARFiles.dataset(folder: hundred, split: .test)
        #expect(fine.samples.map(\.label) == [72] && fine.classNames.count == 100)
    }

    @Test func refusesDamagedBatches() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let batch = folder.appendingPathComponent("test_batch.bin")
        try Data(record(labels: [3], seed: 0).dropLast()).write(to: batch)
        expectError("3072 bytes is not a whole number of 3073-byte records") { _ = try CIFARFiles.dataset(folder: folder, split: .test) }
        try Data(record(labels: [12], seed: 0)).write(to: batch)
        expectError("record 0 has label 12, outside the 10 classes") { _ = try CIFARFiles.dataset(folder: folder, split: .test) }
        expectError("is not a CIFAR binary folder") { _ = try CIFARFiles.dataset(folder: folder.appendingPathComponent("nothing"), split: .test) }
    }
}

@Suite struct ImageFolderTests {
    @Test func listsClassesAndImages() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = try ImageCodec.encodePNG(Image(width: 2, height: 2, channels: 1, pixels: [0, 1, 2, 3]))
        for (name, files) in [("dogs", ["b.PNG", "a.png", "notes.txt"]), ("cats", ["x.jpg", ".hidden.png"])] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(name), withIntermediateDirectories: true)
            for file in files { try png.write(to: folder.appendingPathComponent("\(name)/\(file)")) }
        }
        let data = try ImageFolder.dataset(folder)
        #expect(data.classNames == ["cats", "dogs"])
        #expect(data.samples.map { $0.describe(index: 0).split(separator: "/").suffix(2).joined(separator: "/") } == ["cats/x.jpg", "dogs/a.png", "dogs/b.PNG"])
        #expect(data.samples.map(\.label) == [0, 1, 1])

        try FileManager.default.createDirectory(at: folder.appendingPathComponent("empty"), withIntermediateDirectories: true)
        expectError("class 'empty' has no JPEG or PNG images") { _ = try ImageFolder.dataset(folder) }
        expectError("has no class subfolders") { _ = try ImageFolder.dataset(folder.appendingPathComponent("cats")) }
        expectError("cannot be listed") { _ = try ImageFolder.dataset(folder.appendingPathComponent("missing")) }
    }
}

@Suite struct DatasetTests {
    func numbered(_ perClass: [Int]) throws -> Dataset {
        var samples: [Sample] = []
        for (label, n) in perClass.enumerated() {
            for i in 0..<n { samples.append(Sample(.image(Image(width: 1, height: 1, channels: 1, pixels: [UInt8(i % 256)])), label: label)) }
        }
        return try Dataset(name: "numbers", classNames: perClass.indices.map(String.init), samples: samples)
    }

    @Test func selectsCapsAndSplitsByClass() throws {
        let data = try numbered([30, 40, 50, 60])
        let selected = try data.selecting(classes: [3, 1])
        #expect(selected.classNames == ["3", "1"] && selected.classCounts == [60, 40])

        let capped = data.capped(perClass: 35, seed: 7)
        #expect(capped.classCounts == [30, 35, 35, 35])
        #expect(data.capped(perClass: 35, seed: 7).samples.map { $0.label * 1000 + Int(try! $0.image().pixels[0]) }
                == capped.samples.map { $0.label * 1000 + Int(try! $0.image().pixels[0]) }, "the same seed picks the same samples")
        #expect(data.capped(perClass: 35, seed: 8).samples.map { try! $0.image().pixels[0] } != capped.samples.map { try! $0.image().pixels[0] })

        let (training, validation) = data.split(validationFraction: 0.2, seed: 1)
        #expect(validation.classCounts == [6, 8, 10, 12] && training.classCounts == [24, 32, 40, 48])
        let key = { (s: Sample) in s.label * 1000 + Int(try! s.image().pixels[0]) }
        #expect(Set(training.samples.map(key)).isDisjoint(with: validation.samples.map(key)))
        #expect(Set(training.samples.map(key)).union(validation.samples.map(key)) == Set(data.samples.map(key)))

        expectError("class 4 does not exist") { _ = try data.selecting(classes: [4]) }
        expectError("has label 2, outside the 2 classes") {
            _ = try Dataset(name: "x", classNames: ["a", "b"], samples: [Sample(.image(Image(width: 1, height: 1, channels: 1, pixels: [0])), label: 2)])
        }
    }

    @Test func parsesClassLists() throws {
        #expect(try ClassSelection.parse("5-9", classCount: 10) == [5, 6, 7, 8, 9])
        #expect(try ClassSelection.parse("0,2, 4", classCount: 10) == [0, 2, 4])
        #expect(try ClassSelection.parse("1-3,7", classCount: 10) == [1, 2, 3, 7])
        expectError("class 10 does not exist") { _ = try ClassSelection.parse("8-10", classCount: 10) }
        expectError("cannot read '9-5'") { _ = try ClassSelection.parse("9-5", classCount: 10) }
        expectError("names a class twice") { _ = try ClassSelection.parse("1-3,2", classCount: 10) }
        expectError("cannot read 'x'") { _ = try ClassSelection.parse("x", classCount: 10) }
    }
}
