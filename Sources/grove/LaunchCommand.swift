import ArgumentParser
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

          grove launch -n 4 -- grove bench -c allreduce -b 8 -e 64M
          grove launch -n 2 -- ./my-app --steps 100

        Several hosts: run launch on each with --hosts-from-env and the same MASTER_ADDR (first \
        host) and MASTER_PORT; NNODES (or SLURM_NNODES) gives the host count and NODE_RANK (or \
        SLURM_NODEID) this host's index, so rank = NODE_RANK × N + local rank.
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
        guard n >= 1 else { throw UserError("-n must be at least 1") }
        let env = ProcessInfo.processInfo.environment
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
        let output = PrefixedOutput(prefixes: !noPrefix)
        let group = RankGroup(grace: grace)
        for local in 0..<n {
            let rank = node * n + local
            let p = Process()
            p.executableURL = URL(fileURLWithPath: resolved)
            p.arguments = Array(argv.dropFirst())
            var e = env
            e["RANK"] = "\(rank)"
            e["WORLD_SIZE"] = "\(world)"
            e["LOCAL_RANK"] = "\(local)"
            e["LOCAL_WORLD_SIZE"] = "\(n)"
            e["MASTER_ADDR"] = master
            e["MASTER_PORT"] = "\(storePort)"
            for k in ["SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"] { e[k] = nil }
            p.environment = e
            p.standardOutput = output.pipe(rank: rank, to: FileHandle.standardOutput)
            p.standardError = output.pipe(rank: rank, to: FileHandle.standardError)
            do { try group.start(p, rank: rank) } catch {
                group.stopAll()
                throw UserError("cannot start \(resolved): \(error.localizedDescription)")
            }
        }
        let status = group.wait()
        output.drain()
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

/// The ranks of one launch: starts them, forwards signals, and stops the rest on the first failure.
final class RankGroup: @unchecked Sendable {
    private let lock = NSCondition()
    private var processes: [Process] = []
    private var running = 0
    private var firstFailure: Int32?
    private let grace: Double
    private var signalSources: [DispatchSourceSignal] = []

    init(grace: Double) {
        self.grace = grace
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in self?.forward(sig) }
            s.resume()
            signalSources.append(s)
        }
    }

    func start(_ p: Process, rank: Int) throws {
        p.terminationHandler = { [weak self] p in self?.exited(p, rank: rank) }
        lock.lock()
        processes.append(p)
        running += 1
        lock.unlock()
        do { try p.run() } catch {
            lock.lock()
            running -= 1
            lock.unlock()
            throw error
        }
    }

    private func exited(_ p: Process, rank: Int) {
        let status: Int32 = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        lock.lock()
        running -= 1
        let stopOthers = status != 0 && firstFailure == nil
        if stopOthers {
            firstFailure = status
            let how = p.terminationReason == .uncaughtSignal ? "was killed by signal \(p.terminationStatus)" : "exited with status \(status)"
            Console.note("grove launch: rank \(rank) \(how); stopping the other ranks")
        }
        lock.broadcast()
        lock.unlock()
        if stopOthers { stopAll() }
    }

    private func forward(_ sig: Int32) {
        lock.lock()
        let list = processes
        lock.unlock()
        for p in list where p.isRunning { kill(p.processIdentifier, sig) }
    }

    /// TERM now, KILL after the grace period to whoever is left.
    func stopAll() {
        forward(SIGTERM)
        let list = processes
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) {
            for p in list where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
    }

    /// Waits for every rank; the first non-zero status, or 0.
    func wait() -> Int32 {
        lock.lock()
        while running > 0 { lock.wait() }
        defer { lock.unlock() }
        return firstFailure ?? 0
    }
}

/// Copies each rank's output line by line, prefixed with the rank, without interleaving lines.
final class PrefixedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private let prefixes: Bool
    private var pending: [ObjectIdentifier: (rank: Int, buffer: Data, sink: FileHandle)] = [:]
    private var handles: [FileHandle] = []

    init(prefixes: Bool) { self.prefixes = prefixes }

    func pipe(rank: Int, to sink: FileHandle) -> Pipe {
        let p = Pipe()
        let reader = p.fileHandleForReading
        lock.lock()
        pending[ObjectIdentifier(reader)] = (rank, Data(), sink)
        handles.append(reader)
        lock.unlock()
        reader.readabilityHandler = { [weak self] h in self?.take(h, h.availableData) }
        return p
    }

    private func take(_ h: FileHandle, _ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        let id = ObjectIdentifier(h)
        guard var entry = pending[id] else { return }
        if data.isEmpty {
            h.readabilityHandler = nil
            if !entry.buffer.isEmpty { emit(entry.rank, entry.buffer + Data("\n".utf8), entry.sink) }
            entry.buffer = Data()
            pending[id] = entry
            return
        }
        entry.buffer += data
        if let last = entry.buffer.lastIndex(of: UInt8(ascii: "\n")) {
            emit(entry.rank, entry.buffer[...last], entry.sink)
            entry.buffer = Data(entry.buffer[(last + 1)...])
        }
        pending[id] = entry
    }

    private func emit(_ rank: Int, _ lines: Data, _ sink: FileHandle) {
        guard prefixes else { sink.write(lines); return }
        var out = Data()
        for line in lines.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            out += Data("\(rank): ".utf8) + line + Data("\n".utf8)
        }
        sink.write(out)
    }

    /// Reads what is left once every rank has exited.
    func drain() {
        lock.lock()
        let list = handles
        lock.unlock()
        for h in list {
            h.readabilityHandler = nil
            let rest = h.readDataToEndOfFile()
            if !rest.isEmpty { take(h, rest) }
            take(h, Data())
        }
    }
}
