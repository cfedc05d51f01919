import Foundation
import ZooNN
import ZooTensor

/// Maps a layer graph to ONNX nodes and initializers, layer by layer in the order the forward pass ran them.
struct ONNXGraphWriter {
    let graph: LayerGraph
    let options: ONNXExportOptions
    private(set) var proto = Onnx_GraphProto()
    /// Per graph value, the ONNX value holding it; 4-D values are held as NCHW.
    private var values: [String?]
    private var usedNames = Set<String>()
    /// Graph values that leave the model, with the name they leave under.
    private let outputNames: [Int: String]

    init(graph: LayerGraph, name: String, options: ONNXExportOptions) {
        self.graph = graph
        self.options = options
        proto.name = name
        values = Array(repeating: nil, count: graph.shapes.count)
        var names = [Int: String]()
        for output in graph.outputs { names[output] = graph.nodes.last { $0.output == output }?.layer.name ?? "output" }
        outputNames = names
    }

    mutating func write() throws {
        let input = unique("input")
        proto.input = [valueInfo(input, shape: graph.shapes[0])]
        // Images are held as NCHW; inputs of other ranks (vectors, sequences) as they come.
        values[0] = options.nchw || graph.shapes[0].count != 4 ? input : node("Transpose", [input], output: "input_nchw", [.ints("perm", [0, 3, 1, 2])])
        for node in graph.nodes { try write(node) }

        for output in graph.outputs {
            var name = values[output]!
            if graph.shapes[output].count == 4 && !options.nchw {
                name = node("Transpose", [name], output: outputNames[output]!, [.ints("perm", [0, 2, 3, 1])])
            } else if name != outputNames[output]! {
                // The output passed through a layer that computes nothing (Dropout): it still leaves under its name.
                name = node("Identity", [name], output: outputNames[output]!)
            }
            proto.output.append(valueInfo(name, shape: graph.shapes[output]))
        }
    }

