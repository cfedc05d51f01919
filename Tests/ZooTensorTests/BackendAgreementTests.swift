import Testing
import ZooTensor

/// oneDNN against the reference backend, forward and backward, on shapes that hit the edges.
@Suite struct BackendAgreementTests {
    struct ConvolutionCase: CustomTestStringConvertible, Sendable {
        let input: [Int], kernel: [Int], strides: (Int, Int), padding: Padding, dilation: (Int, Int), groups: Int, bias: Bool
        var testDescription: String { "x\(input) k\(kernel) s\(strides) \(padding) d\(dilation) g\(groups) bias:\(bias)" }
    }

    static let convolutions: [ConvolutionCase] = [
        .init(input: [1, 7, 9, 3], kernel: [3, 3, 3, 5], strides: (1, 1), padding: .same, dilation: (1, 1), groups: 1, bias: true),
        .init(input: [2, 9, 8, 4], kernel: [3, 3, 4, 6], strides: (2, 2), padding: .same, dilation: (1, 1), groups: 1, bias: true),
        .init(input: [2, 11, 11, 3], kernel: [5, 5, 3, 8], strides: (2, 2), padding: .valid, dilation: (1, 1), groups: 1, bias: false),
        .init(input: [1, 15, 15, 3], kernel: [7, 7, 3, 4], strides: (2, 2), padding: .same, dilation: (1, 1), groups: 1, bias: true),
        .init(input: [3, 5, 5, 16], kernel: [1, 1, 16, 7], strides: (1, 1), padding: .valid, dilation: (1, 1), groups: 1, bias: true),
        .init(input: [2, 10, 7, 3], kernel: [1, 1, 3, 4], strides: (2, 2), padding: .valid, dilation: (1, 1), groups: 1, bias: false),
        .init(input: [1, 9, 9, 2], kernel: [3, 3, 2, 3], strides: (1, 1), padding: .same, dilation: (2, 2), groups: 1, bias: true),
        .init(input: [2, 8, 8, 8], kernel: [3, 3, 2, 12], strides: (1, 1), padding: .same, dilation: (1, 1), groups: 4, bias: true),
        .init(input: [1, 13, 13, 6], kernel: [5, 5, 3, 4], strides: (2, 2), padding: .same, dilation: (1, 1), groups: 2, bias: false),
        .init(input: [1, 6, 6, 2], kernel: [3, 3, 2, 3], strides: (1, 1),
              padding: .explicit(top: 1, bottom: 2, left: 0, right: 1), dilation: (1, 1), groups: 1, bias: true),
    ]

    @Test(arguments: convolutions)
    func convolution(_ c: ConvolutionCase) throws {
        var inputs = [random(c.input, seed: 1), random(c.kernel, seed: 2)]
        if c.bias { inputs.append(random([c.kernel[3]], seed: 3)) }
        try expectBackendsAgree(c.testDescription, inputs) { v in
            try conv2d(v[0], v[1], bias: c.bias ? v[2] : nil, strides: c.strides, padding: c.padding, dilation: c.dilation, groups: c.groups)
        }
    }

