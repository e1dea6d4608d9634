import GroveSynthesis
import GroveTopology

/// The two XML dialects GPU runtimes read, and the limits their parsers enforce.
///
/// - `nccl`: Microsoft's MSCCL fork of NCCL (and RCCL's copy of it): `coll="reduce_scatter"`,
///   up to 256 steps per thread block and 216 thread blocks per GPU.
/// - `executor`: msccl-executor-nccl: `coll="reducescatter"`, `outofplace`, `minBytes` and
///   `maxBytes` required (`maxBytes="0"` means no limit), up to 64 steps per thread block and
///   32 thread blocks per channel on 32 channels.
///
/// Both: at most 32 thread blocks with a peer per channel, a step moves fewer than 72 chunks,
/// offsets fit in 16 bits, and a call runs only when its element count is a multiple of
/// `nchunksperloop`.
public enum MSCCLDialect: String, Sendable, CaseIterable {
    case nccl, executor

    public var maxStepsPerThreadBlock: Int { self == .nccl ? 256 : 64 }
    public var maxThreadBlocks: Int { self == .nccl ? 216 : 32 * 32 }
    public static let maxThreadBlocksPerChannel = 32
    public static let maxChannels = 32
    /// A step's `cnt` must be below this.
    public static let countLimit = 72
    /// Offsets are 16-bit.
    public static let maxChunks = Int(Int16.max)
    /// The runtimes' XML parser keeps at most this many elements per rank: `<algo>`, every
    /// `<gpu>`, and the rank's own `<tb>` and `<step>` elements.
    public static let maxXMLNodes = 4096

    public func collectiveName(_ c: Collective) -> String {
        switch c {
        case .reduceScatter: return self == .nccl ? "reduce_scatter" : "reducescatter"
        default: return c.rawValue
        }
    }
}

/// An MSCCL algorithm as its XML states it: one `<gpu>` per rank, thread blocks of steps.
public struct MSCCLProgram: Sendable, Equatable {
    public var name: String
    public var proto: String
    public var nchannels: Int
    public var nchunksperloop: Int
    public var ngpus: Int
    public var coll: String
    public var inplace: Int
    /// Executor dialect only.
    public var outofplace: Int?
    public var minBytes: Int?
    public var maxBytes: Int?
    public var gpus: [Gpu]

    public struct Gpu: Sendable, Equatable {
        public var id: Int
        public var iChunks: Int
        public var oChunks: Int
        public var sChunks: Int
        public var threadBlocks: [ThreadBlock]
    }

    public struct ThreadBlock: Sendable, Equatable {
        public var id: Int
        public var send: Int
        public var recv: Int
        public var chan: Int
        public var steps: [MSCCLStep]
    }

    public var dialect: MSCCLDialect { outofplace != nil || coll == "reducescatter" ? .executor : .nccl }

    /// The XML text, one element per line, attributes in the order the runtimes' examples use.
    public func xml() -> String {
        var out = "<algo name=\"\(MSCCLProgram.escape(name))\" proto=\"\(proto)\" nchannels=\"\(nchannels)\" nchunksperloop=\"\(nchunksperloop)\" ngpus=\"\(ngpus)\" coll=\"\(coll)\" inplace=\"\(inplace)\""
        if let outofplace { out += " outofplace=\"\(outofplace)\"" }
        if let minBytes { out += " minBytes=\"\(minBytes)\"" }
        if let maxBytes { out += " maxBytes=\"\(maxBytes)\"" }
        out += ">\n"
        for g in gpus {
            out += "  <gpu id=\"\(g.id)\" i_chunks=\"\(g.iChunks)\" o_chunks=\"\(g.oChunks)\" s_chunks=\"\(g.sChunks)\">\n"
            for tb in g.threadBlocks {
                out += "    <tb id=\"\(tb.id)\" send=\"\(tb.send)\" recv=\"\(tb.recv)\" chan=\"\(tb.chan)\">\n"
                for s in tb.steps {
                    out += "      <step s=\"\(s.s)\" type=\"\(s.type.rawValue)\" srcbuf=\"\(s.srcbuf)\" srcoff=\"\(s.srcoff)\" dstbuf=\"\(s.dstbuf)\" dstoff=\"\(s.dstoff)\" cnt=\"\(s.cnt)\" depid=\"\(s.depid)\" deps=\"\(s.deps)\" hasdep=\"\(s.hasdep)\"/>\n"
                }
                out += "    </tb>\n"
            }
            out += "  </gpu>\n"
        }
        return out + "</algo>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

public struct MSCCLStep: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case send = "s", recv = "r", recvCopySend = "rcs", recvReduceSend = "rrs", recvReduceCopy = "rrc"
        case recvReduceCopySend = "rrcs", copy = "cpy", reduce = "re", nop = "nop"

        var sends: Bool { [.send, .recvCopySend, .recvReduceSend, .recvReduceCopySend].contains(self) }
        var receives: Bool { [.recv, .recvCopySend, .recvReduceSend, .recvReduceCopy, .recvReduceCopySend].contains(self) }
    }

