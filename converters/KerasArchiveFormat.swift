import Foundation
import ZIPFoundation
import ZooCore

/// Keras 3 archives (`model.save("x.keras")`): a zip of config.json, metadata.json and model.weights.h5. The weights
/// read as `KerasWeightsFormat`; config.json becomes the bundle's `model_config` and gives the layer order.
public struct KerasArchiveFormat: WeightFormat {
    /// Where the archive's model.weights.h5 is parsed; the zip itself is read here.
    public let isolation: ReadIsolation

    public init(isolation: ReadIsolation = .childProcess) { self.isolation = isolation }

    public let name = "keras-archive"
    public let summary = "Keras 3 archive (.keras): config.json, metadata.json, model.weights.h5"
    public let signature = "a zip archive named .keras or holding model.weights.h5"

    public func sniff(_ probe: FileProbe) -> Bool {
        guard probe.isZip else { return false }
        return probe.lowercasedName.hasSuffix(".keras") || (try? Archive(url: probe.url, accessMode: .read, pathEncoding: nil))?["model.weights.h5"] != nil
    }

    public func read(_ url: URL) throws -> WeightBundle {
        _ = try FileProbe(url)
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read, pathEncoding: nil) } catch {
            throw WeightFileError(url, "not a readable zip archive (\(error))")
        }
        let entries = archive.map(\.path)
        guard let weightsEntry = archive["model.weights.h5"] else {
            throw WeightFileError(url, "the archive has no model.weights.h5 (it holds: \(entries.isEmpty ? "nothing" : entries.joined(separator: ", ")))")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let weightsURL = folder.appendingPathComponent("model.weights.h5")
        try extract(weightsEntry, of: archive, to: weightsURL, from: url)
        var bundle: WeightBundle
        do { bundle = try KerasWeightsFormat(isolation: isolation).read(weightsURL) } catch let error as WeightFileError {
            throw WeightFileError(file: url.path, location: "model.weights.h5" + (error.location.map { ": \($0)" } ?? ""), message: error.message)
        }
        bundle.format = name
        if let config = try text(archive, "config.json", url) {
            bundle.metadata[MetadataKey.modelConfig] = config
            if let order = layerOrder(config) {
                let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
                bundle.layers = bundle.layers.enumerated()
                    .sorted { (rank[$0.element.name] ?? Int.max, $0.offset) < (rank[$1.element.name] ?? Int.max, $1.offset) }
                    .map(\.element)
                bundle.metadata[MetadataKey.layerOrder] = "the order of config.json"
            }
        }
        if let metadataText = try text(archive, "metadata.json", url),
           let metadata = try? JSONSerialization.jsonObject(with: Data(metadataText.utf8)) as? [String: Any] {
            if let version = metadata["keras_version"] as? String { bundle.metadata[MetadataKey.kerasVersion] = version }
            if let date = metadata["date_saved"] as? String { bundle.metadata["date_saved"] = date }
        }
        return bundle
    }

    /// Extracts one entry into a file.
    private func extract(_ entry: Entry, of archive: Archive, to destination: URL, from url: URL) throws {
        guard FileManager.default.createFile(atPath: destination.path, contents: nil),
              let output = try? FileHandle(forWritingTo: destination) else {
            throw WeightFileError(url, "cannot extract \(entry.path) to \(destination.path)")
        }
        defer { try? output.close() }
        try inflate(entry, of: archive, from: url) { try output.write(contentsOf: $0) }
    }

    /// A small entry's text; JSON files past 256 MiB are not what Keras writes.
    private func text(_ archive: Archive, _ entryName: String, _ url: URL) throws -> String? {
        guard let entry = archive[entryName] else { return nil }
        var data = Data()
        try inflate(entry, of: archive, from: url, limit: 256 << 20) { data.append($0) }
        return String(decoding: data, as: UTF8.self)
    }

    /// Passes an entry's contents on chunk by chunk, stopping as soon as they pass the size the archive declares for
    /// the entry (or `limit`): a crafted archive cannot fill the disk or the memory.
    private func inflate(_ entry: Entry, of archive: Archive, from url: URL, limit: UInt64 = .max, _ consume: (Data) throws -> Void) throws {
        let allowed = min(entry.uncompressedSize, limit)
        var seen: UInt64 = 0
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                seen += UInt64(chunk.count)
                guard seen <= allowed else {
                    throw WeightFileError(url, "\(entry.path) inflates past \(allowed) bytes, "
                        + (allowed < entry.uncompressedSize ? "more than such an entry can be" : "the size the archive declares for it"))
                }
                try consume(chunk)
            }
        } catch let error as WeightFileError {
            throw error
        } catch {
            throw WeightFileError(url, "cannot extract \(entry.path): \(error)")
        }
    }

    /// Layer names in the order config.json lists them, nested models depth-first.
    private func layerOrder(_ config: String) -> [String]? {
        guard let root = try? JSONSerialization.jsonObject(with: Data(config.utf8)) else { return nil }
        var names: [String] = []
        func visit(_ node: Any) {
            guard let object = node as? [String: Any] else { return }
            let inner = object["config"] as? [String: Any]
            if let name = inner?["name"] as? String, object["class_name"] != nil { names.append(name) }
            if let layers = inner?["layers"] as? [Any] { layers.forEach(visit) }
        }
        visit(root)
        return names.isEmpty ? nil : names
    }
}
