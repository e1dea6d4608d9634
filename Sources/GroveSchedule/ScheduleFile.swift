import GroveSynthesis
import GroveTopology

/// A size range in bytes (of the collective's buffer, nccl-tests `size`) and the plan to use in it.
public struct SizeWindow: Sendable, Equatable {
    public var minBytes: Int
    /// Exclusive; `Int.max` means no upper limit.
    public var maxBytes: Int
    public var algorithm: String
    public init(minBytes: Int, maxBytes: Int, algorithm: String) { self.minBytes = minBytes; self.maxBytes = maxBytes; self.algorithm = algorithm }
}

/// What a schedule file holds: the plans for one collective on one fabric (the forest plan and,
/// where the simulator found them faster at small sizes, baseline plans) and which to use when.
public struct Schedule: Sendable, Equatable {
    public var fabricName: String
    public var fabricHash: String
    public var collective: Collective
    public var root: Rank?
    public var boundAlgbw: Rational
    public var algbw: Rational
    /// Plans by algorithm name ("forest", "ring", "double_binary_tree").
    public var plans: [Plan]
    public var windows: [SizeWindow]
    /// The message costs the windows were predicted with (the runtime the schedule is for).
    public var costs: MessageCosts

    public init(fabricName: String, fabricHash: String, collective: Collective, root: Rank?, boundAlgbw: Rational,
                algbw: Rational, plans: [Plan], windows: [SizeWindow], costs: MessageCosts = .parallelEngines) {
        self.fabricName = fabricName
        self.fabricHash = fabricHash
        self.collective = collective
        self.root = root
        self.boundAlgbw = boundAlgbw
        self.algbw = algbw
        self.plans = plans
        self.windows = windows
        self.costs = costs
    }

    public var rankCount: Int { plans.first?.rankCount ?? 0 }

    /// The highest byte range in which the size windows pick `algorithm` (upper bound exclusive,
    /// `Int.max` for no limit); empty if they never pick it.
    public func byteRange(of algorithm: String) -> Range<Int> {
        guard algorithm == "forest" else {
            return windows.last { $0.algorithm == algorithm }.map { $0.minBytes..<$0.maxBytes } ?? 0..<0
        }
        // The forest covers what no window claims; the windows are sorted and disjoint.
        var gaps: [Range<Int>] = []
        var at = 0
        for w in windows.sorted(by: { $0.minBytes < $1.minBytes }) {
            if w.minBytes > at { gaps.append(at..<w.minBytes) }
            at = max(at, w.maxBytes)
        }
        if at < Int.max { gaps.append(at..<Int.max) }
        return gaps.last ?? 0..<0
    }

    /// The stored plan the size windows name for a call of `bytes` (the forest when none
    /// applies) and why, before it is cut into the slices for that size (`choosePlan`).
    public func chooseAlgorithm(forBytes bytes: Int) -> (plan: Plan, reason: String) {
        guard let w = windows.first(where: { bytes >= $0.minBytes && bytes < $0.maxBytes }),
              let p = plans.first(where: { $0.algorithm == w.algorithm }) else {
            let p = plans.first { $0.algorithm == "forest" } ?? plans[0]
            return (p, "no size window covers \(bytes) bytes; the schedule's \(p.algorithm) plan")
        }
        let upper = w.maxBytes == Int.max ? "∞" : "\(w.maxBytes)"
        return (p, "the schedule's size window [\(w.minBytes), \(upper)) bytes names \(w.algorithm)")
    }
}

public struct ScheduleFileError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Grove schedule JSON ("format": "grove-schedule", version 1). One step is an array:
/// `[op, peer, channel, buffer, lo, hi, stream, [deps]]` with op "s" (send), "r" (recv), "rr"
/// (recv-reduce); a copy is `["c", source-buffer, source-lo, source-hi, buffer, lo, hi, stream,
/// [deps]]`; buffers "i", "o", "t" (input, output, scratch); fractions as "n/d" strings.
public enum ScheduleFile {
    static let bufferCodes: [BufferKind: String] = [.input: "i", .output: "o", .scratch: "t"]

