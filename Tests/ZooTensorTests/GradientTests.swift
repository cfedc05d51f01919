import Testing
import ZooTensor

/// Every reference kernel's backward against central finite differences, computed in Float64.
@Suite struct GradientTests {
    /// Checks ∂L/∂inputs for L = Σ r ⊙ f(inputs), r random, on every element of every differentiable input.
    /// `forward` writes f into its output buffer; `backward` returns each input's gradient (nil: not differentiable).
    static func check(_ label: String, _ inputs: [[Double]], outputCount: Int, h: Double = 1e-5, tolerance: Double = 1e-6,
                      sourceLocation: SourceLocation = #_sourceLocation,
                      forward: ([UnsafePointer<Double>], UnsafeMutablePointer<Double>) -> Void,
                      backward: ([UnsafePointer<Double>], UnsafePointer<Double>) -> [[Double]?]) {
        var generator = SeededGenerator(seed: 7)
        let r = (0..<outputCount).map { _ in Double(generator.normal()) }
        func objective(_ values: [[Double]]) -> Double {
            let output = call(values, outputCount, forward)
            return zip(output, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let analytic = withPointers(inputs) { pointers in r.withUnsafeBufferPointer { backward(pointers, $0.baseAddress!) } }
        var worst = 0.0
        for (i, gradient) in analytic.enumerated() {
            guard let gradient else { continue }
            for j in inputs[i].indices {
                var plus = inputs, minus = inputs
                plus[i][j] += h
                minus[i][j] -= h
                let numeric = (objective(plus) - objective(minus)) / (2 * h)
                worst = max(worst, abs(numeric - gradient[j]) / max(1, abs(numeric)))
            }
        }
        #expect(worst <= tolerance, "\(label): gradient deviates from finite differences by \(worst)", sourceLocation: sourceLocation)
    }

    static func withPointers<R>(_ arrays: [[Double]], _ body: ([UnsafePointer<Double>]) -> R) -> R {
        let copies = arrays.map { array -> UnsafeMutablePointer<Double> in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: max(array.count, 1))
            p.initialize(from: array, count: array.count)
            return p
        }
        defer { copies.forEach { $0.deallocate() } }
        return body(copies.map { UnsafePointer($0) })
    }

    static func call(_ arrays: [[Double]], _ count: Int, _ body: ([UnsafePointer<Double>], UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        var output = [Double](repeating: 0, count: count)
        withPointers(arrays) { pointers in output.withUnsafeMutableBufferPointer { body(pointers, $0.baseAddress!) } }
        return output
    }

    static func random(_ count: Int, seed: UInt64, scale: Double = 1, awayFromZero: Bool = false) -> [Double] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let v = Double(generator.normal()) * scale
            return awayFromZero && abs(v) < 0.05 ? (v < 0 ? -0.05 : 0.05) : v
        }
    }

