import GroveTopology

/// Cheap first attempts at switch removal and tree packing, used before the exact algorithms.
///
/// Three attempts (`attempts`), shallowest trees first. The spread split turns a switch into a
/// complete graph: in-neighbour u's capacity a_u goes to every other out-neighbour v in
/// proportion to b_v (γ_uv = ⌊a_u·b_v / (C − b_u)⌋, C the switch's capacity; exact row sums
/// before rounding, and for a symmetric switch of d equal ports every pair gets c/(d − 1)), so
/// any rank reaches any other behind the same switch in one hop. The part split does the same
/// only between the parts a switch joins (boxes, hosts), placing what rounding leaves by one
/// small max-flow. The rotation split pairs neighbour i's incoming capacity with neighbour
/// i+1's outgoing one, so a symmetric switch becomes a ring — as good as a switch for every cut
/// that matters on rail and NVSwitch fabrics, but trees over it are chains. What a split leaves
/// goes round by rotation.
///
/// Packing is greedy: round-robin over roots, each tree the widest-bottleneck arborescence of
/// the residual graph — Prim's tree itself after the part split, else the shallowest among the
/// widest (breadth-first over the arcs at least as wide as the bottleneck) — carrying as much
/// of its root's multiplicity as that bottleneck allows. No max-flow checks the trees. An
/// attempt succeeds only if every root gets its k units of spanning trees within capacity —
/// and then the packing is valid by construction, since capacity is never exceeded; otherwise
/// the caller tries the next attempt, then the exact algorithms. Cost: O(Σ deg(w)²) for the
/// spread splits (at most `pairBudget` pairs), O(trees · (V² + E)) for the packing.
enum FastPath {
    /// How a greedy tree is chosen on the residual graph.
    enum TreeRule: Sendable {
        /// The widest bottleneck, and among those the shallowest (breadth-first).
        case shallowWidest
        /// Prim's widest tree itself: wide arcs first, so a tree covers a box over its wide
        /// internal links before it takes a narrow NIC arc to the next box — it enters each box
        /// once, as a tight box cut needs, where the breadth-first tree would take a NIC arc to
        /// every rank it can reach.
        case widest
    }

    /// A switch split and the tree rule greedy packing uses on it.
    struct Attempt: Sendable {
        /// Splits every switch; false when it would only repeat an earlier attempt's split or
        /// gave up past `pairBudget` (the graph is then partly split: the caller starts over).
        var split: @Sendable (inout RoutedGraph, Fabric) -> Bool
        var rule: TreeRule
    }

    /// The attempts in order: spread (shallowest trees), spread between parts with Prim's trees
    /// (fabrics of boxes behind a switch: MI250, hosts behind ToRs), rotation (rings).
    static let attempts: [Attempt] = [
        Attempt(split: { spreadSplit(&$0, fabric: $1) }, rule: .shallowWidest),
        Attempt(split: { partSplit(&$0, fabric: $1) }, rule: .widest),
        Attempt(split: { rotationSplit(&$0, fabric: $1); return true }, rule: .shallowWidest),
    ]

    /// The complete-graph split described above, then the rotation split for the remainder.
    /// False, with the graph half split, once the pairs exceed `pairBudget`.
    @discardableResult
    static func spreadSplit(_ graph: inout RoutedGraph, fabric: Fabric) -> Bool {
        var budget = pairBudget
        for w in fabric.switches {
            guard spread(&graph, through: w.rawValue, group: { $0 }, budget: &budget) else { return false }
        }
        rotationSplit(&graph, fabric: fabric)
        return true
    }

    /// The most switch pairs a complete-graph split may create, over all switches: 4M arcs hold
    /// about 1 GB with their routes. A two-tier cloud of 1 000 ranks would put every rank pair on
    /// each spine (4 × 10⁶); the sparser splits serve it.
    static let pairBudget = 4_000_000

