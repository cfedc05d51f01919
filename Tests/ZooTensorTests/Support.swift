import Foundation
import Testing
import ZooTensor

/// The backends every op test runs on. oneDNN must start on the test machines: tools/setup installs it.
let dnnl: DNNLBackend = try! Runtime.dnnl.get()
/// oneDNN with every convolution large enough to run on blocked activations (where its shape allows).
let blockedDNNL: DNNLBackend = try! DNNLBackend(blockedConvolutionMinimumFLOPs: 0, winogradMinimumFLOPs: .infinity,
                                                matrixProductMinimumRatio: .infinity)
/// oneDNN with every convolution Winograd takes on its Winograd kernels, where the CPU has them.
let winogradDNNL: DNNLBackend = try! DNNLBackend(winogradMinimumFLOPs: 0, matrixProductMinimumRatio: .infinity)
/// oneDNN with every 1×1 convolution (every pass it can) as a matrix product, and with none.
let matrixProductDNNL: DNNLBackend = try! DNNLBackend(matrixProductMinimumRatio: 0)
let convolutionKernelDNNL: DNNLBackend = try! DNNLBackend(matrixProductMinimumRatio: .infinity)
let reference = Runtime.reference

/// max|a − b| / max(1, max|b|): the relative deviation used throughout (b is the oracle).
func deviation(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "comparing \(a.shape) with \(b.shape)")
    return a.maxAbsoluteDifference(b) / max(1, b.maxMagnitude)
}

func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.normal(shape, standardDeviation: scale, using: &generator)
}

/// Runs `body` on one backend.
func on<R>(_ backend: any Backend, _ body: () throws -> R) rethrows -> R { try Runtime.using(backend, body) }

/// Forward and every input gradient of `f` for a random output gradient, on one backend.
func forwardAndGradients(_ backend: any Backend, _ inputs: [Tensor], seed: UInt64 = 99,
                         _ f: ([Variable]) throws -> Variable) throws -> [Tensor] {
    try on(backend) {
        let variables = inputs.map { Variable($0, requiresGrad: true) }
        let y = try f(variables)
        try y.backward(seed: random(y.shape, seed: seed))
        return [y.value] + variables.map { $0.grad ?? Tensor(zeros: $0.shape) }
    }
}

/// Expects the same forward values and gradients from oneDNN as from the reference backend, within 1e-4 relative.
func expectBackendsAgree(_ label: String, _ inputs: [Tensor], tolerance: Float = 1e-4, on backend: DNNLBackend = dnnl,
                         sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Variable]) throws -> Variable) throws {
    let fast = try forwardAndGradients(backend, inputs, f)
    let oracle = try forwardAndGradients(reference, inputs, f)
    for (index, (a, b)) in zip(fast, oracle).enumerated() {
        let what = index == 0 ? "forward" : "gradient of input \(index - 1)"
        #expect(deviation(a, b) <= tolerance, "\(label): \(what) differs by \(deviation(a, b))", sourceLocation: sourceLocation)
    }
}
