import Foundation
import Synchronization

/// The memory of a computation that repeats with the same allocations in the same order, as a training step does
/// for one input shape and one freezing: the first run is recorded, and later runs take every large buffer that the
/// run itself frees from one arena laid out by those lifetimes, so that a buffer no longer needed holds a later one
/// whatever their sizes.
///
/// Why: the buffer pool reuses a freed buffer only for a request of nearly its size, so at a ResNet-50 step's peak
/// (batch 32) it held 750 MB of freed forward temporaries on top of 3.17 GB in use, and the process's peak was the sum.
/// With an arena the peak is what the step uses.
///
/// Only buffers of at least `BufferPool.minimumByteCount` count, and only those allocated on the calling task inside
/// `run` (other threads allocate from the pool as ever). A buffer that outlived the recorded run (a gradient, the
/// output) comes from the pool in later runs too. A later run that allocates otherwise than the recorded one (another
/// size, a buffer still held where the recording had freed it) takes the rest of its buffers from fresh mappings, and
/// its allocations become the layout the next run follows; an arena is reused only once every buffer it lent is free,
/// so no buffer is ever shared. ZOO_STEP_MEMORY=0 turns it off.
public final class StepMemory: @unchecked Sendable {
    /// Which memory the current task's allocations go to (see `BufferPool.allocate`).
    @TaskLocal static var current: StepMemory?

    public static let enabled = ProcessInfo.processInfo.environment["ZOO_STEP_MEMORY"] != "0"

    private struct Layout {
        let sizes: [Int]
        /// Arena offset per allocation; nil for one that outlived the recorded run.
        let offsets: [Int?]
        /// Per allocation, the earlier ones whose memory it reuses: all must be free before it is lent.
        let predecessors: [[Int]]
        let arenaBytes: Int
    }

    /// What a run allocated: sizes in order, and when each began and ended on a clock that every allocation and
    /// release advances (no end: it outlived the run, or the pool, which reports no releases, served it).
    private struct Recording {
        var sizes: [Int] = []
        var starts: [Int] = []
        var ends: [Int?] = []
        /// Allocation index by address, for the mappings of this run.
        var open: [UInt: Int] = [:]
        var clock = 0

        mutating func begin(_ byteCount: Int) -> Int {
            sizes.append(byteCount); starts.append(clock); ends.append(nil)
            clock += 1
            return sizes.count - 1
        }

        mutating func end(_ index: Int) {
            ends[index] = clock
            clock += 1
        }
    }

    private let lock = NSLock()
    /// The layout of each key's runs (a few: an epoch's last batch is often smaller), and the current run's key.
    private var layouts: [AnyHashable: Layout] = [:]
    private var key: AnyHashable?
    private var layout: Layout? { key.flatMap { layouts[$0] } }
    static let keptLayouts = 4
    private var arena: Arena?
    /// The current run's allocations (nil between runs), and whether it still follows `layout`.
    private var recording: Recording?
    private var following = false
    /// Which allocations of the current run are lent and still held.
    private var held: [Bool] = []

    /// Bytes of the arena the last run's key needs (0 before a recorded run), and how many buffers the last run took
    /// from it, for tests and benchmarks.
    public var arenaBytes: Int { lock.withLock { layout?.arenaBytes ?? 0 } }
    public private(set) var lentLastRun = 0

    public init() {}

    deinit { arena?.retire() }

    /// Runs `body` with its large buffers from this memory: from the arena when a run with this `key` (what fixes the
    /// allocations, such as the input shape) was recorded, else recorded. A nested or concurrent call runs `body` as
    /// it is.
    public func run<R>(key: AnyHashable, _ body: () throws -> R) rethrows -> R {
        guard Self.enabled, Self.current == nil, lock.try() else { return try body() }
        self.key = key
        if let layout {
            if let arena, arena.byteCount < layout.arenaBytes { retireArena() }
            if arena == nil { arena = Arena(byteCount: layout.arenaBytes, owner: self) }
            held = Array(repeating: false, count: layout.sizes.count)
            following = true
        } else {
            retireArena()
            following = false
        }
        recording = Recording()
        lentLastRun = 0
        let replaying = following
        lock.unlock()
        if !replaying { BufferPool.shared.trim() }  // what the pool holds would count on top of this run's peak
        defer { finish() }
        return try Self.$current.withValue(self) { try body() }
    }

    /// A run that followed its layout to the end keeps it; any other gives the layout of what it allocated.
    private func finish() {
        lock.withLock {
            guard let recording else { return }
            if !following || recording.sizes.count != layout?.sizes.count, let key {
                if layouts[key] == nil, layouts.count >= Self.keptLayouts { layouts.removeValue(forKey: layouts.keys.first { $0 != key }!) }
                layouts[key] = Self.layout(sizes: recording.sizes, starts: recording.starts, ends: recording.ends)
            }
            // A buffer still lent (kept past the run) pins the arena: the next run gets another.
            if let arena, arena.lent > 0 { retireArena() }
            self.recording = nil
            following = false
        }
    }

    private func retireArena() {
        arena?.retire()
        arena = nil
    }