    /// The spread split between the parts a switch joins: without switch w the fabric falls into
    /// components (the boxes behind a cluster switch, the hosts behind a ToR, with the uplinks
    /// in a part of their own), and w's in-capacity goes only to out-neighbours in another part,
    /// in proportion to their capacity. A pair within one part wastes the switch on a route the
    /// part has already — on MI250 the spread split sends 15 of every 127 NIC units back into
    /// their own box, and the box cut, the bound, loses that. A switch whose neighbours stay
    /// connected without it (an NVSwitch once the boxes are joined) is spread as before.
    /// Returns false when no switch separates anything (then it is the spread split; nothing is
    /// split) or when the pairs exceed `pairBudget` (the graph partly split). O(S · (V + E) +
    /// Σ deg(w)²), plus the trimming.
    static func partSplit(_ graph: inout RoutedGraph, fabric: Fabric) -> Bool {
        let parts = fabric.switches.map { components(of: fabric, without: $0) }
        guard parts.contains(where: { $0 != nil }) else { return false }
        trimDeadCapacity(&graph, fabric: fabric)
        // Farthest from the ranks first (spines, then ToRs, then host switches): a switch's
        // neighbours are then the parts below it, not ranks a switch above would mix.
        let hops = hopsFromRanks(fabric)
        var budget = pairBudget
        for (w, part) in zip(fabric.switches, parts).sorted(by: { (hops[$0.0.rawValue], $1.0.rawValue) > (hops[$1.0.rawValue], $0.0.rawValue) }) {
            guard spread(&graph, through: w.rawValue, group: { part?[$0] ?? $0 }, exact: true, budget: &budget) else { return false }
        }
        rotationSplit(&graph, fabric: fabric)
        return true
    }

    /// Drops capacity no flow can use: what enters switch v from w beyond what v can send to
    /// anyone but w (a one-rank host with a 50 GB/s NIC on a 32 GB/s PCIe link: 18 GB/s of the
    /// NIC could only go back out), and what leaves v for w beyond what v gets from anyone but
    /// w. Flow through v from w has to leave towards another vertex, so every flow of the graph
    /// still fits; but a split would otherwise pair such dead capacity with live capacity of other
    /// parts and lose the latter. Repeated until nothing changes (trimming can cascade up a
    /// tier), at most 16 sweeps. O(sweeps · S · E): the routed graph lists a switch's arcs by a
    /// scan of all arcs.
    static func trimDeadCapacity(_ graph: inout RoutedGraph, fabric: Fabric) {
        var changed = true
        var sweeps = 0
        while changed && sweeps < 16 {
            changed = false
            sweeps += 1
            for w in fabric.switches {
                let v = w.rawValue
                let ins = graph.inArcs(of: v), outs = graph.outArcs(of: v)
                let inCap = Dictionary(uniqueKeysWithValues: ins.map { ($0, graph.capacity[.init(from: $0, to: v)] ?? 0) })
                let outCap = Dictionary(uniqueKeysWithValues: outs.map { ($0, graph.capacity[.init(from: v, to: $0)] ?? 0) })
                let inTotal = inCap.values.reduce(0, +), outTotal = outCap.values.reduce(0, +)
                for (u, c) in inCap {
                    let usable = outTotal - (outCap[u] ?? 0)
                    if c > usable { _ = graph.take(u, v, c - max(usable, 0)); changed = true }
                }
                for (x, c) in outCap {
                    let usable = inTotal - (inCap[x] ?? 0)
                    if c > usable { _ = graph.take(v, x, c - max(usable, 0)); changed = true }
                }
            }
        }
    }

    /// Links to the nearest rank, per vertex, either direction (ranks 0). Breadth-first, O(V + E).
    static func hopsFromRanks(_ fabric: Fabric) -> [Int] {
        var adjacency = Array(repeating: [Int](), count: fabric.vertexCount)
        for l in fabric.links { adjacency[l.from.rawValue].append(l.to.rawValue); adjacency[l.to.rawValue].append(l.from.rawValue) }
        var hops = Array(repeating: Int.max, count: fabric.vertexCount)
        var level = Array(0..<fabric.rankCount)
        for r in level { hops[r] = 0 }
        var d = 0
        while !level.isEmpty {
            d += 1
            var next: [Int] = []
            for x in level { for y in adjacency[x] where hops[y] == Int.max { hops[y] = d; next.append(y) } }
            level = next
        }
        return hops
    }

