// Your own Keras network with the library: built from the file's model config, its weights loaded by layer name,
// run on prepared inputs saved by NumPy, its outputs written for NumPy to read back.
//
// Run from the repository after tools/setup:
//   swift run -c release keras-model-example MODEL.h5 INPUTS.npy OUTPUTS.npy [CONFIG.json]
// (CONFIG: the architecture of a file saved by save_weights, as model.to_json() or Keras 1/2 to_yaml() wrote it.)
import Foundation
import Zoo

let arguments = CommandLine.arguments.dropFirst().map { URL(fileURLWithPath: $0) }
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: keras-model-example MODEL.h5 INPUTS.npy OUTPUTS.npy [CONFIG.json]\n".utf8))
    exit(2)
}
let (file, inputs, outputs) = (arguments[0], arguments[1], arguments[2])
var weights = try Plugins.weightFormats.read(file)  // any Keras flavour, or a native file `zoo convert` wrote
if arguments.count > 3 { weights.metadata[MetadataKey.modelConfig] = try ModelConfigFile.json(contentsOf: arguments[3]) }

// The network its config describes. The registry does the same when no registered architecture fits
// (`Plugins.backbones.match(weights, file:)` returns the `keras` plugin configured from the file).
guard let json = weights.metadata[MetadataKey.modelConfig] else {
    FileHandle.standardError.write(Data("\(file.path) has no model config; give one as the fourth argument\n".utf8))
    exit(1)
}
let model = try KerasModel.build(config: try KerasModelConfig(json: json))
let report = try model.load(weights)
print(try model.summary())
print("loaded \(report.arrays) arrays into \(report.layers) layers, matched \(report.matching.rawValue)")

// Inputs are prepared already (as the Keras model takes them); a channels-first network takes NCHW arrays.
let backbone = try KerasConfigBackbone(json: json)
var batch = try NumPyArray.read(inputs)
if backbone.channelsFirst { batch = try permute(Variable(batch), [2, 3, 1]).value }
let result = try model.predict(batch)
try NumPyArray.write(result, to: outputs)
print("wrote \(result.shape) outputs to \(outputs.path)")
