import CZooSystem
import Foundation
import Synchronization
import ZooCore

/// The parent's side of isolated HDF5 reading: runs `zoo-reader` on one file, and turns its reply, or the way it
/// died, into a result or one error naming the file. The reply comes back in an in-memory file that the parent maps,
/// so arrays cross without a copy; the child reads the input through a descriptor the parent opened, so both see the
/// same file, and arrays stored there as they are used are taken from the parent's own mapping of it.
enum IsolatedReader {
    static let helperName = "zoo-reader"
    static let timeoutVariable = "ZOO_READ_TIMEOUT"
    static let defaultTimeout = 120.0

    static func read(_ url: URL, format: String) throws -> WeightBundle {
        let reply = try run(.read(format: format, path: url.path), for: url)
        guard let bundle = reply.header.bundle else { throw WeightFileError(url, "the isolated reader sent neither weights nor an error") }
        return try reply.weights(bundle, for: url)
    }

    /// The file's weights if `format` recognizes it, else nil; one child process answers both, and the formats that
    /// recognize the file are kept for the next format's question.
    static func readIfRecognized(_ url: URL, format: String) throws -> WeightBundle? {
        let identity = try FileIdentity(url)
        if let known = recognitions.withLock({ $0[identity] }), !known.contains(format) { return nil }
        let reply = try run(.readIfRecognized(format: format, path: url.path), for: url)
        let recognized = reply.header.recognized ?? []
        remember(recognized, for: identity)
        guard recognized.contains(format) else { return nil }
        guard let bundle = reply.header.bundle else { throw WeightFileError(url, "the isolated reader recognized the file but sent no weights") }
        return try reply.weights(bundle, for: url)
    }

    /// The isolated formats that recognize the file. Sniffing asks every format in turn, so the answer is kept per
    /// version of the file (device, inode, size, modification time): one child process answers them all. A file that
    /// cannot be examined throws at the first format's sniff, which ends detection, so failures are not kept.
    static func recognizedFormats(_ url: URL) throws -> [String] {
        let identity = try FileIdentity(url)
        if let known = recognitions.withLock({ $0[identity] }) { return known }
        let recognized = try run(.recognize(path: url.path), for: url).header.recognized ?? []
        remember(recognized, for: identity)
        return recognized
    }

    private static func remember(_ recognized: [String], for identity: FileIdentity) {
        recognitions.withLock {
            if $0.count >= 64 { $0.removeAll() }
            $0[identity] = recognized
        }
    }

    private static let recognitions = Mutex<[FileIdentity: [String]]>([:])

    struct FileIdentity: Hashable {
        let device: UInt64, inode: UInt64, size: Int64, modified: Int, modifiedNanoseconds: Int

        init(_ url: URL) throws {
            var info = stat()
            guard stat(url.path, &info) == 0 else { throw WeightFileError(url, "cannot stat: \(String(cString: strerror(errno)))") }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = info.st_mtim.tv_sec
            modifiedNanoseconds = info.st_mtim.tv_nsec
        }
    }

    /// What a child answered: its header (never an error), the reply mapped, and the input it read.
    struct Reply {
        let header: ReaderWire.Header
        let data: MappedFile
        let input: ChildDescriptor

        /// The bundle's arrays, borrowing the reply and, when some lie there, a mapping of the input.
        func weights(_ bundle: ReaderWire.Bundle, for url: URL) throws -> WeightBundle {
            var mapped: MappedFile?
            if bundle.layers.contains(where: { $0.arrays.contains { $0.source == .input } }) {
                mapped = try MappedFile(descriptor: input.descriptor, describing: url)
                mapped!.populateForReading()
            }
            return try ReaderWire.bundle(bundle, in: data, input: mapped, for: url)
        }
    }

    /// Runs the helper on one request and waits for it, at most the timeout; an error it reports is thrown.
    private static func run(_ request: ReaderRequest, for url: URL) throws -> Reply {
        let helper = try helperPath(for: url)
        let timeout = try timeoutSeconds(for: url)
        let input = try ChildDescriptor(reading: url)
        let reply = try ChildDescriptor(inMemory: "zoo-reader-reply", for: url)
        let messages = try ChildDescriptor(inMemory: "zoo-reader-messages", for: url)
        let arguments = ["--timeout", String(Int(timeout.rounded(.up))), "--input-descriptor", String(inputDescriptor)] + request.arguments
        let pid = try spawn(helper, arguments, input: input, reply: reply, messages: messages, for: url)
        let status = try wait(for: pid, seconds: timeout, for: url)
        let signal = status & 0x7f, exitCode = (status >> 8) & 0xff
        guard signal != SIGXCPU else { throw tooLong(url, seconds: timeout) }  // its CPU limit is the timeout
        guard signal == 0 else { throw crashed(url, signal: signal, messages: messages.tail()) }
        guard exitCode == 0 else {
            throw WeightFileError(url, "the isolated reader failed (exit status \(exitCode)): \(messages.tail() ?? "no message")")
        }
        let mapped = try MappedFile(descriptor: reply.descriptor, describing: url)
        mapped.populateForReading()
        let header = try ReaderWire.decode(mapped, for: url)
        if let failure = header.error { throw WeightFileError(failure) }
        return Reply(header: header, data: mapped, input: input)
    }

    /// Where the child finds the input file.
    static let inputDescriptor: Int32 = 4

    private static func tooLong(_ url: URL, seconds: Double) -> WeightFileError {
        let shown = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
        return WeightFileError(url, "reading this file took longer than \(shown) s (\(timeoutVariable)), so it was stopped: "
            + "the file is damaged or crafted, or needs a longer \(timeoutVariable)")
    }

