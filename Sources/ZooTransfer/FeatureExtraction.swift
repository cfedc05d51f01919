import Foundation
import ZooConverters
import ZooCore
import ZooImaging
import ZooNN
import ZooTensor

/// Runs a frozen backbone once over a data set, in inference mode, and keeps its features: the expensive half of
/// feature extraction, after which heads train in seconds.
public struct FeatureExtractor {
    public let backbone: Model
    public let tap: String?
    public let preparation: ImagePreparation
    public var pooling = FeaturePooling.average
    public var batchSize = 32
    public var strict = false

    public init(backbone: Model, tap: String?, preparation: ImagePreparation) {
        self.backbone = backbone; self.tap = tap; self.preparation = preparation
    }

    /// Features of every readable image (unreadable ones are skipped, or stop the run when `strict`), in data-set
    /// order. `progress` gets (images done, images in all). In a group each rank runs a contiguous share of the
    /// batches, the same batches one process runs, and every rank gets the whole result.
    public func extract(_ dataset: Dataset, group: any ProcessGroup = SingleProcess(),
                        progress: ((Int, Int) -> Void)? = nil) throws -> (features: FeatureData, skipped: [(sample: String, reason: String)]) {
        let batchCount = (dataset.count + batchSize - 1) / batchSize
        let mine = group.share(of: batchCount)
        let loader = BatchLoader(dataset, preparation: preparation, batchSize: batchSize, shuffle: false,
                                 startingAt: mine.lowerBound, strict: strict)
        var rows: [Tensor] = [], labels: [Int] = [], done = 0
        for _ in mine {
            guard let batch = try loader.next() else { break }
            done += batch.indices.count
            if batch.indices.isEmpty { continue }
            let features = try Gradients.off {
                try TransferHead.features(of: backbone, Variable(batch.images), tap: tap, pooling: pooling, training: false).value
            }
            rows.append(features)
            labels += batch.indices.map { dataset.samples[$0].label }
            // A rank counts its own share; the group's progress is about that many times its size.
            progress?(min(dataset.count, done * group.size), dataset.count)
        }
        var features = Tensor(stacking: rows, trailingShape: Array(rows.first?.shape.dropFirst() ?? [0]))
        var skipped = loader.skipped
        if group.size > 1 {
            let parts = try group.allGather(try FeatureRows(features: features, labels: labels, skipped: skipped).encoded())
                .map(FeatureRows.init(encoded:))
            guard let width = parts.first(where: { !$0.labels.isEmpty })?.rowShape ?? parts.first?.rowShape else {
                throw DatasetError(dataset.name, "no features came back from the other processes")
            }
            features = Tensor(stacking: parts.filter { !$0.labels.isEmpty }.map(\.features), trailingShape: width)
            labels = parts.flatMap(\.labels)
            skipped = parts.flatMap { $0.skipped.map { ($0.sample, $0.reason) } }
        }
        return (FeatureData(features: features, labels: labels, classNames: dataset.classNames, name: dataset.name), skipped)
    }
}

/// One rank's share of extracted features, as sent to the others: a JSON header, then the rows as raw Float32.
struct FeatureRows {
    init(_ data: FeatureData) { self.init(features: data.features, labels: data.labels, skipped: []) }

    struct Header: Codable {
        let shape: [Int]
        let labels: [Int]
        let skipped: [Skip]
    }
    struct Skip: Codable { let sample, reason: String }

    let features: Tensor
    let labels: [Int]
    let skipped: [Skip]

    var rowShape: [Int] { Array(features.shape.dropFirst()) }

    init(features: Tensor, labels: [Int], skipped: [(sample: String, reason: String)]) {
        self.features = features; self.labels = labels; self.skipped = skipped.map { Skip(sample: $0.sample, reason: $0.reason) }
    }

