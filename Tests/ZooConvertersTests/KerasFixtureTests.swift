import Foundation
import Testing
import ZooConverters
import ZooCore
import ZooTensor

/// Every Keras file flavour, written by real Keras 3 and tf-keras (tools/keras/make_format_fixtures.py), reads as
/// the model's own arrays, bit for bit.
@Suite struct KerasFixtureTests {
    @Test(arguments: Manifest.shared.files)
    func readsWhatKerasWrote(_ expected: Manifest.File) throws {
        let bundle = try formats.read(expected.url)
        #expect(bundle.format == expected.format, "\(expected.file) sniffed as \(bundle.format)")
        for (key, value) in expected.metadata {
            #expect(bundle.metadata[key] == value, "\(expected.file): metadata \(key) is \(bundle.metadata[key] ?? "missing"), expected \(value)")
        }
        if expected.ordered {
            #expect(bundle.layers.map(\.name) == expected.layers.map(\.name), "\(expected.file): layer order")
        } else {
            #expect(Set(bundle.layers.map(\.name)) == Set(expected.layers.map(\.name)), "\(expected.file): layers")
        }
        for layer in expected.layers {
            guard let actual = bundle.layer(named: layer.name) else {
                Issue.record("\(expected.file): no layer \(layer.name)")
                continue
            }
            #expect(actual.arrays.map(\.name) == layer.arrays.map(\.name), "\(expected.file): arrays of \(layer.name)")
            for (array, want) in zip(actual.arrays, layer.arrays) {
                #expect(array.shape == want.shape && array.storedType == want.dtype,
                        "\(expected.file): \(layer.name)/\(array.name) is \(array.storedType)\(array.shape), expected \(want.dtype)\(want.shape)")
                let bits = try array.tensor().scalars.map(\.bitPattern)
                #expect(bits == want.bits, "\(expected.file): \(layer.name)/\(array.name) values differ")
            }
        }
    }

    /// Arrays stored every way HDF5 allows, not only as Keras stores them (tools/keras/make_storage_fixture.py), read
    /// as their values, isolated (where plain Float32 ones are taken from the file in place) and in process alike.
    @Test(arguments: [ReadIsolation.childProcess, .inProcess])
    func everyStorageLayoutReadsAsItsValues(_ isolation: ReadIsolation) throws {
        let bundle = try KerasH5Format(isolation: isolation).read(fixtures.appendingPathComponent("storage/layouts.h5"))
        let written = ["contiguous", "chunked_gzip", "chunked_shuffle", "big_endian", "unaligned", "float64"]
        #expect(bundle.layers.map(\.name) == written + ["unwritten"])
        for layer in bundle.layers {
            #expect(layer.arrays.map(\.shape) == [[3, 4], [4]], "\(layer.name)")
            for (index, array) in layer.arrays.enumerated() {
                let expected = (0..<array.count).map { element in
                    guard let position = written.firstIndex(of: layer.name) else { return Float(7.25) }  // the fill value
                    return Float(100 * position + 10 * index) + 0.5 * Float(element + 1)
                }
                #expect(try array.tensor().scalars == expected, "\(layer.name)/\(array.name) (\(isolation))")
            }
        }
    }

    @Test func chunkedLayerNamesAreJoined() throws {
        for writer in ["keras3", "tfkeras"] {
            let bundle = try formats.read(fixtures.appendingPathComponent("\(writer)/deep.h5"))
            #expect(bundle.layers.count == 310)
        }
    }

    @Test func theanoConversionIsRecorded() throws {
        let theano = try formats.read(fixtures.appendingPathComponent("keras1/theano.h5"))
        #expect(theano.metadata[MetadataKey.conversion]?.contains("flipped spatially") == true)
        let tensorflow = try formats.read(fixtures.appendingPathComponent("keras1/tensorflow.h5"))
        #expect(tensorflow.metadata[MetadataKey.conversion] == nil)
    }

    @Test func archivesCarryTheirConfig() throws {
        let bundle = try formats.read(fixtures.appendingPathComponent("keras3/functional.keras"))
        #expect(bundle.metadata[MetadataKey.modelConfig]?.contains("\"Functional\"") == true)
        #expect(bundle.metadata[MetadataKey.layerOrder] == "the order of config.json")
        let model = try formats.read(fixtures.appendingPathComponent("keras3/functional_model.h5"))
        #expect(model.metadata[MetadataKey.modelConfig]?.contains("\"inner\"") == true)
    }
}

/// Writing and reading back: native and Keras HDF5 keep every array bit-identical.
@Suite struct RoundTripTests {
    @Test(arguments: Manifest.shared.files)
    func nativeAndKerasH5RoundTrip(_ source: Manifest.File) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try formats.read(source.url)
        let native = folder.appendingPathComponent("weights.safetensors"), h5 = folder.appendingPathComponent("weights.h5")
        try SafetensorsFormat().write(original, to: native)
        let fromNative = try formats.read(native)
        #expect(fromNative.format == "safetensors")
        try expectSameArrays(original, fromNative, "\(source.file) → native")
        try KerasH5Format().write(fromNative, to: h5)
        // A model nested in the config is one group in Keras HDF5 (as Keras saves it), however the source held it:
        // opened again, its layers and arrays are the source's.
        let fromH5 = try formats.read(h5)
        try expectSameArrays(original.openingNestedModels(), fromH5.openingNestedModels(), "\(source.file) → native → keras-h5")
        try SafetensorsFormat().write(fromH5, to: native)
        try expectSameArrays(original.openingNestedModels(), try formats.read(native).openingNestedModels(), "\(source.file) → native → keras-h5 → native")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["weights.h5", "weights.safetensors"],
                "no temporary files are left behind")
    }

    @Test func nativeMetadataSurvives() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var bundle = try formats.read(fixtures.appendingPathComponent("keras3/small_cnn.keras"))
        bundle.metadata[MetadataKey.architecture] = "small_cnn"
        let url = folder.appendingPathComponent("x.safetensors")
        try SafetensorsFormat().write(bundle, to: url)
        let back = try formats.read(url)
        for key in [MetadataKey.architecture, MetadataKey.kerasVersion, MetadataKey.modelConfig] {
            #expect(back.metadata[key] == bundle.metadata[key], "\(key)")
        }
        #expect(back.layers.map(\.path) == bundle.layers.map(\.path))
    }
}
