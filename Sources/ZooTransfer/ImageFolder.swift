import Foundation
import ZooImaging

/// A folder with a subfolder per class (sorted by name, as Keras's `image_dataset_from_directory` orders them),
/// each holding JPEG and PNG files. Only the file names are read here; a loader decodes the images.
public enum ImageFolder {
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    public static func dataset(_ folder: URL) throws(DatasetError) -> Dataset {
        let manager = FileManager.default
        let entries: [String]
        do { entries = try manager.contentsOfDirectory(atPath: folder.path) } catch {
            throw DatasetError(folder.path, "cannot be listed: it is missing or not a folder")
        }
        let classes = entries.filter { !$0.hasPrefix(".") && isDirectory(folder.appendingPathComponent($0)) }.sorted()
        guard !classes.isEmpty else {
            throw DatasetError(folder.path, "has no class subfolders; put each class's images in a folder of its own (\(folder.lastPathComponent)/cats/1.jpg)")
        }
        var samples: [Sample] = []
        for (label, name) in classes.enumerated() {
            let classFolder = folder.appendingPathComponent(name)
            let files = ((try? manager.contentsOfDirectory(atPath: classFolder.path)) ?? [])
                .filter { !$0.hasPrefix(".") && imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted()
            guard !files.isEmpty else { throw DatasetError(classFolder.path, "class '\(name)' has no JPEG or PNG images") }
            samples += files.map { Sample(.file(classFolder.appendingPathComponent($0)), label: label) }
        }
        return try Dataset(name: folder.path, classNames: classes, samples: samples)
    }

    private static func isDirectory(_ url: URL) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &flag) && flag.boolValue
    }
}
