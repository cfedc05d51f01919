import Foundation

/// A whole file mapped copy-on-write: reads come straight from the page cache, and a write changes this process's
/// copy of the page, never the file. Tensors can borrow its memory (`Tensor(shape:borrowing:owner:)`) and keep the
/// mapping alive. Like every mapping, it assumes nobody truncates the file meanwhile: replace files by renaming.
public final class MappedFile: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let size: Int

    public convenience init(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw WeightFileError(url, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        try self.init(descriptor: descriptor, describing: url)
    }

    /// Maps the whole of an open regular file (or an in-memory file); `url` names it in errors. The descriptor may be
    /// closed afterwards.
    public init(descriptor: Int32, describing url: URL) throws {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw WeightFileError(url, "cannot stat: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw WeightFileError(url, "is not a regular file") }
        size = Int(info.st_size)
        guard size > 0 else { throw WeightFileError(url, "is empty (0 bytes)") }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw WeightFileError(url, "cannot map: \(String(cString: strerror(errno)))")
        }
        pointer = mapped
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: size) }

    /// Tells the kernel the file will be read front to back, so that it reads ahead.
    public func adviseSequential() { madvise(pointer, size, MADV_SEQUENTIAL) }

    /// Maps every page readable now, in one pass, instead of one fault per page on first use; pages stay shared with
    /// the file until written. Best effort: kernels before Linux 5.14 lack it, and then pages are mapped on use.
    public func populateForReading() { madvise(pointer, size, MADV_POPULATE_READ) }

    deinit { munmap(pointer, size) }
}