    public static func write(_ s: Schedule, forest: Synthesis?, fabric: Fabric) -> String {
        let q = TopologyFile.quote
        func frac(_ r: Rational) -> String { "\"\(r)\"" }
        var out = "{\n  \"format\": \"grove-schedule\",\n  \"version\": 1,\n"
        out += "  \"fabric\": \(q(s.fabricName)),\n  \"fabric_hash\": \(q(s.fabricHash)),\n  \"ranks\": \(s.rankCount),\n"
        out += "  \"collective\": \(q(s.collective.rawValue)),\n"
        if let r = s.root { out += "  \"root\": \(r.rawValue),\n" }
        out += "  \"bound_algbw\": {\"exact\": \(q(s.boundAlgbw.description)), \"gbps\": \(s.boundAlgbw.decimalString)},\n"
        out += "  \"algbw\": {\"exact\": \(q(s.algbw.description)), \"gbps\": \(s.algbw.decimalString)},\n"
        out += "  \"size_windows\": [" + s.windows.map {
            "{\"min_bytes\": \($0.minBytes), \"max_bytes\": \($0.maxBytes == Int.max ? "null" : "\($0.maxBytes)"), \"algorithm\": \(q($0.algorithm))}"
        }.joined(separator: ", ") + "],\n"
        out += "  \"message_costs\": {\"latency_us\": \(s.costs.latencyMicroseconds), \"posting_us\": \(s.costs.postingMicroseconds), \"min_slice_bytes\": \(s.costs.minimumSliceBytes), \"min_slice_us\": \(s.costs.minimumSliceMicroseconds), \"slices_per_level\": \(s.costs.slicesPerLevel)},\n"
        if let forest { out += "  \"forest\": [\n" + forest.forests.map { ForestFile.phase($0, fabric: fabric) }.joined(separator: ",\n") + "\n  ],\n" }
        out += "  \"plans\": [\n"
        out += s.plans.map { plan in
            var p = "    {\"algorithm\": \(q(plan.algorithm)), \"slices\": \(plan.slices),\n     \"routing\": ["
            p += plan.routing.keys.sorted { ($0.channel, $0.from, $0.to) < ($1.channel, $1.from, $1.to) }.map { key in
                let paths = plan.routing[key]!.map { "[[" + $0.vertices.map { "\($0.rawValue)" }.joined(separator: ",") + "], \(frac($0.weight))]" }
                return "[\(key.channel), \(key.from.rawValue), \(key.to.rawValue), [" + paths.joined(separator: ", ") + "]]"
            }.joined(separator: ", ")
            p += "],\n     \"phases\": [" + plan.phases.map { ph in
                let trees = ph.trees.map { t in
                    "[\(t.root.rawValue), \(t.multiplicity), [" + t.arcs.map { "\($0.from.rawValue),\($0.to.rawValue)" }.joined(separator: ",") + "]]"
                }.joined(separator: ", ")
                return "{\"direction\": \(q(ph.direction.rawValue)), \"whole_buffer\": \(ph.wholeBuffer), \"trees_per_root\": \(ph.treesPerRoot), "
                    + "\"roots\": [" + ph.roots.map { "\($0.rawValue)" }.joined(separator: ",") + "], \"trees\": [\(trees)]}"
            }.joined(separator: ", ")
            p += "],\n     \"programs\": [\n"
            p += plan.programs.map { prog in
                "      {\"rank\": \(prog.rank.rawValue), \"steps\": [\n" + prog.steps.map { st in
                    let b = bufferCodes[st.range.buffer]!
                    let deps = "[" + st.dependencies.map(String.init).joined(separator: ",") + "]"
                    switch st.operation {
                    case .send(let peer, let ch): return "        [\"s\",\(peer.rawValue),\(ch),\"\(b)\",\(frac(st.range.lo)),\(frac(st.range.hi)),\(st.stream),\(deps)]"
                    case .recv(let peer, let ch): return "        [\"r\",\(peer.rawValue),\(ch),\"\(b)\",\(frac(st.range.lo)),\(frac(st.range.hi)),\(st.stream),\(deps)]"
                    case .recvReduce(let peer, let ch): return "        [\"rr\",\(peer.rawValue),\(ch),\"\(b)\",\(frac(st.range.lo)),\(frac(st.range.hi)),\(st.stream),\(deps)]"
                    case .copy(let src):
                        return "        [\"c\",\"\(bufferCodes[src.buffer]!)\",\(frac(src.lo)),\(frac(src.hi)),\"\(b)\",\(frac(st.range.lo)),\(frac(st.range.hi)),\(st.stream),\(deps)]"
                    }
                }.joined(separator: ",\n") + "\n      ]}"
            }.joined(separator: ",\n")
            p += "\n     ]}"
            return p
        }.joined(separator: ",\n")
        out += "\n  ]\n}\n"
        return out
    }

