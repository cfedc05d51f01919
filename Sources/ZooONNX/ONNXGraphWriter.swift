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

    /// The inputs' names: `input` for one, the model's own (its Keras input layers') for several.
    private let inputNames: [String]

    init(graph: LayerGraph, name: String, inputNames: [String], options: ONNXExportOptions) {
        self.graph = graph
        self.inputNames = graph.inputCount == 1 ? ["input"]
            : inputNames.count == graph.inputCount ? inputNames : (0..<graph.inputCount).map { "input_\($0)" }
        self.options = options
        proto.name = name
        values = Array(repeating: nil, count: graph.shapes.count)
        var names = [Int: String]()
        for output in graph.outputs { names[output] = graph.nodes.last { $0.output == output }?.layer.name ?? "output" }
        outputNames = names
    }

    mutating func write() throws {
        for index in graph.inputs {
            let input = unique(inputNames[index]), shape = graph.shapes[index]
            proto.input.append(valueInfo(input, shape: shape))
            // Images are held as NCHW; inputs of other ranks (vectors, sequences) as they come.
            values[index] = options.nchw || shape.count != 4 ? input : toNCHW(input, "\(input)_nchw")
        }
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
            let y = try convolution(x, shape: shape, kernel: conv.convolutionKernel, bias: conv.bias?.value, strides: conv.strides,
                                    dilation: conv.dilation, padding: conv.padding, groups: conv.groups, layer: layer.name,
                                    output: conv.activation == nil ? name : "\(layer.name)/conv")
            try activate(y, conv.activation, rank: rank, node: node, name: name)

        case let .separableConvolution(conv):
            guard rank == 4 else { throw fail("a convolution needs a 4-D input") }
            let depthwise = try conv.depthwiseKernel.value.reshaped(conv.depthwiseConvolutionKernelShape)
            let spread = try convolution(x, shape: shape, kernel: depthwise, bias: nil, strides: conv.strides, dilation: conv.dilation,
                                         padding: conv.padding, groups: conv.depthwiseGroups, layer: "\(layer.name)/depthwise",
                                         output: "\(layer.name)/depthwise")
            let spreadShape = graph.shapes[node.output].prefix(3) + [depthwise.shape[3]]
            let y = try convolution(spread, shape: Array(spreadShape), kernel: conv.pointwiseKernel.value, bias: conv.bias?.value,
                                    strides: (1, 1), dilation: (1, 1), padding: .valid, groups: 1, layer: "\(layer.name)/pointwise",
                                    output: conv.activation == nil ? name : "\(layer.name)/conv")
            try activate(y, conv.activation, rank: rank, node: node, name: name)

        case let .transposedConvolution(conv):
            guard rank == 4 else { throw fail("a transposed convolution needs a 4-D input") }
            let kernel = conv.kernel.value
            let (kh, kw) = (kernel.shape[0], kernel.shape[1])
            let output = graph.shapes[node.output]
            // The convolution this one transposes, from the output's size back to the input's: its padding at the
            // start is cropped from the full transposed output, and rows that no input reaches at the end are ONNX's
            // output padding.
            let g = try WindowGeometry(op: layer.name, input: (output[1], output[2]), kernel: (kh, kw), strides: conv.strides, padding: conv.padding)
            let fullHeight = (shape[1] - 1) * conv.strides.0 + kh, fullWidth = (shape[2] - 1) * conv.strides.1 + kw
            let endHeight = fullHeight - g.padTop - output[1], endWidth = fullWidth - g.padLeft - output[2]
            // Keras keeps the kernel as [h, w, filters, input channels]; ONNX wants [input channels, filters, h, w].
            let weights = try transposed(kernel, [3, 2, 0, 1])
            var inputs = [x, initializer("\(layer.name)/kernel", weights)]
            if let bias = conv.bias { inputs.append(initializer("\(layer.name)/bias", bias.value)) }
            let y = self.node("ConvTranspose", inputs, output: conv.activation == nil ? name : "\(layer.name)/conv", [
                .ints("kernel_shape", [kh, kw]), .ints("strides", [conv.strides.0, conv.strides.1]),
                .ints("pads", [g.padTop, g.padLeft, max(endHeight, 0), max(endWidth, 0)]),
                .ints("output_padding", [max(-endHeight, 0), max(-endWidth, 0)]),
            ])
            try activate(y, conv.activation, rank: rank, node: node, name: name)

        case let .dense(dense):
            guard rank >= 2 else { throw fail("Dense needs an input of rank 2 or more") }
            let product = dense.activation == nil ? name : "\(layer.name)/dense"
            let y: String
            if rank == 4 {
                // On a feature map (held NCHW), a Dense layer is a 1×1 convolution.
                let kernel = try dense.kernel.value.reshaped([1, 1] + dense.kernel.shape)
                y = try convolution(x, shape: shape, kernel: kernel, bias: dense.bias?.value, strides: (1, 1), dilation: (1, 1),
                                    padding: .valid, groups: 1, layer: layer.name, output: product)
            } else {
                let kernel = initializer("\(layer.name)/kernel", dense.kernel.value)
                if let bias = dense.bias {
                    let b = initializer("\(layer.name)/bias", bias.value)
                    y = rank == 2 ? self.node("Gemm", [x, kernel, b], output: product)
                        : self.node("Add", [self.node("MatMul", [x, kernel], output: "\(layer.name)/matmul"), b], output: product)
                } else {
                    y = self.node("MatMul", [x, kernel], output: product)
                }
            }
            try activate(y, dense.activation, rank: rank, node: node, name: name)

        case let .batchNormalization(bn):
            guard rank == 4 || rank == 2 else { throw fail("BatchNormalization is written for 2-D and 4-D inputs") }
            let parameters = [bn.gamma, bn.beta, bn.movingMean, bn.movingVariance].map { initializer("\(layer.name)/\($0.name)", $0.value) }
            values[node.output] = self.node("BatchNormalization", [x] + parameters, output: name, [.float("epsilon", bn.epsilon)])

        case let .layerNormalization(norm):
            guard options.opset >= 17 else { throw fail("ONNX has LayerNormalization from opset 17; export with --opset 17 or later") }
            // ONNX normalizes the trailing axes: channels last for the one call.
            let source = rank == 4 ? toNHWC(x, "\(layer.name)/nhwc") : x
            let parameters = [norm.gamma, norm.beta].map { initializer("\(layer.name)/\($0.name)", $0.value) }
            let y = self.node("LayerNormalization", [source] + parameters, output: rank == 4 ? "\(layer.name)/normalized" : name,
                              [.int("axis", -1), .float("epsilon", norm.epsilon)])
            values[node.output] = rank == 4 ? toNCHW(y, name) : y

        case let .channelAffine(scale, offset):
            var y = x
            if scale.contains(where: { $0 != 1 }) {
                y = self.node("Mul", [y, channelConstant("\(layer.name)/scale", scale, rank: rank)], output: offset.allSatisfy { $0 == 0 } ? name : "\(layer.name)/scaled")
            }
            if offset.contains(where: { $0 != 0 }) {
                y = self.node("Add", [y, channelConstant("\(layer.name)/offset", offset, rank: rank)], output: name)
            }
            values[node.output] = y

        case let .layerScale(scale):
            values[node.output] = self.node("Mul", [x, channelConstant("\(layer.name)/gamma", scale.gamma.value.scalars, rank: rank)], output: name)

        case let .prelu(prelu):
            // The slopes follow the value: a map's [H, W, C] (or with shared axes of size 1) as [C, H, W].
            var slope = prelu.alpha.value
            if rank == 4 && slope.shape.count == 3 { slope = try transposed(slope, [2, 0, 1]) }
            values[node.output] = self.node("PRelu", [x, initializer("\(layer.name)/alpha", slope)], output: name)

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

        case let .globalPooling(kind, keepDimensions):
            guard rank == 4 else { throw fail("global pooling needs a 4-D input") }
            let op = kind == .max ? "GlobalMaxPool" : "GlobalAveragePool"
            values[node.output] = keepDimensions ? self.node(op, [x], output: name)
                : self.node("Flatten", [self.node(op, [x], output: "\(layer.name)/pool")], output: name, [.int("axis", 1)])

        case .flatten:
            // Keras flattens NHWC: back to that order first, so that a Dense layer after it reads its kernel's rows.
            let source = rank == 4 ? toNHWC(x, "\(layer.name)/nhwc") : x
            values[node.output] = self.node("Flatten", [source], output: name, [.int("axis", 1)])

        case .flattenChannelsFirst:
            values[node.output] = self.node("Flatten", [x], output: name, [.int("axis", 1)])

        case .reshape:
            // In Keras's element order: a map as NHWC on each side. The batch axis is copied (0).
            let target = graph.shapes[node.output]
            let source = rank == 4 ? toNHWC(x, "\(layer.name)/nhwc") : x
            let y = self.node("Reshape", [source, integerInitializer("\(layer.name)/shape", [0] + target.dropFirst())],
                              output: target.count == 4 ? "\(layer.name)/nhwc_out" : name)
            values[node.output] = target.count == 4 ? toNCHW(y, name) : y

        case let .permute(order):
            // Keras's order on NHWC values, composed with the layout each side is held in.
            let keras = [0] + order
            let perm = rank == 4 ? [0, 3, 1, 2].map { keras[$0] }.map { [0, 2, 3, 1][$0] } : keras
            values[node.output] = self.node("Transpose", [x], output: name, [.ints("perm", perm)])

        case let .zeroPadding(top, bottom, left, right):
            guard rank == 4 else { throw fail("zero padding needs a 4-D input") }
            let padding = integerInitializer("\(layer.name)/pads", [0, 0, top, left, 0, 0, bottom, right])
            values[node.output] = self.node("Pad", [x, padding], output: name, [.string("mode", "constant")])

        case let .cropping(top, bottom, left, right):
            guard rank == 4 else { throw fail("cropping needs a 4-D input") }
            let bounds = [integerInitializer("\(layer.name)/starts", [top, left]),
                          integerInitializer("\(layer.name)/ends", [shape[1] - bottom, shape[2] - right]),
                          integerInitializer("\(layer.name)/axes", [2, 3])]
            values[node.output] = self.node("Slice", [x] + bounds, output: name)

        case let .resizing(height, width, method):
            guard rank == 4 else { throw fail("resizing needs a 4-D input") }
            // The output size: the batch and channels as they come, then the layer's height and width.
            let leading = self.node("Slice", [self.node("Shape", [x], output: "\(layer.name)/shape"),
                                              integerInitializer("\(layer.name)/zero", [0]), integerInitializer("\(layer.name)/two", [2])],
                                    output: "\(layer.name)/leading")
            let sizes = self.node("Concat", [leading, integerInitializer("\(layer.name)/size", [height, width])],
                                  output: "\(layer.name)/sizes", [.int("axis", 0)])
            // TensorFlow's half-pixel rules; its nearest takes floor((i + ½) · in/out), ONNX's round-half-up of that − ½.
            var attributes: [Attribute] = [.string("coordinate_transformation_mode", "half_pixel")]
            switch method {
            case .nearest: attributes += [.string("mode", "nearest"), .string("nearest_mode", "round_prefer_ceil")]
            case .bilinear: attributes += [.string("mode", "linear")]
            }
            values[node.output] = self.node("Resize", [x, "", "", sizes], output: name, attributes)

        case let .lrn(parameters):
            guard rank == 4 else { throw fail("LRN needs a 4-D input") }
            guard parameters.size % 2 == 1 else { throw fail("ONNX's LRN centres an even window differently; size \(parameters.size) cannot be written") }
            // ONNX divides alpha by the window size; Zoo's (TensorFlow's) alpha multiplies the plain sum.
            values[node.output] = self.node("LRN", [x], output: name, [
                .int("size", parameters.size), .float("alpha", parameters.alpha * Float(parameters.size)),
                .float("beta", parameters.beta), .float("bias", parameters.k),
            ])

        case .add, .concatenate, .combination, .scaledSum:
            try writeMerge(node, name: name, fail: fail)

        case .identity:
            values[node.output] = x

        case .opaque:
            throw fail("the layer does not say what it computes, so it has no ONNX form")
        }
    }

    /// Merges: sums and concatenations, and elementwise combinations with NumPy's broadcasting, which ONNX shares
    /// (every input of the same rank, so that values held NCHW align as their NHWC forms do).
    private mutating func writeMerge(_ node: LayerGraph.Node, name: String, fail: (String) -> ONNXExportError) throws {
        let inputs = node.inputs.map { values[$0]! }
        let rank = graph.shapes[node.inputs[0]].count
        guard inputs.count > 1 else {
            values[node.output] = inputs[0]
            return
        }
        guard Set(node.inputs.map { graph.shapes[$0].count }).count == 1 else { throw fail("a merge of inputs of different ranks") }
        switch node.layer.computation {
        case .add:
            values[node.output] = self.node(inputs.count == 2 ? "Add" : "Sum", inputs, output: name)
        case .concatenate:
            values[node.output] = self.node("Concat", inputs, output: name, [.int("axis", Self.channelAxis(rank: rank))])
        case .combination(let kind):
            let op = switch kind {
            case .subtract: "Sub"
            case .multiply: "Mul"
            case .average: "Mean"
            case .maximum: "Max"
            case .minimum: "Min"
            }
            // Mul and Sub take two inputs: a product of several is a chain.
            var result = inputs[0]
            for (index, next) in inputs.dropFirst().enumerated() where kind == .multiply || kind == .subtract {
                result = self.node(op, [result, next], output: index == inputs.count - 2 ? name : "\(node.layer.name)/\(op.lowercased())\(index)")
            }
            values[node.output] = kind == .multiply || kind == .subtract ? result : self.node(op, inputs, output: name)
        case .scaledSum(let scale):
            let factor = scalar("\(node.layer.name)/scale", scale)
            let scaled = self.node("Mul", [inputs[1], factor], output: "\(node.layer.name)/scaled")
            values[node.output] = self.node("Add", [inputs[0], scaled], output: name)
        default:
            throw fail("not a merge")
        }
    }

    /// A 2-D convolution of an NCHW value with an HWIO kernel (I = input channels / groups): ONNX's OIHW weights,
    /// and Keras's 'same' padding as explicit pads for the traced size.
    private mutating func convolution(_ x: String, shape: [Int], kernel: Tensor, bias: Tensor?, strides: (Int, Int), dilation: (Int, Int),
                                      padding: Padding, groups: Int, layer: String, output: String) throws -> String {
        let (kh, kw) = (kernel.shape[0], kernel.shape[1])
        let geometry = try WindowGeometry(op: layer, input: (shape[1], shape[2]), kernel: (kh, kw), strides: strides,
                                          dilation: dilation, padding: padding)
        var inputs = [x, initializer("\(layer)/kernel", try transposed(kernel, [3, 2, 0, 1]))]
        if let bias { inputs.append(initializer("\(layer)/bias", bias)) }
        var attributes: [Attribute] = [.ints("kernel_shape", [kh, kw]), .ints("strides", [strides.0, strides.1]),
                                       .ints("pads", pads(geometry)), .ints("dilations", [dilation.0, dilation.1])]
        if groups > 1 { attributes.append(.int("group", groups)) }
        return node("Conv", inputs, output: output, attributes)
    }

    private mutating func toNHWC(_ x: String, _ name: String) -> String { node("Transpose", [x], output: name, [.ints("perm", [0, 2, 3, 1])]) }
    private mutating func toNCHW(_ x: String, _ name: String) -> String { node("Transpose", [x], output: name, [.ints("perm", [0, 3, 1, 2])]) }

    /// A float scalar initializer named `name`.
    private mutating func scalar(_ name: String, _ value: Float) -> String { initializer(name, dims: [], [value]) }

    /// Per-channel values shaped to broadcast along a value's channel axis as the graph holds it ([C, 1, 1] against
    /// NCHW, [C] against the last axis), or a scalar for one value.
    private mutating func channelConstant(_ name: String, _ values: [Float], rank: Int) -> String {
        initializer(name, dims: values.count == 1 ? [] : rank == 4 ? [values.count, 1, 1] : [values.count], values)
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
            let bounds = [scalar("\(name)/min", 0), scalar("\(name)/max", maxValue)]
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
        case .gelu(let approximate):
            // Before opset 20, written out: x · ½(1 + erf(x / √2)), or with tanh(√(2/π)(x + 0.044715x³)).
            let inner: String
            if approximate {
                let cube = node("Mul", [x, node("Mul", [x, x], output: "\(name)/square")], output: "\(name)/cube")
                let sum = node("Add", [x, node("Mul", [cube, scalar("\(name)/k", 0.044715)], output: "\(name)/cubic")], output: "\(name)/sum")
                inner = node("Tanh", [node("Mul", [sum, scalar("\(name)/c", (2 / Float.pi).squareRoot())], output: "\(name)/scaled")], output: "\(name)/tanh")
            } else {
                inner = node("Erf", [node("Mul", [x, scalar("\(name)/r", 1 / Float(2).squareRoot())], output: "\(name)/scaled")], output: "\(name)/erf")
            }
            let half = node("Mul", [x, scalar("\(name)/half", 0.5)], output: "\(name)/half")
            return node("Mul", [half, node("Add", [inner, scalar("\(name)/one", 1)], output: "\(name)/plus_one")], output: name)
        case let .rectifier(slope, maxValue, threshold):
            // Keras's ReLU with a threshold, or a slope and a cap: slope·(x − t) below t, x from t on, the cap from it on.
            let t = scalar("\(name)/threshold", threshold)
            let below = node("Mul", [node("Sub", [x, t], output: "\(name)/shifted"), scalar("\(name)/slope", slope)], output: "\(name)/below")
            let kept = node("Where", [node("Less", [x, t], output: "\(name)/is_below"), below, x], output: maxValue == nil ? name : "\(name)/kept")
            guard let maxValue else { return kept }
            let cap = scalar("\(name)/max", maxValue)
            return node("Where", [node("GreaterOrEqual", [x, cap], output: "\(name)/is_capped"), cap, kept], output: name)
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
