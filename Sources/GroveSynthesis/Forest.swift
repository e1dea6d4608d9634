import GroveTopology

public enum Collective: String, CaseIterable, Sendable {
    case allgather
    case reduceScatter = "reduce-scatter"
    case allreduce
    case broadcast
    case reduce

    /// nccl-tests bus-bandwidth factor: busbw = algbw · factor.
    public func busFactor(ranks n: Int) -> Rational {
        switch self {
        case .allreduce: return Rational(2 * (n - 1), n)
        case .allgather, .reduceScatter: return Rational(n - 1, n)
        case .broadcast, .reduce: return .one
        }
    }

    public var needsRoot: Bool { self == .broadcast || self == .reduce }
}

/// One arc of a tree: data for the tree moves from `from` to `to` along `routes` (switch paths),
/// whose amounts add up to the tree's multiplicity.
public struct TreeArc: Sendable, Equatable {
    public var from: Rank
    public var to: Rank
    public var routes: [Route]
    public init(from: Rank, to: Rank, routes: [Route]) { self.from = from; self.to = to; self.routes = routes }
}

/// A spanning arborescence over all ranks, with an integer multiplicity: it carries
/// `multiplicity / treesPerRoot` of its root's data.
public struct Arborescence: Sendable, Equatable {
    public var root: Rank
    public var multiplicity: Int
    /// In `outward` forests arcs point away from the root, in `inward` forests toward it;
    /// listed in an order where each arc's upstream end is already connected.
    public var arcs: [TreeArc]
    public init(root: Rank, multiplicity: Int, arcs: [TreeArc]) { self.root = root; self.multiplicity = multiplicity; self.arcs = arcs }

    /// Arcs on the longest path between the root and a rank (1 for a star, N − 1 for a chain):
    /// what a pipeline over this tree pays to fill. O(N).
    public var depth: Int {
        // A spanning tree over ranks 0..<N has N − 1 arcs. O(N).
        var level = Array(repeating: -1, count: arcs.count + 1)
        level[root.rawValue] = 0
        var deepest = 0
        for a in arcs {
            // Arcs are listed with their root-side end already connected, in either direction.
            let (near, far) = level[a.from.rawValue] >= 0 && level[a.to.rawValue] < 0 ? (a.from, a.to) : (a.to, a.from)
            let d = max(level[near.rawValue], 0) + 1
            level[far.rawValue] = d
            deepest = max(deepest, d)
        }
        return deepest
    }
}

/// How a forest capped at K tree units per root was found (`FixedKSearch`).
public struct TreeCap: Sendable, Equatable {
    public var treesPerRoot: Int
    /// U*: each tree needs 1/U* capacity units on every link it crosses; the rate per root is
    /// at least K/U* units.
    public var scale: Rational
    /// U_r ≤ U*: no forest of K trees per root beats K/U_r units per root. Equal to `scale`
    /// unless switch ports had to be trimmed for edge splitting (`FixedKSearch`).
    public var relaxedScale: Rational
    /// K/U_r in GB/s per root: what no forest of K trees per root exceeds.
    public var upperBoundPerRoot: Rational
    public var maxFlowRuns: Int

    /// Whether the forest's rate is the capped optimum (else it lies between the two scales').
    public var isOptimal: Bool { scale == relaxedScale }
}

/// The sides of a torus whose forest was built by construction.
public struct TorusShape: Sendable, Equatable {
    public var rows: Int
    public var cols: Int
}

public enum TreeDirection: String, Sendable {
    /// Data leaves the root (broadcast, allgather).
    case outward
    /// Data flows to the root and is combined on the way (reduce, reduce-scatter).
    case inward
}