    /// Reads a schedule file; every structural problem is reported with where it is.
    public static func read(_ text: String) throws(ScheduleFileError) -> Schedule {
        let root: JSONNode
        do { root = try JSONReader.parse(text) } catch {
            throw ScheduleFileError(description: "\(error.position.line):\(error.position.column): \(error.message)")
        }
        var r = Reader()
        return try r.schedule(root)
    }

    struct Reader {
        func fail(_ node: JSONNode, _ message: String) -> ScheduleFileError {
            ScheduleFileError(description: "\(node.position.line):\(node.position.column): \(message)")
        }

        func object(_ n: JSONNode) throws(ScheduleFileError) -> [String: JSONNode] {
            guard case .object(let m) = n.value else { throw fail(n, "expected an object") }
            var d: [String: JSONNode] = [:]
            for x in m { d[x.key] = x.value }
            return d
        }

        func field(_ d: [String: JSONNode], _ key: String, in n: JSONNode) throws(ScheduleFileError) -> JSONNode {
            guard let v = d[key] else { throw fail(n, "missing \"\(key)\"") }
            return v
        }

        func string(_ n: JSONNode) throws(ScheduleFileError) -> String {
            guard case .string(let s) = n.value else { throw fail(n, "expected a string") }
            return s
        }

        func int(_ n: JSONNode) throws(ScheduleFileError) -> Int {
            guard case .number(let lit) = n.value, let v = Int(lit) else { throw fail(n, "expected an integer") }
            return v
        }

        func array(_ n: JSONNode) throws(ScheduleFileError) -> [JSONNode] {
            guard case .array(let a) = n.value else { throw fail(n, "expected an array") }
            return a
        }

        func fraction(_ n: JSONNode) throws(ScheduleFileError) -> Rational {
            let s = try string(n)
            let parts = s.split(separator: "/")
            guard (1...2).contains(parts.count), let a = Int(parts[0]), parts.count == 1 || Int(parts[1]).map({ $0 > 0 }) == true else {
                throw fail(n, "expected a fraction such as \"3/8\", found \"\(s)\"")
            }
            return Rational(a, parts.count == 2 ? Int(parts[1])! : 1)
        }

        func buffer(_ n: JSONNode) throws(ScheduleFileError) -> BufferKind {
            let s = try string(n)
            guard let b = ScheduleFile.bufferCodes.first(where: { $0.value == s })?.key else { throw fail(n, "unknown buffer \"\(s)\" (i, o or t)") }
            return b
        }

