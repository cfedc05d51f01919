import Foundation

/// Opens a data set from what a user types: `fashion-mnist` (Debian's dataset-fashion-mnist), or a folder holding
/// MNIST-layout IDX files, CIFAR binary batches, or a subfolder of images per class.
public enum DataSources {
    public static func open(_ spec: String, split: IDXFiles.Split = .train) throws(DatasetError) -> Dataset {
        if spec.lowercased() == "fashion-mnist" {
            return try IDXFiles.dataset(folder: IDXFiles.fashionMNISTFolder, split: split, classNames: IDXFiles.fashionMNISTClassNames)
        }
        let folder = URL(fileURLWithPath: spec)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(spec, "is neither fashion-mnist nor a folder (IDX files, CIFAR batches, or a folder per class)")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        if names.contains(where: { $0.hasPrefix("train-images-idx3-ubyte") || $0.hasPrefix("t10k-images-idx3-ubyte") }) {
            let fashion = folder.path.lowercased().contains("fashion")
            return try IDXFiles.dataset(folder: folder, split: split,
                                        classNames: fashion ? IDXFiles.fashionMNISTClassNames : (0..<10).map(String.init))
        }
        if names.contains("test_batch.bin") || names.contains("test.bin") { return try CIFARFiles.dataset(folder: folder, split: split) }
        return try ImageFolder.dataset(folder)
    }
}