    public var s: Int
    public var type: Kind
    public var srcbuf: String
    public var srcoff: Int
    public var dstbuf: String
    public var dstoff: Int
    public var cnt: Int
    public var depid: Int
    public var deps: Int
    public var hasdep: Int
}

public struct MSCCLError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// A thread block has more steps than the dialect allows (fewer channels cannot help).
    var stepLimit = false
    public init(_ description: String) { self.description = description }
}

public struct MSCCLExportOptions: Sendable {
    public var dialect: MSCCLDialect
    public var proto: String = "Simple"
    /// MSCCL channels to spread the plan's trees over; nil picks the most that fit.
    public var channels: Int?
    public var name: String
    /// Inclusive byte range (nccl-tests `size`) the runtime may use the algorithm for; nil = no limit.
    public var minBytes: Int = 0
    public var maxBytes: Int?

    public init(dialect: MSCCLDialect, name: String) {
        self.dialect = dialect
        self.name = name
    }
}

/// Lowers a `Plan` to an MSCCL program.
///
/// - Chunks: every range of the plan is a fraction of its buffer; with all buffers measured in
///   units of the largest, the chunk count per loop is the lcm of the fractions' denominators.
/// - Thread blocks: tree channel g goes to MSCCL channel g mod M; on each channel a rank gets one
///   thread block per peer (its sends to and receives from that peer, in program order) and one
///   for local copies. The lowering emits steps slice by slice and tree by tree, and a tree has at
///   most one arc a→b, so both ends order a connection's messages alike and a thread block never
///   holds two steps of one (slice, tree): merging adds no cycle the plan did not have.
///   M is the largest value ≤ 32 (and ≤ the plan's channels) whose thread blocks fit the dialect.
/// - Dependencies: a step waits only for steps on other thread blocks that it does not already
///   follow transitively (vector clocks over thread-block positions); the first extra
///   dependencies become `nop` steps before it, the last stays on the step itself (the executor
///   requires a nop chain to end on a step with a dependency).
/// - A range of more than 71 chunks becomes consecutive steps of at most 71 (both ends split a
///   transfer alike, since they see the same count).
/// Cost: O(M_tries · Σ steps · thread blocks per rank).
public enum MSCCLExport {
    public static func program(_ plan: Plan, options: MSCCLExportOptions) throws(MSCCLError) -> MSCCLProgram {
        guard [.allgather, .reduceScatter, .allreduce].contains(plan.collective) else {
            throw MSCCLError("MSCCL export covers allgather, reduce-scatter and allreduce, not \(plan.collective.rawValue)")
        }
        let units = try ChunkUnits(plan)
        let channelsUsed = max(1, (plan.programs.flatMap(\.steps).compactMap(\.operation.transfer?.channel).max() ?? 0) + 1)
        let limit = min(MSCCLDialect.maxChannels, channelsUsed)
        let tries: [Int]
        if let forced = options.channels {
            guard forced >= 1 && forced <= MSCCLDialect.maxChannels else {
                throw MSCCLError("--channels \(forced): MSCCL runtimes allow 1 to \(MSCCLDialect.maxChannels) channels")
            }
            tries = [forced]
        } else {
            tries = Array((1...limit).reversed())
        }
        let match = try matches(plan)
        var firstError: MSCCLError?
        for m in tries {
            do throws(MSCCLError) {
                return try build(plan, units: units, channels: m, match: match, options: options)
            } catch {
                if firstError == nil { firstError = error }
                // Fewer channels only lengthen thread blocks; stop once a block is too long.
                if error.stepLimit { break }
            }
        }
        throw firstError!
    }