        mutating func schedule(_ node: JSONNode) throws(ScheduleFileError) -> Schedule {
            let d = try object(node)
            guard try string(field(d, "format", in: node)) == "grove-schedule" else { throw fail(node, "not a Grove schedule (\"format\" must be \"grove-schedule\")") }
            guard try int(field(d, "version", in: node)) == 1 else { throw fail(node, "this Grove reads schedule version 1 only") }
            let ranks = try int(field(d, "ranks", in: node))
            guard (1...(1 << 20)).contains(ranks) else { throw fail(node, "\"ranks\" is \(ranks); a schedule has 1 to 2^20 ranks") }
            let collectiveName = try string(field(d, "collective", in: node))
            guard let collective = Collective(rawValue: collectiveName) else { throw fail(node, "unknown collective \"\(collectiveName)\"") }
            let rootRank = try d["root"].map { (n: JSONNode) throws(ScheduleFileError) in Rank(try int(n)) }
            func exact(_ key: String) throws(ScheduleFileError) -> Rational {
                let n = try field(d, key, in: node)
                return try fraction(field(try object(n), "exact", in: n))
            }
            var windows: [SizeWindow] = []
            for w in try array(field(d, "size_windows", in: node)) {
                let o = try object(w)
                let maxNode = try field(o, "max_bytes", in: w)
                var maxBytes = Int.max
                if case .null = maxNode.value {} else { maxBytes = try int(maxNode) }
                windows.append(SizeWindow(minBytes: try int(field(o, "min_bytes", in: w)), maxBytes: maxBytes, algorithm: try string(field(o, "algorithm", in: w))))
            }
            // Files from before message costs were recorded: engines, sliced 16 per level.
            var costs = MessageCosts.parallelEngines
            costs.slicesPerLevel = 16
            if let c = d["message_costs"] {
                let o = try object(c)
                func micros(_ key: String) throws(ScheduleFileError) -> Double {
                    let n = try field(o, key, in: c)
                    guard case .number(let lit) = n.value, let v = Double(lit), v.isFinite, (0...1e6).contains(v) else {
                        throw fail(n, "\"\(key)\" must be 0 to 10^6 microseconds")
                    }
                    return v
                }
                costs = MessageCosts(latencyMicroseconds: try micros("latency_us"), postingMicroseconds: try micros("posting_us"))
                if let m = o["min_slice_bytes"] {
                    costs.minimumSliceBytes = try int(m)
                    guard (1...(1 << 30)).contains(costs.minimumSliceBytes) else { throw fail(m, "\"min_slice_bytes\" must be 1 to 2^30") }
                }
                if o["min_slice_us"] != nil { costs.minimumSliceMicroseconds = try micros("min_slice_us") }
                // Files from before the field was written were sliced 16 per level.
                if let m = o["slices_per_level"] {
                    costs.slicesPerLevel = try int(m)
                    guard (1...Pipelining.maximumSlices).contains(costs.slicesPerLevel) else {
                        throw fail(m, "\"slices_per_level\" must be 1 to \(Pipelining.maximumSlices)")
                    }
                }
            }
            var plans: [Plan] = []
            for p in try array(field(d, "plans", in: node)) {
                plans.append(try plan(p, ranks: ranks, collective: collective, root: rootRank))
            }
            guard !plans.isEmpty else { throw fail(node, "no plans") }
            for w in windows {
                guard plans.contains(where: { $0.algorithm == w.algorithm }) else {
                    throw fail(node, "a size window names the \(w.algorithm) plan, which the file does not hold (it has \(plans.map(\.algorithm).joined(separator: ", ")))")
                }
                guard w.minBytes >= 0, w.minBytes < w.maxBytes else {
                    throw fail(node, "the size window [\(w.minBytes), \(w.maxBytes)) of \(w.algorithm) is empty or negative")
                }
            }
            return Schedule(fabricName: try string(field(d, "fabric", in: node)), fabricHash: try string(field(d, "fabric_hash", in: node)),
                            collective: collective, root: rootRank, boundAlgbw: try exact("bound_algbw"), algbw: try exact("algbw"),
                            plans: plans, windows: windows, costs: costs)
        }

