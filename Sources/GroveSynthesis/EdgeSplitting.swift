import GroveTopology

/// A share of a split arc: `amount` capacity units that travel through `switches` in order.
public struct Route: Hashable, Sendable {
    public var switches: [VertexID]
    public var amount: Int
    public init(switches: [VertexID], amount: Int) { self.switches = switches; self.amount = amount }
}

/// A directed graph on all fabric vertices with integer capacities, where every arc remembers
/// which switch paths its capacity stands for. Switch removal turns the fabric into one of these
/// with no arc touching a switch.
struct RoutedGraph {
    struct Key: Hashable {
        var from: Int
        var to: Int
        /// One word to hash: vertex indices fit in 32 bits (fabrics are far smaller).
        func hash(into hasher: inout Hasher) { hasher.combine(from << 32 | to) }
    }
    var capacity: [Key: Int] = [:]
    var routes: [Key: [Route]] = [:]
    let vertexCount: Int

    init(vertexCount: Int) { self.vertexCount = vertexCount }

    mutating func add(_ u: Int, _ v: Int, _ routesToAdd: [Route]) {
        let k = Key(from: u, to: v)
        let amount = routesToAdd.reduce(0) { $0 + $1.amount }
        guard amount > 0 else { return }
        capacity[k, default: 0] += amount
        routes[k, default: []].append(contentsOf: routesToAdd)
    }

    /// Removes `amount` units from arc u→v and returns the routes they stood for (first in, first out).
    mutating func take(_ u: Int, _ v: Int, _ amount: Int) -> [Route] {
        let k = Key(from: u, to: v)
        precondition(capacity[k, default: 0] >= amount)
        var left = amount
        var taken: [Route] = []
        var list = routes[k] ?? []
        while left > 0 {
            var r = list[0]
            let use = min(left, r.amount)
            taken.append(Route(switches: r.switches, amount: use))
            r.amount -= use
            left -= use
            if r.amount == 0 { list.removeFirst() } else { list[0] = r }
        }
        capacity[k]! -= amount
        if capacity[k] == 0 { capacity[k] = nil; routes[k] = nil } else { routes[k] = list }
        return taken
    }

    func inArcs(of w: Int) -> [Int] { capacity.keys.filter { $0.to == w }.map(\.from).sorted() }
    func outArcs(of w: Int) -> [Int] { capacity.keys.filter { $0.from == w }.map(\.to).sorted() }
}

/// Switch removal by directed edge splitting.
///
/// Splitting a pair (u→w, w→v) by γ moves γ units of capacity onto u→v. Only cuts that put u and
/// v on one side and w on the other lose capacity (γ each), so the largest safe γ is found with
/// two max-flows per rank t: the least cut with {s,u,v} | {w,t} and with {s,w} | {u,v,t}.
/// Theorem (Bang-Jensen, Frank, Jackson 1995, directed rooted edge-connectivity): when a switch's
/// in-capacity equals its out-capacity, a complete splitting preserving λ(s,t) ≥ K for every rank
/// t exists, so taking every pair greedily at its largest safe γ isolates the switch.
/// Cost: O(d_in · d_out · N) max-flows per switch of degree d.
enum EdgeSplitter {
    struct Failure: Error { var switchName: String }

    /// `graph` holds tree-unit capacities; every root has `k` source arcs; the requirement is
    /// λ(s,t) ≥ roots.count · k for every rank t.
    static func removeSwitches(_ graph: inout RoutedGraph, fabric: Fabric, roots: [Rank], k: Int,
                               progress: ((String) -> Void)?) throws(Failure) {
        let need = roots.count * k
        for (done, w) in fabric.switches.enumerated() {
            let sw = w.rawValue
            for u in graph.inArcs(of: sw) {
                // Prefer pairs that do not turn back to u: a loop u→u carries nothing.
                let outs = graph.outArcs(of: sw)
                for v in outs.filter({ $0 != u }) + outs.filter({ $0 == u }) {
                    let cuw = graph.capacity[.init(from: u, to: sw)] ?? 0
                    let cwv = graph.capacity[.init(from: sw, to: v)] ?? 0
                    if cuw == 0 { break }
                    if cwv == 0 { continue }
                    let gamma = safeAmount(graph, fabric: fabric, roots: roots, k: k, need: need,
                                           u: u, w: sw, v: v, upTo: min(cuw, cwv))
                    guard gamma > 0 else { continue }
                    let first = graph.take(u, sw, gamma)
                    let second = graph.take(sw, v, gamma)
                    if u != v { graph.add(u, v, concatenate(first, through: w, second)) }
                }
            }
            if !graph.inArcs(of: sw).isEmpty || !graph.outArcs(of: sw).isEmpty {
                throw Failure(switchName: fabric.name(of: w))
            }
            progress?("switch removal: \(done + 1)/\(fabric.switchCount) switches split")
        }
    }

