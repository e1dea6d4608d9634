import ArgumentParser
import CGroveSys
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start N ranks of a program on this host, with the rendezvous environment set.",
        discussion: """
        Each rank gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and \
        MASTER_PORT (torchrun's names, which Grove's Communicator reads). Output lines are \
        prefixed with the rank ("2: …"). Signals (INT, TERM, HUP) are forwarded to every rank. \
        When a rank exits with a non-zero status the others are stopped (TERM, then KILL after \
        --grace seconds) and launch exits with that rank's status (128+signal if it was killed).

          grove launch -n 4 -- grove bench allreduce -b 8 -e 64M
          grove launch -n 2 -- ./my-app --steps 100

        Several hosts: run launch on each with --hosts-from-env and the same MASTER_ADDR (first \
        host) and MASTER_PORT; NNODES (or SLURM_NNODES, GROVE_NNODES) gives the host count and \
        NODE_RANK (or SLURM_NODEID, GROVE_NODE_RANK) this host's index, so rank = NODE_RANK × N + \
        local rank. A launcher killed even by SIGKILL takes its ranks with it.

        Other launchers work as they are: torchrun (standalone, static or c10d rendezvous; Grove \
        uses torchrun's own store), srun, mpirun (Open MPI) and mpiexec (MPICH). Without \
        MASTER_ADDR, rank 0's host is this host when the launcher says all ranks are local, or the \
        first node of Slurm's step.

        Environment a rank reads [default]:
          RANK WORLD_SIZE LOCAL_RANK  or Slurm's, Open MPI's, MPICH's own
          MASTER_ADDR          rank 0's host [this host if all are local]
          MASTER_PORT          rank 0's store [29500; launch: a free port]
          GROVE_SOCKET_IFNAME  data interfaces, ^ excludes [any]
          GROVE_CONNECTIONS    TCP connections per peer, 1-64 [1]
          GROVE_SPIN_US        µs a waiting rank polls before sleeping [100]
          GROVE_TIMEOUT        seconds one call may take [60]
          GROVE_DEBUG          WARN, INFO or TRACE on stderr [quiet]
        """
    )

    @Option(name: .short, help: "Ranks to start on this host.") var n: Int
    @Flag(help: "Join a multi-host job: read NODE_RANK/NNODES (or SLURM_NODEID/SLURM_NNODES), MASTER_ADDR and MASTER_PORT from the environment.")
    var hostsFromEnv = false
    @Option(help: "Port of rank 0's rendezvous store (default: MASTER_PORT if set, else a free port).") var port: Int?
    @Flag(help: "Do not prefix output lines with the rank.") var noPrefix = false
    @Option(help: "Seconds between TERM and KILL when stopping the other ranks.") var grace = 5.0
    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments, after --.") var command: [String] = []

    func run() throws {
        try reportingErrors(execute)
    }

    func execute() throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard let program = argv.first else { throw UserError("give the program to run after --, for example: grove launch -n 4 -- grove bench") }
        guard (1...4096).contains(n) else { throw UserError("-n \(n): give 1 to 4096 ranks per host") }
        guard grace.isFinite, (0...3600).contains(grace) else { throw UserError("--grace \(grace): give 0 to 3600 seconds") }
        let env = ProcessInfo.processInfo.environment
        if let text = env["MASTER_PORT"], port == nil, Int(text).map({ (1...65535).contains($0) }) != true {
            throw UserError("MASTER_PORT=\(text) is not a TCP port (1…65535)")
        }
        if let port, !(1...65535).contains(port) { throw UserError("--port \(port) is not a TCP port (1…65535)") }
        var node = 0
        var nodes = 1
        var master = env["MASTER_ADDR"] ?? "127.0.0.1"
        var masterPort = port ?? env["MASTER_PORT"].flatMap(Int.init)
        if hostsFromEnv {
            guard let r = (env["NODE_RANK"] ?? env["GROVE_NODE_RANK"] ?? env["SLURM_NODEID"]).flatMap(Int.init),
                  let c = (env["NNODES"] ?? env["GROVE_NNODES"] ?? env["SLURM_NNODES"]).flatMap(Int.init) else {
                throw UserError("--hosts-from-env needs NODE_RANK and NNODES (or Slurm's SLURM_NODEID and SLURM_NNODES) as whole numbers")
            }
            guard let m = env["MASTER_ADDR"], !m.isEmpty else { throw UserError("--hosts-from-env needs MASTER_ADDR: the address of the host of rank 0") }
            guard masterPort != nil else { throw UserError("--hosts-from-env needs MASTER_PORT (or --port), the same on every host") }
            guard r >= 0 && r < c else { throw UserError("NODE_RANK \(r) is not below NNODES \(c)") }
            (node, nodes, master) = (r, c, m)
        }
        let storePort = try masterPort ?? freePort()
        masterPort = storePort
        let resolved = try executablePath(program)
        let world = n * nodes
        let group = RankGroup(grace: grace, prefixes: !noPrefix)
        for local in 0..<n {
            let rank = node * n + local
            var e = env
            e["RANK"] = "\(rank)"
            e["WORLD_SIZE"] = "\(world)"
            e["LOCAL_RANK"] = "\(local)"
            e["LOCAL_WORLD_SIZE"] = "\(n)"
            e["MASTER_ADDR"] = master
            e["MASTER_PORT"] = "\(storePort)"
            for k in ["SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"] { e[k] = nil }
            do { try group.start(resolved, arguments: argv, environment: e, rank: rank) } catch {
                group.stopAll()
                _ = group.wait()
                throw UserError("cannot start rank \(rank) (\(resolved)): \(error)")
            }
        }
        let status = group.wait()
        if status != 0 { throw ExitCode(status) }
    }

    /// A port that was free a moment ago (the kernel picks it; rank 0 binds it right after).
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw UserError("cannot find a free port for the rendezvous store; give one with --port") }
        return Int(UInt16(bigEndian: a.sin_port))
    }

    /// The program as given if it has a slash, else found on PATH.
    func executablePath(_ program: String) throws -> String {
        if program.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: program) else { throw UserError("\(program): not an executable file") }
            return program
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw UserError("\(program): not found on PATH")
    }
}