public struct ForestCheckError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// A set of weighted spanning trees over the ranks, with the bound it was built to reach.
public struct Forest: Sendable {
    public var direction: TreeDirection
    public var roots: [Rank]
    /// k: every root's trees have multiplicities summing to k.
    public var treesPerRoot: Int
    public var trees: [Arborescence]
    /// The bound for this forest's pattern (per root, GB/s) and the cut that attains it.
    public var bound: OptimalRate
    /// Whether the greedy fast path built it (false: exact splitting and packing).
    public var builtGreedily: Bool
    /// Set when the forest was built with fewer tree units per root than the bound needs
    /// (`--trees-per-rank`): its rate is then below `bound`.
    public var cap: TreeCap?
    /// Set when some switch's in- and out-capacity differ: the cut bound of the fabric as given,
    /// counting capacity no switch can forward — an upper bound on every schedule. `bound` is
    /// then the optimum of the balanced part (`SwitchBalance`), which the forest reaches.
    public var excessBound: OptimalRate?
    /// With unbalanced switches and a `Balancer`: the best rate per root any balanced part
    /// allows (GB/s, the balancer's floating-point optimum); the forest is within its grid of it.
    public var balancedOptimum: Double?
    /// Set when the trees were built up to a rotation of the fabric (`SymmetricPacking`): its
    /// order L, the trees built for one root in L and mapped to the others.
    public var rotationOrder: Int?
    /// Set when the fabric is a 2D torus and the trees were built by construction (`TorusForest`).
    public var torus: TorusShape?

    public init(direction: TreeDirection, roots: [Rank], treesPerRoot: Int, trees: [Arborescence], bound: OptimalRate, builtGreedily: Bool) {
        self.direction = direction
        self.roots = roots
        self.treesPerRoot = treesPerRoot
        self.trees = trees
        self.bound = bound
        self.builtGreedily = builtGreedily
    }

    /// Checks the forest against the fabric and returns the rate per root it achieves (GB/s),
    /// computed from link loads alone: every tree spans all ranks; each root's multiplicities sum
    /// to k; each route is a real path of links; and the rate is k · min over links of b(e)/load(e).
    /// O(trees · N · path length + E).
    public func check(on fabric: Fabric) throws(ForestCheckError) -> Rational {
        let n = fabric.rankCount
        var perRoot: [Rank: Int] = [:]
        // Link lookup: a short scan of a vertex's out-links, a dictionary for wide switches.
        var outLinks = Array(repeating: [(to: Int, index: Int)](), count: fabric.vertexCount)
        for (i, l) in fabric.links.enumerated() { outLinks[l.from.rawValue].append((l.to.rawValue, i)) }
        var wide: [Int: Int] = [:]
        for (v, list) in outLinks.enumerated() where list.count > 8 { for (w, i) in list { wide[v * fabric.vertexCount + w] = i } }
        func linkIndex(_ a: Int, _ b: Int) -> Int? {
            guard outLinks.indices.contains(a) else { return nil }
            let list = outLinks[a]
            if list.count > 8 { return wide[a * fabric.vertexCount + b] }
            return list.first { $0.to == b }?.index
        }
        var load = Array(repeating: 0, count: fabric.links.count)
        for (ti, tree) in trees.enumerated() {
            perRoot[tree.root, default: 0] += tree.multiplicity
            guard tree.arcs.count == n - 1 else {
                throw ForestCheckError(description: "tree \(ti) (root \(tree.root)) has \(tree.arcs.count) arcs, a spanning tree over \(n) ranks needs \(n - 1)")
            }
            var connected = Array(repeating: false, count: n)
            connected[tree.root.rawValue] = true
            for arc in tree.arcs {
                let (near, far) = direction == .outward ? (arc.from, arc.to) : (arc.to, arc.from)
                guard connected[near.rawValue], !connected[far.rawValue] else {
                    throw ForestCheckError(description: "tree \(ti) (root \(tree.root)): arc \(arc.from)→\(arc.to) does not extend the tree")
                }
                connected[far.rawValue] = true
                guard arc.routes.reduce(0, { $0 + $1.amount }) == tree.multiplicity else {
                    throw ForestCheckError(description: "tree \(ti): routes of arc \(arc.from)→\(arc.to) do not carry the tree's multiplicity")
                }
                for route in arc.routes {
                    func missing() -> ForestCheckError {
                        let path = [arc.from.vertex] + route.switches + [arc.to.vertex]
                        return ForestCheckError(description: "tree \(ti): route \(path.map { fabric.name(of: $0) }.joined(separator: "→")) uses a link that does not exist")
                    }
                    var a = arc.from.rawValue
                    for b in route.switches {
                        guard let li = linkIndex(a, b.rawValue) else { throw missing() }
                        load[li] += route.amount
                        a = b.rawValue
                    }
                    guard let li = linkIndex(a, arc.to.rawValue) else { throw missing() }
                    load[li] += route.amount
                }
            }
        }
        for r in roots where perRoot[r] != treesPerRoot {
            throw ForestCheckError(description: "root \(r) has tree multiplicity \(perRoot[r] ?? 0), expected \(treesPerRoot)")
        }
        var best: Rational?
        for (i, l) in fabric.links.enumerated() where load[i] > 0 {
            guard let r = l.bandwidth.gigabytesPerSecond.multipliedReportingOverflow(by: Rational(1, load[i])) else {
                throw ForestCheckError(description: "the share of link \(fabric.name(of: l.from)) → \(fabric.name(of: l.to)) per tree unit needs more than 64 bits exactly")
            }
            if best == nil || r < best! { best = r }
        }
        guard let rate = (best ?? .zero).multipliedReportingOverflow(by: Rational(treesPerRoot)) else {
            throw ForestCheckError(description: "the forest's rate needs more than 64 bits exactly")
        }
        return rate
    }

