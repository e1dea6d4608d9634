import GroveSynthesis
import GroveTopology

/// How a phase's trees cover the buffer.
enum Coverage {
    /// Root r's trees share segment r of N (allgather, reduce-scatter, allreduce).
    case shardPerRoot
    /// All trees share the whole buffer (broadcast, reduce, tree-based allreduce).
    case wholeBuffer
}

extension PipelinePhase {
    /// The phase without the routes (they go to `Plan.routing`).
    init(_ forest: Forest, _ coverage: Coverage) {
        self.init(direction: forest.direction, wholeBuffer: coverage == .wholeBuffer, treesPerRoot: forest.treesPerRoot,
                  roots: forest.roots, trees: forest.trees.map { t in
                      Arborescence(root: t.root, multiplicity: t.multiplicity, arcs: t.arcs.map { TreeArc(from: $0.from, to: $0.to, routes: []) })
                  })
    }
}

extension Synthesis {
    /// The name of its plan in a schedule: "forest", or "forest-kK" for a forest capped at K
    /// trees per rank.
    public var planName: String { treesPerRootCap.map { "forest-k\($0)" } ?? "forest" }
}

/// Lowers forests to per-rank step programs.
///
/// A tree carrying fraction [a, b) of its segment is cut into `slices` equal slices; for each
/// slice a non-root forwards (or, in aggregation, combines then forwards) as soon as that slice
/// is in, so all of a tree's links stream at once. Aggregation accumulates in `scratch` at inner
/// ranks and in `output` at the root; leaves send straight from `input`.
///
/// Dependencies are not written by hand: each rank's steps go through a hazard tracker
/// (read-after-write, write-after-read, write-after-write on overlapping ranges). It maps input
/// and output into one address space the way in-place calls alias them (NCCL conventions), so the
/// same plan is correct in place and out of place. O(steps · log ranges) per rank.
public enum Lowering {
    /// Slices per tree when the caller does not choose. Pipelining a tree of depth d over S slices
    /// costs about (d − 1)/S of extra time to fill; each slice costs one message latency. With
    /// 1 MiB per slice at the design size the latency (~10 µs) stays under 5% of a slice's time at
    /// 25 GB/s, and 2–16 slices bound the fill overhead without flooding the network with messages.
    public static func defaultSlices(designBytes: Int, trees: Int) -> Int {
        let perTree = designBytes / max(trees, 1)
        return min(16, max(2, perTree / (1 << 20)))
    }

    /// The plan for a synthesized forest (or forests: allreduce has two phases).
    public static func plan(_ s: Synthesis, slices: Int) -> Plan {
        let n = s.forests[0].trees.first.map { $0.arcs.count + 1 } ?? 1
        let coverage: Coverage = s.collective.needsRoot ? .wholeBuffer : .shardPerRoot
        var plan = lower(phases: s.forests.map { PipelinePhase($0, coverage) }, collective: s.collective, rankCount: n,
                         root: s.root, slices: slices, algorithm: s.planName)
        var channel = 0
        for forest in s.forests {
            for (t, tree) in forest.trees.enumerated() {
                for a in tree.arcs where !a.routes.isEmpty {
                    plan.routing[ArcKey(channel: channel + t, from: a.from, to: a.to)] = a.routes.map {
                        WeightedPath(vertices: [a.from.vertex] + $0.switches + [a.to.vertex], weight: Rational($0.amount, tree.multiplicity))
                    }
                }
            }
            channel += forest.trees.count
        }
        return plan
    }

