/// An operation refused its inputs: names the operation and the shapes involved.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let op: String
    public let message: String

    public init(_ op: String, _ message: String) {
        self.op = op
        self.message = message
    }

    public var description: String { "\(op): \(message)" }
}

/// Renders a shape the way error messages and summaries print it: `[32, 224, 224, 3]`.
public func describe(shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

/// How many elements a shape declared by a file or a request holds: nil when a dimension is negative or their
/// product overflows, which no real array can be.
public func elementCount(ofShape shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard dimension >= 0, !overflow else { return nil }
        count = product
    }
    return count
}