    /// Whether a switch-free `graph` still gives every rank t λ(s,t) ≥ roots.count · k, with s
    /// feeding each root k units: Edmonds' condition for packing the trees. One max-flow per rank.
    static func certifies(_ graph: RoutedGraph, fabric: Fabric, roots: [Rank], k: Int) -> Bool {
        let need = roots.count * k
        var net = FlowNetwork(vertexCount: graph.vertexCount + 1)
        let s = graph.vertexCount
        for (key, c) in graph.capacity where c > 0 { net.addArc(key.from, key.to, capacity: c) }
        for r in roots { net.addArc(s, r.rawValue, capacity: k) }
        for t in fabric.ranks where !(roots.count == 1 && roots[0] == t) {
            if net.maxFlow(from: s, to: t.rawValue, limit: need) < need { return false }
        }
        return true
    }

    /// Pairs up two route lists of equal total into routes through `w`.
    static func concatenate(_ a: [Route], through w: VertexID, _ b: [Route]) -> [Route] {
        var result: [Route] = []
        var i = 0, j = 0
        var ra = a[0].amount, rb = b[0].amount
        while i < a.count && j < b.count {
            let use = min(ra, rb)
            result.append(Route(switches: a[i].switches + [w] + b[j].switches, amount: use))
            ra -= use; rb -= use
            if ra == 0 { i += 1; if i < a.count { ra = a[i].amount } }
            if rb == 0 { j += 1; if j < b.count { rb = b[j].amount } }
        }
        return result
    }

    private static func safeAmount(_ graph: RoutedGraph, fabric: Fabric, roots: [Rank], k: Int, need: Int,
                                   u: Int, w: Int, v: Int, upTo bound: Int) -> Int {
        let n = graph.vertexCount
        var net = FlowNetwork(vertexCount: n + 2)
        let s = n, sink = n + 1
        for (key, c) in graph.capacity { net.addArc(key.from, key.to, capacity: c) }
        for r in roots { net.addArc(s, r.rawValue, capacity: k) }
        let inf = FlowNetwork.infinity
        let sU = net.addArc(s, u, capacity: 0), sV = net.addArc(s, v, capacity: 0), sW = net.addArc(s, w, capacity: 0)
        let uT = net.addArc(u, sink, capacity: 0), vT = net.addArc(v, sink, capacity: 0), wT = net.addArc(w, sink, capacity: 0)
        var rankToSink: [Int] = []
        for t in fabric.ranks { rankToSink.append(net.addArc(t.rawValue, sink, capacity: 0)) }
        let toggles = [sU, sV, sW, uT, vT, wT]
        var gamma = bound
        for t in fabric.ranks {
            if roots.count == 1 && roots[0] == t { continue }
            net.setCapacity(ofArc: rankToSink[t.rawValue], inf)
            // Case A: u, v with the source; w with the sink.
            if t.rawValue != u && t.rawValue != v {
                for a in toggles { net.setCapacity(ofArc: a, 0) }
                net.setCapacity(ofArc: sU, inf); net.setCapacity(ofArc: sV, inf); net.setCapacity(ofArc: wT, inf)
                gamma = min(gamma, net.maxFlow(from: s, to: sink, limit: need + gamma) - need)
            }
            // Case B: w with the source; u, v with the sink.
            if gamma > 0 {
                for a in toggles { net.setCapacity(ofArc: a, 0) }
                net.setCapacity(ofArc: sW, inf); net.setCapacity(ofArc: uT, inf); net.setCapacity(ofArc: vT, inf)
                gamma = min(gamma, net.maxFlow(from: s, to: sink, limit: need + gamma) - need)
            }
            net.setCapacity(ofArc: rankToSink[t.rawValue], 0)
            if gamma <= 0 { return 0 }
        }
        return gamma
    }
}
