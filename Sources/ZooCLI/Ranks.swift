import ArgumentParser
import Foundation
import Zoo
import ZooDistributed

/// How a command runs as one rank of an `mpirun` job.
enum Ranks {
    /// This process's group: MPI's world under `mpirun`, else a single process.
    static func group() throws -> any ProcessGroup { try Launch.processGroup() }

    /// Runs `body` on this rank. An error on any rank of a group ends the whole job, after printing it with the
    /// rank's number: the other ranks would otherwise wait for this one in their next collective call forever.
    static func run(in group: any ProcessGroup, _ body: () throws -> Void) throws {
        guard group.size > 1 else { return try body() }
        do { try body() } catch let exit as ExitCode {
            throw exit
        } catch {
            let message = ZooCommand.fullMessage(for: error)
            FileHandle.standardError.write(Data("zoo (rank \(group.rank) of \(group.size)): \(message)\n".utf8))
            Launch.abortJob(group, code: 1)
            throw ExitCode(1)
        }
    }
}
