import Foundation

/// Thread count for Zoo's own loops and oneDNN's OpenMP pool: ZOO_NUM_THREADS, or every core.
public enum Threads {
    public static let count: Int = {
        if let text = ProcessInfo.processInfo.environment["ZOO_NUM_THREADS"], let n = Int(text), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()
}

/// Runs `body` over `0..<count` split into contiguous chunks, one per thread; serial when there is little work.
@inline(__always)
public func parallelFor(_ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = min(Threads.count, max(1, count / max(1, minimumPerChunk)))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        // The chunks touch disjoint ranges; the closure does not outlive this call.
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
            if start < end { shared.value(start..<end) }
        }
    }
}

/// Hands a value to other threads where the caller guarantees the access is safe (read-only, disjoint parts, or
/// joined before the value is used again).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
