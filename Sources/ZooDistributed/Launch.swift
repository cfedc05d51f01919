import Foundation
import ZooTransfer

/// How this process was started: alone, or as one rank of an `mpirun` job.
public enum Launch {
    /// Whether an MPI launcher started this process (Open MPI's `mpirun` sets these for every rank it starts).
    public static var byMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    /// The MPI library this build runs on, or nil for a build without MPI.
    public static var mpiLibrary: String? {
        #if MPI
        MPIProcessGroup.libraryVersion
        #else
        nil
        #endif
    }

    /// MPI's world when launched by `mpirun`, otherwise a single process. A build without MPI under `mpirun` throws
    /// rather than run N copies of the same single-process job.
    public static func processGroup() throws -> any ProcessGroup {
        guard byMPI else { return SingleProcess() }
        #if MPI
        return try MPIProcessGroup.world()
        #else
        throw DistributedError("this zoo was built without MPI, so it cannot run under mpirun: "
            + "install libopenmpi-dev and build with `swift build -c release --traits MPI`")
        #endif
    }

    /// Ends the whole job after an error on this rank, so that the other ranks do not wait for it forever. Returns
    /// (doing nothing) when the group is a single process.
    public static func abortJob(_ group: any ProcessGroup, code: Int32) {
        #if MPI
        if let mpi = group as? MPIProcessGroup, mpi.size > 1 { mpi.abort(code: code) }
        #endif
    }
}

public struct DistributedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
