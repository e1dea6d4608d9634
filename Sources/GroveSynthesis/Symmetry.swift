import GroveTopology

/// A rotation of a fabric: an automorphism σ (ranks to ranks, switches to switches, every link
/// to a link of the same capacity) whose cycles on the ranks all have the same length L ≥ 2 —
/// boxes shifted by one, a torus shifted by one row, a ring turned by one rank. ⟨σ⟩ then acts
/// freely on ranks and on the arcs between them, so trees need only be built for one root per
/// cycle and mapped by σ, σ², … (`SymmetricPacking`).
public struct FabricRotation: Sendable, Equatable {
    /// σ as a permutation of vertex indices.
    public var permutation: [Int]
    /// L: the length of every rank cycle (the order of σ on the ranks).
    public var length: Int
    /// Ranks per orbit class after colour refinement (for the report).
    public var colourClasses: Int

    /// One rank per σ-cycle (the least index) among `roots`, or nil when σ does not map the
    /// roots onto themselves.
    func representatives(of roots: [Rank]) -> [Rank]? {
        let set = Set(roots.map(\.rawValue))
        guard roots.allSatisfy({ set.contains(permutation[$0.rawValue]) }) else { return nil }
        return roots.filter { r in
            var x = permutation[r.rawValue]
            while x != r.rawValue { if x < r.rawValue { return false }; x = permutation[x] }
            return true
        }
    }
}

public enum FabricSymmetry {
    /// Colour refinement (1-dimensional Weisfeiler–Leman) on the weighted directed fabric: ranks
    /// and switches start apart; a vertex's next colour is its colour with the sorted lists of
    /// (neighbour's colour, capacity) over its out- and in-links, until the number of classes
    /// stops growing. Vertices an automorphism maps onto each other always share a colour; on
    /// the fabrics here (boxes, rails, tori, rings) the classes are the orbits. O((V + E) log E)
    /// per round, at most V rounds (a handful in practice).
    public static func colourClasses(_ fabric: IntegerFabric) -> [Int] {
        let f = fabric.fabric
        let v = f.vertexCount
        var outs = Array(repeating: [(Int, Int)](), count: v), ins = outs
        for (i, l) in f.links.enumerated() {
            outs[l.from.rawValue].append((l.to.rawValue, fabric.capacities[i]))
            ins[l.to.rawValue].append((l.from.rawValue, fabric.capacities[i]))
        }
        var colour = (0..<v).map { f.isRank(VertexID($0)) ? 0 : 1 }
        var count = Set(colour).count
        while true {
            let signatures: [[Int]] = (0..<v).map { x in
                func side(_ list: [(Int, Int)]) -> [Int] {
                    list.map { (colour[$0.0], $0.1) }.sorted { $0 < $1 }.flatMap { [$0.0, $0.1] }
                }
                return [colour[x], outs[x].count] + side(outs[x]) + [-1] + side(ins[x])
            }
            let distinct = Array(Set(signatures)).sorted { $0.lexicographicallyPrecedes($1) }
            guard distinct.count > count else { break }
            let id = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            colour = signatures.map { id[$0]! }
            count = distinct.count
        }
        return colour
    }

