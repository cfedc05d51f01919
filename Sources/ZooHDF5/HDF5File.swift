import CHDF5
import Foundation

/// An HDF5 identifier that closes itself.
final class Handle: @unchecked Sendable {
    let id: hid_t
    private let close: (hid_t) -> herr_t

    init(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.close = close
    }

    deinit { HDF5Library.locked { _ = close(id) } }
}

/// An open HDF5 file. Objects opened from it keep it open.
public final class HDF5File: @unchecked Sendable {
    public let path: String
    let handle: Handle
    /// The bytes of the file, when it was opened as an image in memory.
    public let image: UnsafeRawBufferPointer?

    private init(path: String, handle: Handle, image: UnsafeRawBufferPointer? = nil) {
        self.path = path
        self.handle = handle
        self.image = image
    }

    /// Opens an existing file read-only.
    public static func open(_ path: String) throws(HDF5Error) -> HDF5File {
        try HDF5Library.locked { () throws(HDF5Error) -> HDF5File in
            guard H5Fis_hdf5(path) > 0 else {
                _ = HDF5Library.takeErrorStack()
                throw HDF5Error(file: path, object: "/", message: "not an HDF5 file")
            }
            let id = H5Fopen(path, zoo_h5f_acc_rdonly(), zoo_h5p_default())
            guard id >= 0 else { throw HDF5Error(file: path, object: "/", message: "cannot open: \(HDF5Library.takeErrorStack())") }
            return HDF5File(path: path, handle: Handle(id, close: H5Fclose))
        }
    }

    /// Opens a file image held in memory, read-only and without copying it: the caller keeps `image` alive and
    /// unchanged while the file is in use. `path` names the file in errors. No file is opened, so this works where
    /// opening files is forbidden (the isolated reader's sandbox).
    public static func open(image: UnsafeRawBufferPointer, path: String) throws(HDF5Error) -> HDF5File {
        try HDF5Library.locked { () throws(HDF5Error) -> HDF5File in
            guard let base = image.baseAddress, image.count >= 8, image.starts(with: [0x89, 0x48, 0x44, 0x46]) else {
                throw HDF5Error(file: path, object: "/", message: "not an HDF5 file")
            }
            let id = H5LTopen_file_image(UnsafeMutableRawPointer(mutating: base), image.count, zoo_h5lt_image_read_in_place())
            guard id >= 0 else {
                // libhdf5 leaves no reason when an allocation it needed was refused, as the reader's memory limit does.
                let reason = HDF5Library.takeErrorStack(orElse: "libhdf5 gave no reason, as when memory it asked for was refused; "
                    + "the file is damaged or crafted")
                throw HDF5Error(file: path, object: "/", message: "cannot open: \(reason)")
            }
            return HDF5File(path: path, handle: Handle(id, close: H5Fclose), image: image)
        }
    }

    /// Makes the library ready (its one-time setup may read the environment and load plugins), so that later calls
    /// need nothing from the system beyond memory.
    public static func prepareLibrary() { HDF5Library.locked {} }

    /// Creates (or truncates) a file for writing, in the HDF5 1.8 file format or later, whose dense attribute
    /// storage holds attributes past 64 KiB (a large model's `model_config`).
    public static func create(_ path: String) throws(HDF5Error) -> HDF5File {
        try HDF5Library.locked { () throws(HDF5Error) -> HDF5File in
            let access = H5Pcreate(zoo_h5p_file_access())
            defer { H5Pclose(access) }
            H5Pset_libver_bounds(access, H5F_LIBVER_V18, H5F_LIBVER_V110)
            let id = H5Fcreate(path, zoo_h5f_acc_trunc(), zoo_h5p_default(), access)
            guard id >= 0 else { throw HDF5Error(file: path, object: "/", message: "cannot create: \(HDF5Library.takeErrorStack())") }
            return HDF5File(path: path, handle: Handle(id, close: H5Fclose))
        }
    }

    public var root: HDF5Group { HDF5Group(file: self, handle: handle, path: "/") }

    /// Writes buffered data to disk.
    public func flush() throws(HDF5Error) {
        try HDF5Library.locked { () throws(HDF5Error) in
            guard H5Fflush(handle.id, H5F_SCOPE_GLOBAL) >= 0 else {
                throw HDF5Error(file: path, object: "/", message: "cannot flush: \(HDF5Library.takeErrorStack())")
            }
        }
    }
}

/// Something in a file that carries attributes: a group or a dataset.
public protocol HDF5Object {
    var file: HDF5File { get }
    var path: String { get }
}

extension HDF5Object {
    func error(_ message: String, _ name: String? = nil) -> HDF5Error {
        HDF5Error(file: file.path, object: name.map { join(path, $0) } ?? path, message: message)
    }

    func failure(_ what: String, _ name: String? = nil) -> HDF5Error {
        error("\(what): \(HDF5Library.takeErrorStack())", name)
    }
}

func join(_ base: String, _ name: String) -> String {
    name.hasPrefix("/") ? name : (base.hasSuffix("/") ? base + name : base + "/" + name)
}
