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

    static func pack(capacity: [RoutedGraph.Key: Int], rankCount n: Int, roots: [Rank], k: Int,
                     progress: ((String) -> Void)?) throws(Failure) -> [Partial] {
        var residual = capacity
        var outArcs = Array(repeating: [Int](), count: n)
        for key in capacity.keys.sorted(by: { ($0.from, $0.to) < ($1.from, $1.to) }) { outArcs[key.from].append(key.to) }
        var queue: [Partial] = roots.map { r in
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
