import Foundation
import SwiftProtobuf
import ZooNN
import ZooTensor

/// How a model is written as ONNX.
public struct ONNXExportOptions: Sendable {
    /// The ONNX operator set the graph declares (every op written has had the same meaning from 13 through 21).
    public var opset: Int = 17
    /// A fixed batch size, or nil for a dynamic one (`batch` in the input's shape).
    public var batch: Int?
    /// The input as NCHW instead of Zoo's and Keras's NHWC (4-D outputs follow the input's layout).
    public var nchw = false
    /// Written into the model's metadata_props.
    public var metadata: [String: String] = [:]
    public var producerVersion = ""

    public static let opsets = 13...21

    public init() {}
}

/// A model that cannot be written as ONNX: names the layer and what stands in the way.
public struct ONNXExportError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Writes a model's inference pass as an ONNX model: the layer graph its forward pass traces (`Model.trace`), each
/// layer mapped to ONNX operators, its weights as initializers.
///
/// ONNX's convolution and pooling operators take NCHW, so the graph transposes the NHWC input once, runs every
/// 4-D value as NCHW, and transposes back where Keras's element order matters (before Flatten, and 4-D outputs).
/// Keras's 'same' padding becomes explicit pads computed from the traced shapes, so the spatial size is fixed; the
/// batch may be dynamic.
public enum ONNXExport {
    /// An exported model: the file's bytes and what it looks like from outside.
    public struct Result: Sendable {
        public let bytes: Data
        public let nodeCount: Int
        /// `input` for a network with one input; the Keras input layers' names for several.
        public let inputNames: [String]
        /// Each input's shape as the file declares it ("batch" when dynamic).
        public let inputShapes: [[String]]
        public var inputShape: [String] { inputShapes[0] }
        public let outputNames: [String]
    }

    public static func model(_ model: Model, options: ONNXExportOptions = ONNXExportOptions()) throws -> Result {
        guard ONNXExportOptions.opsets.contains(options.opset) else {
            throw ONNXExportError(message: "opset \(options.opset) is not supported; choose one of \(ONNXExportOptions.opsets.lowerBound)–\(ONNXExportOptions.opsets.upperBound)")
        }
        if let batch = options.batch, batch <= 0 { throw ONNXExportError(message: "the batch size must be positive, got \(batch)") }
        let graph: LayerGraph
        do { graph = try model.trace(batch: 1) } catch let error as GraphTraceError {
            throw ONNXExportError(message: "\(model.name): \(error.description)")
        }
        var writer = ONNXGraphWriter(graph: graph, name: model.name, inputNames: model.inputNames, options: options)
        try writer.write()

        var proto = Onnx_ModelProto()
        proto.irVersion = Int64(irVersion(forOpset: options.opset))
        proto.producerName = "zoo"
        proto.producerVersion = options.producerVersion
        proto.graph = writer.proto
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = Int64(options.opset)
        proto.opsetImport = [opset]
        proto.metadataProps = options.metadata.sorted { $0.key < $1.key }.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        let shapes = proto.graph.input.map { input in
            input.type.tensorType.shape.dim.map { dimension in
                if case let .dimParam(name)? = dimension.value { name } else { String(dimension.dimValue) }
            }
        }
        return Result(bytes: try proto.serializedBytes(), nodeCount: proto.graph.node.count, inputNames: proto.graph.input.map(\.name),
                      inputShapes: shapes, outputNames: proto.graph.output.map(\.name))
    }

    /// The IR version each operator set was released with, so that runtimes as old as the opset can read the file.
    static func irVersion(forOpset opset: Int) -> Int {
        switch opset {
        case ...14: 7
        case 15...18: 8
        case 19...20: 9
        default: 10
        }
    }
}
