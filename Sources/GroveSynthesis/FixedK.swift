import GroveTopology

/// The best rate with exactly K tree units per root (ForestColl's fixed K, `--trees-per-rank`).
///
/// Every tree carries 1/K of its root's data at rate y (capacity units), so a link of capacity c
/// holds ⌊c/y⌋ trees. Writing U = 1/y: K trees per root fit iff, with link capacities ⌊c·U⌋ and a
/// source s feeding every root K, each rank t has λ(s,t) ≥ |roots|·K (Edmonds' branching
/// theorem, as for the unbounded forest). Feasibility only grows with U, and ⌊c·U⌋ changes only at
/// U = j/c, so the least feasible U is a breakpoint j/c of some link capacity c. For each distinct
/// capacity c (largest first: the finest grid), galloping then bisection over the integer j finds
/// the least feasible j/c below the best so far; U* is the least over all c, exactly, with no
/// tolerance. The rate per root is K/U* ≤ x* (U ≥ K/x*: a schedule never beats the bound).
/// Cost: O(distinct capacities · log(c·N) · N) max-flows.
///
/// Edge splitting needs every switch to have in-capacity = out-capacity, and ⌊·⌋ can leave a
/// switch with a few units more on one side (in-links 3 and 5 at U = 1/2 give 1 + 2, out-links 4
/// and 4 give 2 + 2). The search therefore runs twice where that happens: first on the floors as
/// they are, a relaxation (every capped forest satisfies it: each tree holds a path from its root
/// to every rank), whose least scale U_r gives an upper bound K/U_r on the capped rate; then,
/// if the floors at U_r are unbalanced and stop fitting once the larger side of each switch is
/// trimmed (one unit at a time from its widest arc), on trimmed floors from U_r up. The forest is
/// built on the trimmed capacities; its rate is the capped optimum when the two scales agree, and
/// otherwise lies between K/U* and K/U_r, both reported. Fabrics whose switch ports are symmetric
/// (DGX, MI250, rails) never need trimming.
enum FixedKSearch {
    struct Result {
        /// U*: a link carries ⌊c·U*⌋ trees; the forest's rate per root is at least K/U* units.
        var scale: Rational
        /// U_r ≤ U*: no forest of K trees per root has a rate above K/U_r units.
        var relaxedScale: Rational
        /// ⌊c·U*⌋ per link (trees it may carry), trimmed where needed; parallel to `fabric.links`.
        var capacities: [Int]
        var maxFlowRuns: Int
    }

