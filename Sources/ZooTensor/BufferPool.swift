import Foundation
import Synchronization

/// Recently freed large buffers, kept for reuse by exact size. The same shapes recur every step of inference and
/// training; a fresh large allocation comes from mmap and page-faults on first touch, which costs as much as a fast
/// kernel. A training step frees everything its forward pass kept, and the next step needs the same buffers again,
/// so the pool must hold a whole step's activations (a ResNet-50 step at batch 32 frees about 4 GB; with a 2 GB
/// bound the step took 6.3 s, unbounded 4.3 s). Bounded by ZOO_BUFFER_POOL_MB, by default a quarter of the
/// machine's memory and at least 2 GiB (0 disables it); the oldest buffers go first.
final class BufferPool: Sendable {
    static let shared = BufferPool(capacity: {
        if let text = ProcessInfo.processInfo.environment["ZOO_BUFFER_POOL_MB"], let mb = Int(text), mb >= 0 { return mb << 20 }
        let memory = Int(ProcessInfo.processInfo.physicalMemory)
        return max(2048 << 20, memory / 4)
    }())

    /// Smaller buffers are cheap to get from malloc.
    static let minimumByteCount = 1 << 20

    /// Buffers are held by address: raw pointers may not cross the lock.
    private struct State {
        var free: [Int: [UInt]] = [:]
        var order: [(byteCount: Int, address: UInt)] = []  // oldest first
        var bytes = 0
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount >= Self.minimumByteCount, let reused = take(byteCount) { return reused }
        return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    func release(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        guard byteCount >= Self.minimumByteCount, byteCount <= capacity else { return pointer.deallocate() }
        let address = UInt(bitPattern: pointer)
        let evicted = state.withLock { s -> [UInt] in
            var evicted: [UInt] = []
            while s.bytes + byteCount > capacity, !s.order.isEmpty {
                let oldest = s.order.removeFirst()
                s.free[oldest.byteCount]!.removeAll { $0 == oldest.address }
                s.bytes -= oldest.byteCount
                evicted.append(oldest.address)
            }
            s.free[byteCount, default: []].append(address)
            s.order.append((byteCount, address))
            s.bytes += byteCount
            return evicted
        }
        for address in evicted { UnsafeMutableRawPointer(bitPattern: address)!.deallocate() }
    }

    private func take(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        let address = state.withLock { s -> UInt? in
            guard let address = s.free[byteCount]?.popLast() else { return nil }
            s.order.removeAll { $0.address == address }
            s.bytes -= byteCount
            return address
        }
        return address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }
}