    @Test(arguments: BackendAgreementTests.convolutions)
    func convolution(_ c: BackendAgreementTests.ConvolutionCase) throws {
        let g = try ConvolutionGeometry(input: c.input, kernel: c.kernel, strides: c.strides, dilation: c.dilation,
                                        padding: c.padding, groups: c.groups)
        let inputs = [Self.random(c.input.reduce(1, *), seed: 1), Self.random(c.kernel.reduce(1, *), seed: 2), Self.random(c.kernel[3], seed: 3)]
        Self.check("conv2d \(c.testDescription)", inputs, outputCount: g.outputShape.reduce(1, *)) { p, y in
            ReferenceKernels.conv2d(p[0], p[1], bias: p[2], y, g)
        } backward: { p, dy in
            let dx = Self.call([], inputs[0].count) { _, out in ReferenceKernels.conv2dBackwardData(dy, p[1], out, g) }
            var db = [Double](repeating: 0, count: c.kernel[3])
            let dw = Self.call([], inputs[1].count) { _, out in
                db.withUnsafeMutableBufferPointer { ReferenceKernels.conv2dBackwardWeights(dy, p[0], out, dbias: $0.baseAddress, g) }
            }
            return [dx, dw, db]
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matrixProduct(_ t: (Bool, Bool)) {
        let (m, n, k) = (4, 3, 5)
        Self.check("matmul \(t)", [Self.random(m * k, seed: 4), Self.random(k * n, seed: 5)], outputCount: m * n) { p, y in
            ReferenceKernels.matmul(p[0], p[1], y, m: m, n: n, k: k, transposeA: t.0, transposeB: t.1)
        } backward: { p, dy in
            // dA = dC · op(B)ᵀ, laid out as A; dB = op(A)ᵀ · dC, laid out as B.
            let da = t.0 ? Self.call([], m * k) { _, out in ReferenceKernels.matmul(p[1], dy, out, m: k, n: m, k: n, transposeA: t.1, transposeB: true) }
                : Self.call([], m * k) { _, out in ReferenceKernels.matmul(dy, p[1], out, m: m, n: k, k: n, transposeA: false, transposeB: !t.1) }
            let db = t.1 ? Self.call([], k * n) { _, out in ReferenceKernels.matmul(dy, p[0], out, m: n, n: k, k: m, transposeA: true, transposeB: t.0) }
                : Self.call([], k * n) { _, out in ReferenceKernels.matmul(p[0], dy, out, m: k, n: n, k: m, transposeA: !t.0, transposeB: false) }
            return [da, db]
        }
    }

    @Test(arguments: Activation.representatives)
    func activation(_ kind: Activation) {
        let count = 40
        Self.check("\(kind)", [Self.random(count, seed: 6, scale: 2, awayFromZero: true)], outputCount: count) { p, y in
            ReferenceKernels.activation(kind, p[0], y, count: count)
        } backward: { p, dy in
            let y = Self.call([], count) { _, out in ReferenceKernels.activation(kind, p[0], out, count: count) }
            return [Self.call([y], count) { q, out in ReferenceKernels.activationBackward(kind, dy, x: p[0], y: q[0], out, count: count) }]
        }
    }

    @Test(arguments: [false, true])
    func softmax(_ log: Bool) {
        let (rows, columns) = (3, 6)
        Self.check(log ? "log-softmax" : "softmax", [Self.random(rows * columns, seed: 8, scale: 2)], outputCount: rows * columns) { p, y in
            ReferenceKernels.softmax(p[0], y, rows: rows, columns: columns, log: log)
        } backward: { p, dy in
            let y = Self.call([], rows * columns) { _, out in ReferenceKernels.softmax(p[0], out, rows: rows, columns: columns, log: log) }
            return [Self.call([y], rows * columns) { q, out in ReferenceKernels.softmaxBackward(dy, q[0], out, rows: rows, columns: columns, log: log) }]
        }
    }

    @Test(arguments: [PoolingKind.max, .average])
    func pooling(_ kind: PoolingKind) throws {
        for (shape, size, strides, padding) in [([2, 7, 7, 3], (3, 3), (2, 2), Padding.same), ([1, 5, 5, 2], (2, 2), (2, 2), .valid),
                                                ([1, 6, 9, 2], (2, 2), (1, 1), .same), ([1, 5, 4, 3], (5, 4), (1, 1), .valid)] {
            let g = try PoolingGeometry(op: "pool", input: shape, size: size, strides: strides, padding: padding)
            let count = shape.reduce(1, *)
            Self.check("\(kind) pool \(shape) \(size)/\(strides) \(padding)", [Self.random(count, seed: 9)],
                       outputCount: g.outputShape.reduce(1, *)) { p, y in
                ReferenceKernels.pool2d(kind, p[0], y, g)
            } backward: { p, dy in
                [Self.call([], count) { _, out in ReferenceKernels.pool2dBackward(kind, dy, p[0], out, g) }]
            }
        }
    }

    @Test func localResponseNormalization() {
        for (positions, channels, parameters) in [(6, 7, LRNParameters()), (4, 9, LRNParameters(size: 3, alpha: 0.3, beta: 0.6, k: 1.5)),
                                                  (2, 2, LRNParameters(size: 5, alpha: 0.5, beta: 0.75, k: 1))] {
            let count = positions * channels
            Self.check("lrn \(parameters)", [Self.random(count, seed: 10, scale: 2)], outputCount: count) { p, y in
                ReferenceKernels.lrn(p[0], y, positions: positions, channels: channels, parameters)
            } backward: { p, dy in
                [Self.call([], count) { _, out in ReferenceKernels.lrnBackward(dy, p[0], out, positions: positions, channels: channels, parameters) }]
            }
        }
    }

    @Test(arguments: [true, false])
    func batchNormalization(_ batchStatistics: Bool) {
        let (positions, channels) = (10, 4)
        let count = positions * channels
        let inputs = [Self.random(count, seed: 11, scale: 2), Self.random(channels, seed: 12), Self.random(channels, seed: 13)]
        let fixedMean = Self.random(channels, seed: 14), fixedVariance = [0.5, 1.0, 1.5, 2.0]
        let epsilon = 1e-3
        func statistics(_ x: UnsafePointer<Double>) -> ([Double], [Double]) {
            guard batchStatistics else { return (fixedMean, fixedVariance) }
            var mean = [Double](repeating: 0, count: channels), variance = mean
            mean.withUnsafeMutableBufferPointer { m in variance.withUnsafeMutableBufferPointer { v in
                ReferenceKernels.moments(x, positions: positions, channels: channels, mean: m.baseAddress!, variance: v.baseAddress!)
            } }
            return (mean, variance)
        }
        Self.check("batch norm, batch statistics: \(batchStatistics)", inputs, outputCount: count) { p, y in
            let (mean, variance) = statistics(p[0])
            ReferenceKernels.batchNorm(p[0], y, positions: positions, channels: channels, gamma: p[1], beta: p[2], mean: mean,
                                       variance: variance, epsilon: epsilon)
        } backward: { p, dy in
            let (mean, variance) = statistics(p[0])
            var dgamma = [Double](repeating: 0, count: channels), dbeta = dgamma
            let dx = Self.call([], count) { _, out in
                dgamma.withUnsafeMutableBufferPointer { dg in dbeta.withUnsafeMutableBufferPointer { db in
                    ReferenceKernels.batchNormBackward(dy, p[0], positions: positions, channels: channels, gamma: p[1], mean: mean,
                                                       variance: variance, epsilon: epsilon, batchStatistics: batchStatistics, dx: out,
                                                       dgamma: dg.baseAddress!, dbeta: db.baseAddress!)
                } }
            }
            return [dx, dgamma, dbeta]
        }
    }

    @Test(arguments: [LossFunction.categoricalCrossEntropy(fromLogits: true), .categoricalCrossEntropy(fromLogits: false),
                      .sparseCategoricalCrossEntropy(fromLogits: true), .sparseCategoricalCrossEntropy(fromLogits: false),
                      .binaryCrossEntropy(fromLogits: true), .binaryCrossEntropy(fromLogits: false), .meanSquaredError])
    func loss(_ function: LossFunction) {
        let (rows, columns) = (4, 5)
        var generator = SeededGenerator(seed: 15)
        let probabilities: Bool
        switch function {
        case .categoricalCrossEntropy(let logits), .sparseCategoricalCrossEntropy(let logits), .binaryCrossEntropy(let logits): probabilities = !logits
        case .meanSquaredError: probabilities = false
        }
        // Probabilities stay well inside (ε, 1 − ε), where Keras's clip is the identity.
        let predictions = (0..<rows * columns).map { _ in probabilities ? Double(generator.uniform(0.05, 0.95)) : Double(generator.normal()) * 2 }
        let targets: [Double]
        switch function {
        case .sparseCategoricalCrossEntropy: targets = (0..<rows).map { Double($0 % columns) }
        case .categoricalCrossEntropy: targets = (0..<rows * columns).map { $0 % columns == ($0 / columns) % columns ? 1 : 0 }
        case .binaryCrossEntropy: targets = (0..<rows * columns).map { Double($0 % 2) }
        case .meanSquaredError: targets = Self.random(rows * columns, seed: 16)
        }
        Self.check("\(function)", [predictions, targets], outputCount: 1) { p, y in
            y[0] = ReferenceKernels.loss(function, predictions: p[0], targets: p[1], rows: rows, columns: columns, gradient: nil)
        } backward: { p, dy in
            let g = Self.call([], rows * columns) { _, out in
                _ = ReferenceKernels.loss(function, predictions: p[0], targets: p[1], rows: rows, columns: columns, gradient: out)
            }
            return [g.map { $0 * dy[0] }, nil]
        }
    }
}
