import Foundation
import ZooModels
import ZooNN

// libFuzzer entry: the bytes are a Keras model config (the JSON of a full-model file's `model_config`, a .keras
// archive's config.json, or model.to_json()), built as `zoo info` builds it: read, every layer checked against the
// build limits of a file holding 16 M weights, then made and sized. Any outcome but a built model or a thrown error
// (a trap, an abort, an allocation past the limit, a run past the timeout) is a finding.
let limits = KerasBuildLimits(loading: 1 << 24)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let config = try? KerasModelConfig(json: text) else { return 0 }
    _ = try? KerasModel.build(config: config, inputSize: (32, 32), limits: limits)
    return 0
}
