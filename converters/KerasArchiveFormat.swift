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
        do { _ = try archive.extract(weightsEntry, to: weightsURL, skipCRC32: false) } catch {
            throw WeightFileError(url, "cannot extract model.weights.h5: \(error)")
        }
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

    private func text(_ archive: Archive, _ entryName: String, _ url: URL) throws -> String? {
        guard let entry = archive[entryName] else { return nil }
        var data = Data()
        do { _ = try archive.extract(entry, skipCRC32: false) { data.append($0) } } catch {
            throw WeightFileError(url, "cannot extract \(entryName): \(error)")
        }
        return String(decoding: data, as: UTF8.self)
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
