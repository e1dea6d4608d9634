import GroveTopology

/// A logical transfer of a baseline algorithm: `share` of the buffer's M bytes moves from
/// `from` to `to` (over whatever physical paths the evaluator routes it).
public struct Transfer: Sendable, Equatable {
    public var from: Rank
    public var to: Rank
    public var share: Rational
    public init(_ from: Rank, _ to: Rank, _ share: Rational) { self.from = from; self.to = to; self.share = share }
}

/// Standard algorithms evaluated on the same fabric and the same steady-state model as forests:
/// links are shared, and the time for a buffer of M bytes is max over links of bytes/bandwidth.
/// A baseline is a few candidate transfer sets (ring orders, one or two directions); its algbw is
/// the best candidate's under an evaluator that routes the transfers. `MultipathRouter` spreads
/// each transfer over a max flow of its own; GroveLP's concurrent-flow LP routes all of them
/// jointly at the best possible rate, which is what many-channel NCCL rings approach.
public enum Baseline: String, CaseIterable, Sendable {
    case ring
    case doubleBinaryTree = "double_binary_tree"

    /// Candidate transfer sets for this baseline.
    public func candidates(on fabric: Fabric, collective: Collective, root: Rank = Rank(0)) -> [[Transfer]] {
        switch self {
        case .ring:
            var router = MultipathRouter(fabric)
            return RingBaseline.orders(fabric, router: &router).flatMap {
                RingBaseline.transfers(order: $0, collective: collective, root: root)
            }
        case .doubleBinaryTree:
            return [TreeBaseline.transfers(n: fabric.rankCount, collective: collective, root: root)]
        }
    }

    /// algbw in GB/s (nccl-tests definition) with each transfer spread over its own max flow.
    public func algbw(on fabric: Fabric, collective: Collective, root: Rank = Rank(0)) -> Rational {
        var router = MultipathRouter(fabric)
        return candidates(on: fabric, collective: collective, root: root).map { router.algbw($0) }.max() ?? .zero
    }
}

/// Routes a transfer between two ranks over their direct link if they have one, else over a
/// maximum flow (Dinic on integer capacities); caches the split per link. O(max-flow) per pair.
public struct MultipathRouter {
    public let fabric: Fabric
    private let integer: IntegerFabric
    private var network: FlowNetwork
    private var cache: [Int: (value: Int, flows: [(link: Int, flow: Int)])] = [:]

    public init(_ fabric: Fabric) {
        self.fabric = fabric
        integer = IntegerFabric(fabric)
        network = integer.network(multiplier: 1, roots: []).0
    }

    /// Maximum flow between two ranks and its per-link values.
    mutating func route(_ a: Rank, _ b: Rank) -> (value: Int, flows: [(link: Int, flow: Int)]) {
        let key = a.rawValue * fabric.rankCount + b.rawValue
        if let r = cache[key] { return r }
        // Ranks joined by a link talk over it, as NCCL's point-to-point transport does; only
        // ranks without one spread their traffic over every path.
        if let direct = fabric.links.firstIndex(where: { $0.from == a.vertex && $0.to == b.vertex }) {
            cache[key] = (1, [(direct, 1)])
            return (1, [(direct, 1)])
        }
        let value = network.maxFlow(from: a.rawValue, to: b.rawValue)
        // `network` adds arcs in link order, so arc 2i is link i.
        let flows = (0..<fabric.links.count).compactMap { i -> (link: Int, flow: Int)? in
            let f = network.flow(onArc: 2 * i)
            return f > 0 ? (i, f) : nil
        }
        cache[key] = (value, flows)
        return (value, flows)
    }

    /// The max flow from a to b decomposed into paths (vertex lists) with the fraction of the flow
    /// each carries. Flow cycles, which carry nothing from a to b, are dropped.
    public mutating func paths(_ a: Rank, _ b: Rank) -> [(vertices: [VertexID], weight: Rational)] {
        let r = route(a, b)
        var left = Dictionary(uniqueKeysWithValues: r.flows.map { ($0.link, $0.flow) })
        var out: [(vertices: [VertexID], weight: Rational)] = []
        var carried = 0
        while carried < r.value {
            var path: [Int] = []
            var seen: Set<Int> = [a.rawValue]
            var v = a.rawValue
            while v != b.rawValue {
                guard let li = left.keys.sorted().first(where: { fabric.links[$0].from.rawValue == v && left[$0]! > 0 && !seen.contains(fabric.links[$0].to.rawValue) }) else { break }
                path.append(li)
                v = fabric.links[li].to.rawValue
                seen.insert(v)
            }
            guard v == b.rawValue, !path.isEmpty else { break }
            let amount = path.map { left[$0]! }.min()!
            for li in path { left[li]! -= amount }
            carried += amount
            out.append(([a.vertex] + path.map { fabric.links[$0].to }, Rational(amount, r.value)))
        }
        return out
    }

