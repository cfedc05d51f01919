import Foundation
import CZooSystem
import Synchronization

/// Recently freed large buffers, kept for reuse by size (see `serves`). The same shapes recur every step of
/// inference and training; a fresh large allocation comes from mmap and page-faults on first touch, which costs as
/// much as a fast kernel. A training step frees everything its forward pass kept, and the next step needs the same
/// buffers again, so the pool must hold a whole step's activations (a ResNet-50 step at batch 32 frees about 4 GB;
/// with a 2 GB bound the step took 6.3 s, unbounded 4.3 s). Bounded by ZOO_BUFFER_POOL_MB, by default a quarter of
/// the machine's memory and at least 2 GiB (0 disables it); the oldest buffers go first.
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
        /// Buffers handed out for a request smaller than themselves: their real size, by address.
        var larger: [UInt: Int] = [:]
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    /// A freed buffer serves requests down to 4/5 of its size. Networks whose tensors come in many nearly equal sizes
    /// (DenseNet's concatenations grow 32 channels at a time) would otherwise fill the pool with buffers no request
    /// fits exactly: DenseNet-121's training step at batch 32 peaked at 8.5 GB resident with exact sizes.
    static func serves(_ size: Int, _ request: Int) -> Bool { size >= request && size - size / 5 <= request }

    /// `scratch`: for a buffer that lives within one kernel call (a primitive's scratchpad), a free buffer up to four
    /// times its size serves. Winograd scratchpads come in many sizes (VGG16's from 8 to 930 MB), one in use at a
    /// time; with the 4/5 rule the pool kept one of each and a VGG16 step peaked 3 GB higher.
    func allocate(byteCount: Int, scratch: Bool = false) -> UnsafeMutableRawPointer {
        if byteCount >= Self.minimumByteCount, let memory = StepMemory.current, let lent = memory.allocate(byteCount: byteCount) { return lent }
        if byteCount >= Self.minimumByteCount, let reused = take(byteCount, scratch: scratch) { return reused }
        return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    func release(_ pointer: UnsafeMutableRawPointer, byteCount requested: Int) {
        guard requested >= Self.minimumByteCount else { return pointer.deallocate() }
        if StepMemory.release(pointer) { return }
        let address = UInt(bitPattern: pointer)
        let evicted = state.withLock { s -> [UInt] in
            let byteCount = s.larger.removeValue(forKey: address) ?? requested
            guard byteCount <= capacity else { return [address] }
            var evicted: [UInt] = []
            while s.bytes + byteCount > capacity, !s.order.isEmpty {
                let oldest = s.order.removeFirst()
                s.free[oldest.byteCount]!.removeAll { $0 == oldest.address }
                if s.free[oldest.byteCount]!.isEmpty { s.free[oldest.byteCount] = nil }
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

    /// Frees every buffer the pool holds, and the C heap's free memory with them, so that the process's resident
    /// memory is what is in use (before a step memory records a run).
    func trim() {
        let freed = state.withLock { s -> [UInt] in
            let all = s.order.map(\.address)
            s.free = [:]
            s.order = []
            s.bytes = 0
            return all
        }
        for address in freed { UnsafeMutableRawPointer(bitPattern: address)!.deallocate() }
        malloc_trim(0)
    }

    /// The smallest free buffer that serves `byteCount` (a scratchpad of it, if `scratch`).
    private func take(_ byteCount: Int, scratch: Bool) -> UnsafeMutableRawPointer? {
        let address = state.withLock { s -> UInt? in
            guard let size = s.free.keys.filter({ scratch ? $0 >= byteCount && $0 / 4 <= byteCount : Self.serves($0, byteCount) }).min(),
                  let address = s.free[size]!.popLast() else { return nil }
            if s.free[size]!.isEmpty { s.free[size] = nil }
            s.order.removeAll { $0.address == address }
            s.bytes -= size
            if size != byteCount { s.larger[address] = size }
            return address
        }
        return address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }
}
