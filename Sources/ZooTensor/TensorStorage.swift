import Foundation
import Synchronization

private let storageCounter = Atomic<UInt64>(0)

/// Fresh zero pages that the kernel commits only where written (unmapped with `munmap`).
func mapAnonymousMemory(_ byteCount: Int) -> UnsafeMutableRawPointer {
    let raw = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let raw, raw != MAP_FAILED else { fatalError("cannot map \(byteCount) bytes of memory") }
    return raw
}

/// 64-byte-aligned Float32 buffer behind a `Tensor`. Each buffer has an identity that is never reused and a version
/// that grows with every write, so a backend can cache derived data (a weight reordered for oneDNN) until it changes.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    public let identity: UInt64
    public private(set) var version: UInt64 = 0

    /// Who frees the buffer: the buffer pool, `munmap` (an anonymous mapping of its own), or an owner that lends it.
    private enum Release {
        case pool, unmap, owner(AnyObject)
    }
    private let release: Release

    init(count: Int) {
        precondition(count >= 0, "a tensor cannot have a negative element count")
        let raw = BufferPool.shared.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        identity = storageCounter.wrappingAdd(1, ordering: .relaxed).newValue
        release = .pool
    }

    /// Zeros from a fresh anonymous mapping: the kernel hands out zero pages and commits memory only where written,
    /// so a model's worth of untouched weights costs neither time nor memory.
    init(reservedZerosCount count: Int) {
        precondition(count >= 0, "a tensor cannot have a negative element count")
        let byteCount = max(count, 1) * MemoryLayout<Float>.stride
        pointer = mapAnonymousMemory(byteCount).bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        identity = storageCounter.wrappingAdd(1, ordering: .relaxed).newValue
        release = .unmap
    }

    /// Memory that `owner` keeps alive for as long as this storage exists (a copy-on-write file mapping).
    init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        identity = storageCounter.wrappingAdd(1, ordering: .relaxed).newValue
        release = .owner(owner)
    }

    convenience init(copying other: TensorStorage) {
        self.init(count: other.count)
        pointer.update(from: other.pointer, count: count)
    }

    func markWritten() { version &+= 1 }

    deinit {
        let byteCount = max(count, 1) * MemoryLayout<Float>.stride
        switch release {
        case .pool: BufferPool.shared.release(UnsafeMutableRawPointer(pointer), byteCount: byteCount)
        case .unmap: munmap(UnsafeMutableRawPointer(pointer), byteCount)
        case .owner: break
        }
    }
}