    /// algbw for a transfer set: 1 / max over links of load(e)/b(e).
    public mutating func algbw(_ transfers: [Transfer]) -> Rational {
        var load = Array(repeating: Rational.zero, count: fabric.links.count)
        for t in transfers {
            let r = route(t.from, t.to)
            for (li, f) in r.flows { load[li] = load[li] + t.share * Rational(f, r.value) }
        }
        var worst = Rational.zero
        for (i, l) in fabric.links.enumerated() where load[i] > .zero {
            worst = max(worst, load[i] / l.bandwidth.gigabytesPerSecond)
        }
        return worst == .zero ? .zero : Rational.one / worst
    }
}

public enum RingBaseline {
    /// Candidate ring orders: rank order, and (up to 256 ranks) a greedy order that always steps
    /// to the rank with the largest max-flow from the current one. O(N² max-flows).
    public static func orders(_ fabric: Fabric, router: inout MultipathRouter) -> [[Rank]] {
        let n = fabric.rankCount
        guard n <= 256 else { return [fabric.ranks] }
        var greedy = [Rank(0)]
        var used = Array(repeating: false, count: n)
        used[0] = true
        while greedy.count < n {
            let cur = greedy.last!
            var best: (Rank, Int)? = nil
            for r in fabric.ranks where !used[r.rawValue] {
                let w = router.route(cur, r).value
                if best == nil || w > best!.1 { best = (r, w) }
            }
            greedy.append(best!.0)
            used[best!.0.rawValue] = true
        }
        return [fabric.ranks, greedy]
    }

    /// One direction, and two counter-rotating rings with half the data each (NCCL uses both).
    public static func transfers(order: [Rank], collective: Collective, root: Rank) -> [[Transfer]] {
        let n = order.count
        let forward = (0..<n).map { (order[$0], order[($0 + 1) % n]) }
        let steps = Rational(n - 1, n)
        switch collective {
        case .allgather, .reduceScatter, .allreduce:
            let perArc = collective == .allreduce ? steps * Rational(2) : steps
            let half = perArc / Rational(2)
            return [forward.map { Transfer($0.0, $0.1, perArc) },
                    forward.map { Transfer($0.0, $0.1, half) } + forward.map { Transfer($0.1, $0.0, half) }]
        case .broadcast, .reduce:
            // A pipelined chain starting (or ending) at the root.
            let start = order.firstIndex(of: root) ?? 0
            let chain = (0..<n).map { order[(start + $0) % n] }
            return [zip(chain, chain.dropFirst()).map { collective == .broadcast ? Transfer($0, $1, .one) : Transfer($1, $0, .one) }]
        }
    }
}

/// NCCL-style double binary tree: two complementary binary trees (heap layout over the rank
/// order and over its reverse, so one tree's leaves are the other's inner nodes), each carrying
/// half of the buffer.
enum TreeBaseline {
    static func transfers(n: Int, collective: Collective, root: Rank) -> [Transfer] {
        let base = (0..<n).map { Rank(($0 + root.rawValue) % n) }
        let orders = [base, [base[0]] + base.dropFirst().reversed()]
        var transfers: [Transfer] = []
        let half = Rational(1, 2)
        for order in orders {
            var subtree = Array(repeating: 1, count: n)
            for i in stride(from: n - 1, through: 1, by: -1) { subtree[(i - 1) / 2] += subtree[i] }
            for i in 1..<n {
                let child = order[i], parent = order[(i - 1) / 2]
                let inside = Rational(subtree[i], n), outside = Rational(n - subtree[i], n)
                switch collective {
                case .allreduce: transfers += [Transfer(child, parent, half), Transfer(parent, child, half)]
                case .broadcast: transfers.append(Transfer(parent, child, half))
                case .reduce: transfers.append(Transfer(child, parent, half))
                case .allgather: transfers += [Transfer(child, parent, inside * half), Transfer(parent, child, outside * half)]
                case .reduceScatter: transfers += [Transfer(child, parent, outside * half), Transfer(parent, child, inside * half)]
                }
            }
        }
        return transfers
    }
}
