import GroveTopology

/// Packs out-arborescences with integer multiplicities into a switch-free graph.
///
/// Edmonds' branching theorem (capacitated form): with roots r each owning `k` trees, the trees
/// exist arc-disjointly iff every rank t has λ(s,t) ≥ (#roots)·k. Constructive proof (Lovász;
/// Tarjan): grow one partial tree at a time; an arc x→y may carry μ copies of tree T iff, for every
/// vertex set X with y ∈ X ∌ x, the in-capacity of X still covers the trees not yet inside X. One
/// max-flow decides the largest such μ: flow from x to y in the residual graph where x also feeds
/// every other unfinished tree i (capacity Cᵢ) that reaches all of its vertices. When μ < C_T, the
/// tree splits into a copy of multiplicity μ that takes the arc and one of C_T − μ that waits.
/// Cost: O(trees · N · deg) max-flows on an N-vertex graph.
enum TreePacker {
    struct Partial {
        var root: Int
        var multiplicity: Int
        var inTree: [Bool]
        var order: [Int]
        var arcs: [(from: Int, to: Int)]
        var unstarted: Bool { order.count == 1 }
    }

    struct Failure: Error { var root: Int }

    static func pack(capacity: [RoutedGraph.Key: Int], rankCount n: Int, roots: [Rank], k: Int, seed: UInt64 = 0,
                     progress: ((String) -> Void)?) throws(Failure) -> [Partial] {
        var residual = capacity
        var outArcs = Array(repeating: [Int](), count: n)
        for key in capacity.keys.sorted(by: { ($0.from, $0.to) < ($1.from, $1.to) }) { outArcs[key.from].append(key.to) }
        var order = roots
        if seed != 0 {
            // Another packing of the same capacities: roots and arcs taken in a shuffled order
            // (SplitMix64, so a seed always gives the same forest).
            var state = seed
            func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
            func shuffle<T>(_ a: inout [T]) {
                guard a.count > 1 else { return }
                for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(next() % UInt64(i + 1))) }
            }
            shuffle(&order)
            for v in outArcs.indices { shuffle(&outArcs[v]) }
        }
        var queue: [Partial] = order.map { r in
            var inTree = Array(repeating: false, count: n)
            inTree[r.rawValue] = true
            return Partial(root: r.rawValue, multiplicity: k, inTree: inTree, order: [r.rawValue], arcs: [])
        }
        var finished: [Partial] = []
        while !queue.isEmpty {
            var tree = queue.removeFirst()
            var grew = true
            while tree.order.count < n && grew {
                grew = false
                var i = 0
                while i < tree.order.count {
                    let x = tree.order[i]
                    i += 1
                    for y in outArcs[x] where !tree.inTree[y] {
                        let d = residual[.init(from: x, to: y)] ?? 0
                        if d == 0 { continue }
                        let mu = admissible(tree: tree, others: queue, residual: residual, n: n, x: x, y: y,
                                            bound: min(tree.multiplicity, d))
                        if mu == 0 { continue }
                        if mu < tree.multiplicity {
                            var rest = tree
                            rest.multiplicity -= mu
                            queue.append(rest)
                            tree.multiplicity = mu
                        }
                        residual[.init(from: x, to: y)] = d - mu
                        tree.inTree[y] = true
                        tree.order.append(y)
                        tree.arcs.append((x, y))
                        grew = true
                    }
                }
            }
            if tree.order.count < n { throw Failure(root: tree.root) }
            finished.append(tree)
            if finished.count % 64 == 0 { progress?("tree packing: \(finished.count) trees built, \(queue.count) waiting") }
        }
        return finished
    }

    private static func admissible(tree: Partial, others: [Partial], residual: [RoutedGraph.Key: Int], n: Int,
                                   x: Int, y: Int, bound: Int) -> Int {
        var net = FlowNetwork(vertexCount: n)
        for (key, c) in residual where c > 0 { net.addArc(key.from, key.to, capacity: c) }
        var owed = 0
        var unstartedByRoot: [Int: Int] = [:]
        for o in others {
            owed += o.multiplicity
            if o.unstarted {
                unstartedByRoot[o.root, default: 0] += o.multiplicity
            } else {
                let a = net.addVertex()
                net.addArc(x, a, capacity: o.multiplicity)
                for v in o.order { net.addArc(a, v, capacity: FlowNetwork.infinity) }
            }
        }
        // An unstarted tree rooted at x adds nothing to the flow but still owes an arc into every
        // X ∌ x, so it stays in `owed`.
        for (r, c) in unstartedByRoot where r != x { net.addArc(x, r, capacity: c) }
        let flow = net.maxFlow(from: x, to: y, limit: owed + bound)
        return max(0, min(bound, flow - owed))
    }
}

