import Foundation
import ZooTensor

/// What one call of a model produced: its outputs (the main one first; auxiliary heads follow in training) and the
/// feature taps that were asked for.
public struct ModelOutput {
    public let outputs: [Variable]
    public let taps: [String: Variable]
    public var main: Variable { outputs[0] }
}

/// One layer's line in a model's profile.
public struct LayerProfile: Sendable {
    public let name: String
    public let kind: String
    public let outputShape: [Int]
    public let parameters: Int
    /// Multiply-adds × 2 for one image.
    public let flops: Double
}

/// Passed through a forward pass: layers are called through it so that taps and profiles see every output.
public final class ForwardContext {
    public let training: Bool
    /// Whether auxiliary heads (GoogLeNet's) run: in training by default.
    public let auxiliaryOutputs: Bool
    let wantedTaps: Set<String>
    fileprivate(set) var taps: [String: Variable] = [:]
    fileprivate var profile: [LayerProfile]?

    init(training: Bool, auxiliaryOutputs: Bool? = nil, taps: Set<String>, profiling: Bool) {
        self.training = training
        self.auxiliaryOutputs = auxiliaryOutputs ?? training
        wantedTaps = taps
        profile = profiling ? [] : nil
    }

    /// Calls `layer`, recording its output as a tap when asked for and in the profile when profiling.
    public func call(_ layer: Layer, _ x: Variable) throws -> Variable {
        let y = try layer(x, training: training)
        record(layer, y)
        return y
    }

    /// Calls a layer with several inputs.
    public func call(_ merge: Merge, _ inputs: [Variable]) throws -> Variable {
        let y = try merge(inputs)
        record(merge, y)
        return y
    }

    func record(_ layer: Layer, _ y: Variable) {
        if wantedTaps.contains(layer.name) { taps[layer.name] = y }
        guard profile != nil else { return }
        var flops = 0.0
        let perImage = Double(y.value.count / max(1, y.shape.first ?? 1))
        if let conv = layer as? Conv2D {
            flops = 2 * perImage * Double(conv.kernel.value.count / max(1, conv.kernel.shape[3]))
        } else if let dense = layer as? Dense {
            flops = 2 * Double(dense.kernel.value.count)
        }
        profile!.append(LayerProfile(name: layer.name, kind: layer.kind, outputShape: Array(y.shape.dropFirst()),
                                     parameters: layer.parameterCount, flops: flops))
    }
}

/// A network with Keras layer names: its layers in Keras's `model.layers` order, a forward pass, and the names of
/// the layers whose outputs can be tapped as features.
public final class Model {
    public let name: String
    /// Height, width, channels of one input image.
    public let inputShape: [Int]
    public let layers: [Layer]
    public let tapNames: [String]
    private let body: (ForwardContext, Variable) throws -> [Variable]
    /// Names an older generation of published weight files used for some layers (new name → old name; the others
    /// kept theirs), and the BatchNorm epsilon those files were trained with when it differs.
    public var legacyNames: [String: String] = [:]
    public var legacyBatchNormEpsilon: Float?
    /// The Dense layers that classify (main and auxiliary heads).
    public var classifierLayers: [String] = []

    /// Gives every classifier head `classes` outputs, freshly initialized (transfer learning); the rest is untouched.
    public func resetClassifier(classes: Int, seed: UInt64 = 0) throws {
        guard classes > 0 else { throw ShapeError(name, "classes must be positive, got \(classes)") }
        let heads = classifierLayers.compactMap { layer(named: $0) as? Dense }
        guard !heads.isEmpty else { throw ShapeError(name, "has no classifier head to reset (built without its top?)") }
        var generator = SeededGenerator(seed: seed)
        for head in heads { head.reset(units: classes, generator: &generator) }
    }

    public init(name: String, inputShape: [Int], layers: [Layer], tapNames: [String],
                body: @escaping (ForwardContext, Variable) throws -> [Variable]) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.tapNames = tapNames
        self.body = body
    }

    /// A model that applies `layers` in order.
    public static func sequential(name: String, inputShape: [Int], layers: [Layer], tapNames: [String]) -> Model {
        Model(name: name, inputShape: inputShape, layers: layers, tapNames: tapNames) { context, x in
            [try layers.reduce(x) { try context.call($1, $0) }]
        }
    }

    /// Runs the model on an NHWC batch; `taps` names layers whose outputs to return too (see `tapNames`). Auxiliary
    /// heads run in training unless `auxiliaryOutputs` says otherwise (to evaluate them without dropout).
    public func callAsFunction(_ x: Variable, training: Bool = false, auxiliaryOutputs: Bool? = nil, taps: Set<String> = []) throws -> ModelOutput {
        let known = Set(layers.map(\.name))
        if let unknown = taps.sorted().first(where: { !known.contains($0) }) {
            throw ShapeError(name, "no layer named '\(unknown)' to tap; feature taps: " + tapNames.joined(separator: ", "))
        }
        let context = ForwardContext(training: training, auxiliaryOutputs: auxiliaryOutputs, taps: taps, profiling: false)
        return ModelOutput(outputs: try body(context, x), taps: context.taps)
    }

    public func layer(named name: String) -> Layer? { layers.first { $0.name == name } }

    /// Every weight, layer by layer in model order.
    public var weights: [Weight] { layers.flatMap(\.weights) }
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Each layer's output shape, parameters and FLOPs for one image of `size` (default: the model's input size),
    /// measured by running the model on a backend that computes shapes only (training mode off, so auxiliary heads
    /// that only train are left out).
    public func profile(size: (Int, Int)? = nil) throws -> [LayerProfile] {
        let (h, w) = size ?? (inputShape[0], inputShape[1])
        let context = ForwardContext(training: false, taps: [], profiling: true)
        _ = try Runtime.using(ShapeOnlyBackend()) { try body(context, Variable(Tensor(reservedZeros: [1, h, w, inputShape[2]]))) }
        return context.profile!
    }

    /// A Keras-style table: layer, output shape, parameters; then the totals.
    public func summary(size: (Int, Int)? = nil) throws -> String {
        let rows = try profile(size: size)
        let header = "Layer (type)".padding(toLength: 40, withPad: " ", startingAt: 0)
            + "Output Shape".padding(toLength: 24, withPad: " ", startingAt: 0) + "Param #"
        var lines = ["Model: \(name)", header, String(repeating: "─", count: 76)]
        for row in rows {
            lines.append("\(row.name) (\(row.kind))".padding(toLength: 40, withPad: " ", startingAt: 0)
                + describe(shape: row.outputShape).padding(toLength: 24, withPad: " ", startingAt: 0) + "\(row.parameters)")
        }
        let trainable = weights.filter { $0.isTrainableKind }.reduce(0) { $0 + $1.value.count }
        lines += [String(repeating: "─", count: 76), "Total params: \(parameterCount)", "Trainable params: \(trainable)",
                  "Non-trainable params: \(parameterCount - trainable)"]
        return lines.joined(separator: "\n")
    }
}