    /// The plan for a baseline algorithm on a fabric, through the same lowering. Nil for the
    /// double binary tree with allgather or reduce-scatter, which (as in NCCL) it does not run.
    public static func plan(baseline: Baseline, fabric: Fabric, collective: Collective, root: Rank = Rank(0), slices: Int) -> Plan? {
        guard let phases = BaselineForests.phases(baseline, fabric: fabric, collective: collective, root: root) else { return nil }
        var plan = lower(phases: phases.map { PipelinePhase($0.0, $0.1) }, collective: collective, rankCount: fabric.rankCount,
                         root: collective.needsRoot ? root : nil, slices: slices, algorithm: baseline.rawValue)
        // Baseline edges are spread over a max flow between their ranks (as in `Baseline.algbw`).
        var router = MultipathRouter(fabric)
        var channel = 0
        for (forest, _) in phases {
            for (t, tree) in forest.trees.enumerated() {
                for a in tree.arcs {
                    plan.routing[ArcKey(channel: channel + t, from: a.from, to: a.to)] = router.paths(a.from, a.to)
                        .map { WeightedPath(vertices: $0.vertices, weight: $0.weight) }
                }
            }
            channel += forest.trees.count
        }
        return plan
    }

    /// Lowers phases of trees with `slices` slices per tree; the plan remembers the phases.
    static func lower(phases: [PipelinePhase], collective: Collective, rankCount n: Int, root: Rank?,
                      slices: Int, algorithm: String) -> Plan {
        precondition(slices >= 1)
        let layout = Layout(collective: collective, n: n)
        var builders = (0..<n).map { ProgramBuilder(rank: Rank($0), layout: layout) }
        var channel = 0
        for (phaseIndex, phase) in phases.enumerated() {
            let pieces = layout.pieces(of: phase)
            // Where the data of a distribute phase starts at the root: the user's input, except
            // when an aggregation phase has just left it in the output (allreduce).
            let fromOutput = phaseIndex > 0
            for slice in 0..<slices {
                for (t, tree) in phase.trees.enumerated() {
                    let piece = pieces[t]
                    let width = piece.hi - piece.lo
                    let lo = piece.lo + width * Rational(slice, slices)
                    let hi = piece.lo + width * Rational(slice + 1, slices)
                    let ch = channel + t
                    if phase.direction == .outward {
                        distribute(tree, segment: piece.segment, lo: lo, hi: hi, channel: ch, fromOutput: fromOutput, builders: &builders)
                    } else {
                        aggregate(tree, segment: piece.segment, lo: lo, hi: hi, channel: ch, builders: &builders)
                    }
                }
            }
            channel += phase.trees.count
        }
        return Plan(collective: collective, rankCount: n, root: root, programs: builders.map { $0.program },
                    slices: slices, algorithm: algorithm, phases: phases)
    }

    /// Out-tree: the root sends its slice; every other rank receives it into the output and
    /// forwards it to its children.
    static func distribute(_ tree: Arborescence, segment: Int, lo: Rational, hi: Rational, channel: Int,
                           fromOutput: Bool, builders: inout [ProgramBuilder]) {
        let layout = builders[0].layout
        let r = tree.root.rawValue
        let out = layout.output(segment: segment, lo: lo, hi: hi)
        var source = out
        if !fromOutput {
            source = layout.input(segment: segment, lo: lo, hi: hi)
            builders[r].add(.copy(source: source), out, stream: channel)
        }
        var children: [Int: [Int]] = [:]
        for a in tree.arcs { children[a.from.rawValue, default: []].append(a.to.rawValue) }
        for c in children[r] ?? [] { builders[r].add(.send(peer: Rank(c), channel: channel), source, stream: channel) }
        for a in tree.arcs {
            let v = a.to.rawValue
            builders[v].add(.recv(peer: a.from, channel: channel), out, stream: channel)
            for c in children[v] ?? [] { builders[v].add(.send(peer: Rank(c), channel: channel), out, stream: channel) }
        }
    }

