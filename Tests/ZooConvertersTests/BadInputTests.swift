import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooTensor
import ZIPFoundation

/// Every kind of broken input gives one clear error naming the file, the place and what was expected, and never
/// a crash or a partial output.
@Suite struct BadInputTests {
    func expectError(_ url: URL, containing expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let bundle = try formats.read(url)
            Issue.record("\(url.lastPathComponent) read as \(bundle.format) with \(bundle.arrayCount) arrays", sourceLocation: sourceLocation)
        } catch let error as WeightFileError {
            #expect(error.file.hasSuffix(url.lastPathComponent), "the error names the file: \(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(expected), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(url.lastPathComponent): unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
    }

    func bad(_ name: String) -> URL { fixtures.appendingPathComponent("bad/\(name)") }

    @Test func notHDF5() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("weights.h5")
        try Data("these are not the weights you are looking for\n".utf8).write(to: url)
        expectError(url, containing: "not a weight file; expected keras-h5: HDF5 with a 'layer_names' attribute")
    }

    @Test func validHDF5ButNotKeras() {
        expectError(bad("not_keras.h5"), containing: "an HDF5 file, but no weight format recognizes it; expected keras-h5:")
    }

    @Test func missingDataset() {
        expectError(bad("missing_dataset.h5"), containing: "/dense: 'weight_names' lists 'dense/bias:0' but there is no such dataset")
    }

    @Test func attributeOfTheWrongType() {
        expectError(bad("layer_names_numbers.h5"), containing: "attribute 'layer_names' holds numbers, expected a list of names")
    }

    @Test func missingLayerGroup() {
        expectError(bad("missing_layer_group.h5"), containing: "'layer_names' lists 'dense' but the file has no such group")
    }

    @Test func datasetOfStrings() {
        expectError(bad("string_weights.h5"), containing: "/dense/kernel: holds string values, expected numbers")
    }

    /// A fuzzer-made file whose dataset declares a shape its stored bytes cannot back: refused before allocating.
    @Test func declaredShapeLargerThanTheData() {
        expectError(bad("declared_shape_too_large.h5"), containing: "but stores only")
    }

    @Test func archiveWithoutWeights() {
        expectError(bad("no_weights.keras"), containing: "the archive has no model.weights.h5 (it holds: config.json, metadata.json)")
    }

    /// An archive whose entry inflates past the size it declares stops there, whatever it holds.
    @Test func archiveEntryLargerThanDeclared() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bomb.keras")
        let content = Data(count: 1 << 20)
        let archive = try Archive(url: url, accessMode: .create, pathEncoding: nil)
        try archive.addEntry(with: "model.weights.h5", type: .file, uncompressedSize: Int64(content.count), compressionMethod: .deflate) {
            content.subdata(in: Int($0)..<Int($0) + $1)
        }
        // Both headers' uncompressed-size fields claim 1,000 bytes.
        var bytes = try Data(contentsOf: url)
        for (signature, field) in [([0x50, 0x4B, 0x03, 0x04] as [UInt8], 22), ([0x50, 0x4B, 0x01, 0x02], 24)] {
            let header = try #require(bytes.firstRange(of: Data(signature))).lowerBound
            bytes.replaceSubrange(header + field..<header + field + 4, with: [0xE8, 0x03, 0x00, 0x00])
        }
        try bytes.write(to: url)
        expectError(url, containing: "model.weights.h5 inflates past 1000 bytes, the size the archive declares for it")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["bomb.keras"])
    }

    @Test func zeroBytesFolderAndMissingFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = folder.appendingPathComponent("empty.h5")
        try Data().write(to: empty)
        expectError(empty, containing: "is empty (0 bytes)")
        expectError(folder, containing: "is a directory, expected a weight file")
        expectError(folder.appendingPathComponent("absent.h5"), containing: "no such file")
        for format in formats.all {
            #expect(throws: WeightFileError.self) { try format.read(empty) }
            #expect(throws: WeightFileError.self) { try format.read(folder) }
        }
    }

    @Test(arguments: ["keras3/small_cnn.h5", "keras3/small_cnn_model.h5", "keras3/small_cnn.weights.h5", "keras3/small_cnn.keras"])
    func truncatedAtSeveralPoints(_ name: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let whole = try Data(contentsOf: fixtures.appendingPathComponent(name))
        for fraction in [0.001, 0.01, 0.1, 0.5, 0.9, 0.999] {
            let url = folder.appendingPathComponent("cut-\(fraction)-" + URL(fileURLWithPath: name).lastPathComponent)
            try whole.prefix(max(1, Int(Double(whole.count) * fraction))).write(to: url)
            #expect(throws: WeightFileError.self, "\(name) cut at \(fraction)") { _ = try formats.read(url) }
        }
    }

    // MARK: safetensors

    /// A file with the given header text and `dataBytes` bytes of data.
    func safetensors(_ header: String, dataBytes: Int, in folder: URL, name: String = "x.safetensors") throws -> URL {
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        data.append(Data(bytes: &length, count: 8))
        data.append(Data(header.utf8))
        data.append(Data(count: dataBytes))
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    @Test func safetensorsHeadersThatLie() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases: [(String, Int, String)] = [
            (#"{"a/kernel": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}"#, 12,
             "tensor 'a/kernel': shape [2, 2] of F32 needs 16 bytes, the range [0, 12] holds 12"),
            (#"{"a/kernel": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, 8,
             "tensor 'a/kernel': shape [4] or byte range [0, 16] lies outside the 8-byte data"),
            (#"{"a/x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a/y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
             12, "overlaps the tensor before it"),
            (#"{"a/x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, 8, "bytes 0..<4 belong to no tensor"),
            (#"{"a/x": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}"#, 8, "has dtype I64; supported: F32, F16, BF16, F64"),
            (#"{"a/x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#, 4, "lies outside"),
            // Dimensions whose product overflows: refused with the size they would need, not a crash.
            (#"{"a/x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}"#, 4,
             "shape [4294967296, 4294967296] of F32 needs more than 9223372036854775807 bytes, the range [0, 4] holds 4"),
            (#"{"a/x": {"dtype": "F32", "shape": [2147483648, 2147483648], "data_offsets": [0, 4]}}"#, 4,
             "needs more than 9223372036854775807 bytes"),
            (#"{"a/x": {"shape": [1], "data_offsets": [0, 4]}}"#, 4, "tensor 'a/x' needs dtype, shape and data_offsets"),
            (#"{"__metadata__": {"n": 1}}"#, 0, "__metadata__ must map strings to strings"),
            (#"{"a/x": nonsense}"#, 0, "the header is not a JSON object"),
        ]
        for (header, dataBytes, expected) in cases {
            expectError(try safetensors(header, dataBytes: dataBytes, in: folder), containing: expected)
        }
        var huge = Data([0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00])
        huge.append(Data("{\"a\": 1}".utf8))
        let url = folder.appendingPathComponent("lies.safetensors")
        try huge.write(to: url)
        #expect(throws: WeightFileError.self) { try SafetensorsFormat().read(url) }
        do { _ = try SafetensorsFormat().read(url) } catch let error as WeightFileError {
            #expect(error.description.contains("the header claims 16777215 bytes but only 8 follow"), "\(error)")
        }
    }

    // MARK: writing never leaves partial output

    @Test func failedWritesLeaveNothingBehind() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        struct Unreadable: Error {}
        let broken = WeightBundle(format: "test", layers: [
            LayerWeights(name: "good", arrays: [WeightArray(name: "kernel", shape: [2], tensor: Tensor(zeros: [2]))]),
            LayerWeights(name: "bad", arrays: [WeightArray(name: "kernel", shape: [2], storedType: "float32") { throw Unreadable() }]),
        ])
        let existing = folder.appendingPathComponent("weights.h5")
        try Data("previous contents".utf8).write(to: existing)
        for (format, name) in [(KerasH5Format() as any WeightFormat, "weights.h5"), (SafetensorsFormat(), "weights.safetensors")] {
            #expect(throws: Unreadable.self) { try format.write(broken, to: folder.appendingPathComponent(name)) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["weights.h5"])
        #expect(try String(contentsOf: existing, encoding: .utf8) == "previous contents", "the previous file survives")
        let duplicate = WeightBundle(format: "test", layers: [LayerWeights(name: "a", arrays: []), LayerWeights(name: "a", arrays: [])])
        #expect(throws: WeightFileError.self) { try KerasH5Format().write(duplicate, to: existing) }
        #expect(throws: WeightFileError.self) { try KerasH5Format().write(duplicate, to: folder.appendingPathComponent("no/such/folder.h5")) }
    }
}
