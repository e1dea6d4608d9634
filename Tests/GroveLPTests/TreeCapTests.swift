import Testing
import GroveTopology
@testable import GroveSynthesis

/// Forests with at most K trees per rank (`Synthesizer.synthesize(treesPerRoot:)`).
@Suite struct TreeCaps {
    /// ForestColl's published fixed-K figures (allgather, K = 1).
    @Test func forestCollFigures() throws {
        let dgx = try Synthesizer.synthesize(try FabricGenerator.dgxA100(boxes: 2), collective: .allgather, treesPerRoot: 1)
        #expect(dgx.achievedAlgbw == Rational(2400, 7), "342.86 GB/s")
        #expect(dgx.boundAlgbw == Rational(1040, 3), "the unbounded optimum, 346.67 GB/s, is reported beside it")
        let mi = try Synthesizer.synthesize(try FabricGenerator.mi250(boxes: 2), collective: .allgather, treesPerRoot: 1)
        #expect(mi.achievedAlgbw == Rational(320))
        for s in [dgx, mi] {
            #expect(s.treesPerRootCap == 1)
            #expect(s.forests[0].trees.count == s.forests[0].roots.count, "one tree per root")
        }
    }

    /// On 300 random fabrics, for K = 1 and 2: the capped forest passes its check at a rate no
    /// higher than the bound, and its upper bound K/U_r is found independently: every breakpoint
    /// U = j/c below U_r fails the cut condition ρ(X) ≥ K·|roots ∖ X| on some vertex set X
    /// (enumerated, no max-flow) and U_r meets it. Where no switch port was trimmed the rate is
    /// K/U_r itself, the capped optimum; elsewhere it lies between K/U* and K/U_r.
    @Test func randomFabricsReachTheCappedOptimum() throws {
        var (exact, bounded) = (0, 0)
        for seed in UInt64(1)...300 {
            let fabric = try randomFabric(seed: seed)
            let integer = IntegerFabric(fabric)
            let n = fabric.rankCount
            for k in [1, 2] {
                let s = try Synthesizer.synthesize(fabric, collective: .allgather, treesPerRoot: k)
                #expect(s.achievedAlgbw <= s.boundAlgbw, "seed \(seed) K \(k)")
                let rate = try s.forests[0].check(on: fabric)
                #expect(rate * Rational(n) == s.achievedAlgbw)
                guard let cap = s.forests[0].cap else {
                    // The optimum already fits in K units per root.
                    #expect(s.achievedAlgbw == s.boundAlgbw)
                    #expect(s.forests[0].treesPerRoot <= k)
                    continue
                }
                // The rate per root is K/U* capacity units where the cap is met exactly, at least
                // that where switch ports were trimmed, and never above K/U_r.
                if cap.isOptimal {
                    #expect(Rational(k) / cap.scale == rate * Rational(integer.scale), "seed \(seed) K \(k)")
                } else {
                    #expect(Rational(k) / cap.scale <= rate * Rational(integer.scale), "seed \(seed) K \(k)")
                    let upper = try #require(s.cappedUpperBound)
                    #expect(rate * Rational(n) <= upper, "seed \(seed) K \(k)")
                }
                #expect(fits(integer, u: cap.relaxedScale, k: k), "seed \(seed) K \(k): U_r fails the cut condition")
                let optimum = s.boundAlgbw / Rational(n) * Rational(integer.scale)
                var lowest = cap.relaxedScale
                for c in Set(integer.capacities) where c > 0 {
                    let first = max(1, Int(((Rational(k * c) / optimum).doubleValue).rounded(.down)))
                    var j = first
                    while Rational(j, c) < lowest {
                        if fits(integer, u: Rational(j, c), k: k) { lowest = Rational(j, c); break }
                        j += 1
                    }
                }
                #expect(lowest == cap.relaxedScale, "seed \(seed) K \(k): a smaller scale \(lowest) fits")
                if cap.isOptimal { exact += 1 } else { bounded += 1 }
            }
        }
        #expect(exact >= 100, "only \(exact) capped forests at their capped optimum")
        print("capped forests: \(exact) at the capped optimum, \(bounded) between bounds (switch ports trimmed)")
    }

    /// Whether capacities ⌊c·U⌋ satisfy Edmonds' condition for K trees per rank, by enumerating
    /// every vertex set that holds a rank.
    func fits(_ integer: IntegerFabric, u: Rational, k: Int) -> Bool {
        let f = integer.fabric
        let floors = integer.capacities.map { $0 * u.numerator / u.denominator }
        for mask in 1..<(1 << f.vertexCount) {
            let inside = (0..<f.vertexCount).map { mask & (1 << $0) != 0 }
            let ranksInside = (0..<f.rankCount).filter { inside[$0] }.count
            guard ranksInside > 0 else { continue }
            var into = 0
            for (i, l) in f.links.enumerated() where !inside[l.from.rawValue] && inside[l.to.rawValue] { into += floors[i] }
            if into < k * (f.rankCount - ranksInside) { return false }
        }
        return true
    }

    /// A capped allreduce lowers and its trees stay within their capacity: the schedule's plan
    /// for it is named by its cap, and no root has more than K trees in either phase.
    @Test func cappedAllreduce() throws {
        let fabric = try FabricGenerator.mi250(boxes: 1)
        let s = try Synthesizer.synthesize(fabric, collective: .allreduce, treesPerRoot: 1)
        #expect(s.achievedAlgbw < s.boundAlgbw)
        for forest in s.forests { #expect(Set(forest.trees.map(\.root)).count == forest.trees.count) }
        let (rs, ag) = (try s.forests[0].check(on: fabric), try s.forests[1].check(on: fabric))
        #expect(s.achievedAlgbw == Rational(fabric.rankCount) / (Rational(1) / rs + Rational(1) / ag),
                "the allreduce rate combines the two phases' checked rates")
    }
}
