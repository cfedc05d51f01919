/// Where each intermediate value of a plan lives: an offset in one arena, given by the values' lifetimes, so that
/// memory a value no longer needs holds a later one. Values that leave the plan (outputs, taps), the input, and the
/// results of layers a plan runs as they are, live outside it.
public struct PlanMemory: Sendable {
    /// Byte offset of each value in the arena; nil for values outside it.
    public let offsets: [Int?]
    public let arenaBytes: Int

    public static let alignment = 64

    /// Where a value lies inside another value's memory.
    public struct Placement: Sendable, Equatable {
        public let host: Int
        /// Bytes from the start of the host.
        public let offset: Int
        public init(in host: Int, at offset: Int = 0) { self.host = host; self.offset = offset }
    }

    /// `sizes`: bytes per value. `steps`: per step, the values it reads and the value it writes. `sharing`: values
    /// that lie in another value's memory: the same memory (a reshape's output, an in-place sum's output) or a part
    /// of it (an input of a concatenation written in place, at its offset). `outside`: values not to place in the
    /// arena. A host may be written after the values inside it; its memory is placed when the first of them is.
    public init(sizes: [Int], steps: [(reads: [Int], write: Int)], sharing: [Int: Placement], outside: Set<Int>) {
        func root(_ value: Int) -> (value: Int, offset: Int) {
            var v = value, offset = 0
            while let placement = sharing[v] {
                v = placement.host
                offset += placement.offset
            }
            return (v, offset)
        }
        // A root ends after the last step that reads or writes it or any value in its memory; one that holds or lies
        // in a value outside the arena is outside too.
        var lastUse = [Int: Int]()
        let excluded = Set(outside.map { root($0).value })
        for (index, step) in steps.enumerated() {
            for value in step.reads + [step.write] { lastUse[root(value).value] = index }
        }

        var offsets = [Int?](repeating: nil, count: sizes.count)
        var live: [(offset: Int, end: Int, root: Int)] = []  // sorted by offset
        var arena = 0
        for (index, step) in steps.enumerated() {
            let value = root(step.write).value
            if !excluded.contains(value), offsets[value] == nil {
                let size = (sizes[value] + Self.alignment - 1) / Self.alignment * Self.alignment
                // The lowest gap between live blocks that fits.
                var offset = 0
                for block in live {
                    if block.offset - offset >= size { break }
                    offset = max(offset, block.end)
                }
                offsets[value] = offset
                live.append((offset, offset + size, value))
                live.sort { $0.offset < $1.offset }
                arena = max(arena, offset + size)
            }
            live.removeAll { lastUse[$0.root] == index }
        }
        for value in sharing.keys {
            let (host, offset) = root(value)
            offsets[value] = offsets[host].map { $0 + offset }
        }
        self.offsets = offsets
        arenaBytes = arena
    }
}