    /// `optimum`: the unbounded rate per root x* in capacity units.
    static func search(_ fabric: IntegerFabric, roots: [Rank], k: Int, optimum: Rational,
                       progress: ((String) -> Void)?) -> Result {
        precondition(optimum > .zero)
        var runs = 0
        // Capacities at U, trimmed at switches if `trim`, if K trees per root fit in them.
        func test(_ u: Rational, trim: Bool) -> [Int]? {
            var capacities = floored(fabric, u)
            if trim { balance(fabric.fabric, &capacities) }
            var net = FlowNetwork(vertexCount: fabric.fabric.vertexCount + 1)
            for (i, l) in fabric.fabric.links.enumerated() where capacities[i] > 0 {
                net.addArc(l.from.rawValue, l.to.rawValue, capacity: capacities[i])
            }
            let s = fabric.fabric.vertexCount
            for r in roots { net.addArc(s, r.rawValue, capacity: k) }
            let need = roots.count * k
            for t in fabric.fabric.ranks where !(roots.count == 1 && roots[0] == t) {
                runs += 1
                if net.maxFlow(from: s, to: t.rawValue, limit: need) < need { return nil }
            }
            return capacities
        }
        // The least breakpoint U = j/c ≥ `from` (over every link capacity c) at which `test`
        // fits. Galloping: ⌊c·U⌋ ≥ c·U/2 once c·U ≥ 1 on every link, so U = 2K/x* + 1/c_min fits
        // the relaxation, and trimming removes less than one unit per port: this ends.
        func least(from: Rational, trim: Bool) -> (Rational, [Int]) {
            var best: (u: Rational, capacities: [Int])?
            for c in Set(fabric.capacities.filter { $0 > 0 }).sorted(by: >) {
                var lo = max(1, ceilDiv(c, from.numerator, from.denominator))
                var hi: Int
                var found: [Int]
                if let limit = best?.u {
                    // Only j/c < limit can improve: the last candidate is ⌈c·limit⌉ − 1.
                    let top = ceilDiv(c, limit.numerator, limit.denominator) - 1
                    guard top >= lo, let f = test(Rational(top, c), trim: trim) else { continue }
                    (hi, found) = (top, f)
                } else {
                    var step = 1
                    hi = lo
                    while true {
                        if let f = test(Rational(hi, c), trim: trim) { found = f; break }
                        lo = hi + 1
                        hi += step
                        step *= 2
                    }
                }
                // Invariant: hi fits (capacities in `found`); no j < lo does.
                while lo < hi {
                    let mid = lo + (hi - lo) / 2
                    if let f = test(Rational(mid, c), trim: trim) { (hi, found) = (mid, f) } else { lo = mid + 1 }
                }
                best = (Rational(hi, c), found)
                progress?("trees per rank \(k): least scale so far \(best!.u), \(runs) max-flows")
            }
            return best!
        }
        // U ≥ K/x* = K·Q/P: a schedule never beats the bound.
        let lowest = Rational(k * optimum.denominator, optimum.numerator)
        let (relaxed, floors) = least(from: lowest, trim: false)
        var balanced = floors
        if !balance(fabric.fabric, &balanced) {
            return Result(scale: relaxed, relaxedScale: relaxed, capacities: floors, maxFlowRuns: runs)
        }
        if let trimmed = test(relaxed, trim: true) {
            return Result(scale: relaxed, relaxedScale: relaxed, capacities: trimmed, maxFlowRuns: runs)
        }
        let (u, trimmed) = least(from: relaxed, trim: true)
        return Result(scale: u, relaxedScale: relaxed, capacities: trimmed, maxFlowRuns: runs)
    }

    /// ⌈a·b/d⌉ for positive values, without overflow in the product.
    static func ceilDiv(_ a: Int, _ b: Int, _ d: Int) -> Int {
        let (q, r) = d.dividingFullWidth(a.multipliedFullWidth(by: b))
        return r > 0 ? q + 1 : q
    }

    /// ⌊c·U⌋ per link.
    static func floored(_ fabric: IntegerFabric, _ u: Rational) -> [Int] {
        fabric.capacities.map { u.denominator.dividingFullWidth($0.multipliedFullWidth(by: u.numerator)).quotient }
    }

    /// Lowers the larger side of every unbalanced switch, one unit at a time from its widest arc,
    /// until in = out everywhere (links between switches can unbalance a neighbour, so it sweeps
    /// until nothing changes; each pass only removes capacity, so it ends). Returns whether it
    /// changed anything.
    @discardableResult
    static func balance(_ fabric: Fabric, _ capacities: inout [Int]) -> Bool {
        var changed = false
        var again = true
        while again {
            again = false
            for w in fabric.switches {
                let ins = fabric.links.indices.filter { fabric.links[$0].to == w && capacities[$0] > 0 }
                let outs = fabric.links.indices.filter { fabric.links[$0].from == w && capacities[$0] > 0 }
                var excess = ins.reduce(0) { $0 + capacities[$1] } - outs.reduce(0) { $0 + capacities[$1] }
                while excess != 0 {
                    let side = excess > 0 ? ins : outs
                    guard let widest = side.max(by: { capacities[$0] < capacities[$1] }), capacities[widest] > 0 else { break }
                    capacities[widest] -= 1
                    excess += excess > 0 ? -1 : 1
                    changed = true
                    again = true
                }
            }
        }
        return changed
    }
}
