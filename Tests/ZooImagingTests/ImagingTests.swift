import Foundation
import Testing
import ZooCore
import ZooModels
import ZooImaging

/// Images TensorFlow encoded, and what TensorFlow decodes and resizes them to (tools/keras/make_image_fixtures.py).
struct ImageFixtures {
    struct Pixels: Decodable { let shape: [Int]; let data: [Int] }
    struct Resize: Decodable { let height: Int; let width: Int; let pixels: Pixels }
    let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    let json: [String: Any]

    init() throws {
        json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("images.json"))) as! [String: Any]
    }

    func pixels(_ key: String) throws -> Pixels {
        try JSONDecoder().decode(Pixels.self, from: JSONSerialization.data(withJSONObject: json[key]!))
    }

    func resizes() throws -> [Resize] {
        try JSONDecoder().decode([Resize].self, from: JSONSerialization.data(withJSONObject: json["upscaled"]!))
    }

    func image(_ key: String) throws -> Image {
        let p = try pixels(key)
        return Image(width: p.shape[1], height: p.shape[0], channels: p.shape[2], pixels: p.data.map(UInt8.init))
    }
}

func maxDifference(_ a: [UInt8], _ b: [Int]) -> Int {
    zip(a, b).map { abs(Int($0) - $1) }.max() ?? 0
}

@Suite struct DecodingTests {
    @Test(arguments: ["rgb.png", "gray.png", "rgb.jpg", "gray.jpg", "rgba.png"])
    func decodesLikeTensorFlow(_ file: String) throws {
        let fixtures = try ImageFixtures()
        let image = try ImageCodec.decode(contentsOf: fixtures.folder.appendingPathComponent(file))
        let expected = try fixtures.pixels(file)
        #expect([image.height, image.width, image.channels] == expected.shape)
        // PNG is lossless (alpha dropped); JPEG decoders may differ by their IDCT's rounding.
        let tolerance = file.hasSuffix(".jpg") ? 3 : 0
        #expect(maxDifference(image.pixels, expected.data) <= tolerance)
    }

    @Test func encodesWhatItDecodes() throws {
        let source = try ImageFixtures().image("source")
        #expect(try ImageCodec.decode(ImageCodec.encodePNG(source)) == source)
        // JPEG is lossy and subsamples chroma: compare on gray noise and on a smooth colour gradient.
        var smooth: [UInt8] = []
        for y in 0..<30 { for x in 0..<40 { smooth += [UInt8(x * 6), UInt8(y * 8), UInt8(255 - x * 3)] } }
        let gradient = Image(width: 40, height: 30, channels: 3, pixels: smooth)
        for image in [source.converted(toChannels: 1), gradient] {
            let jpeg = try ImageCodec.decode(ImageCodec.encodeJPEG(image, quality: 100))
            #expect(jpeg.channels == image.channels)
            let error = zip(jpeg.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)
            #expect(Double(error) / Double(image.pixels.count) < 1.5)
        }
    }

    @Test func refusesWhatIsNotAnImage() throws {
        #expect(throws: ImageError.self) { try ImageCodec.decode(Data("hello".utf8), name: "notes.jpg") }
        #expect(throws: ImageError.self) { try ImageCodec.decode(Data(), name: "empty.png") }
        // Valid signatures, truncated bodies: the libraries' own errors come back as messages.
        let folder = try ImageFixtures().folder
        for file in ["rgb.jpg", "rgb.png"] {
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            do {
                _ = try ImageCodec.decode(data.prefix(data.count / 3), name: file)
                Issue.record("a truncated \(file) decoded")
            } catch let error as ImageError {
                #expect(error.description.hasPrefix("\(file): not a readable"))
            }
        }
    }
}

@Suite struct ResizingTests {
    @Test func upscalesLikeTensorFlow() throws {
        let fixtures = try ImageFixtures()
        let source = try fixtures.image("source")
        for resize in try fixtures.resizes() {
            let image = source.resized(width: resize.width, height: resize.height)
            #expect(maxDifference(image.pixels, resize.pixels.data) <= 1, "to \(resize.height)×\(resize.width)")
        }
    }

    @Test func downscalingAveragesEverySourcePixel() {
        // A one-pixel checkerboard halved must become flat grey; point sampling would keep black or white.
        let pixels = (0..<(8 * 8)).map { UInt8((($0 / 8) + ($0 % 8)) % 2 == 0 ? 0 : 255) }
        let small = Image(width: 8, height: 8, channels: 1, pixels: pixels).resized(width: 4, height: 4)
        // Interior pixels (the edges' filters are clipped by the border and so lopsided, as in PIL).
        for y in 1...2 { for x in 1...2 { #expect(abs(Int(small[y, x, 0]) - 128) <= 1) } }
    }

    @Test func preparesAsThePluginSays() throws {
        let resnet = try #require(builtInBackbones().find("resnet50"))
        let preparation = ImagePreparation(for: resnet)
        // A 300×400 image: shorter side to 256, centre 224×224.
        let image = Image(width: 400, height: 300, channels: 3, pixels: (0..<(300 * 400 * 3)).map { UInt8($0 % 3 == 0 ? 200 : 10) })
        let batch = preparation.batch([image, image])
        #expect(batch.shape == [2, 224, 224, 3])
        // Caffe mode: BGR order, ImageNet means subtracted (R = 200, G = B = 10).
        let first = Array(batch.scalars.prefix(3))
        #expect(abs(first[0] - (10 - 103.939)) < 1e-3 && abs(first[1] - (10 - 116.779)) < 1e-3 && abs(first[2] - (200 - 123.68)) < 1e-3)

        let lenet = try #require(builtInBackbones().find("lenet5"))
        let gray = ImagePreparation(for: lenet).batch([Image(width: 28, height: 28, channels: 3, pixels: .init(repeating: 255, count: 28 * 28 * 3))])
        #expect(gray.shape == [1, 32, 32, 1])
        #expect(gray.scalars.allSatisfy { abs($0 - 1) < 1e-6 })
    }

    @Test func shipsTheImageNetClassNames() {
        #expect(ClassNames.imageNet.count == 1000)
        #expect(ClassNames.imageNet.first == "tench" && ClassNames.imageNet.last == "toilet tissue")
        #expect(Set(ClassNames.imageNet).count >= 998)  // "crane" and "maillot" appear twice in ImageNet-1k
    }
}