    /// For each transfer (rank, step), the matching step at the peer.
    static func matches(_ plan: Plan) throws(MSCCLError) -> [Int: (rank: Int, step: Int)] {
        let width = plan.programs.map { $0.steps.count }.max() ?? 0
        let m: [Int: Int]
        do { m = try Verifier.matching(plan) } catch { throw MSCCLError("the plan does not verify: \(error.description)") }
        return m.mapValues { (rank: $0 / width, step: $0 % width) }
    }

    static func build(_ plan: Plan, units: ChunkUnits, channels m: Int, match: [Int: (rank: Int, step: Int)],
                      options: MSCCLExportOptions) throws(MSCCLError) -> MSCCLProgram {
        let dialect = options.dialect
        let width = plan.programs.map { $0.steps.count }.max() ?? 0
        var gpus: [MSCCLProgram.Gpu] = []
        for prog in plan.programs {
            let v = prog.rank.rawValue
            // Thread block per (channel, peer), peer −1 for local copies.
            struct Key: Hashable, Comparable {
                var chan: Int, peer: Int
                static func < (a: Key, b: Key) -> Bool { (a.chan, a.peer < 0 ? Int.max : a.peer) < (b.chan, b.peer < 0 ? Int.max : b.peer) }
            }
            func key(_ s: Step) -> Key {
                guard let t = s.operation.transfer else { return Key(chan: s.stream % m, peer: -1) }
                return Key(chan: t.channel % m, peer: t.peer.rawValue)
            }
            let keys = Set(prog.steps.map(key)).sorted()
            let tbOf = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
            let t = keys.count
            guard t <= dialect.maxThreadBlocks else {
                throw MSCCLError("rank \(v) needs \(t) thread blocks on \(m) channels; the \(dialect.rawValue) runtime allows \(dialect.maxThreadBlocks)")
            }
            for c in 0..<m {
                let peers = keys.filter { $0.chan == c && $0.peer >= 0 }.count
                if peers > MSCCLDialect.maxThreadBlocksPerChannel {
                    throw MSCCLError("rank \(v) talks to \(peers) peers on channel \(c) of \(m); MSCCL allows \(MSCCLDialect.maxThreadBlocksPerChannel) thread blocks with peers per channel")
                }
            }
            var locals: [ChunkUnits.Ref] = []
            for (i, s) in prog.steps.enumerated() { locals.append(try units.chunks(s.range, rank: v, step: i)) }
            // Position of each step in its thread block (before nops), and the needed cross-block
            // dependencies found with vector clocks.
            var tbSteps = Array(repeating: [Int](), count: t)
            var place = [(tb: Int, pos: Int)]()
            var clock = [[Int32]]()
            var needed = [[Int]]()
            var last = Array(repeating: -1, count: t)
            for (i, s) in prog.steps.enumerated() {
                let b = tbOf[key(s)]!
                let pos = tbSteps[b].count
                tbSteps[b].append(i)
                place.append((b, pos))
                var known = last[b] >= 0 ? clock[last[b]] : Array(repeating: -1, count: t)
                var mine: [Int] = []
                for d in s.dependencies.sorted(by: >) {
                    let (db, dpos) = place[d]
                    if db == b || known[db] >= Int32(dpos) { continue }
                    mine.append(d)
                    for x in 0..<t where clock[d][x] > known[x] { known[x] = clock[d][x] }
                }
                known[b] = Int32(pos)
                clock.append(known)
                needed.append(mine)
                last[b] = i
            }
            // Final positions with the nops in front of each step.
            var final = Array(repeating: 0, count: prog.steps.count)
            var hasDependent = Set<Int>()
            var totalSteps = 0
            for b in 0..<t {
                var at = 0
                for i in tbSteps[b] {
                    at += max(0, needed[i].count - 1)
                    // A step longer than the runtime's count limit is sent as several.
                    at += locals[i].pieces.count
                    final[i] = at - 1
                    hasDependent.formUnion(needed[i])
                }
                guard at <= dialect.maxStepsPerThreadBlock else {
                    let k = keys[b]
                    let what = k.peer < 0 ? "local copies" : "peer \(k.peer)"
                    var e = MSCCLError("rank \(v) thread block \(b) (channel \(k.chan), \(what)) needs \(at) steps with its nops; the \(dialect.rawValue) runtime allows \(dialect.maxStepsPerThreadBlock): re-synthesize with fewer slices (grove synth --slices) or use --msccl-dialect nccl")
                    e.stepLimit = true
                    throw e
                }
                totalSteps += at
            }
            let nodes = 1 + plan.rankCount + t + totalSteps
            guard nodes <= MSCCLDialect.maxXMLNodes else {
                throw MSCCLError("rank \(v) needs \(nodes) XML elements; the runtimes' parser holds \(MSCCLDialect.maxXMLNodes) per rank: re-synthesize with fewer slices (grove synth --slices)")
            }
            var blocks: [MSCCLProgram.ThreadBlock] = []
            for (b, k) in keys.enumerated() {
                var steps: [MSCCLStep] = []
                for i in tbSteps[b] {
                    let s = prog.steps[i]
                    let deps = needed[i]
                    for d in deps.dropLast() {
                        steps.append(MSCCLStep(s: steps.count, type: .nop, srcbuf: "i", srcoff: -1, dstbuf: "o", dstoff: -1, cnt: 0,
                                               depid: place[d].tb, deps: final[d], hasdep: 0))
                    }
                    let local = locals[i]
                    var remote = local
                    if let other = match[v * width + i] {
                        remote = try units.chunks(plan.programs[other.rank].steps[other.step].range, rank: other.rank, step: other.step)
                    }
                    let (type, src, dst): (MSCCLStep.Kind, ChunkUnits.Ref, ChunkUnits.Ref)
                    switch s.operation {
                    case .send: (type, src, dst) = (.send, local, remote)
                    case .recv: (type, src, dst) = (.recv, remote, local)
                    case .recvReduce: (type, src, dst) = (.recvReduceCopy, local, local)
                    case .copy(let source): (type, src, dst) = (.copy, try units.chunks(source, rank: v, step: i), local)
                    }
                    let dep = deps.last
                    let parts = zip(src.pieces, dst.pieces).enumerated().map { ($0, $1.0, $1.1) }
                    for (k, a, z) in parts {
                        let first = k == 0, lastPiece = k == parts.count - 1
                        steps.append(MSCCLStep(s: steps.count, type: type, srcbuf: src.buffer, srcoff: a.offset, dstbuf: dst.buffer,
                                               dstoff: z.offset, cnt: a.count, depid: first ? dep.map { place[$0].tb } ?? -1 : -1,
                                               deps: first ? dep.map { final[$0] } ?? -1 : -1,
                                               hasdep: lastPiece && hasDependent.contains(i) ? 1 : 0))
                    }
                }
                let sends = tbSteps[b].contains { if case .send = prog.steps[$0].operation { return true }; return false }
                let recvs = tbSteps[b].contains {
                    switch prog.steps[$0].operation { case .recv, .recvReduce: return true; default: return false }
                }
                blocks.append(.init(id: b, send: sends ? k.peer : -1, recv: recvs ? k.peer : -1, chan: k.chan, steps: steps))
            }
            let c = units.chunksPerBuffer
            let usesScratch = prog.steps.contains { $0.range.buffer == .scratch }
            gpus.append(.init(id: v, iChunks: c[.input]!, oChunks: c[.output]!, sChunks: usesScratch ? c[.scratch]! : 0, threadBlocks: blocks))
        }
        let usedChannels = (gpus.flatMap { $0.threadBlocks.map(\.chan) }.max() ?? 0) + 1
        return MSCCLProgram(name: options.name, proto: options.proto, nchannels: usedChannels, nchunksperloop: units.perLoop,
                            ngpus: plan.rankCount, coll: dialect.collectiveName(plan.collective), inplace: 0,
                            outofplace: dialect == .executor ? 1 : nil,
                            minBytes: options.minBytes,
                            maxBytes: options.maxBytes ?? (dialect == .executor ? 0 : nil),
                            gpus: gpus)
    }
}

