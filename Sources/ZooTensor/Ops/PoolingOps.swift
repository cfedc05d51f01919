/// Max pooling over NHWC windows (padded cells never win).
public func maxPool2d(_ x: Variable, size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) throws -> Variable {
    try pool2d(.max, x, size: size, strides: strides ?? size, padding: padding, op: "maxPool2d")
}

/// Average pooling over NHWC windows, dividing by the real (unpadded) cells of each window.
public func averagePool2d(_ x: Variable, size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) throws -> Variable {
    try pool2d(.average, x, size: size, strides: strides ?? size, padding: padding, op: "averagePool2d")
}

/// Mean over height and width: [N, H, W, C] → [N, C].
public func globalAveragePool2d(_ x: Variable) throws -> Variable { try globalPool2d(.average, x) }

/// Maximum over height and width: [N, H, W, C] → [N, C].
public func globalMaxPool2d(_ x: Variable) throws -> Variable { try globalPool2d(.max, x) }

private func globalPool2d(_ kind: PoolingKind, _ x: Variable) throws -> Variable {
    let op = kind == .max ? "globalMaxPool2d" : "globalAveragePool2d"
    guard x.shape.count == 4, x.shape[1] > 0, x.shape[2] > 0 else {
        throw ShapeError(op, "expects a non-empty NHWC input, got \(describe(shape: x.shape))")
    }
    let pooled = try pool2d(kind, x, size: (x.shape[1], x.shape[2]), strides: (1, 1), padding: .valid, op: op)
    return try reshape(pooled, [x.shape[0], x.shape[3]])
}

private func pool2d(_ kind: PoolingKind, _ x: Variable, size: (Int, Int), strides: (Int, Int), padding: Padding, op: String) throws -> Variable {
    if case .explicit = padding { throw ShapeError(op, "pooling takes valid or same padding; use zeroPad2d for explicit padding") }
    let g = try PoolingGeometry(op: op, input: x.shape, size: size, strides: strides, padding: padding)
    let backend = Runtime.backend
    let input = x.value
    guard Gradients.recorded, x.requiresGrad else { return Variable(try backend.pool2d(kind, input, g)) }
    // Where the backend has a workspace (oneDNN: where each maximum was, a byte per output), the tape keeps it instead
    // of the input: ResNet-50's padded max-pooling input is 100 MB at batch 32.
    let (y, workspace) = try backend.pool2dTraining(kind, input, g)
    if let workspace { return Variable.result(y, [x]) { dy in [try backend.pool2dBackward(kind, dy, workspace: workspace, g)] } }
    return Variable.result(y, [x]) { dy in [try backend.pool2dBackward(kind, dy, x: input, g)] }
}
