import GroveTopology

/// A cheap first attempt at switch removal and tree packing, used before the exact algorithms.
///
/// It pairs each switch's in-capacity with its out-capacity by rotation (neighbour i's incoming
/// capacity leaves towards neighbour i+1, so a symmetric switch becomes a ring — a ring is as good
/// as a switch for every cut that matters on rail and NVSwitch fabrics), then packs trees greedily:
/// round-robin over roots, each tree the widest-bottleneck arborescence of the residual graph
/// (Prim's rule, which maximizes the smallest arc), carrying as much of its root's multiplicity as
/// that bottleneck allows. No max-flow is run. The attempt succeeds only if every root gets its k
/// units of spanning trees within capacity — and then the packing is valid by construction, since
/// capacity is never exceeded; otherwise the caller runs the exact algorithms.
/// Cost: O(Σ deg(w)) for the split, O(trees · V²) for the packing.
enum FastPath {
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
                guard let tree = widestArborescence(root: r, residual: residual, n: n) else { return nil }
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
}
