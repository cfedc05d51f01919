import Foundation
import ZooConverters
import ZooCore

// libFuzzer entry: the bytes become a .safetensors file, which is read and every tensor decoded.
let path = "/dev/shm/zoo-fuzz-\(getpid()).safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    if let bundle = try? SafetensorsFormat().read(URL(fileURLWithPath: path)) {
        for layer in bundle.layers { for array in layer.arrays { _ = try? array.tensor() } }
    }
    return 0
}