        func plan(_ node: JSONNode, ranks: Int, collective: Collective, root: Rank?) throws(ScheduleFileError) -> Plan {
            let d = try object(node)
            var routing: [ArcKey: [WeightedPath]] = [:]
            for entry in try array(field(d, "routing", in: node)) {
                let a = try array(entry)
                guard a.count == 4 else { throw fail(entry, "a routing entry is [channel, from, to, paths]") }
                let key = ArcKey(channel: try int(a[0]), from: Rank(try int(a[1])), to: Rank(try int(a[2])))
                var paths: [WeightedPath] = []
                for p in try array(a[3]) {
                    let pa = try array(p)
                    guard pa.count == 2 else { throw fail(p, "a path is [[vertices], weight]") }
                    var vertices: [VertexID] = []
                    for v in try array(pa[0]) { vertices.append(VertexID(try int(v))) }
                    paths.append(WeightedPath(vertices: vertices, weight: try fraction(pa[1])))
                }
                routing[key] = paths
            }
            var programs: [RankProgram] = []
            for prog in try array(field(d, "programs", in: node)) {
                let po = try object(prog)
                let rank = try int(field(po, "rank", in: prog))
                guard rank == programs.count, rank < ranks else { throw fail(prog, "programs must list ranks 0..\(ranks - 1) in order; found rank \(rank)") }
                var steps: [Step] = []
                for s in try array(field(po, "steps", in: prog)) { steps.append(try step(s, ranks: ranks)) }
                programs.append(RankProgram(rank: Rank(rank), steps: steps))
            }
            guard programs.count == ranks else { throw fail(node, "\(programs.count) programs for \(ranks) ranks") }
            // Older files have no "phases": their plans keep the slicing they were written with.
            var phases: [PipelinePhase] = []
            for ph in try d["phases"].map({ (n: JSONNode) throws(ScheduleFileError) in try array(n) }) ?? [] {
                phases.append(try phase(ph, ranks: ranks))
            }
            let plan = Plan(collective: collective, rankCount: ranks, root: root, programs: programs,
                            slices: try int(field(d, "slices", in: node)), algorithm: try string(field(d, "algorithm", in: node)),
                            routing: routing, phases: phases)
            // Structure is checked on reading, so no reader (runtime, simulator, exporter) meets
            // an out-of-range peer, fraction or dependency; `grove verify` proves the rest.
            do { try Verifier.checkStructure(plan) } catch { throw fail(node, "plan \(plan.algorithm): \(error.description)") }
            return plan
        }

        /// A phase of trees, checked to be lowerable: every tree spans the ranks from a listed
        /// root, and each root's multiplicities sum to trees_per_root.
        func phase(_ node: JSONNode, ranks: Int) throws(ScheduleFileError) -> PipelinePhase {
            let d = try object(node)
            let dirName = try string(field(d, "direction", in: node))
            guard let direction = TreeDirection(rawValue: dirName) else { throw fail(node, "unknown direction \"\(dirName)\" (outward or inward)") }
            guard case .bool(let whole) = try field(d, "whole_buffer", in: node).value else { throw fail(node, "\"whole_buffer\" must be true or false") }
            let k = try int(field(d, "trees_per_root", in: node))
            guard k >= 1 else { throw fail(node, "\"trees_per_root\" must be at least 1") }
            var roots: [Rank] = []
            for r in try array(field(d, "roots", in: node)) {
                let v = try int(r)
                guard (0..<ranks).contains(v) else { throw fail(r, "root \(v) is not a rank (0..\(ranks - 1))") }
                roots.append(Rank(v))
            }
            var trees: [Arborescence] = []
            var perRoot: [Rank: Int] = [:]
            for t in try array(field(d, "trees", in: node)) {
                let a = try array(t)
                guard a.count == 3 else { throw fail(t, "a tree is [root, multiplicity, [from, to, …]]") }
                let root = Rank(try int(a[0]))
                let multiplicity = try int(a[1])
                guard roots.contains(root) else { throw fail(a[0], "tree root \(root.rawValue) is not among the phase's roots") }
                guard multiplicity >= 1 else { throw fail(a[1], "a tree's multiplicity must be at least 1") }
                let ends = try array(a[2]).map { (n: JSONNode) throws(ScheduleFileError) -> Int in try int(n) }
                guard ends.count == 2 * (ranks - 1) else { throw fail(a[2], "a spanning tree over \(ranks) ranks has \(ranks - 1) arcs, not \(ends.count / 2)") }
                var connected = Array(repeating: false, count: ranks)
                connected[root.rawValue] = true
                var arcs: [TreeArc] = []
                for i in stride(from: 0, to: ends.count, by: 2) {
                    let (from, to) = (ends[i], ends[i + 1])
                    let (near, far) = direction == .outward ? (from, to) : (to, from)
                    guard (0..<ranks).contains(from), (0..<ranks).contains(to), connected[near], !connected[far] else {
                        throw fail(a[2], "arc \(from)→\(to) of the tree from root \(root.rawValue) does not extend the tree")
                    }
                    connected[far] = true
                    arcs.append(TreeArc(from: Rank(from), to: Rank(to), routes: []))
                }
                perRoot[root, default: 0] += multiplicity
                guard perRoot[root]! <= k else { throw fail(t, "root \(root.rawValue)'s trees have multiplicities summing past trees_per_root \(k)") }
                trees.append(Arborescence(root: root, multiplicity: multiplicity, arcs: arcs))
            }
            for r in roots where perRoot[r] != k {
                throw fail(node, "root \(r.rawValue)'s trees have multiplicities summing to \(perRoot[r] ?? 0), not trees_per_root \(k)")
            }
            return PipelinePhase(direction: direction, wholeBuffer: whole, treesPerRoot: k, roots: roots, trees: trees)
        }

