import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Who this rank is and where rank 0 is, from the conventions launchers already set:
///
/// | what | read from, first found wins |
/// | --- | --- |
/// | rank | `RANK` (torchrun), `SLURM_PROCID`, `OMPI_COMM_WORLD_RANK`, `PMI_RANK`, `PMIX_RANK` |
/// | world size | `WORLD_SIZE`, `SLURM_NTASKS`, `OMPI_COMM_WORLD_SIZE`, `PMI_SIZE` |
/// | local rank | `LOCAL_RANK`, `SLURM_LOCALID`, `OMPI_COMM_WORLD_LOCAL_RANK`, `MPI_LOCALRANKID` |
/// | rank 0's host | `MASTER_ADDR`; else this host when the launcher says every rank is local (`OMPI_COMM_WORLD_LOCAL_SIZE`, `MPI_LOCALNRANKS`, `SLURM_STEP_NUM_NODES`), else the first node of `SLURM_STEP_NODELIST` / `SLURM_JOB_NODELIST` |
/// | store port | `MASTER_PORT`, default 29500 |
/// | store | torchrun's agent store when `TORCHELASTIC_USE_AGENT_STORE=True` (keys under `grove/RUN_ID/RESTART_COUNT/`), else rank 0 serves one |
/// | data interface | `GROVE_SOCKET_IFNAME` (names or prefixes, `^` to exclude) |
/// | connections per peer | `GROVE_CONNECTIONS` |
/// | spin before sleeping, µs | `GROVE_SPIN_US` |
/// | call timeout | `GROVE_TIMEOUT` (seconds) |
/// | debug log | `GROVE_DEBUG` (`WARN`, `INFO`, `TRACE`) |
public struct LaunchEnvironment: Sendable, Equatable {
    public var rank: Int
    public var worldSize: Int
    public var localRank: Int
    public var masterAddress: String
    public var masterPort: Int
    public var socketInterface: String?
    public var connectionsPerPeer: Int?
    /// How long a waiting rank polls before it sleeps (`TCPTransport.Options.spin`).
    public var spin: Duration?
    public var timeout: Duration?
    /// Whether a launcher (torchrun's agent) already serves the store on `masterPort`; if not,
    /// rank 0 serves it.
    public var launcherStore: Bool
    /// Prefix of Grove's keys in the store, so restarts and other users of a shared store never collide.
    public var storeNamespace: String
    /// What `GROVE_DEBUG` asks the log to show.
    public var logLevel: Logger.Level

    public static let defaultPort = 29500

    public init(rank: Int, worldSize: Int, localRank: Int = 0, masterAddress: String, masterPort: Int = LaunchEnvironment.defaultPort,
                socketInterface: String? = nil, connectionsPerPeer: Int? = nil, timeout: Duration? = nil,
                launcherStore: Bool = false, storeNamespace: String = "grove/", logLevel: Logger.Level = .error) {
        self.rank = rank
        self.worldSize = worldSize
        self.localRank = localRank
        self.masterAddress = masterAddress
        self.masterPort = masterPort
        self.socketInterface = socketInterface
        self.connectionsPerPeer = connectionsPerPeer
        self.timeout = timeout
        self.launcherStore = launcherStore
        self.storeNamespace = storeNamespace
        self.logLevel = logLevel
    }