    public func distinctTreeCount() -> Int { trees.count }

    /// How many trees have each depth, shallowest first.
    public var depthHistogram: [(depth: Int, trees: Int)] {
        Dictionary(grouping: trees, by: \.depth).map { ($0.key, $0.value.count) }.sorted { $0.depth < $1.depth }
    }

    /// The deepest tree's depth (0 for an empty forest).
    public var maxDepth: Int { trees.map(\.depth).max() ?? 0 }
}

public enum SynthesisError: Error, Sendable, CustomStringConvertible {
    case singleRank
    case badRoot(Int, ranks: Int)
    case switchRemovalFailed(String)
    case packingFailed(root: Int)
    case checkFailed(String)
    case engineFailed(String)
    case tooLarge(String)
    case badTreeCap(Int)
    case unbalanced(String)

    public var description: String {
        switch self {
        case .singleRank: return "the fabric has one rank; a collective over one rank moves no data"
        case .badRoot(let r, let n): return "root \(r) is not a rank of this fabric (ranks are 0...\(n - 1))"
        case .switchRemovalFailed(let s): return "internal error: switch '\(s)' could not be split off completely; please report this fabric"
        case .packingFailed(let r): return "internal error: the trees of root \(r) could not be completed; please report this fabric"
        case .checkFailed(let m): return "internal error: the forest failed its check (\(m)); please report this fabric"
        case .engineFailed(let m): return m
        case .tooLarge(let m): return m
        case .badTreeCap(let k): return "trees per rank \(k): give at least 1"
        case .unbalanced(let m): return m
        }
    }
}

/// The result of synthesis: one forest per phase (allreduce has reduce-scatter then allgather),
/// the proven bound and the rate the forests achieve, both as algbw in GB/s (nccl-tests: bytes of
/// the collective's buffer / time).
public struct Synthesis: Sendable {
    public var collective: Collective
    public var root: Rank?
    public var forests: [Forest]
    public var boundAlgbw: Rational
    public var achievedAlgbw: Rational
    public var maxFlowRuns: Int