    /// The same cases, and a 3×3 convolution with enough channels to run forward and backward data blocked too, with
    /// activations reordered into oneDNN's blocked layout and back.
    @Test(arguments: convolutions + [
        .init(input: [2, 6, 5, 64], kernel: [3, 3, 64, 64], strides: (1, 1), padding: .same, dilation: (1, 1), groups: 1, bias: true),
        .init(input: [2, 7, 7, 96], kernel: [3, 3, 96, 96], strides: (1, 1), padding: .valid, dilation: (1, 1), groups: 1, bias: false),
    ])
    func convolutionOnBlockedActivations(_ c: ConvolutionCase) throws {
        var inputs = [random(c.input, seed: 1), random(c.kernel, seed: 2)]
        if c.bias { inputs.append(random([c.kernel[3]], seed: 3)) }
        let g = try ConvolutionGeometry(input: c.input, kernel: c.kernel, strides: c.strides, dilation: c.dilation, padding: c.padding, groups: c.groups)
        let forms = blockedDNNL.convolutionForms(g)
        #expect(forms.backwardWeights != .nhwc)
        if c.input[3] >= 64 { #expect(forms.forwardAndBackwardData != .nhwc) }
        try expectBackendsAgree(c.testDescription, inputs, on: blockedDNNL) { v in
            try conv2d(v[0], v[1], bias: c.bias ? v[2] : nil, strides: c.strides, padding: c.padding, dilation: c.dilation, groups: c.groups)
        }
    }

    /// 3×3 convolutions on oneDNN's Winograd kernels where this CPU has them (AVX-512), on the direct ones elsewhere;
    /// either way against the reference, forward and every gradient.
    @Test(arguments: [
        ConvolutionCase(input: [2, 6, 5, 16], kernel: [3, 3, 16, 32], strides: (1, 1), padding: .same, dilation: (1, 1), groups: 1, bias: true),
        ConvolutionCase(input: [3, 9, 9, 48], kernel: [3, 3, 48, 16], strides: (1, 1), padding: .same, dilation: (1, 1), groups: 1, bias: false),
        ConvolutionCase(input: [1, 13, 11, 32], kernel: [3, 3, 32, 40], strides: (1, 1), padding: .valid, dilation: (1, 1), groups: 1, bias: true),
    ])
    func convolutionOnWinogradKernels(_ c: ConvolutionCase) throws {
        var inputs = [random(c.input, seed: 1), random(c.kernel, seed: 2)]
        if c.bias { inputs.append(random([c.kernel[3]], seed: 3)) }
        let g = try ConvolutionGeometry(input: c.input, kernel: c.kernel, strides: c.strides, dilation: c.dilation, padding: c.padding, groups: c.groups)
        let avx512 = DNNLBackend.instructionSet.hasPrefix("avx512")
        #expect(winogradDNNL.offersWinograd(g) == avx512, "oneDNN 2.6 has Winograd kernels on AVX-512 only (here \(DNNLBackend.instructionSet))")
        #expect((winogradDNNL.convolutionForms(g).forwardAndBackwardData == .winograd) == avx512)
        #expect((winogradDNNL.convolutionForms(g).backwardWeights == .winograd) == avx512)
        try expectBackendsAgree(c.testDescription, inputs, on: winogradDNNL) { v in
            try conv2d(v[0], v[1], bias: c.bias ? v[2] : nil, strides: c.strides, padding: c.padding, dilation: c.dilation, groups: c.groups)
        }
        // A Winograd kernel whose scratchpad is over the bar leaves the convolution to the direct kernels.
        let bounded = try DNNLBackend(winogradMinimumFLOPs: 0, matrixProductMinimumRatio: .infinity, winogradMaximumScratchpadBytes: 0)
        #expect(bounded.offersWinograd(g) == avx512)
        #expect(bounded.convolutionForms(g).forwardAndBackwardData != .winograd)
        #expect(bounded.convolutionForms(g).backwardWeights != .winograd)
    }

    /// 1×1 convolutions, every pass, as matrix products and on oneDNN's convolution kernels; strided ones subsample
    /// for the weight gradient, and padded ones stay on the kernels.
    @Test(arguments: [
        ConvolutionCase(input: [3, 5, 5, 16], kernel: [1, 1, 16, 7], strides: (1, 1), padding: .valid, dilation: (1, 1), groups: 1, bias: true),
        ConvolutionCase(input: [2, 9, 7, 6], kernel: [1, 1, 6, 4], strides: (2, 2), padding: .valid, dilation: (1, 1), groups: 1, bias: true),
        ConvolutionCase(input: [2, 10, 10, 5], kernel: [1, 1, 5, 3], strides: (3, 2), padding: .valid, dilation: (1, 1), groups: 1, bias: false),
        ConvolutionCase(input: [1, 4, 4, 32], kernel: [1, 1, 32, 48], strides: (1, 1), padding: .valid, dilation: (1, 1), groups: 1, bias: false),
        ConvolutionCase(input: [2, 6, 6, 4], kernel: [1, 1, 4, 5], strides: (1, 1), padding: .explicit(top: 1, bottom: 0, left: 0, right: 1),
                        dilation: (1, 1), groups: 1, bias: true),
    ], [true, false])
    func pointwiseConvolution(_ c: ConvolutionCase, asMatrixProduct: Bool) throws {
        var inputs = [random(c.input, seed: 1), random(c.kernel, seed: 2)]
        if c.bias { inputs.append(random([c.kernel[3]], seed: 3)) }
        try expectBackendsAgree(c.testDescription, inputs, on: asMatrixProduct ? matrixProductDNNL : convolutionKernelDNNL) { v in
            try conv2d(v[0], v[1], bias: c.bias ? v[2] : nil, strides: c.strides, padding: c.padding, dilation: c.dilation, groups: c.groups)
        }
    }

    /// Where the default rule puts ResNet-50's 1×1 convolutions at batch 32: the 56×56 ones and the weight gradients
    /// at 28×28 as matrix products on AVX2, none at 14×14, and none at all on AVX-512.
    @Test func pointwiseConvolutionsAsMatrixProductsWhereMeasured() throws {
        let avx2 = !DNNLBackend.instructionSet.hasPrefix("avx512")
        let shapes: [(input: [Int], kernel: [Int], stride: Int, passes: Bool, weightGradient: Bool)] = [
            ([32, 56, 56, 64], [1, 1, 64, 256], 1, true, true),
            ([32, 56, 56, 256], [1, 1, 256, 128], 2, false, true),
            ([32, 28, 28, 512], [1, 1, 512, 128], 1, false, true),
            ([32, 28, 28, 256], [1, 1, 256, 512], 2, false, false),
            ([32, 14, 14, 1024], [1, 1, 1024, 256], 1, false, false),
            ([32, 56, 56, 64], [3, 3, 64, 64], 1, false, false),
        ]
        for s in shapes {
            let g = try ConvolutionGeometry(input: s.input, kernel: s.kernel, strides: (s.stride, s.stride))
            #expect(dnnl.runsAsMatrixProduct(g) == (avx2 && s.passes), "\(s.input) \(s.kernel) stride \(s.stride)")
            #expect(dnnl.computesWeightGradientAsMatrixProduct(g) == (avx2 && s.weightGradient), "\(s.input) \(s.kernel) stride \(s.stride)")
        }
    }

    /// The shapes Winograd does not take stay on the direct kernels, whatever the CPU.
    @Test func winogradOnlyWhereItApplies() throws {
        for (input, kernel, strides, groups) in [([2, 8, 8, 16], [3, 3, 16, 16], (2, 2), 1), ([2, 8, 8, 16], [1, 1, 16, 16], (1, 1), 1),
                                                 ([2, 8, 8, 3], [3, 3, 3, 16], (1, 1), 1), ([2, 8, 8, 32], [3, 3, 16, 32], (1, 1), 2)] {
            let g = try ConvolutionGeometry(input: input, kernel: kernel, strides: strides, padding: .same, groups: groups)
            #expect(!winogradDNNL.offersWinograd(g), "\(input) \(kernel) \(strides) groups \(groups)")
            #expect(winogradDNNL.convolutionForms(g).forwardAndBackwardData != .winograd)
        }
        let large = try ConvolutionGeometry(input: [32, 56, 56, 64], kernel: [3, 3, 64, 64], padding: .same)
        #expect(dnnl.offersWinograd(large) == DNNLBackend.instructionSet.hasPrefix("avx512"))
        let small = try ConvolutionGeometry(input: [32, 7, 7, 128], kernel: [3, 3, 128, 32], padding: .same)
        #expect(!dnnl.offersWinograd(small), "below the default bar of \(dnnl.winogradMinimumFLOPs) FLOPs")
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matrixProduct(_ transposes: (Bool, Bool)) throws {
        let empty = try on(dnnl) { try matmul(Variable(Tensor(zeros: [2, 0])), Variable(Tensor(zeros: [0, 3]))).value }
        #expect(empty == Tensor(zeros: [2, 3]), "an empty sum is zero")
        let a = random(transposes.0 ? [7, 5] : [5, 7], seed: 4), b = random(transposes.1 ? [3, 7] : [7, 3], seed: 5)
        try expectBackendsAgree("matmul \(transposes)", [a, b]) { v in
            try matmul(v[0], v[1], transposeA: transposes.0, transposeB: transposes.1)
        }
    }

    @Test func denseWithBias() throws {
        try expectBackendsAgree("dense", [random([1, 13], seed: 6), random([13, 4], seed: 7), random([4], seed: 8)]) { v in
            try dense(v[0], kernel: v[1], bias: v[2])
        }
    }

    @Test(arguments: Activation.representatives)
    func activations(_ kind: Activation) throws {
        try expectBackendsAgree("\(kind)", [random([3, 5, 7, 11], seed: 9, scale: 2)]) { v in try activation(kind, v[0]) }
    }

    @Test(arguments: [PoolingKind.max, .average])
    func pooling(_ kind: PoolingKind) throws {
        let configurations: [([Int], (Int, Int), (Int, Int), Padding)] = [
            ([2, 7, 7, 3], (3, 3), (2, 2), .same), ([1, 8, 8, 2], (3, 3), (2, 2), .same), ([1, 5, 5, 4], (2, 2), (2, 2), .valid),
            ([2, 13, 13, 3], (3, 3), (2, 2), .valid), ([1, 6, 9, 2], (2, 2), (1, 1), .same), ([1, 7, 5, 1], (5, 5), (3, 3), .same),
        ]
        for (shape, size, strides, padding) in configurations {
            try expectBackendsAgree("\(kind) pool \(shape) \(size)/\(strides) \(padding)", [random(shape, seed: 10)]) { v in
                kind == .max ? try maxPool2d(v[0], size: size, strides: strides, padding: padding)
                    : try averagePool2d(v[0], size: size, strides: strides, padding: padding)
            }
        }
        try expectBackendsAgree("global \(kind) pool", [random([2, 5, 6, 7], seed: 11)]) { v in
            kind == .max ? try globalMaxPool2d(v[0]) : try globalAveragePool2d(v[0])
        }
    }

    @Test func localResponseNormalization() throws {
        for (shape, parameters) in [([2, 3, 4, 7], LRNParameters()), ([1, 2, 2, 16], LRNParameters(size: 5, alpha: 0.5, beta: 0.75, k: 1)),
                                    ([4, 3], LRNParameters(size: 3, alpha: 0.3, beta: 0.5, k: 2))] {
            try expectBackendsAgree("lrn \(shape)", [random(shape, seed: 12, scale: 3)]) { v in try lrn(v[0], parameters) }
        }
    }

    @Test(arguments: [true, false])
    func batchNormalization(_ training: Bool) throws {
        for shape in [[4, 3, 5, 6], [8, 10], [1, 1, 1, 3]] where training || shape != [1, 1, 1, 3] {
            let c = shape.last!
            let inputs = [random(shape, seed: 13, scale: 2), random([c], seed: 14), random([c], seed: 15)]
            let mean = random([c], seed: 16), variance = Tensor(shape: [c], repeating: 1.5)
            try expectBackendsAgree("batch norm \(shape) training: \(training)", inputs) { v in
                try batchNorm(v[0], gamma: v[1], beta: v[2], movingMean: Variable(mean), movingVariance: Variable(variance),
                              epsilon: 1e-3, momentum: 0.99, training: training)
            }
        }
    }

    /// oneDNN's batch norm with its ReLU fused in against the reference's two ops, and against oneDNN's own two:
    /// outputs and the input, gamma and beta gradients.
    @Test func batchNormWithFusedReLU() throws {
        for shape in [[4, 3, 5, 6], [8, 10], [2, 7, 7, 32]] {
            let c = shape.last!
            let inputs = [random(shape, seed: 23, scale: 2), random([c], seed: 24), random([c], seed: 25)]
            let (mean, variance) = (Tensor(zeros: [c]), Tensor(shape: [c], repeating: 1))
            let fusedOp = { (v: [Variable]) in
                try batchNormReLU(v[0], gamma: v[1], beta: v[2], movingMean: Variable(mean), movingVariance: Variable(variance),
                                  epsilon: 1e-3, momentum: 0.99)
            }
            try expectBackendsAgree("batch norm + relu \(shape)", inputs, fusedOp)
            let fused = try forwardAndGradients(dnnl, inputs, fusedOp)
            let apart = try forwardAndGradients(dnnl, inputs) { v in
                try relu(batchNorm(v[0], gamma: v[1], beta: v[2], movingMean: Variable(mean), movingVariance: Variable(variance),
                                   epsilon: 1e-3, momentum: 0.99, training: true))
            }
            for (a, b) in zip(fused, apart) { #expect(deviation(a, b) <= 1e-6, "\(shape): fused and apart differ") }
        }
    }

    /// A residual add with its ReLU in one pass gives, on each backend, exactly what the add and the ReLU give apart:
    /// the output and every input's gradient, bit for bit, for two and for three inputs.
    @Test(arguments: [2, 3])
    func addWithFusedReLU(_ count: Int) throws {
        let inputs = (0..<count).map { random([2, 5, 5, 6], seed: 30 + UInt64($0)) }
        for backend in [dnnl, reference] as [any Backend] {
            let fused = try forwardAndGradients(backend, inputs) { try addReLU($0) }
            let apart = try forwardAndGradients(backend, inputs) { v in try relu(v.dropFirst().reduce(v[0]) { try add($0, $1) }) }
            #expect(fused == apart, "\(backend.name), \(count) inputs")
            #expect(fused[0].scalars.contains { $0 == 0 } && fused[0].scalars.contains { $0 > 0 }, "the ReLU cuts somewhere")
        }
    }

    @Test func trainingBatchNormUpdatesMovingStatisticsAlike() throws {
        let x = random([6, 4, 4, 5], seed: 17, scale: 2)
        func moving(_ backend: any Backend) throws -> (Tensor, Tensor) {
            let mean = Variable(Tensor(zeros: [5])), variance = Variable(Tensor(shape: [5], repeating: 1))
            _ = try on(backend) {
                try batchNorm(Variable(x), gamma: Variable(Tensor(shape: [5], repeating: 1)), beta: Variable(Tensor(zeros: [5])),
                              movingMean: mean, movingVariance: variance, epsilon: 1e-3, momentum: 0.9, training: true)
            }
            return (mean.value, variance.value)
        }
        let (fast, oracle) = (try moving(dnnl), try moving(reference))
        #expect(deviation(fast.0, oracle.0) <= 1e-5)
        #expect(deviation(fast.1, oracle.1) <= 1e-5)
    }

    @Test func reorderedWeightsFollowInPlaceWrites() throws {
        let x = Variable(random([2, 9, 9, 16], seed: 18))
        var kernel = random([3, 3, 16, 32], seed: 19)
        for step in 0..<3 {
            let fast = try on(dnnl) { try conv2d(x, Variable(kernel), padding: .same).value }
            let oracle = try on(reference) { try conv2d(x, Variable(kernel), padding: .same).value }
            #expect(deviation(fast, oracle) <= 1e-4, "step \(step): a stale reordered weight was used")
            kernel.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= -0.5 } }
        }
    }

    @Test(arguments: [DNNLBackend.StridedPointwiseStrategy.native, .subsample, .measure])
    func stridedPointwiseStrategies(_ strategy: DNNLBackend.StridedPointwiseStrategy) throws {
        let backend = try DNNLBackend()
        backend.stridedPointwiseStrategy = strategy
        for (input, stride) in [([2, 10, 7, 3], 2), ([1, 9, 9, 8], 3)] {
            let x = Variable(random(input, seed: 30)), k = Variable(random([1, 1, input[3], 5], seed: 31)), b = Variable(random([5], seed: 32))
            for _ in 0..<2 {  // the measuring call, then the remembered choice
                let fast = try on(backend) { try conv2d(x, k, bias: b, strides: (stride, stride)).value }
                let oracle = try on(reference) { try conv2d(x, k, bias: b, strides: (stride, stride)).value }
                #expect(deviation(fast, oracle) <= 1e-4, "\(strategy) \(input) stride \(stride)")
            }
        }
    }
}
