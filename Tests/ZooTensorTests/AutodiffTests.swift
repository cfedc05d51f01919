import Testing
import ZooTensor

/// The graph layer: every op's pullback is wired to the right inputs, gradients accumulate over shared inputs,
/// and frozen parts of a graph record nothing.
@Suite struct AutodiffTests {
    /// ∂(Σ r ⊙ f)/∂inputs by autodiff against central differences in Float32 (step 1e-2), on the reference backend.
    /// Reported as ‖numeric − analytic‖ / ‖numeric‖ per input.
    func expectGradientsMatch(_ label: String, _ inputs: [Tensor], tolerance: Float = 5e-3,
                              sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Variable]) throws -> Variable) throws {
        try on(reference) {
            let variables = inputs.map { Variable($0, requiresGrad: true) }
            let output = try f(variables)
            let r = random(output.shape, seed: 77)
            try output.backward(seed: r)
            func objective(_ values: [Tensor]) throws -> Double {
                let y = try f(values.map { Variable($0) }).value
                return zip(y.scalars, r.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            for (i, input) in inputs.enumerated() {
                let h: Float = 1e-2
                var difference = 0.0, norm = 0.0
                for j in 0..<input.count {
                    var plus = inputs, minus = inputs
                    plus[i][flat: j] += h
                    minus[i][flat: j] -= h
                    let numeric = (try objective(plus) - objective(minus)) / Double(2 * h)
                    let analytic = Double(variables[i].grad?[flat: j] ?? 0)
                    difference += (numeric - analytic) * (numeric - analytic)
                    norm += numeric * numeric
                }
                let relative = (difference / max(norm, 1e-12)).squareRoot()
                #expect(relative <= Double(tolerance), "\(label): input \(i) gradient off by \(relative)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Copies and masks are exact in Float32, so their finite differences are checked tightly.
    @Test func structureOps() throws {
        let a = random([2, 3, 3, 2], seed: 1), b = random([2, 3, 3, 4], seed: 2), c = random([2, 3, 3, 1], seed: 3)
        try expectGradientsMatch("concatenate", [a, b, c], tolerance: 1e-4) { v in try concatenate(v) }
        try expectGradientsMatch("add", [a, random([2, 3, 3, 2], seed: 4)], tolerance: 1e-4) { v in try v[0] + v[1] }
        try expectGradientsMatch("scaled", [a], tolerance: 1e-3) { v in scaled(v[0], by: 0.3) }
        try expectGradientsMatch("zeroPad2d", [a], tolerance: 1e-4) { v in try zeroPad2d(v[0], top: 1, bottom: 2, left: 0, right: 3) }
        try expectGradientsMatch("flatten", [a], tolerance: 1e-4) { v in try flatten(v[0]) }
        try expectGradientsMatch("reshape", [a], tolerance: 1e-4) { v in try reshape(v[0], [3, -1]) }
        try expectGradientsMatch("biasAdd", [a, random([2], seed: 5)]) { v in try biasAdd(v[0], v[1]) }
        try expectGradientsMatch("dense", [random([3, 4], seed: 6), random([4, 5], seed: 7), random([5], seed: 8)]) { v in
            try dense(v[0], kernel: v[1], bias: v[2])
        }
    }

    /// A concatenation over enough positions to be split between threads: each position's channels in input order,
    /// and backward the matching slice of the gradient for each input that needs one, none for a frozen input.
    @Test func concatenationSlicesItsGradientForTheInputsThatNeedOne() throws {
        let widths = [5, 3, 4], positions = 3 * 17 * 19, total = widths.reduce(0, +)
        let values = widths.enumerated().map { random([3, 17, 19, $0.element], seed: 31 + UInt64($0.offset)) }
        let inputs = values.enumerated().map { Variable($0.element, requiresGrad: $0.offset != 1) }
        let y = try concatenate(inputs)
        let dy = random(y.shape, seed: 40)
        try y.backward(seed: dy)
        let (ys, dys) = (y.value.scalars, dy.scalars)
        var offset = 0
        for (i, width) in widths.enumerated() {
            let slice = { (all: [Float]) in (0..<positions).flatMap { p in all[(p * total + offset)..<(p * total + offset + width)] } }
            #expect(slice(ys) == values[i].scalars, "input \(i)'s values in the output")
            if i == 1 { #expect(inputs[i].grad == nil) } else { #expect(inputs[i].grad?.scalars == slice(dys), "input \(i)'s gradient") }
            offset += width
        }
    }

    /// The ops Keras's structural layers run on: merges, per-channel affine maps, cropping, resizing, permutations.
    @Test func kerasLayerOps() throws {
        let a = random([2, 4, 5, 3], seed: 21), b = random([2, 4, 5, 3], seed: 22), c = random([2, 4, 5, 3], seed: 23)
        for kind in ElementwiseCombination.allCases {
            let inputs = kind == .subtract ? [a, b] : [a, b, c]
            try expectGradientsMatch("\(kind)", inputs, tolerance: kind == .multiply ? 5e-3 : 1e-4) { v in try combine(kind, v) }
        }
        try expectGradientsMatch("channelAffine", [a]) { v in try channelAffine(v[0], scale: [0.5, -2, 3], offset: [1, 0, -1]) }
        // Broadcasting as NumPy does: a squeeze-and-excitation scale, a missing leading axis, repeats in the middle.
        for (shape, target) in [([2, 1, 1, 3], [2, 4, 5, 3]), ([5, 3], [2, 4, 5, 3]), ([2, 4, 1, 1], [2, 4, 5, 3]), ([1, 4, 1, 3], [2, 4, 5, 3])] {
            try expectGradientsMatch("broadcast \(shape)", [random(shape, seed: 24)], tolerance: 1e-4) { v in try broadcast(v[0], to: target) }
        }
        #expect(broadcastShape([[2, 1, 1, 3], [2, 4, 5, 1]]) == [2, 4, 5, 3] && broadcastShape([[2, 3], [3, 2]]) == nil)
        let scale = random([2, 1, 1, 3], seed: 25)
        let repeated = try broadcast(Variable(scale), to: [2, 4, 5, 3]).value
        for n in 0..<2 { for p in 0..<20 { for k in 0..<3 { #expect(repeated[flat: (n * 20 + p) * 3 + k] == scale[flat: n * 3 + k]) } } }
        try expectGradientsMatch("multiplied", [a]) { v in try multiplied(v[0], byConstant: b) }
        try expectGradientsMatch("crop2d", [a], tolerance: 1e-4) { v in try crop2d(v[0], top: 1, bottom: 0, left: 2, right: 1) }
        try expectGradientsMatch("permute", [a], tolerance: 1e-4) { v in try permute(v[0], [2, 3, 1]) }
        // The kinks of |x| and PReLU at 0 are kept out of the differences' reach.
        let awayFromZero = try Tensor(shape: a.shape, scalars: a.scalars.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 })
        for perBatch in [false, true] {
            try expectGradientsMatch("penalty per batch \(perBatch)", [awayFromZero]) { v in try penalty(v[0], l1: 0.01, l2: 0.003, perBatch: perBatch) }
        }
        try expectGradientsMatch("prelu", [awayFromZero, random([1, 5, 3], seed: 24)]) { v in try prelu(v[0], alpha: v[1]) }
        try expectGradientsMatch("layerNorm", [a, random([3], seed: 25), random([3], seed: 26)]) { v in
            try layerNorm(v[0], gamma: v[1], beta: v[2], epsilon: 1e-3)
        }
        for (strides, padding) in [((1, 1), Padding.valid), ((2, 2), .same), ((2, 1), .valid)] {
            try expectGradientsMatch("conv2dTranspose \(strides) \(padding)", [a, random([3, 2, 4, 3], seed: 27), random([4], seed: 28)]) { v in
                try conv2dTranspose(v[0], v[1], bias: v[2], strides: strides, padding: padding)
            }
        }
        for (size, method) in [((8, 10), ResizeMethod.nearest), ((8, 10), .bilinear), ((3, 7), .bilinear), ((3, 2), .nearest), ((6, 3), .bilinear)] {
            try expectGradientsMatch("resize2d \(method) to \(size)", [a]) { v in try resize2d(v[0], to: size, method: method) }
        }
    }

    /// Resizing against values worked out by hand from TensorFlow's half-pixel rules.
    @Test func resizingFollowsTensorFlowsHalfPixelRules() throws {
        let row = try Tensor(shape: [1, 1, 4, 1], scalars: [0, 10, 20, 30])
        // Bilinear 4 → 8: sample at (i + 0.5) / 2 − 0.5, clamped at the ends.
        let up = try resize2d(Variable(row), to: (1, 8), method: .bilinear).value.scalars
        #expect(up == [0, 2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 30], "\(up)")
        // Nearest 4 → 3: floor((i + 0.5) · 4 / 3) = 0, 2, 3.
        let down = try resize2d(Variable(row), to: (1, 3), method: .nearest).value.scalars
        #expect(down == [0, 20, 30], "\(down)")
        // Nearest by an integer factor repeats each pixel.
        #expect(try resize2d(Variable(row), to: (1, 8), method: .nearest).value.scalars == [0, 0, 10, 10, 20, 20, 30, 30])
        // Permute swaps height and width: element (h, w) moves to (w, h).
        let grid = try Tensor(shape: [1, 2, 3, 1], scalars: [1, 2, 3, 4, 5, 6])
        #expect(try permute(Variable(grid), [2, 1, 3]).value.scalars == [1, 4, 2, 5, 3, 6])
    }

    @Test func dropoutUsesOneMaskForwardAndBackward() throws {
        let x = random([4, 50], seed: 9)
        try expectGradientsMatch("dropout", [x], tolerance: 1e-4) { v in
            var generator = SeededGenerator(seed: 3)  // the same mask on every evaluation
            return try dropout(v[0], rate: 0.3, training: true, generator: &generator)
        }
        var generator = SeededGenerator(seed: 1)
        let y = try dropout(Variable(Tensor(shape: [10_000], repeating: 1)), rate: 0.25, training: true, generator: &generator).value
        let dropped = y.scalars.filter { $0 == 0 }.count
        #expect((2300...2700).contains(dropped), "\(dropped) of 10000 dropped at rate 0.25")
        #expect(y.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        #expect(try dropout(Variable(x), rate: 0.5, training: false, generator: &generator).value == x)
    }

    /// ReLU masks the gradient it receives where it lies; a sum hands both of its inputs the same gradient, so the
    /// first ReLU to run must not mask the one the other is still to read.
    @Test func reluMasksOnlyAGradientItHoldsAlone() throws {
        let x = random([4, 8, 8, 3], seed: 31), seed = random([4, 8, 8, 3], seed: 32)
        let input = Variable(x, requiresGrad: true)
        let y = try relu(input) + relu(scaled(input, by: -1))
        try y.backward(seed: seed)
        let (xs, ss) = (x.scalars, seed.scalars)
        let expected = Tensor(shape: x.shape) { out in for i in out.indices { out[i] = xs[i] > 0 ? ss[i] : (xs[i] < 0 ? -ss[i] : 0) } }
        #expect(input.grad! == expected)
    }

    @Test func compositeNetworkWithSharedInput() throws {
        let x = random([2, 6, 6, 3], seed: 10), k1 = random([3, 3, 3, 4], seed: 11, scale: 0.5), k2 = random([1, 1, 3, 4], seed: 12, scale: 0.5)
        let gamma = random([4], seed: 13), beta = random([4], seed: 14), w = random([4, 3], seed: 15)
        let labels = try Tensor(shape: [2], scalars: [0, 2])
        try expectGradientsMatch("conv → bn → tanh ⊕ shortcut → pool → dense → loss", [x, k1, k2, gamma, beta, w], tolerance: 1e-2) { v in
            let main = try tanh(batchNorm(conv2d(v[0], v[1], padding: .same), gamma: v[3], beta: v[4],
                                          movingMean: Variable(Tensor(zeros: [4])), movingVariance: Variable(Tensor(shape: [4], repeating: 1)),
                                          epsilon: 1e-3, momentum: 0.99, training: true))
            let shortcut = try conv2d(v[0], v[2])  // x is used twice: gradients must add up
            let pooled = try globalAveragePool2d(averagePool2d(main + shortcut, size: (2, 2)))
            let logits = try matmul(pooled, v[5])
            return try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: logits, targets: labels)
        }
    }

    /// Counts backward calls, delegating the work to the reference backend.
    final class CountingBackend: Backend, @unchecked Sendable {
        let name = "counting"
        var backwardData = 0, backwardWeights = 0, poolBackward = 0

        func conv2dBackwardData(_ dy: Tensor, _ kernel: Tensor, _ g: ConvolutionGeometry) throws -> Tensor {
            backwardData += 1
            return try Runtime.reference.conv2dBackwardData(dy, kernel, g)
        }

        func conv2dBackwardWeights(_ dy: Tensor, _ x: Tensor, _ g: ConvolutionGeometry, withBias: Bool) throws -> (kernel: Tensor, bias: Tensor?) {
            backwardWeights += 1
            return try Runtime.reference.conv2dBackwardWeights(dy, x, g, withBias: withBias)
        }

        func pool2dBackward(_ kind: PoolingKind, _ dy: Tensor, x: Tensor, _ g: PoolingGeometry) throws -> Tensor {
            poolBackward += 1
            return try Runtime.reference.pool2dBackward(kind, dy, x: x, g)
        }
    }

    @Test func frozenPrefixRecordsNothingAndCostsNoBackward() throws {
        let counting = CountingBackend()
        let frozen1 = Variable(random([3, 3, 2, 4], seed: 20)), frozen2 = Variable(random([3, 3, 4, 4], seed: 21))
        let trainable = Variable(random([3, 3, 4, 5], seed: 22), requiresGrad: true)
        let image = Variable(random([2, 8, 8, 2], seed: 23))
        try on(counting) {
            let prefix = try maxPool2d(relu(conv2d(relu(conv2d(image, frozen1, padding: .same)), frozen2, padding: .same)), size: (2, 2))
            #expect(!prefix.requiresGrad && prefix.isLeaf, "the frozen prefix must not record a graph (it would hold activations)")
            let out = try conv2d(prefix, trainable)
            try out.backward(seed: random(out.shape, seed: 24))
        }
        #expect(counting.backwardWeights == 1, "only the trainable convolution computes a weight gradient")
        #expect(counting.backwardData == 0 && counting.poolBackward == 0, "backward stops at the first trainable op")
        #expect(frozen1.grad == nil && frozen2.grad == nil && trainable.grad != nil)
    }

    /// The tape keeps what pullbacks read and nothing else: a ReLU's input (here a batch norm's output) is freed as
    /// soon as the forward pass drops it, what the pullbacks read is freed as the backward pass runs them, and a
    /// second backward through the same tape is refused.
    @Test func theTapeKeepsOnlyWhatBackwardReads() throws {
        let kernel = Variable(random([3, 3, 2, 4], seed: 40), requiresGrad: true)
        let gamma = Variable(Tensor(shape: [4], repeating: 1), requiresGrad: true), beta = Variable(Tensor(zeros: [4]), requiresGrad: true)
        let (mean, variance) = (Variable(Tensor(zeros: [4])), Variable(Tensor(shape: [4], repeating: 1)))
        weak var reluInput: TensorStorage?, convolutionOutput: TensorStorage?
        let out: Variable = try {
            let convolved = try conv2d(Variable(random([2, 6, 6, 2], seed: 41)), kernel, padding: .same)
            convolutionOutput = convolved.value.storage
            let normalized = try batchNorm(convolved, gamma: gamma, beta: beta, movingMean: mean, movingVariance: variance,
                                           epsilon: 1e-3, momentum: 0.9, training: true)
            reluInput = normalized.value.storage
            return try relu(normalized)
        }()
        #expect(reluInput == nil, "no pullback reads a ReLU's input: it must be freed once the forward pass drops it")
        #expect(convolutionOutput != nil, "batch norm's backward reads its input: the tape keeps it")
        try out.backward(seed: random(out.shape, seed: 42))
        #expect(convolutionOutput == nil, "a pullback's activations are freed once it has run")
        #expect(kernel.grad != nil && gamma.grad != nil && beta.grad != nil)
        let again = #expect(throws: ShapeError.self) { try out.backward(seed: random(out.shape, seed: 42)) }
        #expect(again?.description.contains("back-propagated already") == true, "\(String(describing: again))")
    }

    /// Merges whose backward reads no input (a residual add with its ReLU, which reads its output; an average) keep
    /// none: a pullback that held its input variables kept a ResNet-50 step's pre-add BatchNorm outputs, 0.8 GB at
    /// batch 32, alive until the backward pass.
    @Test func mergesKeepNoInputs() throws {
        let weight = Variable(random([3, 3], seed: 43), requiresGrad: true)
        let merges: [(String, ([Variable]) throws -> Variable)] = [
            ("addReLU of 2", { try addReLU($0) }), ("addReLU of 3", { try addReLU($0 + [$0[0]]) }),
            ("average", { try combine(.average, $0) }), ("subtract", { try combine(.subtract, $0) }),
        ]
        for (name, merge) in merges {
            weak var first: TensorStorage?, second: TensorStorage?
            let out: Variable = try {
                let a = try matmul(Variable(random([4, 3], seed: 44)), weight), b = try matmul(Variable(random([4, 3], seed: 45)), weight)
                (first, second) = (a.value.storage, b.value.storage)
                return try merge([a, b])
            }()
            #expect(first == nil && second == nil, "\(name): the pullback must not keep its inputs")
            try out.backward(seed: random(out.shape, seed: 46))
            #expect(weight.grad != nil, "\(name)")
            weight.zeroGrad()
        }
    }

    /// Gradients are summed in place where nothing else holds the sum, and copied where something does: a shared
    /// tensor never changes under its other holder. The sums are `+`'s, bit for bit.
    @Test func addingWritesInPlaceOnlyWhenUnshared() {
        let a = random([3, 70_000], seed: 47), b = random([3, 70_000], seed: 48)
        var unshared = a.scaled(by: 1)
        let identity = unshared.storage.identity
        unshared.add(b)
        #expect(unshared.storage.identity == identity, "an unshared sum is written in place")
        #expect(unshared.scalars == (a + b).scalars)
        var shared = a
        shared.add(b)
        #expect(shared.storage.identity != a.storage.identity && a.scalars == random([3, 70_000], seed: 47).scalars,
                "a shared tensor is copied, its other holder unchanged")
        #expect(shared.scalars == (a + b).scalars)
    }

    /// On oneDNN a max pooling's backward reads the workspace its forward wrote (where each maximum was) and an
    /// average pooling's reads nothing, so the tape frees the pooling's input; on the reference backend, which keeps no
    /// workspace, the input stays. Gradients against the reference's.
    @Test(arguments: [PoolingKind.max, .average])
    func poolingKeepsItsWorkspaceNotItsInput(_ kind: PoolingKind) throws {
        let kernel = Variable(random([3, 3, 2, 4], seed: 49), requiresGrad: true)
        let image = random([2, 7, 7, 2], seed: 50), seed = random([2, 3, 3, 4], seed: 51)
        var gradients: [Tensor] = []
        for (backend, inputKept) in [(dnnl as any Backend, false), (reference, true)] {
            weak var input: TensorStorage?
            let out: Variable = try on(backend) {
                let convolved = try conv2d(Variable(image), kernel, padding: .same)
                input = convolved.value.storage
                return kind == .max ? try maxPool2d(convolved, size: (3, 3), strides: (2, 2)) : try averagePool2d(convolved, size: (3, 3), strides: (2, 2))
            }
            #expect((input != nil) == inputKept, "\(kind) pooling on \(backend.name)")
            try on(backend) { try out.backward(seed: seed) }
            gradients.append(kernel.grad!)
            kernel.zeroGrad()
        }
        #expect(deviation(gradients[0], gradients[1]) < 1e-4)
        let refused = #expect(throws: ShapeError.self) {
            try reference.pool2dBackward(kind, seed, workspace: kernel, PoolingGeometry(op: "test", input: [2, 7, 7, 4], size: (3, 3), strides: (2, 2), padding: .valid))
        }
        #expect(refused?.description.contains("keeps no pooling workspace") == true, "\(String(describing: refused))")
        let foreign = #expect(throws: ShapeError.self) {
            try dnnl.pool2dBackward(kind, seed, workspace: kernel, PoolingGeometry(op: "test", input: [2, 7, 7, 4], size: (3, 3), strides: (2, 2), padding: .valid))
        }
        #expect(foreign?.description.contains("comes from another backend than dnnl") == true, "\(String(describing: foreign))")
    }

    @Test func gradientsAccumulateUntilCleared() throws {
        let w = Variable(random([3, 2], seed: 30), requiresGrad: true), x = Variable(random([4, 3], seed: 31))
        for _ in 0..<2 { try matmul(x, w).backward(seed: Tensor(shape: [4, 2], repeating: 1)) }
        let twice = w.grad!
        w.zeroGrad()
        try matmul(x, w).backward(seed: Tensor(shape: [4, 2], repeating: 1))
        #expect(deviation(twice, w.grad!.scaled(by: 2)) < 1e-6)
    }

    @Test func shapeErrorsNameTheOpAndShapes() throws {
        let x = Variable(Tensor(zeros: [1, 8, 8, 3]))
        #expect(throws: ShapeError("conv2d", "kernel [3, 3, 4, 8] expects 4 input channels, input [1, 8, 8, 3] has 3")) {
            try conv2d(x, Variable(Tensor(zeros: [3, 3, 4, 8])))
        }
        #expect(throws: ShapeError("matmul", "inner dimensions differ: [2, 3] · [4, 5]")) {
            try matmul(Variable(Tensor(zeros: [2, 3])), Variable(Tensor(zeros: [4, 5])))
        }
        #expect(throws: ShapeError.self) { try maxPool2d(x, size: (9, 9)) }
        #expect(throws: ShapeError("loss", "label 7.0 in row 0 is not a class index in 0..<3")) {
            try loss(.sparseCategoricalCrossEntropy(fromLogits: true), predictions: Variable(Tensor(zeros: [1, 3])), targets: Tensor(shape: [1], repeating: 7))
        }
        #expect(throws: ShapeError.self) { try Tensor(shape: [2, 2], scalars: [1, 2, 3]) }
    }

    @Test func tensorsAreValuesWithCopyOnWrite() throws {
        var a = Tensor(shape: [2, 2], repeating: 1)
        let b = a
        a[flat: 0] = 5
        #expect(b[flat: 0] == 1 && a[flat: 0] == 5)
        #expect(Int(bitPattern: a.storage.pointer) % 64 == 0, "storage is 64-byte aligned")
        let version = a.storage.version
        a[flat: 1] = 2
        #expect(a.storage.version > version, "writes bump the version that weight caches key on")
    }
}