    /// The longest rotation found among the aligned shifts: for each L dividing every rank
    /// class's size (largest first), σ moves each rank class's members, in vertex order, on by
    /// size/L places; each switch then goes where its links lead (the switch of its colour that
    /// the image of an already placed neighbour reaches by a link of the same capacity; switches
    /// whose neighbours are all switches follow once those are placed), and σ is kept if it maps
    /// every link onto a link of equal capacity. Generated fabrics list boxes, rows and ring
    /// positions in order, so the shift that is a symmetry is among these; a fabric listed
    /// otherwise may have symmetry this does not find (nil then, and synthesis goes on
    /// without). O(divisors · (E + switches · degree)) after the refinement.
    public static func rotation(_ fabric: IntegerFabric) -> FabricRotation? {
        let f = fabric.fabric
        guard f.rankCount >= 4 else { return nil }
        let v = f.vertexCount
        let colour = colourClasses(fabric)
        var members = [Int: [Int]]()
        for x in 0..<v { members[colour[x], default: []].append(x) }
        let rankClasses = members.values.filter { f.isRank(VertexID($0[0])) }
        let g = rankClasses.reduce(0) { Rational.gcd($0, $1.count) }
        guard g >= 2 else { return nil }
        var capacity = [Int: Int]()
        var neighbours = Array(repeating: [(vertex: Int, out: Bool, capacity: Int)](), count: v)
        for (i, l) in f.links.enumerated() {
            let (a, b, c) = (l.from.rawValue, l.to.rawValue, fabric.capacities[i])
            capacity[a * v + b] = c
            neighbours[a].append((b, true, c))
            neighbours[b].append((a, false, c))
        }
        for length in (2...g).reversed() where g % length == 0 {
            var sigma = Array(repeating: -1, count: v)
            for list in rankClasses {
                let s = list.count / length
                for (p, x) in list.enumerated() { sigma[x] = list[(p + s) % list.count] }
            }
            var taken = Array(repeating: false, count: v)
            var open = f.switches.map(\.rawValue)
            while !open.isEmpty {
                var still: [Int] = []
                for w in open {
                    // A placed neighbour u with a link u → w (or w → u) of capacity c: w's image is
                    // a switch of w's colour linked the same way to σ(u).
                    guard let anchor = neighbours[w].first(where: { sigma[$0.vertex] >= 0 }) else { still.append(w); continue }
                    let image = neighbours[sigma[anchor.vertex]].first { x in
                        x.out == !anchor.out && x.capacity == anchor.capacity && !f.isRank(VertexID(x.vertex))
                            && colour[x.vertex] == colour[w] && !taken[x.vertex]
                    }
                    guard let image else { still = []; open = []; break }
                    sigma[w] = image.vertex
                    taken[image.vertex] = true
                }
                if still.count == open.count { break } // nothing placed this pass
                open = still
            }
            guard !sigma.contains(-1) else { continue }
            let preserves = f.links.indices.allSatisfy { i in
                let l = f.links[i]
                return capacity[sigma[l.from.rawValue] * v + sigma[l.to.rawValue]] == fabric.capacities[i]
            }
            if preserves {
                return FabricRotation(permutation: sigma, length: length, colourClasses: rankClasses.count)
            }
        }
        return nil
    }
}

/// Greedy tree packing up to a rotation σ of order L: trees are grown for one root per σ-cycle
/// only, and each is mapped by σ^j for j < L. A tree of multiplicity μ that crosses n arcs of
/// one σ-orbit of arcs puts μ·n on every arc of that orbit once mapped (the action is free, so
/// the L images of an arc are distinct), so the packing keeps one residual per arc orbit and a
/// tree's multiplicity is at most min over its orbits of residual/n. Trees are the shallowest
/// among the widest (Prim on the orbit residuals, then breadth-first over arcs at least as
/// wide) or Prim's tree itself, by the attempt's rule, as in `FastPath`. Needs the split graph
/// to be σ-invariant (checked). Succeeds when every representative root gets its k units; the
/// caller falls back otherwise. Cost: O(V² + E) per tree for N/L roots' trees instead of N
/// roots', plus O(L · N · trees) to map them.
enum SymmetricPacking {
    static func pack(capacity: [RoutedGraph.Key: Int], rankCount n: Int, roots: [Rank], k: Int,
                     rotation: FabricRotation, rule: FastPath.TreeRule = .shallowWidest,
                     progress: ((String) -> Void)?) -> [TreePacker.Partial]? {
        let sigma = rotation.permutation, length = rotation.length
        // The roots must be a union of σ-cycles; one representative (least index) per cycle.
        guard let representatives = rotation.representatives(of: roots)?.map(\.rawValue) else { return nil }
        // Arcs between ranks, in (from, to) order, as CSR; each arc's orbit.
        let keys = capacity.keys.filter { $0.from < n && $0.to < n && capacity[$0]! > 0 }.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
        guard keys.count == capacity.values.filter({ $0 > 0 }).count else { return nil } // arcs through switches left
        var index = [RoutedGraph.Key: Int](minimumCapacity: keys.count)
        for (i, key) in keys.enumerated() { index[key] = i }
        var orbit = Array(repeating: -1, count: keys.count)
        var residual: [Int] = []
        for (i, key) in keys.enumerated() where orbit[i] < 0 {
            let id = residual.count
            residual.append(capacity[key]!)
            var (u, v) = (key.from, key.to)
            for _ in 0..<length {
                guard let j = index[.init(from: u, to: v)], capacity[keys[j]] == capacity[key] else { return nil } // not σ-invariant
                orbit[j] = id
                (u, v) = (sigma[u], sigma[v])
            }
            guard u == key.from && v == key.to else { return nil }
        }
        var start = Array(repeating: 0, count: n + 1)
        for key in keys { start[key.from + 1] += 1 }
        for x in 0..<n { start[x + 1] += start[x] }
        let head = keys.map(\.to)

        var remaining = Dictionary(uniqueKeysWithValues: representatives.map { ($0, k) })
        var built: [(root: Int, multiplicity: Int, arcs: [(from: Int, to: Int)])] = []
        var count = Array(repeating: 0, count: residual.count)
        while true {
            var progressed = false
            for r in representatives where remaining[r]! > 0 {
                guard let arcs = tree(root: r, n: n, start: start, head: head, rule: rule, width: { residual[orbit[$0]] }) else { return nil }
                var used: [Int] = []
                for a in arcs {
                    if count[orbit[a]] == 0 { used.append(orbit[a]) }
                    count[orbit[a]] += 1
                }
                let bottleneck = used.map { residual[$0] / count[$0] }.min() ?? 0
                let mu = min(remaining[r]!, bottleneck)
                for o in used { residual[o] -= mu * count[o]; count[o] = 0 }
                guard mu > 0 else { return nil }
                remaining[r]! -= mu
                built.append((r, mu, arcs.map { (keys[$0].from, keys[$0].to) }))
                progressed = true
                if built.count % 64 == 0 { progress?("tree packing (symmetric, \(representatives.count) of \(roots.count) roots): \(built.count) trees") }
            }
            if !progressed { break }
        }
        // Map every tree by σ^j.
        var partials: [TreePacker.Partial] = []
        partials.reserveCapacity(built.count * length)
        for t in built {
            var map = Array(0..<n)
            for _ in 0..<length {
                let root = map[t.root]
                let arcs = t.arcs.map { (from: map[$0.from], to: map[$0.to]) }
                partials.append(TreePacker.Partial(root: root, multiplicity: t.multiplicity, inTree: [], order: [root] + arcs.map(\.to), arcs: arcs))
                for x in 0..<n { map[x] = sigma[map[x]] }
            }
        }
        return partials
    }

