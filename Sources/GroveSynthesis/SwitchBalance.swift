import GroveTopology

/// The balanced part of a fabric whose switches receive more (or send more) than they pass on.
///
/// A switch forwards each byte once, so in a tree packing its trees' in-use equals their out-use
/// and capacity beyond the smaller side can never be used; edge splitting (Bang-Jensen, Frank,
/// Jackson) also needs in = out at every switch. The cut bound of the fabric as given still
/// holds for every schedule — an upper bound — while the forest is built on the balanced part.
///
/// Trimming: at each unbalanced switch the larger side is lowered by water-filling — the widest
/// arcs come down to a common level first — on its arcs to or from ranks first, each kept at one
/// unit at least (so no rank loses its way through the switch), and only what they cannot absorb
/// on all of the side, links between switches included (which moves the excess on to the other
/// switch). Sweeps repeat until every switch balances; each sweep that finds an imbalance removes
/// capacity, so they end. Cost per sweep: O(Σ deg(w) · log C) for the levels found by bisection.
/// Water-filling is a heuristic: where bypass links make some ports worth more than others,
/// `BalancedLP` finds the best trimming.
enum SwitchBalance {
    /// Lowers capacities (parallel to `fabric.links`) until in = out at every switch. Returns the
    /// capacity units removed, or nil if some switch still differs after 100 000 sweeps.
    @discardableResult
    static func trim(_ fabric: Fabric, _ capacities: inout [Int]) -> Int? {
        var removed = 0
        var incoming = Array(repeating: [Int](), count: fabric.vertexCount)
        var outgoing = incoming
        for (i, l) in fabric.links.enumerated() {
            incoming[l.to.rawValue].append(i)
            outgoing[l.from.rawValue].append(i)
        }
        for _ in 0..<100_000 {
            var again = false
            for w in fabric.switches {
                let ins = incoming[w.rawValue], outs = outgoing[w.rawValue]
                let excess = ins.reduce(0) { $0 + capacities[$1] } - outs.reduce(0) { $0 + capacities[$1] }
                guard excess != 0 else { continue }
                again = true
                let side = (excess > 0 ? ins : outs).filter { capacities[$0] > 0 }
                let facingRanks = side.filter { fabric.isRank(excess > 0 ? fabric.links[$0].from : fabric.links[$0].to) }
                let spare = facingRanks.reduce(0) { $0 + capacities[$1] } - facingRanks.count
                var left = abs(excess)
                if spare > 0 { left -= lower(facingRanks, by: min(left, spare), &capacities) }
                if left > 0 { left -= lower(side, by: left, &capacities) }
                removed += abs(excess) - left
            }
            if !again { return removed }
        }
        return nil
    }

    /// Water-fills `amount` units off the arcs `group`: the least level L with
    /// Σ max(0, c − L) ≤ amount, every arc above it brought down to L, then the rest one unit
    /// each from arcs at L, in index order. Returns the units removed (less than `amount` only
    /// when the group holds less).
    static func lower(_ group: [Int], by amount: Int, _ capacities: inout [Int]) -> Int {
        let total = group.reduce(0) { $0 + capacities[$1] }
        guard total > amount else {
            for i in group { capacities[i] = 0 }
            return total
        }
        func above(_ level: Int) -> Int { group.reduce(0) { $0 + max(0, capacities[$1] - level) } }
        var lo = 0, hi = group.map { capacities[$0] }.max() ?? 0 // above(hi) = 0 ≤ amount < above(0)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if above(mid) <= amount { hi = mid } else { lo = mid }
        }
        var rest = amount - above(hi)
        for i in group where capacities[i] > hi { capacities[i] = hi }
        for i in group where rest > 0 && capacities[i] == hi && hi > 0 {
            capacities[i] -= 1
            rest -= 1
        }
        return amount - rest
    }
}

extension SwitchBalance {
    /// Capacities c′ (in `fabric`'s units, floating point, e.g. an LP's) on a grid `m` times
    /// finer: the largest m in 1000, 100, 10, 1 whose products stay within synthesis's
    /// headroom (`IntegerFabric.checkHeadroom`); each c′ rounded, kept within its link, and the
    /// rounding's leftover imbalance trimmed. Nil when not even m = 1 fits.
    static func gridCapacities(_ fabric: IntegerFabric, _ wanted: [Double]) -> IntegerFabric? {
        let n = fabric.fabric.rankCount
        for m in [1000, 100, 10, 1] {
            let (scale, o) = fabric.scale.multipliedReportingOverflow(by: m)
            guard !o, IntegerFabric.withinHeadroom(fabric.capacities, multiplier: m, ranks: n) else { continue }
            var grid = zip(fabric.capacities, wanted).map { c, w in max(0, min(c * m, Int((w * Double(m)).rounded()))) }
            guard trim(fabric.fabric, &grid) != nil else { return nil }
            return IntegerFabric(fabric.fabric, scale: scale, capacities: grid)
        }
        return nil
    }
}
