import Testing
import GroveTopology
@testable import GroveLP
@testable import GroveSynthesis

/// Fabrics whose switches receive more than they send (or the reverse): accepted, built on a
/// balanced part, with the cut bound as given reported as an upper bound.
@Suite struct UnbalancedSwitches {
    let lpBalancer: Synthesizer.Balancer = { f, roots in
        let best = try BalancedLP.solve(f, roots: roots)
        return (best.perRootUnits, best.capacities)
    }

    /// Four ranks behind one switch with egress capped at 10–20 GB/s and 25 GB/s downlinks,
    /// plus a 5 GB/s link between a and b. Worked by hand: the switch forwards at most its 60 GB/s
    /// of ingress; each rank must receive 3/4 of the allgather's buffer per call, a and b 5 GB/s
    /// of it directly, so 3x ≤ 60 + 10: x ≤ 70/3, reached when the downlinks carry 12.5, 12.5,
    /// 17.5, 17.5. Water-filling (15 each) reaches only 20; the cut bound counting every downlink
    /// is 100/3.
    @Test func egressCappedHostsReachTheHandOptimum() throws {
        func link(_ a: String, _ b: String, _ g: Int) -> (from: String, to: String, bandwidth: Bandwidth, latency: Double?) {
            (a, b, Bandwidth(gigabytesPerSecond: Rational(g)), nil)
        }
        let fabric = try Fabric(name: "egress-capped", ranks: ["a", "b", "c", "d"], switches: ["sw"], links: [
            link("a", "sw", 10), link("sw", "a", 25), link("b", "sw", 10), link("sw", "b", 25),
            link("c", "sw", 20), link("sw", "c", 25), link("d", "sw", 20), link("sw", "d", 25),
            link("a", "b", 5), link("b", "a", 5),
        ])
        #expect(fabric.switchImbalances().map { fabric.name(of: $0.switch) } == ["sw"])
        let best = try Synthesizer.synthesize(fabric, collective: .allgather, balancer: lpBalancer)
        #expect(best.achievedAlgbw == Rational(70, 3))
        #expect(best.boundAlgbw == Rational(100, 3))
        #expect(abs(best.balancedOptimumAlgbw! - 70.0 / 3) < 1e-9)
        let filled = try Synthesizer.synthesize(fabric, collective: .allgather)
        #expect(filled.achievedAlgbw == Rational(20))
        #expect(filled.balancedAlgbw == Rational(20))
        // The LP engine finds the same bound and balanced optimum as max-flow.
        let viaLP = try Synthesizer.synthesize(fabric, collective: .allgather, engine: { try RateLP.optimalRate($0, roots: $1) }, balancer: lpBalancer)
        #expect(viaLP.achievedAlgbw == best.achievedAlgbw && viaLP.boundAlgbw == best.boundAlgbw)
        // Reduce-scatter runs on the reversed fabric: ingress 60 is now the larger side? No —
        // reversed, the switch sends 60 and receives 100, and nothing is lost: bound reached.
        let rs = try Synthesizer.synthesize(fabric, collective: .reduceScatter, balancer: lpBalancer)
        #expect(rs.achievedAlgbw == rs.boundAlgbw)
    }