    /// The cap on tree units per root the forests were built with, when it bound them (their
    /// rate is then below the bound; nil: the forests reach the bound).
    public var treesPerRootCap: Int? { forests.compactMap { $0.cap?.treesPerRoot }.first }
    /// With a cap: the rate no forest of that many trees per rank exceeds (`TreeCap`), in the
    /// same units as `achievedAlgbw`; equal to it where the capped forest is optimal.
    public var cappedUpperBound: Rational?
    /// On a fabric with unbalanced switches: the optimum of its balanced part, which the
    /// forests reach (`boundAlgbw` is then the cut bound counting the excess; the true optimum
    /// lies between). Nil where every switch balances.
    public var balancedAlgbw: Rational?

    /// The balancer's optimum over all balanced parts, as algbw (floating point): no schedule
    /// whose switches forward without copying beats it. Nil without unbalanced switches or
    /// without a balancer.
    public var balancedOptimumAlgbw: Double? {
        guard forests.contains(where: { $0.balancedOptimum != nil }) else { return nil }
        let perRoot = forests.map { $0.balancedOptimum ?? $0.bound.perRoot.doubleValue }
        let n = Double(forests[0].roots.count)
        return collective == .allreduce ? n / (1 / perRoot[0] + 1 / perRoot[1]) : perRoot[0] * n
    }
}

/// How forests are built. Both give forests that reach the bound; `automatic` tries the greedy
/// `FastPath` first and falls back to the exact algorithms when it falls short.
/// Whether the greedy construction may build trees up to a rotation of the fabric
/// (`FabricSymmetry`, `SymmetricPacking`): `auto` from 128 ranks up, where it pays.
public enum SymmetryUse: String, Sendable, CaseIterable {
    case auto, on, off
}

public enum Construction: String, Sendable, CaseIterable {
    case automatic
    /// Always use exact edge splitting and admissibility-tested tree packing.
    case exact
}

public enum Synthesizer {
    /// Computes the optimal rate of a rooted broadcast pattern; the default is `RateSearch`.
    public typealias RateEngine = @Sendable (IntegerFabric, [Rank]) throws -> OptimalRate
    /// For fabrics with unbalanced switches: the best balanced capacities c′ ≤ c (in the
    /// fabric's units, per link) and the rate per root they allow, in units (e.g. `BalancedLP`).
    /// Without one, water-filling (`SwitchBalance`) picks the balanced part.
    public typealias Balancer = @Sendable (IntegerFabric, [Rank]) throws -> (perRootUnits: Double, capacities: [Double])

