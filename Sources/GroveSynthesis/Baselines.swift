import GroveTopology

/// Standard algorithms evaluated on the same fabric and the same steady-state model as forests:
/// every logical transfer follows one widest path, links are shared, and the time for a buffer of
/// M bytes is max over links of (bytes on the link)/bandwidth.
public enum Baseline: String, CaseIterable, Sendable {
    case ring
    case doubleBinaryTree = "double_binary_tree"

    /// algbw in GB/s (nccl-tests definition) of this baseline for the collective.
    public func algbw(on fabric: Fabric, collective: Collective, root: Rank = Rank(0)) -> Rational {
        let router = WidestPathRouter(fabric)
        switch self {
        case .ring:
            return RingBaseline.orders(fabric, router: router).map { order in
                RingBaseline.algbw(order: order, collective: collective, root: root, router: router)
            }.max() ?? .zero
        case .doubleBinaryTree:
            return TreeBaseline.algbw(n: fabric.rankCount, collective: collective, root: root, router: router)
        }
    }
}

/// Widest (maximum-bottleneck) paths between ranks, ties broken by fewer hops. Dijkstra variant,
/// O(V²) per query. Paths may pass through other ranks (they forward, as on direct-connect
/// fabrics); a validated fabric has a path between every pair of ranks.
struct WidestPathRouter {
    let fabric: Fabric
    private var linkIndex: [Int: Int] = [:]
    private var adjacency: [[Int]]

    init(_ fabric: Fabric) {
        self.fabric = fabric
        adjacency = Array(repeating: [], count: fabric.vertexCount)
        for (i, l) in fabric.links.enumerated() {
            adjacency[l.from.rawValue].append(i)
            linkIndex[l.from.rawValue * fabric.vertexCount + l.to.rawValue] = i
        }
    }

    /// Link indices of a widest path from a to b.
    func path(_ a: Rank, _ b: Rank) -> [Int] {
        let n = fabric.vertexCount
        var width = Array(repeating: -1.0, count: n)
        var hops = Array(repeating: Int.max, count: n)
        var via = Array(repeating: -1, count: n)
        var done = Array(repeating: false, count: n)
        width[a.rawValue] = .infinity
        hops[a.rawValue] = 0
        for _ in 0..<n {
            var u = -1
            for v in 0..<n where !done[v] && width[v] >= 0 {
                if u < 0 || width[v] > width[u] || (width[v] == width[u] && hops[v] < hops[u]) { u = v }
            }
            if u < 0 || u == b.rawValue { break }
            done[u] = true
            for li in adjacency[u] {
                let l = fabric.links[li]
                let w = min(width[u], l.bandwidth.gigabytesPerSecond.doubleValue)
                let v = l.to.rawValue
                if !done[v] && (w > width[v] || (w == width[v] && hops[u] + 1 < hops[v])) {
                    width[v] = w; hops[v] = hops[u] + 1; via[v] = li
                }
            }
        }
        var links: [Int] = []
        var v = b.rawValue
        while v != a.rawValue {
            let li = via[v]
            precondition(li >= 0, "validated fabrics connect every pair of ranks")
            links.append(li)
            v = fabric.links[li].from.rawValue
        }
        return links.reversed()
    }

    func widthOfPath(_ a: Rank, _ b: Rank) -> Rational {
        path(a, b).map { fabric.links[$0].bandwidth.gigabytesPerSecond }.min() ?? .zero
    }

    /// algbw for transfers given as (from, to, fraction of the buffer M): 1 / max_e load(e)/b(e).
    func algbw(_ transfers: [(Rank, Rank, Rational)]) -> Rational {
        var load = Array(repeating: Rational.zero, count: fabric.links.count)
        for (a, b, share) in transfers {
            for li in path(a, b) { load[li] = load[li] + share }
        }
        var worst = Rational.zero
        for (i, l) in fabric.links.enumerated() where load[i] > .zero {
            worst = max(worst, load[i] / l.bandwidth.gigabytesPerSecond)
        }
        return worst == .zero ? .zero : Rational.one / worst
    }
}

enum RingBaseline {
    /// Candidate ring orders: rank order, and a greedy order that always steps to the rank with
    /// the widest path from the current one. O(N² · Dijkstra).
    static func orders(_ fabric: Fabric, router: WidestPathRouter) -> [[Rank]] {
        let n = fabric.rankCount
        var greedy = [Rank(0)]
        var used = Array(repeating: false, count: n)
        used[0] = true
        while greedy.count < n {
            let cur = greedy.last!
            var best: (Rank, Rational)? = nil
            for r in fabric.ranks where !used[r.rawValue] {
                let w = router.widthOfPath(cur, r)
                if best == nil || w > best!.1 { best = (r, w) }
            }
            greedy.append(best!.0)
            used[best!.0.rawValue] = true
        }
        return [fabric.ranks, greedy]
    }

    static func algbw(order: [Rank], collective: Collective, root: Rank, router: WidestPathRouter) -> Rational {
        let n = order.count
        let forward = (0..<n).map { (order[$0], order[($0 + 1) % n]) }
        let steps = Rational(n - 1, n)
        switch collective {
        case .allgather, .reduceScatter, .allreduce:
            let perArc = collective == .allreduce ? steps * Rational(2) : steps
            let one = router.algbw(forward.map { ($0.0, $0.1, perArc) })
            // Two counter-rotating rings with half the data each (as NCCL uses both directions).
            let half = perArc / Rational(2)
            let two = router.algbw(forward.map { ($0.0, $0.1, half) } + forward.map { ($0.1, $0.0, half) })
            return max(one, two)
        case .broadcast, .reduce:
            // A pipelined chain starting (or ending) at the root.
            let start = order.firstIndex(of: root) ?? 0
            let chain = (0..<n).map { order[(start + $0) % n] }
            let arcs = zip(chain, chain.dropFirst()).map { collective == .broadcast ? ($0, $1, Rational.one) : ($1, $0, Rational.one) }
            return router.algbw(arcs)
        }
    }
}

/// NCCL-style double binary tree: two complementary binary trees (heap layout over the rank
/// order and over its reverse, so one tree's leaves are the other's inner nodes), each carrying
/// half of the buffer.
enum TreeBaseline {
    static func algbw(n: Int, collective: Collective, root: Rank, router: WidestPathRouter) -> Rational {
        let base = (0..<n).map { Rank(($0 + root.rawValue) % n) }
        let orders = [base, [base[0]] + base.dropFirst().reversed()]
        var transfers: [(Rank, Rank, Rational)] = []
        let half = Rational(1, 2)
        for order in orders {
            var subtree = Array(repeating: 1, count: n)
            for i in stride(from: n - 1, through: 1, by: -1) { subtree[(i - 1) / 2] += subtree[i] }
            for i in 1..<n {
                let child = order[i], parent = order[(i - 1) / 2]
                let inside = Rational(subtree[i], n), outside = Rational(n - subtree[i], n)
                switch collective {
                case .allreduce: transfers += [(child, parent, half), (parent, child, half)]
                case .broadcast: transfers.append((parent, child, half))
                case .reduce: transfers.append((child, parent, half))
                case .allgather: transfers += [(child, parent, inside * half), (parent, child, outside * half)]
                case .reduceScatter: transfers += [(child, parent, outside * half), (parent, child, inside * half)]
                }
            }
        }
        return router.algbw(transfers)
    }
}
