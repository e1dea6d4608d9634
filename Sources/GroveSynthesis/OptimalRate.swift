import GroveTopology

/// The fabric with bandwidths as integers: link capacity `c(e) = b(e) · scale`, where `scale`
/// is the least common multiple of the bandwidths' denominators (so `b = 12.5` gives `scale = 2`).
public struct IntegerFabric: Sendable {
    public let fabric: Fabric
    /// Integer capacity units per GB/s.
    public let scale: Int
    /// Capacities parallel to `fabric.links`.
    public let capacities: [Int]

    public init(_ fabric: Fabric) {
        self.fabric = fabric
        var l = 1
        for link in fabric.links { l = Rational.lcm(l, link.bandwidth.gigabytesPerSecond.denominator) }
        scale = l
        capacities = fabric.links.map { ($0.bandwidth.gigabytesPerSecond * Rational(l)).numerator }
    }

    /// The same fabric with other capacities (at most the given ones), e.g. its balanced part.
    init(_ fabric: Fabric, scale: Int, capacities: [Int]) {
        self.fabric = fabric
        self.scale = scale
        self.capacities = capacities
    }

    /// Whether every rank can be reached from every root over arcs of positive capacity (the
    /// optimal rate is then positive): forward from the first root to all ranks, backward from
    /// it to the other roots. O(V + E).
    public func connects(_ roots: [Rank]) -> Bool {
        guard let first = roots.first else { return true }
        func reach(reverse: Bool) -> [Bool] { fabric.reachable(from: first.vertex, reverse: reverse, uses: { capacities[$0] > 0 }) }
        let forward = reach(reverse: false)
        guard fabric.ranks.allSatisfy({ forward[$0.rawValue] }) else { return false }
        guard roots.count > 1 else { return true }
        let backward = reach(reverse: true)
        return roots.allSatisfy { backward[$0.rawValue] }
    }

    /// `part`: the balanced part (`SwitchBalance`), nil when every switch already balances;
    /// `balances`: false if the sweeps did not balance every switch (not met on any fabric tried;
    /// the caller then says so).
    public func balanced() -> (part: IntegerFabric?, balances: Bool) {
        var trimmed = capacities
        guard let removed = SwitchBalance.trim(fabric, &trimmed) else { return (nil, false) }
        return (removed > 0 ? IntegerFabric(fabric, scale: scale, capacities: trimmed) : nil, true)
    }

    /// Synthesis forms integers up to 2·C·N², where C is the total capacity in integer units
    /// (at most 10^12 per link, as bandwidths are whole kB/s up to 10^6 GB/s) and N the rank
    /// count: the rate search's scaled arcs (c·q with q ≤ N) and demand (P·N with P ≤ C), the
    /// packing's units c·Q/G ≤ c·N and multiplicity k ≤ C, the lowering's fractions of 1/(k·N).
    /// Checking that bound once here is what keeps every later product from overflowing.
    public static func checkHeadroom(_ fabric: Fabric) throws(SynthesisError) {
        guard withinHeadroom(IntegerFabric(fabric).capacities, ranks: fabric.rankCount) else { throw .tooLarge(tooLargeMessage(fabric)) }
    }

    /// Whether capacities `capacities` times `multiplier` keep 2·C·N² within 64 bits (C their
    /// total, N the rank count): the bound above, for finer units than the fabric's own.
    static func withinHeadroom(_ capacities: [Int], multiplier: Int = 1, ranks: Int) -> Bool {
        var total = 0
        for c in capacities {
            let (scaled, o1) = c.multipliedReportingOverflow(by: multiplier)
            let (t, o2) = total.addingReportingOverflow(scaled)
            guard !o1 && !o2 else { return false }
            total = t
        }
        let (twice, o1) = total.multipliedReportingOverflow(by: 2 * ranks)
        let (_, o2) = twice.multipliedReportingOverflow(by: ranks)
        return !o1 && !o2
    }

    private static func tooLargeMessage(_ fabric: Fabric) -> String {
        let total = fabric.links.reduce(0.0) { $0 + $1.bandwidth.gigabytesPerSecond.doubleValue }
        return "the fabric's total link capacity (\(Int(total)) GB/s over \(fabric.links.count) links, at 1 kB/s resolution) "
            + "times its \(fabric.rankCount) ranks squared is too large for exact 64-bit synthesis; "
            + "give bandwidths in coarser units (fewer significant digits) or split the fabric"
    }

    /// A flow network over the fabric's vertices plus a source vertex (index `vertexCount`),
    /// with link capacities multiplied by `multiplier`. Returns the network and the source arcs
    /// (one per rank in `roots`, capacity 0 until set).
    func network(multiplier: Int, roots: [Rank]) -> (FlowNetwork, source: Int, sourceArcs: [Int]) {
        var net = FlowNetwork(vertexCount: fabric.vertexCount + 1)
        for (i, link) in fabric.links.enumerated() {
            net.addArc(link.from.rawValue, link.to.rawValue, capacity: capacities[i] * multiplier)
        }
        let s = fabric.vertexCount
        let arcs = roots.map { net.addArc(s, $0.rawValue, capacity: 0) }
        return (net, s, arcs)
    }

    /// Out-capacity of a vertex set (in integer units).
    func capacityLeaving(_ inSet: [Bool]) -> Int {
        var total = 0
        for (i, link) in fabric.links.enumerated() where inSet[link.from.rawValue] && !inSet[link.to.rawValue] {
            total += capacities[i]
        }
        return total
    }
}