    private mutating func write(_ node: LayerGraph.Node) throws {
        let layer = node.layer
        let x = values[node.inputs[0]]!
        let shape = graph.shapes[node.inputs[0]]
        let rank = shape.count
        // A value that leaves the model as NHWC is transposed at the end; its NCHW form takes another name.
        let name = outputNames[node.output].map { graph.shapes[node.output].count == 4 && !options.nchw ? "\($0)_nchw" : $0 } ?? layer.name
        func fail(_ why: String) -> ONNXExportError {
            ONNXExportError(message: "layer '\(layer.name)' (\(layer.kind)) on input \(describe(shape: shape)): \(why)")
        }

        switch layer.computation {
        case let .convolution(conv):
            guard rank == 4 else { throw fail("a convolution needs a 4-D input") }
            let kernel = conv.convolutionKernel
            let (kh, kw, ci, co) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
            let geometry = try WindowGeometry(op: layer.name, input: (shape[1], shape[2]), kernel: (kh, kw), strides: conv.strides,
                                              dilation: conv.dilation, padding: conv.padding)
            // Keras keeps kernels as HWIO; ONNX wants OIHW.
            let oihw = kernel.withUnsafeBufferPointer { hwio in
                [Float](unsafeUninitializedCapacity: hwio.count) { out, count in
                    for o in 0..<co { for i in 0..<ci { for h in 0..<kh { for w in 0..<kw {
                        out[((o * ci + i) * kh + h) * kw + w] = hwio[((h * kw + w) * ci + i) * co + o]
                    } } } }
                    count = hwio.count
                }
            }
            var inputs = [x, initializer("\(layer.name)/kernel", dims: [co, ci, kh, kw], oihw)]
            if let bias = conv.bias { inputs.append(initializer("\(layer.name)/bias", bias.value)) }
            var attributes: [Attribute] = [.ints("kernel_shape", [kh, kw]), .ints("strides", [conv.strides.0, conv.strides.1]),
                                           .ints("pads", pads(geometry)), .ints("dilations", [conv.dilation.0, conv.dilation.1])]
            if conv.groups > 1 { attributes.append(.int("group", conv.groups)) }
            try activate(self.node("Conv", inputs, output: conv.activation == nil ? name : "\(layer.name)/conv", attributes),
                     conv.activation, rank: rank, node: node, name: name)

        case let .dense(dense):
            guard rank == 2 else { throw fail("Dense is written for 2-D inputs (flatten or pool first)") }
            let kernel = initializer("\(layer.name)/kernel", dense.kernel.value)
            let product = dense.activation == nil ? name : "\(layer.name)/dense"
            let y = if let bias = dense.bias {
                self.node("Gemm", [x, kernel, initializer("\(layer.name)/bias", bias.value)], output: product)
            } else {
                self.node("MatMul", [x, kernel], output: product)
            }
            try activate(y, dense.activation, rank: rank, node: node, name: name)

        case let .batchNormalization(bn):
            guard rank == 4 || rank == 2 else { throw fail("BatchNormalization is written for 2-D and 4-D inputs") }
            let parameters = [bn.gamma, bn.beta, bn.movingMean, bn.movingVariance].map { initializer("\(layer.name)/\($0.name)", $0.value) }
            values[node.output] = self.node("BatchNormalization", [x] + parameters, output: name, [.float("epsilon", bn.epsilon)])

        case let .activation(kind):
            values[node.output] = try activation(kind, x, output: name)

        case .softmax:
            values[node.output] = self.node("Softmax", [x], output: name, [.int("axis", Self.channelAxis(rank: rank))])

        case let .pooling(kind, size, strides, padding):
            guard rank == 4 else { throw fail("pooling needs a 4-D input") }
            let geometry = try WindowGeometry(op: layer.name, input: (shape[1], shape[2]), kernel: size, strides: strides, padding: padding)
            var attributes: [Attribute] = [.ints("kernel_shape", [size.0, size.1]), .ints("strides", [strides.0, strides.1]),
                                           .ints("pads", pads(geometry))]
            // Keras (TensorFlow) averages over the cells inside the image only.
            if kind == .average { attributes.append(.int("count_include_pad", 0)) }
            values[node.output] = self.node(kind == .max ? "MaxPool" : "AveragePool", [x], output: name, attributes)

        case let .globalPooling(kind):
            guard rank == 4 else { throw fail("global pooling needs a 4-D input") }
            let pooled = self.node(kind == .max ? "GlobalMaxPool" : "GlobalAveragePool", [x], output: "\(layer.name)/pool")
            values[node.output] = self.node("Flatten", [pooled], output: name, [.int("axis", 1)])

        case .flatten:
            // Keras flattens NHWC: back to that order first, so that a Dense layer after it reads its kernel's rows.
            let source = rank == 4 ? self.node("Transpose", [x], output: "\(layer.name)/nhwc", [.ints("perm", [0, 2, 3, 1])]) : x
            values[node.output] = self.node("Flatten", [source], output: name, [.int("axis", 1)])

        case let .zeroPadding(top, bottom, left, right):
            guard rank == 4 else { throw fail("zero padding needs a 4-D input") }
            let padding = integerInitializer("\(layer.name)/pads", [0, 0, top, left, 0, 0, bottom, right])
            values[node.output] = self.node("Pad", [x, padding], output: name, [.string("mode", "constant")])

        case let .lrn(parameters):
            guard rank == 4 else { throw fail("LRN needs a 4-D input") }
            guard parameters.size % 2 == 1 else { throw fail("ONNX's LRN centres an even window differently; size \(parameters.size) cannot be written") }
            // ONNX divides alpha by the window size; Zoo's (TensorFlow's) alpha multiplies the plain sum.
            values[node.output] = self.node("LRN", [x], output: name, [
                .int("size", parameters.size), .float("alpha", parameters.alpha * Float(parameters.size)),
                .float("beta", parameters.beta), .float("bias", parameters.k),
            ])

        case .add, .concatenate:
            let inputs = node.inputs.map { values[$0]! }
            if inputs.count == 1 {
                values[node.output] = x
            } else if case .add = layer.computation {
                values[node.output] = self.node(inputs.count == 2 ? "Add" : "Sum", inputs, output: name)
            } else {
                values[node.output] = self.node("Concat", inputs, output: name, [.int("axis", Self.channelAxis(rank: rank))])
            }

        case .identity:
            values[node.output] = x

        case .opaque:
            try writeKerasLayer(node, x: x, shape: shape, name: name, fail: fail)
        }
    }

