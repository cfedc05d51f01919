import Foundation
import Testing
import ZooConverters
import ZooCore

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
        // The oracle for the digest is coreutils' sha256sum.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [source.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let expected = String(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
        #expect(bundle.metadata[MetadataKey.sourceSHA256] == expected)
        #expect(bundle.metadata[MetadataKey.sourceFile] == "small_cnn_model.h5")
        #expect(bundle.metadata[MetadataKey.sourceFormat] == "keras-h5")
        #expect(bundle.metadata[MetadataKey.kerasVersion] == "2.21.0")
        #expect(bundle.metadata[MetadataKey.architecture] == "small_cnn" && bundle.metadata[MetadataKey.classes] == "5")
        #expect(bundle.metadata[MetadataKey.trainingConfig]?.contains("\"loss\"") == true, "a compiled model's training config is kept")
        #expect(throws: WeightFileError.self) { try formats.convert(source, to: folder.appendingPathComponent("x"), as: KerasWeightsFormat()) }
    }
}