    private static func crashed(_ url: URL, signal: Int32, messages: String?) -> WeightFileError {
        let name = signalNames[signal] ?? "signal \(signal)"
        let what: String
        switch signal {
        case SIGSYS: what = "the isolated reader attempted a forbidden system call (\(name)) while reading this file"
        case SIGXFSZ: what = "reading this file produced more output than its size allows (\(name))"
        default: what = "libhdf5 crashed reading this file (\(name) in the isolated reader)"
        }
        let detail = messages.map { "; it said: \($0)" } ?? ""
        return WeightFileError(url, what + ": the file is damaged or crafted" + detail)
    }

    private static let signalNames: [Int32: String] = [
        SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGABRT: "SIGABRT", SIGILL: "SIGILL", SIGFPE: "SIGFPE", SIGTRAP: "SIGTRAP",
        SIGSYS: "SIGSYS", SIGXFSZ: "SIGXFSZ", SIGKILL: "SIGKILL",
    ]

    /// `ZOO_READER`, else `zoo-reader` beside the running executable (SwiftPM builds both into one folder), else the
    /// first on `PATH` (a `zoo` copied or linked elsewhere alone).
    private static func helperPath(for url: URL) throws -> String {
        if let path = ProcessInfo.processInfo.environment["ZOO_READER"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw WeightFileError(url, "cannot read it in isolation: ZOO_READER names \(path), which is not an executable")
            }
            return path
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let beside = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(helperName).path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let onPath = searchPath.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(helperName).path }
        guard let found = onPath.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw WeightFileError(url, "cannot read it in isolation: there is no \(helperName) beside \(executable) or on PATH, and ZOO_READER is not set "
                + "(build it with `swift build --product \(helperName)`; files you trust can be read in process: ZOO_READ_IN_PROCESS=1 for zoo, "
                + "ReadIsolation.inProcess in the library)")
        }
        return found
    }

    private static func timeoutSeconds(for url: URL) throws -> Double {
        guard let text = ProcessInfo.processInfo.environment[timeoutVariable] else { return defaultTimeout }
        guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
            throw WeightFileError(url, "\(timeoutVariable) must be a positive number of seconds, not '\(text)'")
        }
        return seconds
    }

    /// Starts the helper with stdin from /dev/null, stdout and stderr into `messages`, the reply file as descriptor 3,
    /// the input as descriptor 4, every signal at its default and none blocked.
    private static func spawn(_ helper: String, _ arguments: [String], input: ChildDescriptor, reply: ChildDescriptor,
                              messages: ChildDescriptor, for url: URL) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, messages.descriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, messages.descriptor, 2)
        posix_spawn_file_actions_adddup2(&actions, reply.descriptor, 3)
        posix_spawn_file_actions_adddup2(&actions, input.descriptor, inputDescriptor)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([helper] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Swift's crash backtracer would start a process of its own, which the sandbox forbids: let a crash be a crash.
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != "SWIFT_BACKTRACE" }.map { "\($0.key)=\($0.value)" }
        let envp = (environment + ["SWIFT_BACKTRACE=enable=no"]).map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, helper, &actions, &attributes, argv, envp)
        guard result == 0 else { throw WeightFileError(url, "cannot start the isolated reader \(helper): \(String(cString: strerror(result)))") }
        return pid
    }

    /// The child's wait status; past the deadline the child is killed and the read fails.
    private static func wait(for pid: pid_t, seconds: Double, for url: URL) throws -> Int32 {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var status: Int32 = 0
        var pause: UInt32 = 100
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return status }
            if result < 0 && errno != EINTR {
                throw WeightFileError(url, "lost the isolated reader: \(String(cString: strerror(errno)))")
            }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                throw tooLong(url, seconds: seconds)
            }
            usleep(pause)
            pause = min(pause * 2, 10_000)
        }
    }
}

/// A descriptor to hand to the child: closed on exec and at 10 or above, so that placing it at 1 to 4 in the child
/// always makes a copy that survives the exec.
final class ChildDescriptor {
    let descriptor: Int32

    /// The file to read, opened read-only.
    convenience init(reading url: URL) throws {
        let opened = open(url.path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { throw WeightFileError(url, "cannot open: \(String(cString: strerror(errno)))") }
        try self.init(opened, for: url)
    }

    /// An anonymous file in memory (memfd).
    convenience init(inMemory name: String, for url: URL) throws {
        let created = zoo_memfd_create(name)
        guard created >= 0 else { throw WeightFileError(url, "cannot create an in-memory file: \(String(cString: strerror(errno)))") }
        try self.init(created, for: url)
    }

    private init(_ created: Int32, for url: URL) throws {
        defer { close(created) }
        descriptor = fcntl(created, F_DUPFD_CLOEXEC, 10)
        guard descriptor >= 0 else { throw WeightFileError(url, "cannot duplicate a descriptor: \(String(cString: strerror(errno)))") }
    }

    /// The last few hundred bytes written, as one line of text, if any.
    func tail(_ limit: Int = 600) -> String? {
        let size = Int(lseek(descriptor, 0, SEEK_END))
        guard size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: min(limit, size))
        let count = pread(descriptor, &bytes, bytes.count, off_t(size - bytes.count))
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[..<count], as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? nil : text
    }

    deinit { close(descriptor) }
}

extension WeightFileError {
    init(_ failure: ReaderWire.Failure) { self.init(file: failure.file, location: failure.location, message: failure.message) }
}