/// The throughput bound of a rooted broadcast pattern, found exactly.
public struct OptimalRate: Sendable {
    /// The optimal rate per root, `x* = min_S c⁺(S) / |S ∩ roots|`, in GB/s: every root can
    /// stream its data to every rank at this rate at once, and no schedule can do better.
    public let perRoot: Rational
    /// The same in integer capacity units: `perRoot · scale`.
    public let perRootUnits: Rational
    /// A vertex set S attaining the minimum: the bottleneck cut (its out-links limit the rate).
    public let bottleneck: [VertexID]
    public let roots: [Rank]
    /// Max-flow runs made, for reports.
    public let maxFlowRuns: Int

    public init(perRoot: Rational, perRootUnits: Rational, bottleneck: [VertexID], roots: [Rank], maxFlowRuns: Int) {
        self.perRoot = perRoot
        self.perRootUnits = perRootUnits
        self.bottleneck = bottleneck
        self.roots = roots
        self.maxFlowRuns = maxFlowRuns
    }
}

/// Exact optimal-rate search (the combinatorial engine).
///
/// The rate x is feasible iff, with a source s joined to every root by an arc of capacity x,
/// `maxflow(s, t) ≥ |roots| · x` for every rank t (a cut S ∌ t then satisfies
/// `c⁺(S) ≥ x · |S ∩ roots|`). Discrete Newton (Dinkelbach) iteration on the ratio
/// `c⁺(S)/|S ∩ roots|`: start from a cut's ratio, test it with N max-flows; a violated cut has a
/// strictly smaller ratio and becomes the next candidate. Every candidate is the exact ratio of a
/// real cut, so the loop ends on the optimum itself, never on a tolerance. In practice 2–4 rounds.
public enum RateSearch {
    /// `sinks`: the ranks t to test, when the others are known to have the same λ(s, t) — one
    /// per cycle of a rotation that maps the roots onto themselves (`FabricRotation`); nil: all.
    public static func optimalRate(_ fabric: IntegerFabric, roots: [Rank], sinks: [Rank]? = nil,
                                   progress: ((String) -> Void)? = nil) -> OptimalRate {
        let f = fabric.fabric
        let tested = sinks ?? f.ranks
        precondition(!roots.isEmpty)
        let isRoot = (0..<f.vertexCount).map { v in roots.contains(Rank(v)) }
        // Initial candidate: the cut of everything but one rank t, for the t with least in-capacity.
        var best: (ratio: Rational, set: [Bool])? = nil
        for t in tested {
            var inSet = Array(repeating: true, count: f.vertexCount)
            inSet[t.rawValue] = false
            let w = roots.count - (isRoot[t.rawValue] ? 1 : 0)
            guard w > 0 else { continue }
            let r = Rational(fabric.capacityLeaving(inSet), w)
            if best == nil || r < best!.ratio { best = (r, inSet) }
        }
        guard var current = best else {
            // A single rank that is its own only root: nothing needs to move.
            return OptimalRate(perRoot: .zero, perRootUnits: .zero, bottleneck: [], roots: roots, maxFlowRuns: 0)
        }
        var runs = 0
        var round = 0
        while true {
            round += 1
            let x = current.ratio
            // Scale so that x = p/q becomes integers: links × q, source arcs p.
            let (p, q) = (x.numerator, x.denominator)
            var (net, s, sourceArcs) = fabric.network(multiplier: q, roots: roots)
            for a in sourceArcs { net.setCapacity(ofArc: a, p) }
            let need = p * roots.count
            var improved: (ratio: Rational, set: [Bool])? = nil
            for t in tested {
                // A rank that is the only root needs nothing from others.
                if roots.count == 1 && roots[0] == t { continue }
                let flow = net.maxFlow(from: s, to: t.rawValue, limit: need)
                runs += 1
                if flow < need {
                    var side = net.sourceSide(of: s)
                    side.removeLast()
                    let w = (0..<f.vertexCount).reduce(0) { $0 + (side[$1] && isRoot[$1] ? 1 : 0) }
                    let r = Rational(fabric.capacityLeaving(side), w)
                    precondition(r < x, "a violated cut must have a smaller ratio")
                    if improved == nil || r < improved!.ratio { improved = (r, side) }
                }
            }
            progress?("rate search round \(round): candidate \(x) units, \(runs) max-flows")
            guard let next = improved else { break }
            current = next
        }
        let set = (0..<f.vertexCount).filter { current.set[$0] }.map { VertexID($0) }
        return OptimalRate(perRoot: current.ratio / Rational(fabric.scale), perRootUnits: current.ratio,
                           bottleneck: set, roots: roots, maxFlowRuns: runs)
    }

    /// The bound by enumerating every vertex subset: O(2^V · E). Only for tests on tiny fabrics,
    /// as an independent check of `optimalRate`.
    public static func bruteForceRate(_ fabric: IntegerFabric, roots: [Rank]) -> Rational? {
        let f = fabric.fabric
        precondition(f.vertexCount <= 20)
        var best: Rational?
        for mask in 1..<(1 << f.vertexCount) {
            let inSet = (0..<f.vertexCount).map { mask & (1 << $0) != 0 }
            let w = roots.filter { inSet[$0.rawValue] }.count
            let allRanksInside = f.ranks.allSatisfy { inSet[$0.rawValue] }
            guard w > 0, !allRanksInside else { continue }
            let r = Rational(fabric.capacityLeaving(inSet), w)
            if best == nil || r < best! { best = r }
        }
        return best.map { $0 / Rational(fabric.scale) }
    }
}