    /// A buffer for an allocation of the current task during `run`; nil to take it from the pool.
    func allocate(byteCount: Int) -> UnsafeMutableRawPointer? {
        lock.withLock {
            guard recording != nil else { return nil }
            let index = recording!.begin(byteCount)
            if following, let layout, let arena, index < layout.sizes.count, layout.sizes[index] == byteCount,
               !layout.predecessors[index].contains(where: { held[$0] }) {
                // Outlived the recorded run: from the pool, which keeps such buffers for the next run.
                guard let offset = layout.offsets[index] else { return nil }
                held[index] = true
                arena.lend(offset: offset, index: index)
                lentLastRun += 1
                return arena.base + offset
            }
            // Unrecorded, or no longer following the layout: a fresh mapping, returned to the system when freed, so
            // that the peak of such a run is its own use too.
            following = false
            let pointer = mapAnonymousMemory(byteCount)
            recording!.open[UInt(bitPattern: pointer)] = index
            StepMemory.mapped.withLock { $0[UInt(bitPattern: pointer)] = Mapping(memory: self, byteCount: byteCount) }
            return pointer
        }
    }

    /// The end of a mapping of the current run.
    private func recordRelease(_ address: UInt) {
        lock.withLock {
            if let index = recording?.open.removeValue(forKey: address) { recording!.end(index) }
        }
    }

    /// The end of a lent buffer.
    fileprivate func returned(index: Int, by arena: Arena) {
        lock.withLock {
            guard arena === self.arena, index < held.count else { return }
            held[index] = false
            if let recording, index < recording.ends.count, recording.ends[index] == nil { self.recording!.end(index) }
        }
    }

    /// Offsets by lifetime, largest buffers first: each at the lowest offset where it overlaps no buffer already placed
    /// that is live at the same time (TensorFlow Lite's "greedy by size"). Placed in order of allocation instead, the
    /// small buffers of a VGG16 step split the gaps the large ones needed: an arena 9% above the step's peak use
    /// (3021 MB for 2776), against 1% so.
    private static func layout(sizes: [Int], starts: [Int], ends: [Int?]) -> Layout {
        let alignment = 4096
        let rounded = sizes.map { ($0 + alignment - 1) / alignment * alignment }
        var offsets = [Int?](repeating: nil, count: sizes.count)
        var placed: [Int] = []
        var arena = 0
        let order = sizes.indices.filter { ends[$0] != nil }.sorted { (rounded[$0], -starts[$0]) > (rounded[$1], -starts[$1]) }
        for index in order {
            let (start, end) = (starts[index], ends[index]!)
            let concurrent = placed.filter { starts[$0] < end && start < ends[$0]! }.sorted { offsets[$0]! < offsets[$1]! }
            var offset = 0
            for other in concurrent {
                if offsets[other]! - offset >= rounded[index] { break }
                offset = max(offset, offsets[other]! + rounded[other])
            }
            offsets[index] = offset
            placed.append(index)
            arena = max(arena, offset + rounded[index])
        }
        // An earlier buffer in the same memory must be free before a later one is lent.
        var predecessors = [[Int]](repeating: [], count: sizes.count)
        for index in placed {
            let (offset, size) = (offsets[index]!, rounded[index])
            predecessors[index] = placed.filter {
                starts[$0] < starts[index] && offsets[$0]! < offset + size && offset < offsets[$0]! + rounded[$0]
            }
        }
        return Layout(sizes: sizes, offsets: offsets, predecessors: predecessors, arenaBytes: arena)
    }

    // MARK: Memory of the recorded run and arenas, found by address when the pool is handed a buffer back

    /// A run's mapping: whose run it was (not kept alive by it: a buffer may outlive its model) and its size.
    private struct Mapping {
        weak var memory: StepMemory?
        let byteCount: Int
    }

    /// The mappings of runs, by address.
    private static let mapped = Mutex<[UInt: Mapping]>([:])
    /// Arenas that lend memory, by base address.
    fileprivate static let arenas = Mutex<[(base: UInt, end: UInt, arena: Arena)]>([])

    /// Takes back a buffer that came from a step memory; false for one of the pool's own.
    static func release(_ pointer: UnsafeMutableRawPointer) -> Bool {
        let address = UInt(bitPattern: pointer)
        if let mapping = mapped.withLock({ $0.removeValue(forKey: address) }) {
            mapping.memory?.recordRelease(address)
            munmap(pointer, mapping.byteCount)
            return true
        }
        guard let arena = arenas.withLock({ $0.first { $0.base <= address && address < $0.end }?.arena }) else { return false }
        arena.giveBack(address: address)
        return true
    }
}

/// One mapping that a step memory lends buffers from; unmapped once retired and every buffer is back.
private final class Arena: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    private weak var owner: StepMemory?
    private let lock = NSLock()
    /// Allocation index by offset of what is lent now.
    private var lentAt: [Int: Int] = [:]
    private var retired = false

    init(byteCount: Int, owner: StepMemory) {
        self.byteCount = max(byteCount, 4096)
        base = mapAnonymousMemory(self.byteCount)
        self.owner = owner
        let start = UInt(bitPattern: base)
        StepMemory.arenas.withLock { $0.append((start, start + UInt(self.byteCount), self)) }
    }

    var lent: Int { lock.withLock { lentAt.count } }

    func lend(offset: Int, index: Int) { lock.withLock { lentAt[offset] = index } }

    func giveBack(address: UInt) {
        let (index, unmap) = lock.withLock { () -> (Int?, Bool) in
            let index = lentAt.removeValue(forKey: Int(address - UInt(bitPattern: base)))
            return (index, retired && lentAt.isEmpty)
        }
        if let index { owner?.returned(index: index, by: self) }
        if unmap { close() }
    }

    func retire() {
        let unmap = lock.withLock { () -> Bool in
            retired = true
            return lentAt.isEmpty
        }
        if unmap { close() }
    }

    private func close() {
        let start = UInt(bitPattern: base)
        StepMemory.arenas.withLock { $0.removeAll { $0.base == start } }
        munmap(base, byteCount)
    }
}