    /// The widest bottleneck θ by Prim, then breadth-first over arcs of width ≥ θ, each rank's
    /// parent the widest arc from the previous level (`.widest`: Prim's tree itself). Returns
    /// arc indices, or nil if some rank cannot be reached with positive width. O(V² + E).
    static func tree(root: Int, n: Int, start: [Int], head: [Int], rule: FastPath.TreeRule = .shallowWidest,
                     width: (Int) -> Int) -> [Int]? {
        var best = Array(repeating: 0, count: n)
        var bestArc = Array(repeating: -1, count: n)
        var inTree = Array(repeating: false, count: n)
        inTree[root] = true
        func relax(_ x: Int) {
            for a in start[x]..<start[x + 1] where !inTree[head[a]] && width(a) > best[head[a]] { best[head[a]] = width(a); bestArc[head[a]] = a }
        }
        relax(root)
        var theta = Int.max
        var prim: [Int] = []
        for _ in 1..<n {
            var pick = -1
            for y in 0..<n where !inTree[y] && best[y] > 0 && (pick < 0 || best[y] > best[pick]) { pick = y }
            guard pick >= 0 else { return nil }
            inTree[pick] = true
            prim.append(bestArc[pick])
            theta = min(theta, best[pick])
            relax(pick)
        }
        if rule == .widest { return prim }
        var parentArc = Array(repeating: -1, count: n)
        var depth = Array(repeating: -1, count: n)
        depth[root] = 0
        var level = [root]
        var arcs: [Int] = []
        var d = 0
        while !level.isEmpty {
            d += 1
            var next: [Int] = []
            for x in level {
                for a in start[x]..<start[x + 1] where width(a) >= theta {
                    let y = head[a]
                    if depth[y] < 0 {
                        depth[y] = d; parentArc[y] = a; next.append(y)
                    } else if depth[y] == d && width(parentArc[y]) < width(a) {
                        parentArc[y] = a
                    }
                }
            }
            next.sort()
            for y in next { arcs.append(parentArc[y]) }
            level = next
        }
        return arcs.count == n - 1 ? arcs : nil
    }
}