    public static func from(_ env: [String: String]) throws(CommunicatorError) -> LaunchEnvironment {
        func integer(_ names: [String], default d: Int?) throws(CommunicatorError) -> Int {
            for n in names {
                guard let v = env[n] else { continue }
                guard let i = Int(v.trimmingCharacters(in: .whitespaces)) else { throw .configuration("\(n)=\(v) is not a whole number") }
                return i
            }
            if let d { return d }
            throw .configuration("this process does not know its \(names[0] == "RANK" ? "rank" : "world size"): set \(names[0]) (or run under torchrun, Slurm, mpirun or `grove launch`, which set \(names.joined(separator: " / ")))")
        }
        let size = try integer(["WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"], default: nil)
        let rank = try integer(["RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"], default: nil)
        let local = try integer(["LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"], default: 0)
        let port = try integer(["MASTER_PORT"], default: defaultPort)
        guard size >= 1 else { throw .configuration("WORLD_SIZE=\(size): the world needs at least one rank") }
        guard rank >= 0 && rank < size else { throw .configuration("RANK \(rank) is not below WORLD_SIZE \(size): ranks are numbered 0…\(size - 1)") }
        guard (1...65535).contains(port) else { throw .configuration("MASTER_PORT=\(port) is not a TCP port (1…65535)") }
        let master = try masterAddress(env, worldSize: size)
        var connections: Int?
        if let v = env["GROVE_CONNECTIONS"] {
            guard let c = Int(v), (1...64).contains(c) else { throw .configuration("GROVE_CONNECTIONS=\(v) must be a number of connections per peer, 1…64") }
            connections = c
        }
        var spin: Duration?
        if let v = env["GROVE_SPIN_US"] {
            guard let us = Int(v.trimmingCharacters(in: .whitespaces)), (0...1_000_000).contains(us) else {
                throw .configuration("GROVE_SPIN_US=\(v) must be the microseconds a waiting rank polls before it sleeps, 0…1000000")
            }
            spin = .microseconds(us)
        }
        var timeout: Duration?
        if let v = env["GROVE_TIMEOUT"] {
            guard let t = Double(v.trimmingCharacters(in: .whitespaces)).flatMap(timeout(seconds:)) else {
                throw .configuration("GROVE_TIMEOUT=\(v) must be a number of seconds above 0 and at most 86400 (a day)")
            }
            timeout = t
        }
        let interface = env["GROVE_SOCKET_IFNAME"].flatMap { $0.isEmpty ? nil : $0 }
        guard let logLevel = DebugLog.level(env["GROVE_DEBUG"]) else {
            throw .configuration("GROVE_DEBUG=\(env["GROVE_DEBUG"]!) names no log level: give WARN, INFO or TRACE")
        }
        // torchrun's agent serves a c10d store on MASTER_PORT and keeps it across restarts.
        let agent = env["TORCHELASTIC_USE_AGENT_STORE"]?.lowercased() == "true"
        let namespace = agent ? "grove/\(env["TORCHELASTIC_RUN_ID"] ?? "none")/\(env["TORCHELASTIC_RESTART_COUNT"] ?? "0")/" : "grove/"
        var e = LaunchEnvironment(rank: rank, worldSize: size, localRank: local, masterAddress: master,
                                  masterPort: port, socketInterface: interface, connectionsPerPeer: connections, timeout: timeout,
                                  launcherStore: agent, storeNamespace: namespace, logLevel: logLevel)
        e.spin = spin
        return e
    }