/// The ranks of one launch. Each rank is its own process group, so signals and the final
/// KILL reach whatever it started too (a shell wrapper, a Python launcher).
final class RankGroup: @unchecked Sendable {
    private let lock = NSCondition()
    private var groups: [pid_t] = []
    private var running = 0
    private var readers = 0
    private var firstFailure: Int32?
    private let grace: Double
    private let prefixes: Bool
    private var signalSources: [DispatchSourceSignal] = []

    init(grace: Double, prefixes: Bool) {
        self.grace = grace
        self.prefixes = prefixes
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in self?.forward(sig) }
            s.resume()
            signalSources.append(s)
        }
    }

    func start(_ path: String, arguments: [String], environment: [String: String], rank: Int) throws {
        var out: [Int32] = [0, 0]
        var err: [Int32] = [0, 0]
        guard pipe(&out) == 0, pipe(&err) == 0 else { throw UserError("cannot create pipes: \(String(cString: strerror(errno)))") }
        for fd in [out[0], out[1], err[0], err[1]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        // Each rank starts as `grove __rank PID PROGRAM ARGS…`, which asks the kernel to kill it
        // when this launcher dies (even by SIGKILL, which no handler sees) and then becomes PROGRAM.
        let argv = (["grove", RankExec.marker, "\(getpid())", path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp)
        close(out[1])
        close(err[1])
        guard rc == 0 else {
            close(out[0])
            close(err[0])
            throw UserError("grove itself (/proc/self/exe, which starts each rank) could not be spawned: \(String(cString: strerror(rc)))")
        }
        lock.lock()
        groups.append(pid)
        running += 1
        readers += 2
        lock.unlock()
        copyLines(from: out[0], rank: rank, to: 1)
        copyLines(from: err[0], rank: rank, to: 2)
        let child = pid
        Thread { [self] in
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            let signaled = status & 0x7f != 0
            exited(rank: rank, status: signaled ? 128 + (status & 0x7f) : (status >> 8) & 0xff, signaled: signaled)
        }.start()
    }

    /// Copies a rank's output line by line, prefixed with the rank; whole lines only, so ranks'
    /// lines never interleave.
    private func copyLines(from fd: Int32, rank: Int, to sink: Int32) {
        Thread { [self] in
            var pending: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            func emit(_ lines: ArraySlice<UInt8>) {
                var text: [UInt8] = []
                for line in lines.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
                    if prefixes { text += Array("\(rank): ".utf8) }
                    text += line
                    text.append(UInt8(ascii: "\n"))
                }
                lock.lock()
                text.withUnsafeBytes { b in
                    var done = 0
                    while done < b.count {
                        let w = write(sink, b.baseAddress! + done, b.count - done)
                        if w > 0 { done += w } else if errno != EINTR { break }
                    }
                }
                lock.unlock()
            }
            while true {
                let n = read(fd, &chunk, chunk.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += chunk[0..<n]
                if let last = pending.lastIndex(of: UInt8(ascii: "\n")) {
                    emit(pending[...last])
                    pending.removeSubrange(...last)
                }
            }
            if !pending.isEmpty { emit(pending[...] + [UInt8(ascii: "\n")]) }
            close(fd)
            lock.lock()
            readers -= 1
            lock.broadcast()
            lock.unlock()
        }.start()
    }

    private func exited(rank: Int, status: Int32, signaled: Bool) {
        lock.lock()
        running -= 1
        let stopOthers = status != 0 && firstFailure == nil
        if stopOthers { firstFailure = status }
        lock.broadcast()
        lock.unlock()
        if stopOthers {
            Console.note("grove launch: rank \(rank) \(signaled ? "was killed by signal \(status - 128)" : "exited with status \(status)"); stopping the other ranks")
            stopAll()
        }
    }

    private func forward(_ sig: Int32) {
        lock.lock()
        let list = groups
        lock.unlock()
        for g in list { kill(-g, sig) }
    }

    /// TERM now, KILL after the grace period to whatever is left of every rank's group.
    func stopAll() {
        forward(SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) { [self] in forward(SIGKILL) }
    }

    /// Waits for every rank, then (briefly) for the rest of their output; returns the first
    /// non-zero status, or 0.
    func wait() -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        while running > 0 { lock.wait() }
        let until = Date(timeIntervalSinceNow: 2)
        while readers > 0 && lock.wait(until: until) {}
        return firstFailure ?? 0
    }
}

/// The first moments of a rank started by `grove launch`: set the parent-death signal, check
/// the launcher did not already die before that, then exec the rank's program in this process
/// (the setting survives exec). A wrapper's own children are not covered: they are stopped
/// through the rank's process group while the launcher lives.
enum RankExec {
    static let marker = "__rank"

    /// `arguments`: the launcher's pid, the program's path, then its argv.
    static func run(_ arguments: [String]) -> Never {
        guard arguments.count >= 3, let launcher = pid_t(arguments[0]) else {
            FileHandle.standardError.write(Data("grove: \(marker) is grove launch's own entry point, not a command\n".utf8))
            exit(2)
        }
        _ = grove_set_parent_death_signal(SIGKILL)
        if getppid() != launcher { exit(137) }
        let argv = arguments.dropFirst(2).map { strdup($0) } + [nil]
        execv(arguments[1], argv)
        FileHandle.standardError.write(Data("grove launch: cannot start \(arguments[1]): \(String(cString: strerror(errno)))\n".utf8))
        exit(127)
    }
}
