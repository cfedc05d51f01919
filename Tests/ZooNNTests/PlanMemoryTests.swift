import Testing
import ZooNN
import ZooTensor

/// The arena placement of plan values against a brute-force check of every pair of values alive at once.
@Suite struct PlanMemoryTests {
    /// Random steps, some values sharing an earlier value's memory (reshapes, in-place sums) and some lying inside a
    /// later, larger one at an offset (inputs of concatenations written in place).
    @Test(arguments: 0..<20)
    func valuesAliveTogetherNeverOverlap(_ seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let count = 40
        var steps: [(reads: [Int], write: Int)] = []
        var sharing: [Int: PlanMemory.Placement] = [:]
        var sizes = (0..<count).map { _ in Int.random(in: 1...5000, using: &generator) }
        for value in 1..<count {
            let reads = (0..<Int.random(in: 1...3, using: &generator)).map { _ in Int.random(in: 0..<value, using: &generator) }
            steps.append((reads, value))
            if Int.random(in: 0..<6, using: &generator) == 0 { sharing[value] = .init(in: reads[0]) }
        }
        for value in 1..<(count - 1) where sharing[value] == nil && Int.random(in: 0..<5, using: &generator) == 0 {
            let host = Int.random(in: (value + 1)..<count, using: &generator)
            guard sharing[host] == nil, !sharing.values.contains(where: { $0.host == value }) else { continue }
            sizes[host] = max(sizes[host], sizes[value] + 100)
            sharing[value] = .init(in: host, at: Int.random(in: 0...(sizes[host] - sizes[value]), using: &generator) / 4 * 4)
            steps[host - 1].reads.append(value)  // the host's step reads what lies in it, as a concatenation does
        }
        let outside: Set<Int> = [0, count - 1, Int.random(in: 1..<count, using: &generator)]
        let memory = PlanMemory(sizes: sizes, steps: steps, sharing: sharing, outside: outside)

        func root(_ v: Int) -> (value: Int, offset: Int) {
            guard let p = sharing[v] else { return (v, 0) }
            let r = root(p.host)
            return (r.value, r.offset + p.offset)
        }
        var firstUse: [Int: Int] = [:], lastUse: [Int: Int] = [:]
        for (index, step) in steps.enumerated() {
            firstUse[root(step.write).value] = min(firstUse[root(step.write).value] ?? index, index)
            for v in step.reads + [step.write] { lastUse[root(v).value] = index }
        }
        let roots = Set((1..<count).map { root($0).value }).filter { memory.offsets[$0] != nil }
        for v in 1..<count where outside.contains(v) { #expect(memory.offsets[v] == nil, "value \(v) is outside the arena") }
        for a in roots {
            let (offsetA, endA) = (memory.offsets[a]!, memory.offsets[a]! + sizes[a])
            #expect(endA <= memory.arenaBytes)
            for b in roots where b > a {
                let liveTogether = firstUse[a]! <= lastUse[b]! && firstUse[b]! <= lastUse[a]!
                let (offsetB, endB) = (memory.offsets[b]!, memory.offsets[b]! + sizes[b])
                #expect(!liveTogether || endA <= offsetB || endB <= offsetA, "values \(a) and \(b) overlap while both are alive")
            }
        }
        for value in sharing.keys {
            let (host, offset) = root(value)
            #expect(memory.offsets[value] == memory.offsets[host].map { $0 + offset }, "value \(value) lies at \(offset) in \(host)")
        }
    }
}