    /// In-tree: leaves send their input slice; inner ranks copy theirs to scratch, combine each
    /// child's partial sum into it and send it on; the root combines into the output.
    static func aggregate(_ tree: Arborescence, segment: Int, lo: Rational, hi: Rational, channel: Int,
                          builders: inout [ProgramBuilder]) {
        let layout = builders[0].layout
        let r = tree.root.rawValue
        var children: [Int: [Int]] = [:]
        var parent: [Int: Int] = [:]
        for a in tree.arcs { children[a.to.rawValue, default: []].append(a.from.rawValue); parent[a.from.rawValue] = a.to.rawValue }
        // Arcs are listed root outward; walk them backwards so children come before parents.
        var order = tree.arcs.reversed().map { $0.from.rawValue }
        order.append(r)
        let input = layout.input(segment: segment, lo: lo, hi: hi)
        for v in order {
            let kids = children[v] ?? []
            if v == r {
                let out = layout.output(segment: segment, lo: lo, hi: hi)
                builders[v].add(.copy(source: input), out, stream: channel)
                for c in kids { builders[v].add(.recvReduce(peer: Rank(c), channel: channel), out, stream: channel) }
            } else if kids.isEmpty {
                builders[v].add(.send(peer: Rank(parent[v]!), channel: channel), input, stream: channel)
            } else {
                let acc = BufferRange(.scratch, input.lo, input.hi)
                builders[v].add(.copy(source: input), acc, stream: channel)
                for c in kids { builders[v].add(.recvReduce(peer: Rank(c), channel: channel), acc, stream: channel) }
                builders[v].add(.send(peer: Rank(parent[v]!), channel: channel), acc, stream: channel)
            }
        }
    }
}

/// Where a collective's data lives in each buffer, and how input and output alias in place.
struct Layout {
    let collective: Collective
    let n: Int

    struct Piece { var segment: Int; var lo: Rational; var hi: Rational }

    /// Each tree's part of its segment, in tree order: root r's trees split segment r by
    /// multiplicity (shard coverage); with whole-buffer coverage all trees split one segment.
    func pieces(of phase: PipelinePhase) -> [Piece] {
        var offset: [Int: Rational] = [:]
        let total = phase.wholeBuffer ? Rational(phase.treesPerRoot * phase.roots.count) : Rational(phase.treesPerRoot)
        return phase.trees.map { t in
            let seg = phase.wholeBuffer ? -1 : t.root.rawValue
            let lo = offset[seg] ?? .zero
            let hi = lo + Rational(t.multiplicity) / total
            offset[seg] = hi
            return Piece(segment: seg, lo: lo, hi: hi)
        }
    }

    /// Segment −1 is the whole buffer.
    private func full(_ segment: Int, _ x: Rational) -> Rational {
        segment < 0 ? x : (Rational(segment) + x) / Rational(n)
    }

    func input(segment: Int, lo: Rational, hi: Rational) -> BufferRange {
        collective == .allgather ? BufferRange(.input, lo, hi) : BufferRange(.input, full(segment, lo), full(segment, hi))
    }

    func output(segment: Int, lo: Rational, hi: Rational) -> BufferRange {
        collective == .reduceScatter ? BufferRange(.output, lo, hi) : BufferRange(.output, full(segment, lo), full(segment, hi))
    }

    /// The address space in which a range of `rank`'s buffers lives when the call is in place:
    /// space 0 holds input and output (the larger of the two), space 1 the scratch buffer.
    func canonical(_ r: BufferRange, rank: Int) -> (space: Int, lo: Rational, hi: Rational) {
        switch (r.buffer, collective) {
        case (.scratch, _): return (1, r.lo, r.hi)
        case (.input, .allgather), (.output, .reduceScatter):
            return (0, (Rational(rank) + r.lo) / Rational(n), (Rational(rank) + r.hi) / Rational(n))
        default: return (0, r.lo, r.hi)
        }
    }
}

/// Builds one rank's program, deriving each step's dependencies from data hazards.
struct ProgramBuilder {
    let rank: Rank
    let layout: Layout
    private(set) var steps: [Step] = []
    private var spaces = [IntervalMap(), IntervalMap()]

    init(rank: Rank, layout: Layout) {
        self.rank = rank
        self.layout = layout
    }

    var program: RankProgram { RankProgram(rank: rank, steps: steps) }