    /// 60 random fabrics with one link into or out of a switch widened: every forest passes its
    /// check on the fabric as given (`synthesize` runs it), its exact rate never exceeds the
    /// LP's optimum over balanced parts nor the cut bound, and with the LP's part it comes
    /// within the grid's rounding of that optimum, never below water-filling's.
    @Test func randomUnbalancedFabrics() throws {
        var unbalanced = 0, belowBound = 0
        for seed in UInt64(1)...200 where seed % 3 != 0 {
            var rng = SplitMix(state: seed &* 7919)
            let base = try randomFabric(seed: seed)
            guard base.switchCount > 0 else { continue }
            var links = base.links.map { (from: base.name(of: $0.from), to: base.name(of: $0.to), bandwidth: $0.bandwidth, latency: Optional<Double>.none) }
            let touching = links.indices.filter { base.isRank(base.links[$0].from) != base.isRank(base.links[$0].to) || !base.isRank(base.links[$0].from) }
            guard let i = touching.randomElement(using: &rng) else { continue }
            links[i].bandwidth = Bandwidth(gigabytesPerSecond: links[i].bandwidth.gigabytesPerSecond + Rational(Int.random(in: 1...9, using: &rng)))
            let fabric = try Fabric(name: "unbalanced-\(seed)", ranks: Array(base.vertexNames.prefix(base.rankCount)),
                                    switches: Array(base.vertexNames.dropFirst(base.rankCount)), links: links)
            guard !fabric.switchImbalances().isEmpty, fabric.rankCount > 1 else { continue }
            unbalanced += 1
            let best = try Synthesizer.synthesize(fabric, collective: .allgather, balancer: lpBalancer)
            let filled = try Synthesizer.synthesize(fabric, collective: .allgather)
            let optimum = try #require(best.balancedOptimumAlgbw)
            #expect(best.achievedAlgbw <= best.boundAlgbw, "seed \(seed)")
            #expect(best.achievedAlgbw.doubleValue <= optimum * (1 + 1e-9), "seed \(seed): forest above the LP optimum")
            #expect(best.achievedAlgbw.doubleValue >= optimum * (1 - 1e-3), "seed \(seed): \(best.achievedAlgbw) vs LP \(optimum)")
            #expect(filled.achievedAlgbw <= best.achievedAlgbw, "seed \(seed)")
            if best.achievedAlgbw < best.boundAlgbw { belowBound += 1 }
        }
        #expect(unbalanced >= 40)
        // Some widened links sit on no bottleneck, some do: both cases occur.
        #expect(belowBound > 0 && belowBound < unbalanced)
    }

    /// A switch that receives but never sends (a dead end) adds nothing: every schedule avoids
    /// it, so the forest reaches the cut bound as given, and the switch is named as unbalanced.
    @Test func aDeadEndSwitchIsTrimmedAway() throws {
        let g = Bandwidth(gigabytesPerSecond: Rational(10))
        let fabric = try Fabric(name: "dead-end", ranks: ["a", "b"], switches: ["sw"], links: [
            ("a", "sw", g, nil), ("b", "sw", g, nil), ("a", "b", g, nil), ("b", "a", g, nil),
        ])
        #expect(fabric.switchImbalances().count == 1)
        for c in [Collective.allgather, .reduceScatter, .allreduce] {
            let s = try Synthesizer.synthesize(fabric, collective: c, balancer: lpBalancer)
            #expect(s.achievedAlgbw == s.boundAlgbw, "\(c)")
            #expect(s.balancedAlgbw == s.boundAlgbw, "\(c)")
        }
    }

    /// Two switches joined by a 100 GB/s trunk, one unit of excess at A (r1 → A 10, A → r1 9):
    /// trimming takes it off r1 → A, not off the trunks — water-filling whole sides would bounce
    /// it between A → B and B → A a unit at a time, wearing both down to ~10.
    @Test func excessLeavesTrunksAlone() throws {
        func link(_ a: String, _ b: String, _ g: Int) -> (from: String, to: String, bandwidth: Bandwidth, latency: Double?) {
            (a, b, Bandwidth(gigabytesPerSecond: Rational(g)), nil)
        }
        let fabric = try Fabric(name: "trunk", ranks: ["r1", "r2"], switches: ["A", "B"], links: [
            link("r1", "A", 10), link("A", "r1", 9), link("r2", "B", 10), link("B", "r2", 10),
            link("A", "B", 100), link("B", "A", 100),
        ])
        let integer = IntegerFabric(fabric)
        let trimmed = integer.balanced()
        let part = try #require(trimmed.part)
        #expect(trimmed.balances)
        let kept = Dictionary(uniqueKeysWithValues: fabric.links.indices.map { ("\(fabric.name(of: fabric.links[$0].from))>\(fabric.name(of: fabric.links[$0].to))", part.capacities[$0] * 1) })
        let unit = integer.capacities[fabric.links.firstIndex { fabric.name(of: $0.from) == "A" && fabric.name(of: $0.to) == "B" }!] / 100
        #expect(kept["A>B"] == 100 * unit && kept["B>A"] == 100 * unit && kept["r1>A"] == 9 * unit, "\(kept)")
        let s = try Synthesizer.synthesize(fabric, collective: .allgather)
        #expect(s.achievedAlgbw == s.boundAlgbw)
    }
}