/// Makes a packing shallower without loading any arc past its capacity.
///
/// A re-hang: rank v leaves its parent in tree T for u, where u→v has room for T's multiplicity
/// and u is not below v in T. A parent exchange: trees T₁ and T₂ of equal multiplicity reach
/// rank v through p₁→v and p₂→v; swapping them (T₁ takes p₂→v, T₂ takes p₁→v) leaves every
/// arc's load as it was, so the rate is untouched, and both stay spanning arborescences unless p₂ lies below v in T₁ or p₁ below v in
/// T₂ (a cycle), which is checked. A swap is kept when it lowers, for the two trees, the deeper
/// one's depth, else the sum of their squared depths, else the sum of their ranks' depths (a
/// re-hang: the tree's depth, else its sum): a potential that only falls, so the passes end.
/// Deepest trees and their deepest ranks are tried first; at most `passes` sweeps. Cost per
/// sweep: O(trees² · N²). On MI250 × 2 with one tree per rank this takes the deepest reduce-
/// scatter tree from 12 arcs to 9; restarts (`Synthesizer.shallowest`) take it further.
enum ParentExchange {
    static func shallower(_ trees: inout [TreePacker.Partial], rankCount n: Int, capacity: [RoutedGraph.Key: Int], passes: Int = 8) {
        guard !trees.isEmpty else { return }
        var parent = trees.map { t in
            var p = Array(repeating: -1, count: n)
            for (x, y) in t.arcs { p[y] = x }
            return p
        }
        // Capacity no tree uses, per arc: a rank may re-hang onto it.
        var spare = Array(repeating: [Int: Int](), count: n) // spare[v][u]: on u→v
        for (key, c) in capacity where key.from < n && key.to < n { spare[key.to][key.from, default: 0] += c }
        for t in trees { for (x, y) in t.arcs { spare[y][x, default: 0] -= t.multiplicity } }
        func levels(_ p: [Int], root: Int) -> [Int] {
            var level = Array(repeating: -1, count: n)
            level[root] = 0
            func walk(_ v: Int) -> Int {
                if level[v] >= 0 { return level[v] }
                let d = walk(p[v]) + 1
                level[v] = d
                return d
            }
            for v in 0..<n { _ = walk(v) }
            return level
        }
        // Depth and sum of rank depths of one tree.
        func measure(_ p: [Int], root: Int) -> (depth: Int, total: Int) {
            let l = levels(p, root: root)
            return (l.max() ?? 0, l.reduce(0, +))
        }
        var shape = trees.indices.map { measure(parent[$0], root: trees[$0].root) }
        func below(_ u: Int, _ v: Int, in p: [Int], root: Int) -> Bool {
            // Whether u is v or a descendant of v: walk up from u.
            var x = u
            while x != root { if x == v { return true }; x = p[x] }
            return x == v
        }
        for _ in 0..<passes {
            var changed = false
            for t1 in trees.indices.sorted(by: { shape[$0].depth > shape[$1].depth }) {
                let l1 = levels(parent[t1], root: trees[t1].root)
                for v in (0..<n).sorted(by: { l1[$0] > l1[$1] }) where v != trees[t1].root {
                    // Re-hanging v onto an arc with room for this tree changes only T₁.
                    // Sorted: the result must not depend on the dictionary's per-process order.
                    for u in spare[v].keys.sorted() where spare[v][u]! >= trees[t1].multiplicity && u != parent[t1][v] && l1[u] + 1 < l1[v] {
                        if below(u, v, in: parent[t1], root: trees[t1].root) { continue }
                        let old = parent[t1][v]
                        parent[t1][v] = u
                        let a = measure(parent[t1], root: trees[t1].root), o = shape[t1]
                        if (a.depth, a.total) < (o.depth, o.total) {
                            shape[t1] = a
                            spare[v][u]! -= trees[t1].multiplicity
                            spare[v][old, default: 0] += trees[t1].multiplicity
                            changed = true
                            break
                        }
                        parent[t1][v] = old
                    }
                    for t2 in trees.indices where t2 != t1 && trees[t2].multiplicity == trees[t1].multiplicity && trees[t2].root != v {
                        let (p1, p2) = (parent[t1][v], parent[t2][v])
                        if p1 == p2 { continue }
                        if below(p2, v, in: parent[t1], root: trees[t1].root) || below(p1, v, in: parent[t2], root: trees[t2].root) { continue }
                        parent[t1][v] = p2
                        parent[t2][v] = p1
                        let (a, b) = (measure(parent[t1], root: trees[t1].root), measure(parent[t2], root: trees[t2].root))
                        let (oa, ob) = (shape[t1], shape[t2])
                        let before = (max(oa.depth, ob.depth), oa.depth * oa.depth + ob.depth * ob.depth, oa.total + ob.total)
                        let after = (max(a.depth, b.depth), a.depth * a.depth + b.depth * b.depth, a.total + b.total)
                        if after < before {
                            (shape[t1], shape[t2]) = (a, b)
                            changed = true
                        } else {
                            parent[t1][v] = p1
                            parent[t2][v] = p2
                        }
                    }
                }
            }
            if !changed { break }
        }
        // Rebuild each tree's arcs root outward, so every arc's upstream end is connected first.
        for t in trees.indices {
            var children = Array(repeating: [Int](), count: n)
            for v in 0..<n where v != trees[t].root { children[parent[t][v]].append(v) }
            var order = [trees[t].root]
            var arcs: [(from: Int, to: Int)] = []
            var i = 0
            while i < order.count {
                let x = order[i]
                i += 1
                for y in children[x] { order.append(y); arcs.append((x, y)) }
            }
            trees[t].order = order
            trees[t].arcs = arcs
        }
    }
}

extension ParentExchange {
    /// Arcs on the longest root-to-rank path of a partial tree. O(N).
    static func depth(of tree: TreePacker.Partial, rankCount n: Int) -> Int {
        var level = Array(repeating: 0, count: n)
        var deepest = 0
        for (x, y) in tree.arcs { level[y] = level[x] + 1; deepest = max(deepest, level[y]) }
        return deepest
    }

    /// Joins trees of one root with the same arcs into one tree of their summed multiplicity.
    static func merged(_ trees: [TreePacker.Partial]) -> [TreePacker.Partial] {
        var out: [TreePacker.Partial] = []
        var index: [[Int]: Int] = [:]
        for t in trees {
            let key = [t.root] + t.arcs.sorted { ($0.to, $0.from) < ($1.to, $1.from) }.flatMap { [$0.from, $0.to] }
            if let i = index[key] { out[i].multiplicity += t.multiplicity } else { index[key] = out.count; out.append(t) }
        }
        return out
    }
}