    /// A call timeout of `seconds`: finite, above 0 and at most a day (nil otherwise), so that
    /// `inf`, `nan` or `1e300` are refused instead of overflowing the conversion.
    public static func timeout(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds > 0, seconds <= 86_400 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    /// Rank 0's host: `MASTER_ADDR`, or what the launcher's own variables imply.
    static func masterAddress(_ env: [String: String], worldSize size: Int) throws(CommunicatorError) -> String {
        if let m = env["MASTER_ADDR"], !m.isEmpty { return m }
        if size == 1 { return "127.0.0.1" }
        // Every rank on this host: Open MPI, MPICH (hydra) and Slurm each say so.
        let localCounts = [env["OMPI_COMM_WORLD_LOCAL_SIZE"], env["MPI_LOCALNRANKS"]].compactMap { $0.flatMap { Int($0) } }
        if localCounts.contains(size) || env["SLURM_STEP_NUM_NODES"] == "1" || (env["SLURM_STEP_NUM_NODES"] == nil && env["SLURM_NNODES"] == "1") {
            return "127.0.0.1"
        }
        // Slurm starts task 0 on the first node of the step.
        for name in ["SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"] {
            if let list = env[name], let first = SlurmNodeList.first(list) { return first }
        }
        let launcher = env["OMPI_COMM_WORLD_SIZE"] != nil ? "mpirun -x MASTER_ADDR=<rank 0's host> …"
            : env["PMI_SIZE"] != nil ? "mpiexec -genv MASTER_ADDR <rank 0's host> …" : "export MASTER_ADDR=<rank 0's host>"
        throw .configuration("MASTER_ADDR is not set and the ranks run on several hosts: give every rank the address of rank 0's host (\(launcher))")
    }
}

/// Slurm's compressed host lists (`node[01-04,07],gpu5`).
enum SlurmNodeList {
    /// The first host name: up to the first top-level comma, each bracket replaced by its first
    /// number with its zero padding (`node[01-04]` → `node01`). Nil for an empty or malformed list.
    static func first(_ list: String) -> String? {
        var out = "", depth = 0, inBracket = "", result: String?
        for c in list {
            switch c {
            case "[":
                guard depth == 0 else { return nil }
                depth = 1
                inBracket = ""
            case "]":
                guard depth == 1 else { return nil }
                depth = 0
                let first = inBracket.split(whereSeparator: { $0 == "," || $0 == "-" }).first.map(String.init) ?? ""
                guard !first.isEmpty, first.allSatisfy(\.isNumber) else { return nil }
                out += first
            case "," where depth == 0:
                result = out
            default:
                if depth == 1 { inBracket.append(c) } else { out.append(c) }
            }
            if result != nil { break }
        }
        if result == nil && depth == 0 { result = out }
        return result.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Ranks meet at rank 0's store: each inserts `rank/R` (its data address, world size, options
/// and plan identity), reads everyone's, and checks they agree before any data moves, so a
/// mismatch fails every rank with the same sentence. Rank 0 keeps the store until all ranks have
/// read the table (`checked/R`), so nobody loses it half-way.
enum Rendezvous {
    struct Entry {
        var worldSize: Int
        var address: SocketAddress
        var connections: Int
        var host: String
        var identity: String
        var session: UInt32
    }

    /// Entries that stand in for a rank: it could not start (its own words follow), or the
    /// first rank to time out declared it absent (the sentence every rank reports follows).
    static let failed = "failed\t", absent = "absent\t"

    /// The store this rank meets the others at: rank 0 serves it unless the launcher does.
    static func openStore(_ env: LaunchEnvironment, deadline: ContinuousClock.Instant) throws(CommunicatorError) -> (StoreServer?, StoreClient) {
        let master = try SocketAddress.resolve(env.masterAddress, port: env.masterPort)
        let server = env.rank == 0 && !env.launcherStore ? try StoreServer(port: UInt16(env.masterPort)) : nil
        let client = try StoreClient(master, namespace: env.storeNamespace, describedAs: env.launcherStore
            ? "torchrun's store at \(env.masterAddress):\(env.masterPort) (MASTER_ADDR:MASTER_PORT)"
            : "the rendezvous store of rank 0 at \(env.masterAddress):\(env.masterPort) (MASTER_ADDR:MASTER_PORT)",
            servedByRankZero: !env.launcherStore, deadline: deadline)
        return (server, client)
    }

    /// On rank 0 (the one holding `server`): serves the table until the other ranks have read it
    /// (each sets `checked/R`), at most until `limit`. Elsewhere it returns at once.
    static func serveUntilRead(_ server: StoreServer?, _ client: StoreClient, worldSize: Int, except skipped: [Int] = [],
                               until limit: ContinuousClock.Instant) {
        guard server != nil else { return }
        for r in 1..<worldSize where !skipped.contains(r) { _ = try? client.get("checked/\(r)", deadline: limit) }
    }

    /// Tells the other ranks that this one cannot start (its schedule or topology did not load,
    /// say), so that they fail at once with its reason instead of waiting out the rendezvous.
    /// Rank 0 serves the store until every other rank has read the news, at most `timeout`.
    static func abandon(_ env: LaunchEnvironment, reason: String, timeout: Duration) {
        guard env.worldSize > 1 else { return }
        let deadline = ContinuousClock.now + timeout
        guard let (server, client) = try? openStore(env, deadline: deadline) else { return }
        let line = String(reason.split(separator: "\n").first ?? "")
        _ = try? client.insert("rank/\(env.rank)", failed + line.prefix(2000), deadline: deadline)
        // A rank that leaves needs nothing more from rank 0's store.
        _ = try? client.set("checked/\(env.rank)", "1", deadline: deadline)
        serveUntilRead(server, client, worldSize: env.worldSize, until: deadline)
        server?.stop()
    }

    static func connect(_ env: LaunchEnvironment, identity: String, options: TCPTransport.Options,
                        timeout: Duration) throws(CommunicatorError) -> (TCPTransport, StoreServer?, StoreClient) {
        let deadline = ContinuousClock.now + timeout
        let log = DebugLog.logger(rank: env.rank, level: env.logLevel)
        let store = env.launcherStore ? "torchrun's store \(env.masterAddress):\(env.masterPort)"
            : "rank 0's store \(env.masterAddress):\(env.masterPort)"
        log.info("rendezvous: rank \(env.rank) of \(env.worldSize) joining at \(store)\(env.rank == 0 && !env.launcherStore ? ", which this rank serves" : ""), keys under \(env.storeNamespace)")
        let (server, client) = try openStore(env, deadline: deadline)
        // On every way out but success, rank 0's store stops and MASTER_PORT is free again
        // (its threads would otherwise keep it for the life of the process).
        var handedOff = false
        defer { if !handedOff { server?.stop() } }
        let bindAddress = try env.socketInterface.map { (s) throws(CommunicatorError) in try SocketAddress.interface(s).address } ?? .any
        let listener = try Socket.listen(on: bindAddress, what: "rank \(env.rank)'s data port")
        var advertised = listener.localAddress
        if advertised.address == INADDR_ANY { advertised.address = client.socket.localAddress.address }
        let session = env.rank == 0 ? UInt32.random(in: 1...UInt32.max) : 0
        let host = DebugLog.host
        let mine = ["grove1", "\(env.worldSize)", advertised.host, "\(advertised.port)", "\(options.connectionsPerPeer)", host, "\(session)", identity]
            .joined(separator: "\t")
        guard try client.insert("rank/\(env.rank)", mine, deadline: deadline) else {
            if let other = try client.get("rank/\(env.rank)", deadline: .now), other.hasPrefix(absent) {
                throw .rendezvous("rank \(env.rank) arrived after the others had given up: \(other.dropFirst(absent.count))")
            }
            throw .rendezvous("another process already joined as rank \(env.rank) at \(env.masterAddress):\(env.masterPort): two processes were given RANK=\(env.rank)")
        }
        func serveUntilRead(except skipped: [Int] = [], until limit: ContinuousClock.Instant) {
            Rendezvous.serveUntilRead(server, client, worldSize: env.worldSize, except: skipped, until: limit)
        }
        var entries: [Int: Entry] = [:]
        var missing: [Int] = []
        for r in 0..<env.worldSize {
            var found: String?
            if missing.isEmpty {
                while found == nil && ContinuousClock.now < deadline {
                    found = try client.get("rank/\(r)", deadline: min(deadline, .now + .seconds(5)))
                    if found == nil && ContinuousClock.now < deadline {
                        log.info("rendezvous: waiting for rank \(r) of \(env.worldSize) to join at \(store)")
                    }
                }
            } else {
                found = try client.get("rank/\(r)", deadline: .now)
            }
            guard let text = found else { missing.append(r); continue }
            // A rank that could not start, or one the first rank to time out declared absent.
            if text.hasPrefix(failed) || text.hasPrefix(absent) {
                try? client.set("checked/\(env.rank)", "1", deadline: deadline)
                serveUntilRead(until: deadline)
                throw .rendezvous(text.hasPrefix(failed) ? "rank \(r) could not start: \(text.dropFirst(failed.count))" : String(text.dropFirst(absent.count)))
            }
            guard let e = parse(text) else { throw .rendezvous("rank \(r)'s rendezvous entry is not Grove's (\(text.prefix(40))…): is another program using MASTER_PORT \(env.masterPort)?") }
            if r == 0 && e.worldSize != env.worldSize {
                throw .mismatch("ranks disagree on the world size: rank 0 (on \(e.host)) has WORLD_SIZE \(e.worldSize), rank \(env.rank) has \(env.worldSize)")
            }
            entries[r] = e
        }
        guard missing.isEmpty else {
            let error = CommunicatorError.rendezvous("rendezvous at \(env.masterAddress):\(env.masterPort) timed out after \(timeout): rank\(missing.count > 1 ? "s" : "") \(missing.map(String.init).joined(separator: ", ")) of \(env.worldSize) never arrived")
            // Declared in the store, so the ranks whose deadlines come later fail at once with
            // the same sentence, and a rank arriving late learns it came too late.
            for m in missing { _ = try? client.insert("rank/\(m)", absent + error.description, deadline: .now + .seconds(2)) }
            try? client.set("checked/\(env.rank)", "1", deadline: .now + .seconds(2))
            serveUntilRead(except: missing, until: .now + .seconds(5))
            log.warning("rendezvous: rank\(missing.count > 1 ? "s" : "") \(missing.map(String.init).joined(separator: ", ")) never arrived")
            throw error
        }
        try client.set("checked/\(env.rank)", "1", deadline: deadline)
        let verdict = check(entries, worldSize: env.worldSize)
        // Even when it is about to fail.
        serveUntilRead(until: deadline)
        if let verdict { throw verdict }
        log.info("rendezvous: all \(env.worldSize) ranks joined at \(store); plans \(identity); job token \(entries[0]!.session)")
        let transport = TCPTransport(rank: env.rank, worldSize: env.worldSize, listener: listener,
                                     addresses: (0..<env.worldSize).map { entries[$0]!.address }, session: entries[0]!.session, options: options,
                                     log: log)
        log.info("rendezvous: data port \(advertised); \(options.connectionsPerPeer) connection\(options.connectionsPerPeer > 1 ? "s" : "") per peer")
        handedOff = true
        return (transport, server, client)
    }

    static func parse(_ text: String) -> Entry? {
        let f = text.split(separator: "\t", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
        guard f.count == 8, f[0] == "grove1", let size = Int(f[1]), let port = UInt16(f[3]), let k = Int(f[4]), let session = UInt32(f[6]),
              let a = try? SocketAddress.resolve(f[2], port: Int(port)) else { return nil }
        return Entry(worldSize: size, address: a, connections: k, host: f[5], identity: f[7], session: session)
    }

    /// The first disagreement in the table, worded the same on every rank.
    static func check(_ entries: [Int: Entry], worldSize: Int) -> CommunicatorError? {
        let first = entries[0]!
        for r in entries.keys.sorted() {
            let e = entries[r]!
            if e.worldSize != worldSize {
                return .mismatch("ranks disagree on the world size: rank \(r) (on \(e.host)) has WORLD_SIZE \(e.worldSize), this job has \(worldSize) ranks")
            }
            if e.identity != first.identity {
                return .mismatch("ranks hold different schedules: rank 0 (on \(first.host)) holds \(first.identity), rank \(r) (on \(e.host)) holds \(e.identity); every rank must load the same schedule")
            }
            if e.connections != first.connections {
                return .mismatch("ranks disagree on connections per peer: rank 0 uses \(first.connections), rank \(r) uses \(e.connections); set GROVE_CONNECTIONS alike everywhere")
            }
        }
        return nil
    }
}
