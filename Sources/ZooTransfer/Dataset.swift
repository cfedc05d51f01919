import Foundation
import ZooImaging
import ZooTensor

/// One labelled example: pixels already in memory (IDX, CIFAR) or an image file decoded when needed (folders).
public struct Sample: Sendable {
    public enum Content: Sendable {
        case image(Image)
        case file(URL)
    }

    public let content: Content
    public let label: Int

    public init(_ content: Content, label: Int) {
        self.content = content
        self.label = label
    }

    /// The pixels, decoding the file if there is one.
    public func image() throws -> Image {
        switch content {
        case .image(let image): return image
        case .file(let url): return try ImageCodec.decode(contentsOf: url)
        }
    }

    /// What to call the sample in a message: its file, or its position in the data set.
    public func describe(index: Int) -> String {
        if case .file(let url) = content { return url.path }
        return "sample \(index)"
    }
}

/// A labelled data set: class names (label i is `classNames[i]`) and samples in a fixed order. Folders keep file
/// names only, so a data set larger than memory costs a URL per image until a loader decodes it.
public struct Dataset: Sendable {
    /// Where it came from, for messages and cache keys ("fashion-mnist train", a folder's path).
    public var name: String
    public var classNames: [String]
    public var samples: [Sample]

    public init(name: String, classNames: [String], samples: [Sample]) throws(DatasetError) {
        if let bad = samples.firstIndex(where: { !classNames.indices.contains($0.label) }) {
            throw DatasetError(name, "\(samples[bad].describe(index: bad)) has label \(samples[bad].label), outside the \(classNames.count) classes 0…\(classNames.count - 1)")
        }
        self.name = name
        self.classNames = classNames
        self.samples = samples
    }

    public var count: Int { samples.count }

    /// Samples per class, indexed by label.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for sample in samples { counts[sample.label] += 1 }
        return counts
    }

    /// Only the samples of `classes`, relabelled 0, 1, … in the order given (`[5, 6, 7]`: class 5 becomes label 0).
    public func selecting(classes: [Int]) throws(DatasetError) -> Dataset {
        guard !classes.isEmpty else { throw DatasetError(name, "no classes selected") }
        if let bad = classes.first(where: { !classNames.indices.contains($0) }) {
            throw DatasetError(name, "class \(bad) does not exist; there are \(classNames.count) classes, 0…\(classNames.count - 1)")
        }
        var newLabel = [Int: Int]()
        for (i, c) in classes.enumerated() where newLabel[c] == nil { newLabel[c] = i }
        guard newLabel.count == classes.count else { throw DatasetError(name, "a class is selected twice in \(classes)") }
        let kept = samples.compactMap { s in newLabel[s.label].map { Sample(s.content, label: $0) } }
        return try Dataset(name: name, classNames: classes.map { classNames[$0] }, samples: kept)
    }

    /// At most `limit` samples of each class, chosen at random with `seed`, in their original order.
    public func capped(perClass limit: Int, seed: UInt64) -> Dataset {
        var keep = [Bool](repeating: false, count: count)
        for indices in indicesByClass(shuffledWith: seed) { for i in indices.prefix(limit) { keep[i] = true } }
        return subset(keep)
    }

    /// A stratified split: `fraction` of every class (rounded, at least one sample when the class has two or more)
    /// goes to validation, chosen at random with `seed`; both keep the original order.
    public func split(validationFraction fraction: Double, seed: UInt64) -> (training: Dataset, validation: Dataset) {
        var validation = [Bool](repeating: false, count: count)
        for indices in indicesByClass(shuffledWith: seed) {
            var n = Int((Double(indices.count) * fraction).rounded())
            if fraction > 0, n == 0, indices.count >= 2 { n = 1 }
            for i in indices.prefix(n) { validation[i] = true }
        }
        return (subset(validation.map { !$0 }), subset(validation))
    }

    private func indicesByClass(shuffledWith seed: UInt64) -> [[Int]] {
        var byClass = [[Int]](repeating: [], count: classNames.count)
        for (i, sample) in samples.enumerated() { byClass[sample.label].append(i) }
        var generator = SeededGenerator(seed: seed)
        return byClass.map { $0.shuffled(using: &generator) }
    }

    private func subset(_ keep: [Bool]) -> Dataset {
        var copy = self
        copy.samples = zip(samples, keep).compactMap { $1 ? $0 : nil }
        return copy
    }
}

/// A data set cannot be read or used as asked: which one, and what is wrong.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public let source: String
    public let message: String

    public init(_ source: String, _ message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
