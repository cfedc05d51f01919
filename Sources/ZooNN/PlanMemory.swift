/// Where each intermediate value of a plan lives: an offset in one arena, given by the values' lifetimes, so that
/// memory a value no longer needs holds a later one. Values that leave the plan (outputs, taps), the input, and the
/// results of layers a plan runs as they are, live outside it.
public struct PlanMemory: Sendable {
    /// Byte offset of each value in the arena; nil for values outside it.
    public let offsets: [Int?]
    public let arenaBytes: Int

    public static let alignment = 64

    /// `sizes`: bytes per value. `steps`: per step, the values it reads and the value it writes. `sharing`: values
    /// that are the same memory as an earlier one (a reshape's output, an in-place sum's output), value → earlier
    /// value. `outside`: values not to place in the arena.
    public init(sizes: [Int], steps: [(reads: [Int], write: Int)], sharing: [Int: Int], outside: Set<Int>) {
        func root(_ value: Int) -> Int {
            var v = value
            while let earlier = sharing[v] { v = earlier }
            return v
        }
        // A root ends after the last step that reads it or any value sharing its memory; one that shares with a
        // value outside the arena is outside too.
        var lastUse = [Int: Int]()
        var excluded = Set(outside.map(root))
        for (index, step) in steps.enumerated() {
            for value in step.reads + [step.write] { lastUse[root(value)] = index }
        }
        for value in sharing.keys where outside.contains(value) { excluded.insert(root(value)) }

        var offsets = [Int?](repeating: nil, count: sizes.count)
        var live: [(offset: Int, end: Int, root: Int)] = []  // sorted by offset
        var arena = 0
        for (index, step) in steps.enumerated() {
            let value = step.write
            if sharing[value] == nil, !excluded.contains(value), offsets[value] == nil {
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
        for value in sharing.keys { offsets[value] = offsets[root(value)] }
        self.offsets = offsets
        arenaBytes = arena
    }
}
