import Testing
import ZooNN
import ZooTensor

/// The arena placement of plan values against a brute-force check of every pair of values alive at once.
@Suite struct PlanMemoryTests {
    @Test(arguments: 0..<20)
    func valuesAliveTogetherNeverOverlap(_ seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let count = 40
        var steps: [(reads: [Int], write: Int)] = []
        var sharing: [Int: Int] = [:]
        for value in 1..<count {
            let reads = (0..<Int.random(in: 1...3, using: &generator)).map { _ in Int.random(in: 0..<value, using: &generator) }
            steps.append((reads, value))
            if Int.random(in: 0..<6, using: &generator) == 0 { sharing[value] = reads[0] }
        }
        let sizes = (0..<count).map { _ in Int.random(in: 1...5000, using: &generator) }
        let outside: Set<Int> = [0, count - 1, Int.random(in: 1..<count, using: &generator)]
        let memory = PlanMemory(sizes: sizes, steps: steps, sharing: sharing, outside: outside)

        func root(_ v: Int) -> Int { sharing[v].map(root) ?? v }
        var lastUse: [Int: Int] = [:]
        for (index, step) in steps.enumerated() { for v in step.reads + [step.write] { lastUse[root(v)] = index } }
        let firstWrite = Dictionary(uniqueKeysWithValues: steps.enumerated().map { ($0.element.write, $0.offset) })
        let roots = Set((1..<count).map(root)).filter { memory.offsets[$0] != nil }
        for v in 1..<count where outside.contains(v) { #expect(memory.offsets[v] == nil, "value \(v) is outside the arena") }
        for a in roots {
            let (offsetA, endA) = (memory.offsets[a]!, memory.offsets[a]! + sizes[a])
            #expect(endA <= memory.arenaBytes)
            for b in roots where b > a {
                let liveTogether = firstWrite[a]! <= lastUse[b]! && firstWrite[b]! <= lastUse[a]!
                let (offsetB, endB) = (memory.offsets[b]!, memory.offsets[b]! + sizes[b])
                #expect(!liveTogether || endA <= offsetB || endB <= offsetA, "values \(a) and \(b) overlap while both are alive")
            }
        }
        for (value, earlier) in sharing where memory.offsets[root(earlier)] != nil {
            #expect(memory.offsets[value] == memory.offsets[root(earlier)], "value \(value) shares \(earlier)'s memory")
        }
    }
}