    /// Synthesizes the throughput-optimal forest(s) for a collective. The forests are checked
    /// before they are returned; `achievedAlgbw == boundAlgbw` holds for every result built
    /// without `treesPerRoot`. With it, every root gets at most that many tree units (distinct
    /// trees) and the rate is the best such a forest reaches (`FixedKSearch`), at most the bound.
    /// A different `engine` yields the same forests only if it finds the same rate: a wrong rate
    /// makes switch removal or the forest check fail.
    public static func synthesize(_ fabric: Fabric, collective: Collective, root: Rank? = nil,
                                  engine: RateEngine? = nil, construction: Construction = .automatic,
                                  treesPerRoot: Int? = nil, balancer: Balancer? = nil, symmetry: SymmetryUse = .auto,
                                  progress: ((String) -> Void)? = nil) throws(SynthesisError) -> Synthesis {
        let n = fabric.rankCount
        guard n > 1 else { throw .singleRank }
        if let cap = treesPerRoot, cap < 1 { throw .badTreeCap(cap) }
        try IntegerFabric.checkHeadroom(fabric)
        let r = root ?? Rank(0)
        guard r.rawValue >= 0 && r.rawValue < n else { throw .badRoot(r.rawValue, ranks: n) }
        func phase(_ direction: TreeDirection, roots: [Rank]) throws(SynthesisError) -> (Forest, Rational) {
            let f = direction == .outward ? fabric : fabric.transposed()
            var forest = try broadcastForest(f, roots: roots, engine: engine, construction: construction,
                                             treesPerRoot: treesPerRoot, balancer: balancer, symmetry: symmetry, progress: progress)
            if direction == .inward { forest = forest.reversed() }
            let achieved: Rational
            do { achieved = try forest.check(on: fabric) } catch { throw .checkFailed(error.description) }
            return (forest, achieved)
        }
        let all = fabric.ranks
        switch collective {
        case .allgather, .reduceScatter, .broadcast, .reduce:
            let roots = collective.needsRoot ? [r] : all
            let (forest, achieved) = try phase(collective == .allgather || collective == .broadcast ? .outward : .inward, roots: roots)
            let count = Rational(roots.count)
            return Synthesis(collective: collective, root: collective.needsRoot ? r : nil, forests: [forest],
                             boundAlgbw: (forest.excessBound ?? forest.bound).perRoot * count, achievedAlgbw: achieved * count,
                             maxFlowRuns: forest.bound.maxFlowRuns + (forest.excessBound?.maxFlowRuns ?? 0),
                             cappedUpperBound: forest.cap.map { $0.upperBoundPerRoot * count },
                             balancedAlgbw: forest.excessBound == nil ? nil : forest.bound.perRoot * count)
        case .allreduce:
            let (rs, rsRate) = try phase(.inward, roots: all)
            let (ag, agRate) = try phase(.outward, roots: all)
            // Time for M bytes: (M/N)/x_rs + (M/N)/x_ag, so algbw = N / (1/x_rs + 1/x_ag).
            // The two phases' rates can be coprime with large numerators: their combination is
            // formed with overflow reported, and a value past 64 bits is refused in one sentence.
            func combine(_ a: Rational, _ b: Rational) throws(SynthesisError) -> Rational {
                guard let sum = Rational(a.denominator, a.numerator).addingReportingOverflow(Rational(b.denominator, b.numerator)),
                      let algbw = Rational(n).multipliedReportingOverflow(by: Rational(sum.denominator, sum.numerator)) else {
                    throw .tooLarge("the allreduce rate on \(fabric.name) combines its reduce-scatter rate \(a) and allgather rate \(b) GB/s into a fraction past 64 bits; give bandwidths with fewer significant digits")
                }
                return algbw
            }
            var upper: Rational?
            if let a = rs.cap, let b = ag.cap { upper = try combine(a.upperBoundPerRoot, b.upperBoundPerRoot) }
            let unbalanced = rs.excessBound != nil || ag.excessBound != nil
            return Synthesis(collective: .allreduce, root: nil, forests: [rs, ag],
                             boundAlgbw: try combine((rs.excessBound ?? rs.bound).perRoot, (ag.excessBound ?? ag.bound).perRoot),
                             achievedAlgbw: try combine(rsRate, agRate),
                             maxFlowRuns: [rs, ag].reduce(0) { $0 + $1.bound.maxFlowRuns + ($1.excessBound?.maxFlowRuns ?? 0) },
                             cappedUpperBound: upper,
                             balancedAlgbw: unbalanced ? try combine(rs.bound.perRoot, ag.bound.perRoot) : nil)
        }
    }