    /// `stream` is the tree's channel; each (channel, peer) pair gets a stream of its own, and
    /// local copies another, so a rank receives slice i+1 while it still forwards slice i.
    mutating func add(_ op: Operation, _ range: BufferRange, stream channel: Int) {
        let lanes = layout.n + 1
        let stream = channel * lanes + (op.transfer?.peer.rawValue ?? layout.n)
        var reads: [BufferRange] = []
        var writes: [BufferRange] = []
        switch op {
        case .send: reads = [range]
        case .recv: writes = [range]
        case .recvReduce: reads = [range]; writes = [range]
        case .copy(let source):
            // Copying a range onto itself (in place) still orders later writers after it.
            reads = [source]; writes = [range]
        }
        let index = steps.count
        var deps = Set<Int>()
        for r in reads {
            let c = layout.canonical(r, rank: rank.rawValue)
            deps.formUnion(spaces[c.space].writers(c.lo, c.hi))
        }
        for w in writes {
            let c = layout.canonical(w, rank: rank.rawValue)
            deps.formUnion(spaces[c.space].writers(c.lo, c.hi))
            deps.formUnion(spaces[c.space].readers(c.lo, c.hi))
        }
        deps.remove(index)
        for r in reads {
            let c = layout.canonical(r, rank: rank.rawValue)
            spaces[c.space].addReader(index, c.lo, c.hi)
        }
        for w in writes {
            let c = layout.canonical(w, rank: rank.rawValue)
            spaces[c.space].setWriter(index, c.lo, c.hi)
        }
        steps.append(Step(op, range, dependencies: deps.sorted(), stream: stream))
    }
}

/// Elementary intervals of [0, 1) with the last writer and the readers since, per interval.
/// Boundaries are kept sorted; an operation touches O(log n + intervals it covers).
struct IntervalMap {
    private var bounds: [Rational] = [.zero, .one]
    private var writer: [Int?] = [nil]
    private var reading: [[Int]] = [[]]

