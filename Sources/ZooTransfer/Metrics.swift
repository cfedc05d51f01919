import ZooTensor

/// Running classification scores over batches: mean loss, top-1 and top-5 accuracy, and optionally a confusion
/// matrix (rows: true class, columns: predicted).
public struct ClassificationMetrics: Sendable, Codable, Equatable {
    public private(set) var count = 0
    public private(set) var lossSum: Double = 0
    public private(set) var top1Correct = 0
    public private(set) var top5Correct = 0
    public private(set) var confusion: [[Int]]?

    public init(classes: Int? = nil) {
        confusion = classes.map { [[Int]](repeating: [Int](repeating: 0, count: $0), count: $0) }
    }

    public var loss: Double { count == 0 ? .nan : lossSum / Double(count) }
    public var top1: Double { count == 0 ? .nan : Double(top1Correct) / Double(count) }
    public var top5: Double { count == 0 ? .nan : Double(top5Correct) / Double(count) }

    /// Adds a batch: `logits` `[n, classes]`, `labels` class indices, `meanLoss` the batch's mean loss.
    public mutating func add(logits: Tensor, labels: Tensor, meanLoss: Float) {
        let n = labels.count, classes = logits.count / max(1, n)
        logits.withUnsafeBufferPointer { z in
            labels.withUnsafeBufferPointer { y in
                for i in 0..<n {
                    let truth = Int(y[i]), row = z[(i * classes)..<((i + 1) * classes)]
                    let score = row[row.startIndex + truth]
                    // Rank of the true class: how many classes score higher (ties count against it).
                    let above = row.enumerated().reduce(0) { $0 + ($1.element > score || ($1.element == score && $1.offset < truth) ? 1 : 0) }
                    if above < 1 { top1Correct += 1 }
                    if above < 5 { top5Correct += 1 }
                    if confusion != nil {
                        let predicted = row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! - row.startIndex
                        confusion![truth][predicted] += 1
                    }
                }
            }
        }
        lossSum += Double(meanLoss) * Double(n)
        count += n
    }
}

extension ClassificationMetrics {
    /// The scores over every rank's samples (each rank scored its own part).
    public func merged(over group: any ProcessGroup) throws -> ClassificationMetrics {
        guard group.size > 1 else { return self }
        var packed = [Double(count), lossSum, Double(top1Correct), Double(top5Correct)] + (confusion ?? []).joined().map(Double.init)
        try packed.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
        var total = self
        total.count = Int(packed[0]); total.lossSum = packed[1]; total.top1Correct = Int(packed[2]); total.top5Correct = Int(packed[3])
        if let classes = confusion?.count {
            total.confusion = (0..<classes).map { row in (0..<classes).map { Int(packed[4 + row * classes + $0]) } }
        }
        return total
    }
}