    /// Rate search, switch removal and tree packing for the out-trees of `roots` on `fabric`.
    static func broadcastForest(_ fabric: Fabric, roots: [Rank], engine: RateEngine?, construction: Construction,
                                treesPerRoot: Int? = nil, balancer: Balancer? = nil, symmetry: SymmetryUse = .auto,
                                progress: ((String) -> Void)?) throws(SynthesisError) -> Forest {
        var integer = IntegerFabric(fabric)
        let rotation = symmetry == .on || symmetry == .auto && fabric.rankCount >= 128 ? FabricSymmetry.rotation(integer) : nil
        if let rotation { progress?("symmetry: a rotation of order \(rotation.length) (\(rotation.colourClasses) rank classes)") }
        func optimum(_ part: IntegerFabric) throws(SynthesisError) -> OptimalRate {
            if let engine {
                do { return try engine(part, roots) } catch { throw .engineFailed("\(error)") }
            }
            // Under the rotation λ(s, t) is the same along each cycle: one max-flow per cycle
            // (only on the capacities the rotation was found for).
            // The roots must be a union of cycles; then every rank cycle needs one test.
            let sinks = part.capacities == integer.capacities && rotation?.representatives(of: roots) != nil
                ? rotation?.representatives(of: fabric.ranks) : nil
            return RateSearch.optimalRate(part, roots: roots, sinks: sinks, progress: progress)
        }
        var rate = try optimum(integer)
        var excessBound: OptimalRate?
        var balancedOptimum: Double?
        let trimmed = integer.balanced()
        guard trimmed.balances else {
            throw .unbalanced("the switches' larger sides could not be trimmed to balance — "
                              + fabric.switchImbalances().prefix(3).map { "'\(fabric.name(of: $0.switch))'" }.joined(separator: ", ")
                              + "; please report this fabric")
        }
        if let part = trimmed.part {
            // Unbalanced switches: the bound as given stays an upper bound; trees need a
            // balanced part. Water-filling gives one; a balancer (the LP) the best one, on a
            // finer grid. The part with the higher exact rate is kept.
            progress?("unbalanced switches: building on the balanced part")
            excessBound = rate
            var parts = [part]
            if let balancer {
                do {
                    let best = try balancer(integer, roots)
                    balancedOptimum = best.perRootUnits / Double(integer.scale)
                    if let grid = SwitchBalance.gridCapacities(integer, best.capacities) { parts.insert(grid, at: 0) }
                } catch {
                    // Water-filling still gives a balanced part; the report then has no LP line.
                    progress?("the balanced-part LP failed (\(error)); water-filling alone")
                }
            }
            var chosen: (IntegerFabric, OptimalRate)?
            for p in parts where p.connects(roots) {
                let r = try optimum(p)
                if chosen == nil || r.perRoot > chosen!.1.perRoot { chosen = (p, r) }
            }
            guard let chosen else {
                let names = fabric.switchImbalances().prefix(3).map { "'\(fabric.name(of: $0.switch))' (in \($0.in.decimalString), out \($0.out.decimalString) GB/s)" }
                throw .unbalanced("once every switch forwards only what it can both receive and send — " + names.joined(separator: ", ")
                                  + " — some rank is cut off from the roots; give the switches' missing links")
            }
            (integer, rate) = chosen
        }
        // x* = P/Q capacity units per root. With k trees per root, one tree unit is x*/k, and a
        // link of capacity c holds c·k·Q/P units: the least k that makes all of these integers.
        let (p, q) = (rate.perRootUnits.numerator, rate.perRootUnits.denominator)
        // With G = gcd(P, Q·g) (g the capacities' gcd): k = P/G, and c·k·Q/P = c·Q/G, an integer
        // since G divides Q·g and g divides c. Both stay below the headroom checked on entry.
        let g = integer.capacities.reduce(0, Rational.gcd)
        let G = Rational.gcd(p, q * g)
        var k = p / G
        var units = integer.capacities.map { $0 * q / G }
        var capped: FixedKSearch.Result?
        if let cap = treesPerRoot, cap < k {
            // Fewer tree units than the optimum needs: the best rate with exactly `cap`.
            let found = FixedKSearch.search(integer, roots: roots, k: cap, optimum: rate.perRootUnits, progress: progress)
            (k, units, capped) = (cap, found.capacities, found)
        }
        /// The fabric with `units` times `m` on its links, before any switch is split.
        func routed(_ m: Int = 1) -> RoutedGraph {
            var g = RoutedGraph(vertexCount: fabric.vertexCount)
            for (i, l) in fabric.links.enumerated() { g.add(l.from.rawValue, l.to.rawValue, [Route(switches: [], amount: units[i] * m)]) }
            return g
        }
        let original = routed()
        var graph = original
        var fast: [TreePacker.Partial]?
        var rotationOrder: Int?
        var torusShape: TorusShape?
        if construction == .automatic, capped == nil, let rotation, Set(roots) == Set(fabric.ranks),
           let torus = TorusForest.recognize(integer, rotation: rotation),
           let w = TorusForest.weights(torus, k: k, capacity: units[0]),
           IntegerFabric.withinHeadroom(units, multiplier: w.multiplier, ranks: fabric.rankCount) {
            // A torus: four tree shapes translated to every root fill every link exactly.
            progress?("torus \(torus.rows) × \(torus.cols): trees by construction")
            k *= w.multiplier
            graph = routed(w.multiplier)
            fast = TorusForest.trees(torus, p: w.p, q: w.q)
            torusShape = TorusShape(rows: torus.rows, cols: torus.cols)
        }
        if construction == .automatic, fast == nil, let rotation {
            // Up to a rotation: trees for one root per cycle, mapped to the rest.
            // Units as they are, then L times finer: averaging any packing over the rotation
            // gives a symmetric one in multiples of 1/L, so the finer units always admit one.
            // Not with a cap: finer units would multiply the trees per root past it.
            let finer = capped == nil && IntegerFabric.withinHeadroom(units, multiplier: rotation.length, ranks: fabric.rankCount)
            attempts: for m in finer ? [1, rotation.length] : [1] {
                let scaled = m == 1 ? original : routed(m)
                for attempt in FastPath.attempts {
                    graph = scaled
                    guard attempt.split(&graph, fabric) else { continue }
                    fast = SymmetricPacking.pack(capacity: graph.capacity, rankCount: fabric.rankCount, roots: roots, k: k * m,
                                                 rotation: rotation, rule: attempt.rule, progress: progress)
                    if fast != nil {
                        rotationOrder = rotation.length
                        k *= m
                        break attempts
                    }
                }
            }
        }
        if construction == .automatic && fast == nil {
            // Shallow trees first (switches as complete graphs, then between parts), then rings,
            // then the exact path.
            for attempt in FastPath.attempts {
                graph = original
                guard attempt.split(&graph, fabric) else { continue }
                fast = FastPath.greedyPack(capacity: graph.capacity, rankCount: fabric.rankCount, roots: roots, k: k,
                                           rule: attempt.rule, progress: progress)
                if fast != nil { break }
            }
            if fast == nil { progress?("greedy packing fell short; running exact switch removal and packing") }
        }
        let partials: [TreePacker.Partial]
        var spreadPacked: [TreePacker.Partial]?
        if fast == nil && construction == .automatic && roots.count * k <= 16 * fabric.rankCount {
            // The spread split often keeps the connectivity that packing needs even where greedy
            // packing on it falls short: one max-flow per rank certifies it, then exact packing.
            // Exact packing costs O(trees · N · deg) max-flows, and the spread split's degree is
            // the switches' ports squared: with many tree units (a single-root broadcast on
            // fractional bandwidths has thousands) the sparser exact split packs far faster.
            graph = original
            if FastPath.spreadSplit(&graph, fabric: fabric), EdgeSplitter.certifies(graph, fabric: fabric, roots: roots, k: k) {
                spreadPacked = try? TreePacker.pack(capacity: graph.capacity, rankCount: fabric.rankCount, roots: roots, k: k, progress: progress)
            }
        }
        if let found = fast ?? spreadPacked {
            partials = found
        } else {
            graph = original
            do {
                try EdgeSplitter.removeSwitches(&graph, fabric: fabric, roots: roots, k: k, progress: progress)
            } catch {
                throw .switchRemovalFailed(error.switchName)
            }
            do {
                partials = try TreePacker.pack(capacity: graph.capacity, rankCount: fabric.rankCount, roots: roots, k: k, progress: progress)
            } catch {
                throw .packingFailed(root: error.root)
            }
        }
        var packed = partials
        // Exchanges cost O(trees² · N²) a sweep: only for forests of up to 256 unit trees.
        if capped != nil && roots.count * k <= 256 {
            packed = shallowest(partials, graph: graph, fabric: fabric, roots: roots, k: k,
                                restarts: fast == nil && fabric.rankCount <= 64 ? 16 : 0)
        }
        // Without switches every arc is its link: one route list per tree, shared by its arcs
        // (the check below still counts every link's load).
        let direct = fabric.switches.isEmpty
        let trees = packed.map { t in
            let own = [Route(switches: [], amount: t.multiplicity)]
            return Arborescence(root: Rank(t.root), multiplicity: t.multiplicity, arcs: t.arcs.map { a in
                TreeArc(from: Rank(a.from), to: Rank(a.to), routes: direct ? own : graph.take(a.from, a.to, t.multiplicity))
            })
        }
        var forest = Forest(direction: .outward, roots: roots, treesPerRoot: k, trees: trees, bound: rate, builtGreedily: fast != nil)
        forest.excessBound = excessBound
        forest.balancedOptimum = balancedOptimum
        forest.rotationOrder = rotationOrder
        forest.torus = torusShape
        if let capped {
            forest.cap = TreeCap(treesPerRoot: k, scale: capped.scale, relaxedScale: capped.relaxedScale,
                                 upperBoundPerRoot: Rational(k) / capped.relaxedScale / Rational(integer.scale), maxFlowRuns: capped.maxFlowRuns)
        }
        return forest
    }
}