    /// Keras layers without a plan kernel that ONNX has operators for: elementwise merges (NumPy broadcasting, as
    /// ONNX broadcasts; every input of the same rank, so that NCHW values align as NHWC ones do), Inception-ResNet's
    /// scaled residual sum, and PReLU (its slopes transposed to the channels-first order values are held in).
    private mutating func writeKerasLayer(_ node: LayerGraph.Node, x: String, shape: [Int], name: String,
                                          fail: (String) -> ONNXExportError) throws {
        let layer = node.layer
        if let merge = layer as? Merge {
            let inputs = node.inputs.map { values[$0]! }
            guard Set(node.inputs.map { graph.shapes[$0].count }).count == 1 else { throw fail("a merge of inputs of different ranks") }
            switch merge.operation {
            case .combination(let kind):
                let operators: [ElementwiseCombination: String] = [.subtract: "Sub", .multiply: "Mul", .average: "Mean", .maximum: "Max", .minimum: "Min"]
                guard let name0 = operators[kind] else { throw fail("\(kind) has no ONNX operator") }
                // Mul and Sub take two inputs: a product of several is a chain.
                var result = inputs[0]
                if kind == .multiply && inputs.count > 2 {
                    for (index, next) in inputs.dropFirst().enumerated() {
                        result = self.node("Mul", [result, next], output: index == inputs.count - 2 ? name : "\(layer.name)/product\(index)")
                    }
                } else {
                    result = self.node(name0, inputs, output: name)
                }
                values[node.output] = result
                return
            case .scaledSum(let scale):
                let factor = initializer("\(layer.name)/scale", dims: [], [scale])
                let scaled = self.node("Mul", [inputs[1], factor], output: "\(layer.name)/scaled")
                values[node.output] = self.node("Add", [inputs[0], scaled], output: name)
                return
            default: break
            }
        }
        if let prelu = layer as? PReLU {
            var slope = prelu.alpha.value
            if slope.shape.count == 3 { slope = try permute(Variable(slope.reshaped([1] + slope.shape)), [3, 1, 2]).value.reshaped([slope.shape[2], slope.shape[0], slope.shape[1]]) }
            values[node.output] = self.node("PRelu", [x, initializer("\(layer.name)/alpha", slope)], output: name)
            return
        }
        throw fail("the layer does not say what it computes, so it has no ONNX form")
    }

    /// The activation a Conv2D or Dense layer applies after its product.
    private mutating func activate(_ y: String, _ activation: LayerActivation?, rank: Int, node: LayerGraph.Node, name: String) throws {
        values[node.output] = if let kind = activation?.elementwise {
            try self.activation(kind, y, output: name)
        } else if activation == .softmax {
            self.node("Softmax", [y], output: name, [.int("axis", Self.channelAxis(rank: rank))])
        } else {
            y
        }
    }

    /// An elementwise activation as ONNX operators: one where ONNX has it, a product for swish.
    private mutating func activation(_ kind: Activation, _ x: String, output name: String) throws -> String {
        switch kind {
        case .relu: return node("Relu", [x], output: name)
        case .tanh: return node("Tanh", [x], output: name)
        case .sigmoid: return node("Sigmoid", [x], output: name)
        case let .rectifier(slope, nil, 0): return node("LeakyRelu", [x], output: name, [.float("alpha", slope)])
        case let .rectifier(0, maxValue?, 0):
            let bounds = [initializer("\(name)/min", dims: [], [0]), initializer("\(name)/max", dims: [], [maxValue])]
            return node("Clip", [x] + bounds, output: name)
        case .elu(let alpha): return node("Elu", [x], output: name, [.float("alpha", alpha)])
        case .selu: return node("Selu", [x], output: name, [.float("alpha", Activation.seluAlpha), .float("gamma", Activation.seluScale)])
        case .gelu(let approximate) where options.opset >= 20:
            return node("Gelu", [x], output: name, [.string("approximate", approximate ? "tanh" : "none")])
        case .swish: return node("Mul", [x, node("Sigmoid", [x], output: "\(name)/sigmoid")], output: name)
        case .hardSigmoid(let slope): return node("HardSigmoid", [x], output: name, [.float("alpha", slope), .float("beta", 0.5)])
        case .hardSwish: return node("HardSwish", [x], output: name)
        case .softplus: return node("Softplus", [x], output: name)
        case .softsign: return node("Softsign", [x], output: name)
        case .gelu:
            throw ONNXExportError(message: "\(name): ONNX has Gelu from opset 20; export with --opset 20 or later")
        case .rectifier:
            throw ONNXExportError(message: "\(name): ONNX has no ReLU with a threshold, or with both a slope and a cap (\(kind))")
        }
    }

