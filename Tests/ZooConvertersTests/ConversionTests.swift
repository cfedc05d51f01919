import Foundation
import Testing
import ZooTestSupport
import ZooConverters
import ZooCore
import ZooTensor

@Suite struct ConversionTests {
    @Test func digestsMatchPublishedVectors() {
        let vectors = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ]
        for (text, digest) in vectors {
            let hash = Digest(.sha256)
            hash.update(Array(text.utf8))
            #expect(hash.hexDigest() == digest, "\"\(text)\"")
        }
        let million = Digest(.sha256)
        million.update(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(million.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // RFC 1321's test suite.
        for (text, digest) in [("", "d41d8cd98f00b204e9800998ecf8427e"), ("abc", "900150983cd24fb0d6963f7d28e17f72"),
                               ("message digest", "f96b697d7cb7938d525a2f31aaf161d0")] {
            let hash = Digest(.md5)
            hash.update(Array(text.utf8))
            #expect(hash.hexDigest() == digest, "MD5 \"\(text)\"")
        }
    }

    @Test func nativeFilesRecordTheirSource() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = fixtures.appendingPathComponent("tfkeras/small_cnn_model.h5")
        let native = folder.appendingPathComponent("small_cnn.safetensors")
        try formats.convert(source, to: native, as: SafetensorsFormat(), metadata: [MetadataKey.architecture: "small_cnn", MetadataKey.classes: "5"])
        let bundle = try formats.read(native)
        #expect(bundle.metadata[MetadataKey.sourceSHA256] == (try sha256sum(source)))
        #expect(bundle.metadata[MetadataKey.sourceFile] == "small_cnn_model.h5")
        #expect(bundle.metadata[MetadataKey.sourceFormat] == "keras-h5")
        #expect(bundle.metadata[MetadataKey.kerasVersion] == "2.21.0")
        #expect(bundle.metadata[MetadataKey.architecture] == "small_cnn" && bundle.metadata[MetadataKey.classes] == "5")
        #expect(bundle.metadata[MetadataKey.trainingConfig]?.contains("\"loss\"") == true, "a compiled model's training config is kept")
        #expect(throws: WeightFileError.self) { try formats.convert(source, to: folder.appendingPathComponent("x"), as: KerasWeightsFormat()) }
    }

    @Test func writersReportTheDigestOfWhatTheyWrote() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bundle = try formats.read(fixtures.appendingPathComponent("tfkeras/small_cnn_model.h5"))
        for (format, name) in [(SafetensorsFormat() as WeightFormat, "out.safetensors"), (KerasH5Format(), "out.h5")] {
            let url = folder.appendingPathComponent(name)
            let written = try format.write(bundle, to: url)
            #expect(written.sha256 == (try sha256sum(url)), "\(format.name)")
            #expect(written.byteCount == (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).allSatisfy { !$0.hasSuffix(".partial") })
        }
    }

    @Test func nativeReadsBorrowTheFileCopyOnWrite() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("weights.safetensors")
        let values: [Float] = (0..<4096).map { Float($0) * 0.5 }
        let original = WeightBundle(format: "test", layers: [LayerWeights(name: "dense", arrays: [
            WeightArray(name: "kernel", shape: [64, 64], tensor: try Tensor(shape: [64, 64], scalars: values)),
        ])])
        try SafetensorsFormat().write(original, to: url)
        let before = try sha256sum(url)
        var tensor = try SafetensorsFormat().read(url).layers[0].arrays[0].tensor()  // the bundle is gone; the tensor keeps the mapping
        #expect(tensor.scalars == values)
        tensor.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
        #expect(tensor.scalars.allSatisfy { $0 == -1 })
        #expect(try sha256sum(url) == before, "writing to a tensor must never reach the file")
        #expect(try SafetensorsFormat().read(url).layers[0].arrays[0].tensor().scalars == values)

        // A file from another writer whose header length leaves the data unaligned for Float is read by copying.
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header.utf8)
        for v: Float in [1.5, -2, 3.25] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        #expect((8 + header.utf8.count) % 4 != 0)
        let odd = folder.appendingPathComponent("odd.safetensors")
        try bytes.write(to: odd)
        #expect(try SafetensorsFormat().read(odd).layers[0].arrays[0].tensor().scalars == [1.5, -2, 3.25])
    }
}

/// SHA-256 of a file by coreutils' sha256sum, the oracle for Zoo's digests.
func sha256sum(_ url: URL) throws -> String {
    String(try runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [url.path]).stdout.prefix(64))
}