/// Buffer ranges in MSCCL chunks: all buffers measured in units of the largest one.
struct ChunkUnits {
    let perLoop: Int
    let chunksPerBuffer: [BufferKind: Int]
    let plan: Plan

    struct Ref {
        var buffer: String
        var offset: Int
        var count: Int

        /// Consecutive runs of at most `countLimit − 1` chunks, as even as possible.
        var pieces: [(offset: Int, count: Int)] {
            let n = (count + MSCCLDialect.countLimit - 2) / (MSCCLDialect.countLimit - 1)
            var at = offset
            return (0..<n).map { k in
                let c = count / n + (k < count % n ? 1 : 0)
                defer { at += c }
                return (at, c)
            }
        }
    }

    init(_ plan: Plan) throws(MSCCLError) {
        self.plan = plan
        let sizes = plan.bufferCounts(count: 1)
        let largest = sizes.values.max()!
        var lcm = 1
        func add(_ r: Rational) throws(MSCCLError) {
            let d = r.denominator
            let g = Rational.gcd(lcm, d)
            guard lcm / g <= MSCCLDialect.maxChunks / d else {
                throw MSCCLError("the plan's ranges need more than \(MSCCLDialect.maxChunks) chunks per loop (16-bit offsets): re-synthesize with fewer slices")
            }
            lcm = lcm / g * d
        }
        for size in sizes.values { try add(Rational(size, largest)) }
        for p in plan.programs {
            for s in p.steps {
                var ranges = [s.range]
                if case .copy(let src) = s.operation { ranges.append(src) }
                for r in ranges {
                    // A denominator this large cannot come under the chunk limit after scaling
                    // (scale's numerator is at most `largest`); refusing it first keeps the
                    // product below from overflowing.
                    guard r.lo.denominator / largest <= MSCCLDialect.maxChunks, r.hi.denominator / largest <= MSCCLDialect.maxChunks else {
                        throw MSCCLError("the plan's ranges need more than \(MSCCLDialect.maxChunks) chunks per loop (16-bit offsets): re-synthesize with fewer slices")
                    }
                    let scale = Rational(sizes[r.buffer]!, largest)
                    try add(r.lo * scale)
                    try add(r.hi * scale)
                }
            }
        }
        perLoop = lcm
        chunksPerBuffer = sizes.mapValues { lcm / largest * $0 }
    }

    func chunks(_ r: BufferRange, rank: Int, step: Int) throws(MSCCLError) -> Ref {
        let c = Rational(chunksPerBuffer[r.buffer]!)
        let lo = r.lo * c, hi = r.hi * c
        precondition(lo.denominator == 1 && hi.denominator == 1, "chunk units cover every range")
        let count = hi.numerator - lo.numerator
        guard count >= 1 else { throw MSCCLError("rank \(rank) step \(step) moves an empty range (\(r))") }
        let code: String
        switch r.buffer { case .input: code = "i"; case .output: code = "o"; case .scratch: code = "s" }
        return Ref(buffer: code, offset: lo.numerator, count: count)
    }
}
