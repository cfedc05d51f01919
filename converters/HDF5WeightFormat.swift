import Foundation
import ZooCore
import ZooHDF5

/// Where an HDF5 weight file is parsed. libhdf5 1.10.8, the version Debian 12 ships, crashes, hangs or allocates
/// without bound on crafted files (tools/fuzz/findings), so files Zoo did not write itself are parsed in a child
/// process by default.
public enum ReadIsolation: Sendable {
    /// In `zoo-reader`, a child process under resource limits and a seccomp filter (no exec, no sockets, no opening
    /// files): a crash, a hang past `ZOO_READ_TIMEOUT` seconds or a limit hit there becomes one error naming the file.
    case childProcess
    /// In this process: for trusted files, and for fuzzing the reader itself.
    case inProcess
}

/// A weight format stored in HDF5: it recognizes and decodes an open file, and sniffing or reading a path goes
/// through the isolated reader unless `isolation` says otherwise.
public protocol HDF5WeightFormat: WeightFormat {
    var isolation: ReadIsolation { get }
    /// Whether the open file is one of this format's.
    func recognizes(_ file: HDF5File) -> Bool
    func decode(_ file: HDF5File) throws -> WeightBundle
}

extension HDF5WeightFormat {
    /// An HDF5 file that libhdf5 cannot open is an error here (with libhdf5's reason), not an unrecognized file.
    public func sniff(_ probe: FileProbe) throws -> Bool {
        guard probe.isHDF5 else { return false }
        switch isolation {
        case .inProcess:
            return recognizes(try hdf5 { try HDF5File.open(probe.url.path) })
        case .childProcess:
            return try IsolatedReader.recognizedFormats(probe.url).contains(name)
        }
    }

    /// Isolated, one child process recognizes the file and, when it is this format's, decodes it too.
    public func readIfRecognized(_ probe: FileProbe) throws -> WeightBundle? {
        guard probe.isHDF5 else { return nil }
        switch isolation {
        case .inProcess: return try sniff(probe) ? try read(probe.url) : nil
        case .childProcess: return try IsolatedReader.readIfRecognized(probe.url, format: name)
        }
    }

    public func read(_ url: URL) throws -> WeightBundle {
        _ = try FileProbe(url)
        switch isolation {
        case .inProcess: return try hdf5 { try decode(try HDF5File.open(url.path)) }
        case .childProcess: return try IsolatedReader.read(url, format: name)
        }
    }
}

/// The HDF5 formats `zoo-reader` parses, in the order they are tried.
let isolatedFormats: [any HDF5WeightFormat] = [KerasH5Format(isolation: .inProcess), KerasWeightsFormat(isolation: .inProcess)]
