import GroveTopology

/// A cheap first attempt at switch removal and tree packing, used before the exact algorithms.
///
/// Two splits are tried, shallow first. The spread split turns a switch into a complete graph:
/// in-neighbour u's capacity a_u goes to every other out-neighbour v in proportion to b_v
/// (γ_uv = ⌊a_u·b_v / (C − b_u)⌋, C the switch's capacity; exact row sums before rounding, and
/// for a symmetric switch of d equal ports every pair gets c/(d − 1)), so any rank reaches any
/// other behind the same switch in one hop. What rounding leaves goes round by rotation. The
/// rotation split pairs neighbour i's incoming capacity with neighbour i+1's outgoing one, so a
/// symmetric switch becomes a ring — as good as a switch for every cut that matters on rail and
/// NVSwitch fabrics, but trees over it are chains.
///
/// Packing is greedy: round-robin over roots, each tree the widest-bottleneck arborescence of
/// the residual graph, and among those the shallowest (breadth-first over the arcs at least as
/// wide as the bottleneck), carrying as much of its root's multiplicity as that bottleneck
/// allows. No max-flow is run. The attempt succeeds only if every root gets its k units of
/// spanning trees within capacity — and then the packing is valid by construction, since
/// capacity is never exceeded; otherwise the caller tries the next split, then the exact
/// algorithms. Cost: O(Σ deg(w)²) for the spread split, O(trees · (V² + E)) for the packing.
enum FastPath {
    /// The complete-graph split described above, then the rotation split for the remainder.
    static func spreadSplit(_ graph: inout RoutedGraph, fabric: Fabric) {
        for w in fabric.switches {
            let sw = w.rawValue
            let ins = graph.inArcs(of: sw), outs = graph.outArcs(of: sw)
            guard ins.count > 1 || outs.count > 1 else { continue }
            let a = ins.map { graph.capacity[.init(from: $0, to: sw)] ?? 0 }
            let b = outs.map { graph.capacity[.init(from: sw, to: $0)] ?? 0 }
            let total = b.reduce(0, +)
            var shares: [(u: Int, v: Int, amount: Int)] = []
            for (i, u) in ins.enumerated() {
                let back = outs.firstIndex(of: u).map { b[$0] } ?? 0
                let rest = total - back
                guard rest > 0 else { continue }
                for (j, v) in outs.enumerated() where v != u {
                    // a·b/rest without overflow: both factors are below the checked headroom.
                    let product = a[i].multipliedFullWidth(by: b[j])
                    shares.append((u, v, rest.dividingFullWidth(product).quotient))
                }
            }
            for (u, v, amount) in shares {
                let left = min(amount, graph.capacity[.init(from: u, to: sw)] ?? 0, graph.capacity[.init(from: sw, to: v)] ?? 0)
                guard left > 0 else { continue }
                let first = graph.take(u, sw, left), second = graph.take(sw, v, left)
                graph.add(u, v, EdgeSplitter.concatenate(first, through: w, second))
            }
        }
        rotationSplit(&graph, fabric: fabric)
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

    static func greedyPack(capacity: [RoutedGraph.Key: Int], rankCount n: Int, roots: [Rank], k: Int,
                           progress: ((String) -> Void)?) -> [TreePacker.Partial]? {
        var residual = Array(repeating: [Int: Int](), count: n)
        for (key, c) in capacity where key.from < n && key.to < n && c > 0 { residual[key.from][key.to] = c }
        var remaining = Dictionary(uniqueKeysWithValues: roots.map { ($0.rawValue, k) })
        var trees: [TreePacker.Partial] = []
        while true {
            var progressed = false
            for r in roots.map(\.rawValue) where remaining[r]! > 0 {
                guard let tree = shallowWidestArborescence(root: r, residual: residual, n: n) else { return nil }
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