    func encoded() throws -> Data {
        let header = try JSONEncoder().encode(Header(shape: features.shape, labels: labels, skipped: skipped))
        var data = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) }
        data.append(header)
        features.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: $0.baseAddress, count: $0.count)) }
        return data
    }

    init(encoded data: Data) throws {
        let length = Int(data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        let header = try JSONDecoder().decode(Header.self, from: data.dropFirst(8).prefix(length))
        let payload = data.dropFirst(8 + length)
        let count = header.shape.reduce(1, *)
        guard payload.count == count * MemoryLayout<Float>.size else {
            throw DatasetError("features", "a process sent \(payload.count) bytes for \(header.shape)")
        }
        features = Tensor(uninitializedShape: header.shape) { out in
            payload.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
        }
        labels = header.labels
        skipped = header.skipped
    }
}

/// Features on disk in the native format, named by everything that decides them: the backbone, the weights' hash,
/// the tap and its pooling, the preparation, and the exact samples (file names, sizes and dates, or the pixels themselves).
public struct FeatureCache {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    /// `$ZOO_CACHE/features`, by default `~/.cache/zoo/features`.
    public static var standard: FeatureCache {
        let environment = ProcessInfo.processInfo.environment
        let root = environment["ZOO_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/zoo")
        return FeatureCache(folder: root.appendingPathComponent("features"))
    }

    public static func key(backbone: String, weightsSHA256: String, tap: String?, pooling: FeaturePooling = .average,
                           preparation: ImagePreparation, dataset: Dataset) -> String {
        let digest = Digest(.sha256)
        let header = [backbone, weightsSHA256, tap ?? "(pooled)", pooling.rawValue, "\(preparation.height)x\(preparation.width)x\(preparation.channels)",
                      "\(preparation.cropFraction)", preparation.preprocessing.rawValue, dataset.classNames.joined(separator: "\u{1F}")]
        digest.update(Array(header.joined(separator: "\u{1E}").utf8))
        for sample in dataset.samples {
            digest.update(Array("\u{1E}\(sample.label):".utf8))
            switch sample.content {
            case .image(let image):
                digest.update(Array("\(image.width)x\(image.height)x\(image.channels)".utf8))
                digest.update(image.pixels)
            case .file(let url):
                let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
                let size = attributes?[.size] as? Int ?? -1
                let date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                digest.update(Array("\(url.path)|\(size)|\(date)".utf8))
            }
        }
        return digest.hexDigest()
    }

    public func url(for key: String) -> URL { folder.appendingPathComponent("\(key).safetensors") }

    public func load(_ key: String) throws -> FeatureData? {
        let url = url(for: key)
        return FileManager.default.fileExists(atPath: url.path) ? try FeatureData(contentsOf: url) : nil
    }

    public func store(_ data: FeatureData, _ key: String) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try data.write(to: url(for: key))
    }
}

extension FeatureData {
    /// A features file: `features/features` [count, width], `features/labels` [count], class names in the metadata.
    public init(contentsOf url: URL) throws {
        let bundle = try SafetensorsFormat().read(url)
        guard let layer = bundle.layer(named: "features"), layer.arrays.count == 2,
              let names = bundle.metadata[MetadataKey.classNames].flatMap({ try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }) else {
            throw WeightFileError(url, "is not a Zoo features file (features/features, features/labels and class_names)")
        }
        self.init(features: try layer.arrays[0].tensor(), labels: try layer.arrays[1].tensor().scalars.map { Int($0) },
                  classNames: names, name: bundle.metadata["dataset"] ?? url.lastPathComponent)
    }

    public func write(to url: URL) throws {
        let labels = Tensor(shape: [count]) { for i in $0.indices { $0[i] = Float(self.labels[i]) } }
        let bundle = WeightBundle(format: "zoo", metadata: [MetadataKey.classNames: try MetadataKey.json(classNames),
                                                            "dataset": name],
                                  layers: [LayerWeights(name: "features", arrays: [
                                      WeightArray(name: "features", shape: features.shape, tensor: features),
                                      WeightArray(name: "labels", shape: [count], tensor: labels),
                                  ])])
        try SafetensorsFormat().write(bundle, to: url)
    }
}
