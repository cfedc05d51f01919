import Foundation
import ZooConverters
import ZooCore

// libFuzzer entry for finding libhdf5's own failures: the bytes become an .h5 file that both Keras HDF5 readers parse
// in this process, decoding every array. Its crashes are what the isolated reader contains (tools/fuzz/findings).
let path = "/dev/shm/zoo-fuzz-\(getpid()).h5"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    for format in [KerasH5Format(isolation: .inProcess) as any WeightFormat, KerasWeightsFormat(isolation: .inProcess)] {
        if let bundle = try? format.read(URL(fileURLWithPath: path)) {
            for layer in bundle.layers { for array in layer.arrays { _ = try? array.tensor() } }
        }
    }
    return 0
}
