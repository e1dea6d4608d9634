import GroveTopology

/// The best rate with exactly K tree units per root (ForestColl's fixed K, `--trees-per-rank`).
///
/// Every tree carries 1/K of its root's data at rate y (capacity units), so a link of capacity c
/// holds ⌊c/y⌋ trees. Writing U = 1/y: K trees per root fit iff, with link capacities ⌊c·U⌋ and a
/// source s feeding every root K, each rank t has λ(s,t) ≥ |roots|·K (Edmonds' branching
/// theorem, as for the unbounded forest). Feasibility only grows with U, and ⌊c·U⌋ changes only at
/// U = j/c, so the least feasible U is a breakpoint j/c of some link capacity c. It lies between
/// K/x* (a schedule never beats the bound) and the integer U₀ = ⌈K/x*⌉, where the floors are
/// exact and fit. For each distinct capacity c (largest first: the finest grid), bisection over
/// the integer j finds the least feasible j/c below the best so far; U* is the least over all c,
/// exactly, with no tolerance. The rate per root is K/U* ≤ x*.
/// Cost: O(distinct capacities · log(c·U₀) · N) max-flows.
///
/// Edge splitting needs every switch to have in-capacity = out-capacity, and ⌊·⌋ can leave a
/// switch with a few units more on one side (in-links 3 and 5 at U = 1/2 give 1 + 2, out-links 4
/// and 4 give 2 + 2). The search therefore runs twice where that happens: first on the floors as
/// they are, a relaxation (every capped forest satisfies it: each tree holds a path from its root
/// to every rank), whose least scale U_r gives an upper bound K/U_r on the capped rate; then,
/// if the floors at U_r are unbalanced and stop fitting once the larger side of each switch is
/// trimmed (one unit at a time, arcs to or from ranks first, widest first; where that loses the
/// fit, widest first), on trimmed floors from U_r up. The forest is
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
            let floors = floored(fabric, u)
            guard trim else { return fits(floors) }
            // Two ways to trim; the second only where the first loses the fit.
            var first = floors
            guard balance(fabric.fabric, &first, ranksFirst: true) else { return fits(floors) }
            if let f = fits(first) { return f }
            var second = floors
            balance(fabric.fabric, &second, ranksFirst: false)
            return fits(second)
        }
        func fits(_ capacities: [Int]) -> [Int]? {
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
        // The least breakpoint U = j/c in [from, ceiling.u) (over every link capacity c) at
        // which `test` fits, or `ceiling`, which fits. Per capacity c: if the last candidate
        // below the best so far fits, bisection over j; each test is N max-flows.
        func least(from: Rational, ceiling: (u: Rational, capacities: [Int]), trim: Bool) -> (u: Rational, capacities: [Int]) {
            var best = ceiling
            for c in Set(fabric.capacities.filter { $0 > 0 }).sorted(by: >) {
                var lo = max(1, ceilDiv(c, from.numerator, from.denominator))
                var hi = ceilDiv(c, best.u.numerator, best.u.denominator) - 1
                guard hi >= lo, var found = test(Rational(hi, c), trim: trim) else { continue }
                // Invariant: hi fits (capacities in `found`); no j < lo does.
                while lo < hi {
                    let mid = lo + (hi - lo) / 2
                    if let f = test(Rational(mid, c), trim: trim) { (hi, found) = (mid, f) } else { lo = mid + 1 }
                }
                best = (Rational(hi, c), found)
                progress?("trees per rank \(k): least scale so far \(best.u), \(runs) max-flows")
            }
            return best
        }
        // U ≥ K/x* = K·Q/P: a schedule never beats the bound. At the integer U₀ = ⌈K·Q/P⌉ the
        // floors are the capacities times U₀, balanced wherever the fabric is, and they fit
        // (U₀ ≥ K/x*): the search is bounded by it.
        let lowest = Rational(k * optimum.denominator, optimum.numerator)
        var whole = ceilDiv(k, optimum.denominator, optimum.numerator)
        var ceiling = test(Rational(whole), trim: true)
        while ceiling == nil && whole < Int.max / 4 {
            // Not reached on a fabric whose switches are balanced; kept so the search ends.
            whole *= 2
            ceiling = test(Rational(whole), trim: true)
        }
        let top = (u: Rational(whole), capacities: ceiling ?? floored(fabric, Rational(whole)))
        let relaxed = least(from: lowest, ceiling: top, trim: false)
        var balanced = relaxed.capacities
        if !balance(fabric.fabric, &balanced) {
            return Result(scale: relaxed.u, relaxedScale: relaxed.u, capacities: relaxed.capacities, maxFlowRuns: runs)
        }
        if let trimmed = test(relaxed.u, trim: true) {
            return Result(scale: relaxed.u, relaxedScale: relaxed.u, capacities: trimmed, maxFlowRuns: runs)
        }
        // Trimmed fits need not grow with U (a trim can move the excess round a loop of switch
        // links), so this finds a least fit of the bisection, not always the least one; the
        // result fits and K/U_r still bounds it from above.
        let trimmed = least(from: relaxed.u, ceiling: top, trim: true)
        return Result(scale: trimmed.u, relaxedScale: relaxed.u, capacities: trimmed.capacities, maxFlowRuns: runs)
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

    /// Lowers the larger side of every unbalanced switch, one unit at a time from its widest arc
    /// (arcs to or from ranks first),
    /// until in = out everywhere (links between switches can unbalance a neighbour, so it sweeps
    /// until nothing changes; each pass only removes capacity, so it ends). Returns whether it
    /// changed anything.
    @discardableResult
    static func balance(_ fabric: Fabric, _ capacities: inout [Int], ranksFirst: Bool = true) -> Bool {
        var changed = false
        var again = true
        while again {
            again = false
            for w in fabric.switches {
                let ins = fabric.links.indices.filter { fabric.links[$0].to == w && capacities[$0] > 0 }
                let outs = fabric.links.indices.filter { fabric.links[$0].from == w && capacities[$0] > 0 }
                var excess = ins.reduce(0) { $0 + capacities[$1] } - outs.reduce(0) { $0 + capacities[$1] }
                while excess != 0 {
                    // Arcs to or from a rank first: trimming a link between two switches moves the
                    // excess on to the other switch.
                    let side = excess > 0 ? ins : outs
                    func key(_ i: Int) -> (Int, Int) {
                        let other = excess > 0 ? fabric.links[i].from : fabric.links[i].to
                        return (ranksFirst && other.rawValue < fabric.rankCount ? 1 : 0, capacities[i])
                    }
                    guard let widest = side.max(by: { key($0) < key($1) }), capacities[widest] > 0 else { break }
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
