import Foundation

/// Which backend runs the ops: `dnnl` by default, `reference` on request (API or ZOO_BACKEND) or where oneDNN is missing.
public enum Runtime {
    public static let reference = ReferenceBackend()

    /// The oneDNN backend, or the reason it could not start.
    public static let dnnl: Result<DNNLBackend, Error> = Result { try DNNLBackend() }

    /// The backend named `name` ("dnnl" or "reference").
    public static func backend(named name: String) throws -> any Backend {
        switch name.lowercased() {
        case "reference", "ref": return reference
        case "dnnl", "onednn": return try dnnl.get()
        default: throw RuntimeError.unknownBackend(name)
        }
    }

    /// ZOO_BACKEND when set, otherwise oneDNN when it starts, otherwise the reference backend.
    public static let defaultBackend: any Backend = {
        if let requested = ProcessInfo.processInfo.environment["ZOO_BACKEND"], !requested.isEmpty {
            do { return try backend(named: requested) } catch {
                FileHandle.standardError.write(Data("zoo: ZOO_BACKEND=\(requested): \(error); using the reference backend\n".utf8))
                return reference
            }
        }
        return (try? dnnl.get()) ?? reference
    }()

    /// The backend ops run on in the current task; change it for a scope with `Runtime.$backend.withValue(...)`.
    @TaskLocal public static var backend: any Backend = defaultBackend

    /// The oneDNN backend plans compile for: the current backend, or the one a `ProfilingBackend` times; nil on any
    /// other backend.
    public static var planningBackend: DNNLBackend? {
        switch backend {
        case let dnnl as DNNLBackend: dnnl
        case let profiler as ProfilingBackend: profiler.inner as? DNNLBackend
        default: nil
        }
    }

    /// Runs `body` with every op on `backend`.
    public static func using<R>(_ backend: any Backend, _ body: () throws -> R) rethrows -> R {
        try $backend.withValue(backend, operation: body)
    }
}

public enum RuntimeError: Error, CustomStringConvertible {
    case unknownBackend(String)

    public var description: String {
        switch self {
        case .unknownBackend(let name): "unknown backend '\(name)': choose 'dnnl' or 'reference'"
        }
    }
}
