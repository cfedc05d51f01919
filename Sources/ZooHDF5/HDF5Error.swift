import CHDF5
import Foundation

/// An HDF5 operation failed: what was attempted, on which object of which file, and HDF5's own reason.
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let object: String
    public let message: String

    public var description: String { "\(file): \(object): \(message)" }
}

/// HDF5's serial build is not thread-safe, so every call goes through one lock, and its error printing is
/// silenced: failures are read off its error stack and reported as `HDF5Error`.
enum HDF5Library {
    static let lock: NSRecursiveLock = {
        H5open()
        H5Eset_auto2(zoo_h5e_default(), nil, nil)
        return NSRecursiveLock()
    }()

    static func locked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// The innermost descriptions on HDF5's error stack, which then is cleared. Some failures (an allocation refused)
    /// leave the stack empty.
    static func takeErrorStack(orElse fallback: String = "libhdf5 gave no reason") -> String {
        final class Collected { var lines: [String] = [] }
        let collected = Collected()
        let context = Unmanaged.passUnretained(collected).toOpaque()
        H5Ewalk2(zoo_h5e_default(), H5E_WALK_DOWNWARD, { _, error, context in
            let collected = Unmanaged<Collected>.fromOpaque(context!).takeUnretainedValue()
            if let description = error?.pointee.desc { collected.lines.append(String(cString: description)) }
            return 0
        }, context)
        H5Eclear2(zoo_h5e_default())
        let distinct = collected.lines.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return distinct.isEmpty ? fallback : distinct.prefix(2).joined(separator: "; ")
    }
}
