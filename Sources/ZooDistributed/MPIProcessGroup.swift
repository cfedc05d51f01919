#if MPI
import CMPI
import Foundation
import ZooTransfer

/// The processes `mpirun` started, as one `ProcessGroup` over MPI's world communicator. MPI is initialised once per
/// process (MPI allows no second `MPI_Init`) and finalised at exit.
public final class MPIProcessGroup: ProcessGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let world: MPI_Comm

    /// The process's world group; the first call initialises MPI.
    public static func world() throws -> MPIProcessGroup {
        try lock.withLock {
            if let shared { return shared }
            var provided: Int32 = 0
            // Serialized: the trainer calls MPI from whichever thread runs it, one call at a time.
            try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided), "MPI_Init_thread")
            guard provided >= Int32(MPI_THREAD_SERIALIZED) else {
                throw DistributedError("this MPI library offers thread level \(provided), Zoo needs MPI_THREAD_SERIALIZED")
            }
            atexit { MPIProcessGroup.finalize() }
            let made = try MPIProcessGroup(zoo_mpi_comm_world())
            shared = made
            return made
        }
    }

    nonisolated(unsafe) private static var shared: MPIProcessGroup?
    private static let lock = NSLock()

    private init(_ communicator: MPI_Comm) throws {
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check(MPI_Comm_rank(communicator, &rank), "MPI_Comm_rank")
        try Self.check(MPI_Comm_size(communicator, &size), "MPI_Comm_size")
        self.rank = Int(rank); self.size = Int(size)
        world = communicator
    }

    /// A communicator of its own over the same processes (`MPI_Comm_dup`), kept until the process ends.
    public func duplicate() throws -> any ProcessGroup {
        var copy: MPI_Comm? = nil
        try Self.check(MPI_Comm_dup(world, &copy), "MPI_Comm_dup")
        return try MPIProcessGroup(copy!)
    }

    /// The MPI library's own description ("Open MPI v4.1.4, …"), first line; callable before MPI starts.
    public static var libraryVersion: String {
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_LIBRARY_VERSION_STRING) + 1)
        var length: Int32 = 0
        MPI_Get_library_version(&text, &length)
        return cString(text, length: length).split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? "unknown"
    }

    private static func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    /// Ends every process of the job (`mpirun` kills the rest): the way out when one rank fails while the others may
    /// be waiting for it in a collective.
    public func abort(code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)
    }

    public func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> any PendingReduction {
        let pending = Request()
        // MPI counts in Int32: a larger buffer goes in pieces.
        var start = 0
        while start < values.count {
            let n = min(values.count - start, Int(Int32.max))
            var request: MPI_Request? = zoo_mpi_request_null()
            try Self.check(MPI_Iallreduce(zoo_mpi_in_place(), values.baseAddress! + start, Int32(n), zoo_mpi_float(), zoo_mpi_sum(),
                                          world, &request), "MPI_Iallreduce")
            pending.requests.append(request)
            start += n
        }
        return pending
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        guard !values.isEmpty else { return }
        try Self.check(MPI_Allreduce(zoo_mpi_in_place(), values.baseAddress!, Int32(values.count), zoo_mpi_double(), zoo_mpi_sum(), world),
                       "MPI_Allreduce")
    }

    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>) throws {
        var start = 0
        while start < values.count {
            let n = min(values.count - start, Int(Int32.max))
            try Self.check(MPI_Bcast(values.baseAddress! + start, Int32(n), zoo_mpi_float(), 0, world), "MPI_Bcast")
            start += n
        }
    }

    public func broadcast(_ data: Data) throws -> Data {
        var length = Int64(rank == 0 ? data.count : 0)
        try Self.check(MPI_Bcast(&length, 1, zoo_mpi_int64(), 0, world), "MPI_Bcast")
        var bytes = rank == 0 ? data : Data(count: Int(length))
        try bytes.withUnsafeMutableBytes { raw in try sendBytes(raw) { base, n in MPI_Bcast(base, n, zoo_mpi_byte(), 0, world) } }
        return bytes
    }

    public func allGather(_ data: Data) throws -> [Data] {
        var lengths = [Int64](repeating: 0, count: size)
        var mine = Int64(data.count)
        try Self.check(MPI_Allgather(&mine, 1, zoo_mpi_int64(), &lengths, 1, zoo_mpi_int64(), world), "MPI_Allgather")
        // Each rank's bytes in turn from that rank: the parts may together pass MPI's Int32 counts.
        return try (0..<size).map { root in
            var bytes = root == rank ? data : Data(count: Int(lengths[root]))
            try bytes.withUnsafeMutableBytes { raw in
                try sendBytes(raw) { base, n in MPI_Bcast(base, n, zoo_mpi_byte(), Int32(root), world) }
            }
            return bytes
        }
    }

    private func sendBytes(_ raw: UnsafeMutableRawBufferPointer, _ call: (UnsafeMutableRawPointer, Int32) -> Int32) throws {
        var start = 0
        while start < raw.count {
            let n = min(raw.count - start, Int(Int32.max))
            try Self.check(call(raw.baseAddress! + start, Int32(n)), "MPI_Bcast")
            start += n
        }
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw DistributedError("\(call) failed: \(cString(text, length: length))")
    }

    /// The text MPI wrote into `buffer`: `length` characters, or up to the first NUL if that comes sooner.
    private static func cString(_ buffer: [CChar], length: Int32) -> String {
        let bytes = buffer.prefix(max(0, min(Int(length), buffer.count))).prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Outstanding nonblocking calls.
    final class Request: PendingReduction {
        var requests: [MPI_Request?] = []

        func poll() throws {
            guard !requests.isEmpty else { return }
            var done: Int32 = 0
            try MPIProcessGroup.check(MPI_Testall(Int32(requests.count), &requests, &done, zoo_mpi_statuses_ignore()), "MPI_Testall")
        }

        func wait() throws {
            guard !requests.isEmpty else { return }
            try MPIProcessGroup.check(MPI_Waitall(Int32(requests.count), &requests, zoo_mpi_statuses_ignore()), "MPI_Waitall")
            requests.removeAll()
        }
    }
}
#endif
