import Foundation
import GroveSchedule
import GroveSynthesis
import GroveTopology

extension Communicator {
    /// Joins the job described by the environment (see `LaunchEnvironment`): rendezvous at rank 0's
    /// store, then TCP between the ranks the plans connect.
    public convenience init(plans: PlanLibrary, environment: [String: String] = ProcessInfo.processInfo.environment,
                            timeout: Duration? = nil, options: TCPTransport.Options? = nil) throws(CommunicatorError) {
        try self.init(LaunchEnvironment.from(environment), plans: plans, timeout: timeout, options: options)
    }

    /// For a rank that cannot join (its plans failed to load, say): tells the other ranks why,
    /// through the rendezvous, so they fail at once with that reason instead of waiting for it.
    public static func abandon(_ env: LaunchEnvironment, reason: String, timeout: Duration? = nil) {
        Rendezvous.abandon(env, reason: reason, timeout: timeout ?? env.timeout ?? Communicator.defaultTimeout)
    }

    /// Joins a job with explicit arguments instead of environment variables.
    public convenience init(_ env: LaunchEnvironment, plans: PlanLibrary, timeout: Duration? = nil,
                            options: TCPTransport.Options? = nil) throws(CommunicatorError) {
        guard plans.worldSize == env.worldSize else {
            throw .mismatch("the plans are for \(plans.worldSize) ranks but WORLD_SIZE is \(env.worldSize)")
        }
        var o = options ?? .standard
        if let k = env.connectionsPerPeer { o.connectionsPerPeer = k }
        if let spin = env.spin { o.spin = spin }
        let t = timeout ?? env.timeout ?? Communicator.defaultTimeout
        guard env.worldSize > 1 else {
            try self.init(transport: MemoryHub(worldSize: 1).transport(rank: 0), plans: plans, timeout: t)
            return
        }
        let (transport, server, store) = try Rendezvous.connect(env, identity: plans.identity, options: o, timeout: t)
        try self.init(transport: transport, plans: plans, timeout: t)
        log = DebugLog.logger(rank: env.rank, level: env.logLevel)
        rendezvous = server
        self.store = store
    }
}

extension PlanLibrary {
    /// Plans from schedule files (`grove synth -o`), one per collective.
    public static func load(schedules paths: [String], worldSize: Int, slices: Int? = nil) throws(CommunicatorError) -> PlanLibrary {
        var list: [Schedule] = []
        var identity: [String] = []
        for path in paths {
            let text = try readText(path, what: "schedule")
            do { list.append(try Schedule.read(text)) } catch {
                throw .schedule("\(path):\(error.description)")
            }
            identity.append("\((path as NSString).lastPathComponent)#\(fnv1a(text))")
        }
        return try PlanLibrary(.schedules(list), worldSize: worldSize, slices: slices, identity: "schedules:" + identity.sorted().joined(separator: ","))
    }

    /// Plans synthesized from a topology file when each collective is first used.
    public static func load(topology path: String, worldSize: Int, slices: Int? = nil) throws(CommunicatorError) -> PlanLibrary {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, let problem = TopologyFile.sizeProblem(bytes: size) {
            throw .schedule("\(path): \(problem)")
        }
        let text = try readText(path, what: "topology")
        do {
            let fabric = try TopologyFile.parse(text).fabric
            return try PlanLibrary(.topology(fabric), worldSize: worldSize, slices: slices)
        } catch let e as CommunicatorError {
            throw e
        } catch let e as TopologyError {
            // One line: the first problem, and how many more `grove topo show` would list.
            guard case .invalid(let problems) = e, problems.count > 1 else { throw .schedule("\(path): \(e)") }
            throw .schedule("\(path): \(problems[0]) (and \(problems.count - 1) more; `grove topo show \(path)` lists them)")
        } catch {
            throw .schedule("\(path): \(error)")
        }
    }

    /// Names `pinnedAlgorithm` accepts (the forest, the baselines, the butterflies), and "auto"
    /// for the size windows.
    public static let algorithmNames = ["auto", "forest"] + Baseline.allCases.map(\.rawValue) + Butterfly.allCases.map(\.rawValue)

    /// The plans a library binding asks for by name: schedule files, else a topology file, else
    /// a uniform star of `worldSize` ranks at 2 GB/s (every rank behind one switch: what Grove
    /// assumes when told nothing about the fabric), pinned to `algorithm` unless it is "auto".
    public static func configured(schedules: [String], topology: String?, algorithm: String?, worldSize: Int) throws(CommunicatorError) -> PlanLibrary {
        let name = algorithm ?? "auto"
        guard algorithmNames.contains(name) else {
            throw .configuration("algorithm \"\(name)\" is not one Grove knows: give \(algorithmNames.joined(separator: ", "))")
        }
        guard schedules.isEmpty || topology == nil else {
            throw .configuration("give schedule files or a topology file, not both")
        }
        let library: PlanLibrary
        if !schedules.isEmpty {
            library = try load(schedules: schedules, worldSize: worldSize)
        } else if let topology {
            library = try load(topology: topology, worldSize: worldSize)
        } else if worldSize == 1 {
            library = try PlanLibrary(.baseline(.ring), worldSize: 1)
        } else {
            let star: Fabric
            do { star = try FabricGenerator.star(ranks: max(worldSize, 2), bandwidth: Rational(2)) } catch {
                throw .schedule("cannot build the default star of \(worldSize) ranks: \(error)")
            }
            library = try PlanLibrary(.topology(star), worldSize: worldSize, identity: "star:\(worldSize)")
        }
        if name != "auto" { library.pinnedAlgorithm = name }
        return library
    }

    static func readText(_ path: String, what: String) throws(CommunicatorError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw .schedule("\(path): cannot read the \(what) file (does it exist?)") }
        guard let text = String(data: data, encoding: .utf8) else { throw .schedule("\(path): the \(what) file is not UTF-8 text") }
        return text
    }
}

/// 64-bit FNV-1a of the UTF-8 bytes, as 16 hex digits.
func fnv1a(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