    /// The channel axis of a value as the graph holds it: NCHW for 4-D values, the last axis otherwise.
    private static func channelAxis(rank: Int) -> Int { rank == 4 ? 1 : rank - 1 }

    /// ONNX pads: begin of each spatial axis, then their ends.
    private func pads(_ g: WindowGeometry) -> [Int] { [g.padTop, g.padLeft, g.padBottom, g.padRight] }

    // MARK: - Protobuf pieces

    enum Attribute {
        case int(String, Int), ints(String, [Int]), float(String, Float), string(String, String)

        var proto: Onnx_AttributeProto {
            var a = Onnx_AttributeProto()
            switch self {
            case let .int(name, value): a.name = name; a.type = .int; a.i = Int64(value)
            case let .ints(name, values): a.name = name; a.type = .ints; a.ints = values.map(Int64.init)
            case let .float(name, value): a.name = name; a.type = .float; a.f = value
            case let .string(name, value): a.name = name; a.type = .string; a.s = Data(value.utf8)
            }
            return a
        }
    }

    /// Adds a node and returns the name of its output, made unique.
    @discardableResult
    private mutating func node(_ op: String, _ inputs: [String], output: String, _ attributes: [Attribute] = []) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.input = inputs
        let name = unique(output)
        n.output = [name]
        n.name = name
        n.attribute = attributes.map(\.proto)
        proto.node.append(n)
        return name
    }

    private mutating func unique(_ base: String) -> String {
        var name = base, suffix = 1
        while usedNames.contains(name) {
            name = "\(base)_\(suffix)"
            suffix += 1
        }
        usedNames.insert(name)
        return name
    }

    private mutating func initializer(_ name: String, _ tensor: Tensor) -> String {
        tensor.withUnsafeBufferPointer { initializer(name, dims: tensor.shape, Data(buffer: $0)) }
    }

    private mutating func initializer(_ name: String, dims: [Int], _ scalars: [Float]) -> String {
        scalars.withUnsafeBufferPointer { initializer(name, dims: dims, Data(buffer: $0)) }
    }

    /// ONNX stores raw tensor data little-endian, as Float is laid out on every platform Zoo runs on.
    private mutating func initializer(_ name: String, dims: [Int], _ bytes: Data, type: Onnx_TensorProto.DataType = .float) -> String {
        var t = Onnx_TensorProto()
        t.name = unique(name)
        t.dims = dims.map(Int64.init)
        t.dataType = Int32(type.rawValue)
        t.rawData = bytes
        proto.initializer.append(t)
        return t.name
    }

    private mutating func integerInitializer(_ name: String, _ values: [Int]) -> String {
        let scalars = values.map { Int64($0).littleEndian }
        return scalars.withUnsafeBufferPointer { initializer(name, dims: [values.count], Data(buffer: $0), type: .int64) }
    }

    /// A float tensor's name and shape: the batch axis fixed or dynamic, the rest as traced (4-D in the input's layout).
    private func valueInfo(_ name: String, shape: [Int]) -> Onnx_ValueInfoProto {
        var dims = Array(shape.dropFirst())
        if shape.count == 4 && options.nchw { dims = [dims[2], dims[0], dims[1]] }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var batch = Onnx_TensorShapeProto.Dimension()
        if let size = options.batch { batch.dimValue = Int64(size) } else { batch.dimParam = "batch" }
        tensor.shape.dim = [batch] + dims.map { size in
            var d = Onnx_TensorShapeProto.Dimension()
            d.dimValue = Int64(size)
            return d
        }
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensor
        return info
    }
}
