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
