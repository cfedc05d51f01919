import Foundation

/// The processes one run is spread over (data-parallel training, feature extraction): each has a rank in
/// `0..<size` and they exchange data through collective calls, which every process must make in the same order.
/// A single process is a group of one, in which every collective is the identity.
public protocol ProcessGroup: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Starts summing `values` element-wise over all processes, in place; the buffer must stay alive and untouched
    /// until the returned reduction completes.
    func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> any PendingReduction
    /// Sums `values` element-wise over all processes, in place.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Rank 0's `values` on every process.
    func broadcast(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Rank 0's bytes on every process (the argument is ignored elsewhere).
    func broadcast(_ data: Data) throws -> Data
    /// Every process's bytes, in rank order, on every process.
    func allGather(_ data: Data) throws -> [Data]
    /// The same processes with a channel of their own: collectives on it are ordered apart from this group's.
    func duplicate() throws -> any ProcessGroup
}

/// A reduction under way: `poll` lets it progress while the caller computes, `wait` returns once it is done.
public protocol PendingReduction {
    func poll() throws
    func wait() throws
}

extension ProcessGroup {
    public var isRoot: Bool { rank == 0 }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try startAllReduceSum(values).wait()
    }

    /// The contiguous part of `0..<count` this process takes: sizes differ by at most one, lower ranks larger.
    public func share(of count: Int) -> Range<Int> {
        Shard(index: rank, count: size).range(of: count)
    }
}

/// One process's part of every batch: `index` of `count` equal shares.
public struct Shard: Sendable, Equatable {
    public let index: Int
    public let count: Int

    public static let whole = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        precondition(count > 0 && (0..<count).contains(index), "shard \(index) of \(count)")
        self.index = index; self.count = count
    }

    public init(_ group: any ProcessGroup) { self.init(index: group.rank, count: group.size) }

    /// Its part of `0..<total`: split as evenly as possible, the first `total % count` parts one larger.
    public func range(of total: Int) -> Range<Int> {
        let base = total / count, extra = total % count
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }
}

/// The group of one process: nothing to exchange.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> any PendingReduction { Completed() }
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func broadcast(_ data: Data) throws -> Data { data }
    public func allGather(_ data: Data) throws -> [Data] { [data] }
    public func duplicate() throws -> any ProcessGroup { self }

    struct Completed: PendingReduction {
        func poll() {}
        func wait() {}
    }
}