        func step(_ node: JSONNode, ranks: Int) throws(ScheduleFileError) -> Step {
            let a = try array(node)
            guard let first = a.first else { throw fail(node, "empty step") }
            let op = try string(first)
            func deps(_ n: JSONNode) throws(ScheduleFileError) -> [Int] {
                var out: [Int] = []
                for x in try array(n) { out.append(try int(x)) }
                return out
            }
            if op == "c" {
                guard a.count == 9 else { throw fail(node, "a copy step has 9 fields") }
                let src = BufferRange(try buffer(a[1]), try fraction(a[2]), try fraction(a[3]))
                return Step(.copy(source: src), BufferRange(try buffer(a[4]), try fraction(a[5]), try fraction(a[6])),
                            dependencies: try deps(a[8]), stream: try int(a[7]))
            }
            guard a.count == 8 else { throw fail(node, "a \(op) step has 8 fields") }
            let peer = try int(a[1])
            guard peer >= 0 && peer < ranks else { throw fail(a[1], "peer \(peer) is not a rank (0..\(ranks - 1))") }
            let ch = try int(a[2])
            let operation: Operation
            switch op {
            case "s": operation = .send(peer: Rank(peer), channel: ch)
            case "r": operation = .recv(peer: Rank(peer), channel: ch)
            case "rr": operation = .recvReduce(peer: Rank(peer), channel: ch)
            default: throw fail(first, "unknown operation \"\(op)\" (s, r, rr or c)")
            }
            return Step(operation, BufferRange(try buffer(a[3]), try fraction(a[4]), try fraction(a[5])), dependencies: try deps(a[7]), stream: try int(a[6]))
        }
    }
}

extension Schedule {
    /// Reads a schedule in either format another tool may hand over: Grove schedule JSON, or
    /// MSCCL XML (first non-blank character `<`), which must pass its dialect's structural rules
    /// and becomes a one-plan schedule without a fabric (its rate is unknown: 0). Either way the
    /// plans have passed `Verifier.checkStructure`.
    public static func read(_ text: String) throws(ScheduleFileError) -> Schedule {
        guard text.first(where: { !$0.isWhitespace }) == "<" else { return try ScheduleFile.read(text) }
        do {
            let program = try MSCCLReader.parse(text)
            try MSCCLReader.validate(program, dialect: program.dialect)
            let plan = try MSCCLReader.plan(program)
            do { try Verifier.checkStructure(plan) } catch { throw MSCCLError(error.description) }
            return Schedule(fabricName: "msccl:\(program.name)", fabricHash: "", collective: plan.collective, root: nil,
                            boundAlgbw: .zero, algbw: .zero, plans: [plan], windows: [])
        } catch {
            throw ScheduleFileError(description: " MSCCL XML: \(error)")
        }
    }
}
