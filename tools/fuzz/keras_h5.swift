import Foundation
import ZooConverters
import ZooCore

// libFuzzer entry: the bytes become an .h5 file, which every Keras HDF5 reader tries, decoding every array.
let path = "/dev/shm/zoo-fuzz-\(getpid()).h5"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    for format in [KerasH5Format() as any WeightFormat, KerasWeightsFormat()] {
        if let bundle = try? format.read(URL(fileURLWithPath: path)) {
            for layer in bundle.layers { for array in layer.arrays { _ = try? array.tensor() } }
        }
    }
    return 0
}
