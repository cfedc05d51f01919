import CSeccomp
import Glibc
import ZooConverters

/// What confines `zoo-reader` once the input is mapped and before libhdf5 sees a byte of it: resource limits, then a
/// seccomp filter. Only the system calls that decoding in memory and writing the reply need are allowed. Opening
/// files and other calls fail with an error (so a library probing for optional files carries on); starting programs,
/// network sockets, tracing and signalling other processes kill the reader outright.
enum Sandbox {
    /// Address space for the input's mapping, the reply's, and libhdf5's own structures; CPU time to the parent's
    /// timeout; no new descriptors; no core dumps; the reply at most what an input of this size can decode to.
    static func limit(inputSize: Int, seconds: Int) throws(SandboxError) {
        let reply = ReaderWire.capacity(forInput: inputSize)
        try set(RLIMIT_AS, 2 << 30 + 3 * inputSize + reply)
        try set(RLIMIT_CPU, max(1, seconds), hard: max(1, seconds) + 1)
        try set(RLIMIT_FSIZE, reply)
        try set(RLIMIT_NOFILE, 8)
        try set(RLIMIT_CORE, 0)
    }

    private static func set(_ resource: __rlimit_resource, _ soft: Int, hard: Int? = nil) throws(SandboxError) {
        var value = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard ?? soft))
        guard setrlimit(__rlimit_resource_t(resource.rawValue), &value) == 0 else { throw SandboxError("setrlimit(\(resource.rawValue)) failed: \(String(cString: strerror(errno)))") }
    }

    static let allowed = [
        "read", "pread64", "readv", "write", "pwrite64", "writev", "lseek", "fstat", "newfstatat", "statx", "close", "fcntl",
        "ftruncate", "mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "set_robust_list", "rseq",
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "getpid", "gettid", "getrandom", "clock_gettime",
        "clock_getres", "gettimeofday", "nanosleep", "clock_nanosleep", "sched_yield", "sched_getaffinity", "prlimit64",
        "getrlimit", "getrusage", "exit", "exit_group",
    ]
    static let fatal = [
        "execve", "execveat", "fork", "vfork", "clone", "clone3", "socket", "socketpair", "connect", "bind", "listen", "accept",
        "accept4", "sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "ptrace", "process_vm_readv", "process_vm_writev",
        "kill", "tkill", "setsid", "setuid", "setgid", "chroot", "mount", "unshare", "keyctl", "bpf", "perf_event_open",
    ]

    /// Installs the filter (libseccomp sets no-new-privileges first, so no later exec could gain rights); from here on
    /// the process can only compute, use its memory and write to what it already holds open.
    static func enter() throws(SandboxError) {
        guard let filter = seccomp_init(zoo_scmp_act_errno(UInt16(EPERM))) else { throw SandboxError("seccomp_init failed") }
        defer { seccomp_release(filter) }
        func add(_ name: String, _ action: UInt32, _ conditions: [scmp_arg_cmp] = []) throws(SandboxError) {
            let number = seccomp_syscall_resolve_name(name)
            guard number != __NR_SCMP_ERROR else { return }  // not a call on this architecture
            guard seccomp_rule_add_array(filter, action, number, UInt32(conditions.count), conditions) == 0 else {
                throw SandboxError("cannot add the seccomp rule for \(name)")
            }
        }
        for name in allowed { try add(name, zoo_scmp_act_allow()) }
        for name in fatal { try add(name, zoo_scmp_act_kill_process()) }
        for name in ["open", "openat", "openat2", "creat"] { try add(name, zoo_scmp_act_errno(UInt16(EACCES))) }
        // abort() signals its own thread; nothing else may be signalled.
        let pid = scmp_datum_t(getpid())
        try add("tgkill", zoo_scmp_act_allow(), [scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: pid, datum_b: 0)])
        try add("tgkill", zoo_scmp_act_kill_process(), [scmp_arg_cmp(arg: 0, op: SCMP_CMP_NE, datum_a: pid, datum_b: 0)])
        guard seccomp_load(filter) == 0 else { throw SandboxError("seccomp_load failed") }
    }
}

struct SandboxError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