    private func index(of x: Rational) -> Int {
        var lo = 0, hi = bounds.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if bounds[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Makes `x` a boundary and returns its index.
    private mutating func split(_ x: Rational) -> Int {
        let i = index(of: x)
        if i < bounds.count && bounds[i] == x { return i }
        bounds.insert(x, at: i)
        writer.insert(writer[i - 1], at: i)
        reading.insert(reading[i - 1], at: i)
        return i
    }

    /// Visits the elementary intervals that overlap [lo, hi).
    private func forEachOverlapping(_ lo: Rational, _ hi: Rational, _ body: (Int) -> Void) {
        guard lo < hi else { return }
        var i = max(0, index(of: lo) - 1)
        while i < writer.count && bounds[i] < hi {
            if bounds[i + 1] > lo { body(i) }
            i += 1
        }
    }

    func writers(_ lo: Rational, _ hi: Rational) -> Set<Int> {
        var out = Set<Int>()
        forEachOverlapping(lo, hi) { if let w = writer[$0] { out.insert(w) } }
        return out
    }

    func readers(_ lo: Rational, _ hi: Rational) -> Set<Int> {
        var out = Set<Int>()
        forEachOverlapping(lo, hi) { out.formUnion(reading[$0]) }
        return out
    }

    mutating func addReader(_ op: Int, _ lo: Rational, _ hi: Rational) {
        guard lo < hi else { return }
        let a = split(lo), b = split(hi)
        for i in a..<b { reading[i].append(op) }
    }

    mutating func setWriter(_ op: Int, _ lo: Rational, _ hi: Rational) {
        guard lo < hi else { return }
        let a = split(lo), b = split(hi)
        for i in a..<b { writer[i] = op; reading[i] = [] }
    }
}

/// Baselines as forests, so they go through the same lowering, verifier and simulator.
enum BaselineForests {
    static func phases(_ baseline: Baseline, fabric: Fabric, collective: Collective, root: Rank) -> [(Forest, Coverage)]? {
        let n = fabric.rankCount
        switch baseline {
        case .ring:
            // The ring order and direction(s) that the baseline model rates best.
            var router = MultipathRouter(fabric)
            var best: (order: [Rank], both: Bool, value: Rational)?
            for order in RingBaseline.orders(fabric, router: &router) {
                for (i, transfers) in RingBaseline.transfers(order: order, collective: collective, root: root).enumerated() {
                    let v = router.algbw(transfers)
                    if best == nil || v > best!.value { best = (order, i == 1, v) }
                }
            }
            let order = best!.order
            let orders = best!.both ? [order, order.reversed()] : [order]
            switch collective {
            case .allgather: return [(chains(orders, reverse: false, fabric: fabric), .shardPerRoot)]
            case .reduceScatter: return [(chains(orders, reverse: true, fabric: fabric), .shardPerRoot)]
            case .allreduce:
                return [(chains(orders, reverse: true, fabric: fabric), .shardPerRoot),
                        (chains(orders, reverse: false, fabric: fabric), .shardPerRoot)]
            case .broadcast, .reduce:
                let start = order.firstIndex(of: root)!
                let chain = (0..<n).map { order[(start + $0) % n] }
                let arcs = zip(chain, chain.dropFirst()).map { TreeArc(from: $0, to: $1, routes: []) }
                let tree = Arborescence(root: root, multiplicity: 1, arcs: arcs)
                let forest = placeholder(direction: .outward, roots: [root], k: 1, trees: [tree])
                return [(collective == .broadcast ? forest : reversed(forest), .wholeBuffer)]
            }
        case .doubleBinaryTree:
            let base = (0..<n).map { Rank(($0 + root.rawValue) % n) }
            let trees = [base, [base[0]] + base.dropFirst().reversed()].map { order in
                Arborescence(root: root, multiplicity: 1, arcs: (1..<n).map { i in
                    TreeArc(from: order[(i - 1) / 2], to: order[i], routes: [])
                })
            }
            let down = placeholder(direction: .outward, roots: [root], k: 2, trees: trees)
            switch collective {
            case .broadcast: return [(down, .wholeBuffer)]
            case .reduce: return [(reversed(down), .wholeBuffer)]
            case .allreduce: return [(reversed(down), .wholeBuffer), (down, .wholeBuffer)]
            case .allgather, .reduceScatter: return nil
            }
        }
    }

    /// One chain per (order, start rank): root r passes its shard along the order.
    static func chains(_ orders: [[Rank]], reverse: Bool, fabric: Fabric) -> Forest {
        let n = fabric.rankCount
        var trees: [Arborescence] = []
        for order in orders {
            for s in 0..<n {
                let chain = (0..<n).map { order[(s + $0) % n] }
                trees.append(Arborescence(root: chain[0], multiplicity: 1,
                                          arcs: zip(chain, chain.dropFirst()).map { TreeArc(from: $0, to: $1, routes: []) }))
            }
        }
        let forest = placeholder(direction: .outward, roots: fabric.ranks, k: orders.count, trees: trees)
        return reverse ? reversed(forest) : forest
    }

    static func placeholder(direction: TreeDirection, roots: [Rank], k: Int, trees: [Arborescence]) -> Forest {
        Forest(direction: direction, roots: roots, treesPerRoot: k, trees: trees,
               bound: OptimalRate(perRoot: .zero, perRootUnits: .zero, bottleneck: [], roots: roots, maxFlowRuns: 0),
               builtGreedily: false)
    }

    /// Out-trees turned into in-trees with the same vertex sets (arcs point to the root).
    static func reversed(_ f: Forest) -> Forest {
        var r = f
        r.direction = .inward
        r.trees = f.trees.map { t in Arborescence(root: t.root, multiplicity: t.multiplicity, arcs: t.arcs.map { TreeArc(from: $0.to, to: $0.from, routes: []) }) }
        return r
    }
}
