import Foundation
import ZooImaging

/// CIFAR-10 and CIFAR-100 binary batches: records of label byte(s) then a 32×32 image as three 1024-byte planes
/// (red, green, blue). CIFAR-10 has one label byte (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`,
/// names in `batches.meta.txt`); CIFAR-100 has a coarse and a fine label byte (`train.bin`, `test.bin`, names in
/// `fine_label_names.txt`) and Zoo uses the fine one.
public enum CIFARFiles {
    static let side = 32, imageBytes = 32 * 32 * 3

    /// The train or test split of the CIFAR folder `folder`, recognized by its file names.
    public static func dataset(folder: URL, split: IDXFiles.Split) throws(DatasetError) -> Dataset {
        let exists = { (name: String) in FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) }
        if exists("test_batch.bin") {
            let files = split == .test ? ["test_batch.bin"] : (1...5).map { "data_batch_\($0).bin" }.filter(exists)
            guard !files.isEmpty else { throw DatasetError(folder.path, "has no data_batch_1.bin … data_batch_5.bin") }
            let names = try classNames(folder.appendingPathComponent("batches.meta.txt"), count: 10)
            return try dataset(files.map { folder.appendingPathComponent($0) }, labelBytes: 1, classNames: names,
                               name: "\(folder.lastPathComponent) \(split.rawValue)")
        }
        if exists("test.bin") {
            let names = try classNames(folder.appendingPathComponent("fine_label_names.txt"), count: 100)
            return try dataset([folder.appendingPathComponent("\(split.rawValue).bin")], labelBytes: 2, classNames: names,
                               name: "\(folder.lastPathComponent) \(split.rawValue)")
        }
        throw DatasetError(folder.path, "is not a CIFAR binary folder: expected test_batch.bin (CIFAR-10) or test.bin (CIFAR-100)")
    }

    /// Records from `files`; with two label bytes the second (fine) one is the label.
    public static func dataset(_ files: [URL], labelBytes: Int, classNames: [String], name: String) throws(DatasetError) -> Dataset {
        var samples: [Sample] = []
        let record = labelBytes + imageBytes
        for url in files {
            let data: Data
            do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
                throw DatasetError(url.path, "cannot be read: \(error.localizedDescription)")
            }
            guard !data.isEmpty, data.count % record == 0 else {
                throw DatasetError(url.path, "\(data.count) bytes is not a whole number of \(record)-byte records (\(labelBytes) label byte\(labelBytes == 1 ? "" : "s") and a 32×32×3 image)")
            }
            let failure = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> DatasetError? in
                for r in 0..<(data.count / record) {
                    let base = r * record, label = Int(raw[base + labelBytes - 1])
                    guard label < classNames.count else {
                        return DatasetError(url.path, "record \(r) has label \(label), outside the \(classNames.count) classes 0…\(classNames.count - 1)")
                    }
                    var pixels = [UInt8](repeating: 0, count: imageBytes)
                    let planes = base + labelBytes, plane = side * side
                    for p in 0..<plane { for c in 0..<3 { pixels[p * 3 + c] = raw[planes + c * plane + p] } }  // planar → interleaved
                    samples.append(Sample(.image(Image(width: side, height: side, channels: 3, pixels: pixels)), label: label))
                }
                return nil
            }
            if let failure { throw failure }
        }
        return try Dataset(name: name, classNames: classNames, samples: samples)
    }

    /// Class names, one per line; numbered names when the file is missing.
    static func classNames(_ url: URL, count: Int) throws(DatasetError) -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return (0..<count).map(String.init) }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == count else { throw DatasetError(url.path, "lists \(names.count) class names, expected \(count)") }
        return names
    }
}