    /// The weakly connected components of `fabric` without `w`, as a representative per vertex,
    /// or nil when all of w's neighbours fall into one component. Union-find, O(E α).
    static func components(of fabric: Fabric, without w: VertexID) -> [Int]? {
        var parent = Array(0..<fabric.vertexCount)
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
            return x
        }
        var neighbours: Set<Int> = []
        for l in fabric.links {
            if l.from == w { neighbours.insert(l.to.rawValue); continue }
            if l.to == w { neighbours.insert(l.from.rawValue); continue }
            let (a, b) = (find(l.from.rawValue), find(l.to.rawValue))
            if a != b { parent[a] = b }
        }
        guard Set(neighbours.map(find)).count > 1 else { return nil }
        return (0..<fabric.vertexCount).map(find)
    }

    /// Splits switch `sw` as a complete graph between neighbours of different `group`: in-neighbour
    /// u's capacity a_u goes to every out-neighbour v outside u's group in proportion to b_v,
    /// γ_uv = ⌊a_u·b_v / (C − B_u)⌋ with B_u the out-capacity of u's group (exact row sums before
    /// rounding; column sums exact when the groups are alike). With `exact`, the amounts are a
    /// maximum flow from the in-arcs to the out-arcs over the pairs between groups, each pair
    /// held to 2γ_uv + 1 (so still spread), or unbounded if that cannot take everything: rounding
    /// and unequal groups then leave nothing a later pass would have to pair within a group. Not
    /// when the proportional amounts already pair all of the capacity.
    /// O(deg(sw)²), plus the max-flow with `exact`.
    private static func spread(_ graph: inout RoutedGraph, through sw: Int, group: (Int) -> Int, exact: Bool = false,
                               budget: inout Int) -> Bool {
        let ins = graph.inArcs(of: sw), outs = graph.outArcs(of: sw)
        guard ins.count > 1 || outs.count > 1 else { return true }
        budget -= ins.count * outs.count
        guard budget >= 0 else { return false }
        let a = ins.map { graph.capacity[.init(from: $0, to: sw)] ?? 0 }
        let b = outs.map { graph.capacity[.init(from: sw, to: $0)] ?? 0 }
        let total = b.reduce(0, +)
        var groupOut: [Int: Int] = [:]
        for (j, v) in outs.enumerated() { groupOut[group(v), default: 0] += b[j] }
        var shares: [(i: Int, j: Int, amount: Int)] = []
        for (i, u) in ins.enumerated() {
            let g = group(u)
            let rest = total - (groupOut[g] ?? 0)
            guard rest > 0 else { continue }
            for (j, v) in outs.enumerated() where group(v) != g {
                // a·b/rest without overflow: both factors are below the checked headroom.
                let product = a[i].multipliedFullWidth(by: b[j])
                shares.append((i, j, rest.dividingFullWidth(product).quotient))
            }
        }
        var columns = Array(repeating: 0, count: outs.count)
        for share in shares { columns[share.j] += share.amount }
        let want = min(a.reduce(0, +), total)
        let fits = zip(columns, b).allSatisfy { $0 <= $1 } && columns.reduce(0, +) == want
        if exact && !fits {
            // The proportional amounts (σ-invariant on a symmetric fabric) are kept when they
            // pair everything; only otherwise a max-flow, whose answer need not be symmetric.
            for bounded in [true, false] {
                var net = FlowNetwork(vertexCount: ins.count + outs.count + 2)
                let (source, sink) = (ins.count + outs.count, ins.count + outs.count + 1)
                for i in ins.indices { net.addArc(source, i, capacity: a[i]) }
                for j in outs.indices { net.addArc(ins.count + j, sink, capacity: b[j]) }
                let arcs = shares.map { net.addArc($0.i, ins.count + $0.j, capacity: bounded ? 2 * $0.amount + 1 : FlowNetwork.infinity) }
                guard net.maxFlow(from: source, to: sink) == want || !bounded else { continue }
                shares = zip(shares, arcs).map { ($0.i, $0.j, net.flow(onArc: $1)) }
                break
            }
        }
        let w = VertexID(sw)
        for (i, j, amount) in shares {
            let (u, v) = (ins[i], outs[j])
            let left = min(amount, graph.capacity[.init(from: u, to: sw)] ?? 0, graph.capacity[.init(from: sw, to: v)] ?? 0)
            guard left > 0 else { continue }
            let first = graph.take(u, sw, left), second = graph.take(sw, v, left)
            graph.add(u, v, EdgeSplitter.concatenate(first, through: w, second))
        }
        return true
    }

    static func rotationSplit(_ graph: inout RoutedGraph, fabric: Fabric) {
        for w in fabric.switches {
            let sw = w.rawValue
            let ins = graph.inArcs(of: sw)
            var outs = graph.outArcs(of: sw)
            guard !ins.isEmpty, !outs.isEmpty else { continue }
            // Rotate the out-list so that it starts after the first in-neighbour.
            if let k = outs.firstIndex(where: { $0 > ins[0] }) { outs = Array(outs[k...] + outs[..<k]) }
            var i = 0, j = 0
            while i < ins.count && j < outs.count {
                let u = ins[i], v = outs[j]
                let a = graph.capacity[.init(from: u, to: sw)] ?? 0
                let b = graph.capacity[.init(from: sw, to: v)] ?? 0
                let amount = min(a, b)
                if amount > 0 {
                    let first = graph.take(u, sw, amount), second = graph.take(sw, v, amount)
                    if u != v { graph.add(u, v, EdgeSplitter.concatenate(first, through: w, second)) }
                }
                if a - amount == 0 { i += 1 }
                if b - amount == 0 { j += 1 }
            }
        }
    }

    static func greedyPack(capacity: [RoutedGraph.Key: Int], rankCount n: Int, roots: [Rank], k: Int, rule: TreeRule = .shallowWidest,
                           progress: ((String) -> Void)?) -> [TreePacker.Partial]? {
        var residual = Array(repeating: [Int: Int](), count: n)
        for (key, c) in capacity where key.from < n && key.to < n && c > 0 { residual[key.from][key.to] = c }
        var remaining = Dictionary(uniqueKeysWithValues: roots.map { ($0.rawValue, k) })
        var trees: [TreePacker.Partial] = []
        while true {
            var progressed = false
            for r in roots.map(\.rawValue) where remaining[r]! > 0 {
                let found = rule == .widest ? widestArborescence(root: r, residual: residual, n: n)
                                            : shallowWidestArborescence(root: r, residual: residual, n: n)
                guard let tree = found else { return nil }
                let mu = min(remaining[r]!, tree.bottleneck)
                for (x, y) in tree.arcs { residual[x][y]! -= mu }
                remaining[r]! -= mu
                var inTree = Array(repeating: true, count: n)
                inTree[r] = true
                trees.append(TreePacker.Partial(root: r, multiplicity: mu, inTree: inTree,
                                                order: [r] + tree.arcs.map(\.1), arcs: tree.arcs))
                progressed = true
                if trees.count % 256 == 0 { progress?("tree packing (greedy): \(trees.count) trees") }
            }
            if !progressed { return trees }
        }
    }

    /// Prim's rule for the widest bottleneck: repeatedly add the arc of largest residual capacity
    /// leaving the tree. Returns nil if some rank cannot be reached with positive capacity. O(V²).
    static func widestArborescence(root: Int, residual: [[Int: Int]], n: Int) -> (arcs: [(Int, Int)], bottleneck: Int)? {
        var best = Array(repeating: 0, count: n)
        var parent = Array(repeating: -1, count: n)
        var inTree = Array(repeating: false, count: n)
        inTree[root] = true
        for (y, c) in residual[root] where c > best[y] { best[y] = c; parent[y] = root }
        var arcs: [(Int, Int)] = []
        var bottleneck = Int.max
        for _ in 1..<n {
            var pick = -1
            for v in 0..<n where !inTree[v] && best[v] > 0 && (pick < 0 || best[v] > best[pick]) { pick = v }
            if pick < 0 { return nil }
            inTree[pick] = true
            arcs.append((parent[pick], pick))
            bottleneck = min(bottleneck, best[pick])
            for (y, c) in residual[pick] where !inTree[y] && c > best[y] { best[y] = c; parent[y] = pick }
        }
        return (arcs, bottleneck)
    }

    /// The widest bottleneck θ (Prim), then a breadth-first tree over the arcs of residual ≥ θ:
    /// the shallowest arborescence among the widest ones. Each rank's parent is the one of the
    /// previous level with the most residual capacity towards it. O(V² + E).
    static func shallowWidestArborescence(root: Int, residual: [[Int: Int]], n: Int) -> (arcs: [(Int, Int)], bottleneck: Int)? {
        guard let widest = widestArborescence(root: root, residual: residual, n: n) else { return nil }
        let theta = widest.bottleneck
        var parent = Array(repeating: -1, count: n)
        var width = Array(repeating: 0, count: n)
        var depth = Array(repeating: -1, count: n)
        parent[root] = root
        depth[root] = 0
        var level = [root]
        var arcs: [(Int, Int)] = []
        var d = 0
        while !level.isEmpty {
            d += 1
            var next: [Int] = []
            for x in level {
                for (y, c) in residual[x] where c >= theta {
                    if depth[y] < 0 {
                        parent[y] = x; width[y] = c; depth[y] = d; next.append(y)
                    } else if depth[y] == d && width[y] < c {
                        parent[y] = x; width[y] = c
                    }
                }
            }
            next.sort()
            for y in next { arcs.append((parent[y], y)) }
            level = next
        }
        return arcs.count == n - 1 ? (arcs, theta) : nil
    }
}