extension Synthesizer {
    /// A capped forest's trees, as shallow as parent exchanges and a few repackings make them.
    ///
    /// With at most K units per root every tree can have multiplicity one, so any two trees may
    /// exchange parents (`ParentExchange`); identical trees of one root are joined again after.
    /// Packing is greedy, so the trees packed last are the deep ones; `restarts` more packings
    /// of the same split graph, roots and arcs in seeded shuffled orders, each exchanged in
    /// turn, and the forest with the least (deepest tree, sum of squared depths) is kept. Every
    /// candidate uses the same capacities, so the rate is the same. Deterministic.
    static func shallowest(_ partials: [TreePacker.Partial], graph: RoutedGraph, fabric: Fabric, roots: [Rank], k: Int,
                           restarts: Int) -> [TreePacker.Partial] {
        let n = fabric.rankCount
        func improved(_ trees: [TreePacker.Partial]) -> (trees: [TreePacker.Partial], score: (Int, Int)) {
            var units = trees.flatMap { t in
                Array(repeating: TreePacker.Partial(root: t.root, multiplicity: 1, inTree: t.inTree, order: t.order, arcs: t.arcs), count: t.multiplicity)
            }
            ParentExchange.shallower(&units, rankCount: n, capacity: graph.capacity)
            let depths = units.map { ParentExchange.depth(of: $0, rankCount: n) }
            return (ParentExchange.merged(units), (depths.max() ?? 0, depths.reduce(0) { $0 + $1 * $1 }))
        }
        var best = improved(partials)
        for seed in 0..<UInt64(max(restarts, 0)) {
            guard let again = try? TreePacker.pack(capacity: graph.capacity, rankCount: n, roots: roots, k: k, seed: seed + 1, progress: nil) else { continue }
            let candidate = improved(again)
            if candidate.score < best.score { best = candidate }
        }
        return best.trees
    }
}

extension Forest {
    /// Turns out-trees computed on the transposed fabric into in-trees on the original one.
    func reversed() -> Forest {
        var f = self
        f.direction = direction == .outward ? .inward : .outward
        f.trees = trees.map { t in
            Arborescence(root: t.root, multiplicity: t.multiplicity, arcs: t.arcs.map { a in
                TreeArc(from: a.to, to: a.from, routes: a.routes.map { Route(switches: $0.switches.reversed(), amount: $0.amount) })
            })
        }
        return f
    }
}
