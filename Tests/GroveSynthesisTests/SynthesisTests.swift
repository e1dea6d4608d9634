import Foundation
import Testing
import GroveTopology
@testable import GroveSynthesis

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func bundledTopologies() -> [String] {
    let dir = repositoryRoot.appendingPathComponent("Topologies")
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
}

func loadBundled(_ name: String) throws -> Fabric {
    let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Topologies/\(name)"), encoding: .utf8)
    return try TopologyFile.parse(text).fabric
}

@Suite struct KnownValues {
    @Test(arguments: [2, 3, 4, 7, 8, 16])
    func unidirectionalRing(n: Int) throws {
        let b = Rational(25)
        let s = try Synthesizer.synthesize(FabricGenerator.ring(ranks: n, bandwidth: b, bidirectional: false), collective: .allgather)
        #expect(s.boundAlgbw == Rational(n) * b / Rational(n - 1))
        #expect(s.achievedAlgbw == s.boundAlgbw)
    }

    @Test(arguments: [3, 4, 5, 8, 12])
    func bidirectionalRing(n: Int) throws {
        let b = Rational(25, 2)
        let s = try Synthesizer.synthesize(FabricGenerator.ring(ranks: n, bandwidth: b, bidirectional: true), collective: .allgather)
        #expect(s.boundAlgbw == Rational(2 * n) * b / Rational(n - 1))
        #expect(s.achievedAlgbw == s.boundAlgbw)
    }

    @Test(arguments: [2, 3, 5, 8, 16])
    func ranksOnOneSwitch(n: Int) throws {
        let b = Rational(50)
        let s = try Synthesizer.synthesize(FabricGenerator.star(ranks: n, bandwidth: b), collective: .allgather)
        #expect(s.boundAlgbw == Rational(n) * b / Rational(n - 1))
        #expect(s.achievedAlgbw == s.boundAlgbw)
    }

    @Test func allreduceOnARingMatchesRingBusbw() throws {
        // Ring allreduce busbw equals the link bandwidth; the optimal forest cannot do worse.
        let f = try FabricGenerator.ring(ranks: 6, bandwidth: Rational(10), bidirectional: false)
        let s = try Synthesizer.synthesize(f, collective: .allreduce)
        #expect(s.achievedAlgbw * Collective.allreduce.busFactor(ranks: 6) == Rational(10))
        #expect(Baseline.ring.algbw(on: f, collective: .allreduce) == s.achievedAlgbw)
    }

    @Test func broadcastRateIsTheRootsMinCut() throws {
        // Star with NIC b: a root can broadcast at b (its uplink), not more.
        let s = try Synthesizer.synthesize(FabricGenerator.star(ranks: 5, bandwidth: Rational(40)), collective: .broadcast, root: Rank(3))
        #expect(s.boundAlgbw == Rational(40))
        #expect(s.achievedAlgbw == s.boundAlgbw)
        #expect(s.forests[0].roots == [Rank(3)])
    }

    @Test func singleRankIsRefused() throws {
        let f = try Fabric(name: "one", ranks: ["a"], switches: [], links: [])
        #expect(throws: SynthesisError.self) { try Synthesizer.synthesize(f, collective: .allgather) }
    }
}

@Suite struct BundledTopologies {
    @Test func thereAreAtLeastTwelve() {
        #expect(bundledTopologies().count >= 12)
    }

    @Test(arguments: bundledTopologies())
    func forestReachesTheBound(file: String) throws {
        let fabric = try loadBundled(file)
        #expect(fabric.description != nil, "\(file) must say where its numbers come from")
        for c in [Collective.allgather, .reduceScatter, .allreduce] {
            let s = try Synthesizer.synthesize(fabric, collective: c)
            #expect(s.achievedAlgbw == s.boundAlgbw, "\(file) \(c)")
            if fabric.rankCount <= 32 && c != .allreduce {
                let exact = try Synthesizer.synthesize(fabric, collective: c, construction: .exact)
                #expect(exact.achievedAlgbw == exact.boundAlgbw, "\(file) \(c) exact")
            }
            // The check is independent of construction: recompute it here.
            for forest in s.forests {
                let rate = try forest.check(on: fabric)
                #expect(rate == forest.bound.perRoot)
            }
        }
    }
}

@Suite struct ForestCheck {
    @Test func overloadedLinkIsCaught() throws {
        let fabric = try FabricGenerator.ring(ranks: 4, bandwidth: Rational(10), bidirectional: true)
        var forest = try Synthesizer.synthesize(fabric, collective: .allgather).forests[0]
        let rate = try forest.check(on: fabric)
        // Doubling one tree's multiplicity breaks the per-root sum.
        forest.trees[0].multiplicity *= 2
        #expect(throws: ForestCheckError.self) { try forest.check(on: fabric) }
        forest.trees[0].multiplicity /= 2
        #expect(try forest.check(on: fabric) == rate)
    }

    @Test func nonSpanningTreeIsCaught() throws {
        let fabric = try FabricGenerator.star(ranks: 4, bandwidth: Rational(10))
        var forest = try Synthesizer.synthesize(fabric, collective: .allgather).forests[0]
        forest.trees[0].arcs.removeLast()
        #expect(throws: ForestCheckError.self) { try forest.check(on: fabric) }
    }

    @Test func routeOverAMissingLinkIsCaught() throws {
        let fabric = try FabricGenerator.star(ranks: 3, bandwidth: Rational(10))
        var forest = try Synthesizer.synthesize(fabric, collective: .allgather).forests[0]
        forest.trees[0].arcs[0].routes[0].switches = []
        #expect(throws: ForestCheckError.self) { try forest.check(on: fabric) }
    }
}

@Suite struct MaxFlowTests {
    @Test func classicNetwork() {
        // CLRS figure 26.1: max flow 23.
        var net = FlowNetwork(vertexCount: 6)
        for (u, v, c) in [(0, 1, 16), (0, 2, 13), (1, 3, 12), (2, 1, 4), (2, 4, 14), (3, 2, 9), (3, 5, 20), (4, 3, 7), (4, 5, 4)] {
            net.addArc(u, v, capacity: c)
        }
        #expect(net.maxFlow(from: 0, to: 5) == 23)
        let side = net.sourceSide(of: 0)
        #expect(side == [true, true, true, false, true, false])
        #expect(net.maxFlow(from: 0, to: 5, limit: 10) == 10)
    }
}

/// Rates whose exact combination needs more than 64 bits are refused with a sentence, never a
/// trap: two coprime near-10^12 numerators (a review's example) in an allreduce.
@Suite struct ExactArithmeticLimits {
    @Test func coprimePhaseRatesDoNotTrap() throws {
        func bw(_ s: String) -> Bandwidth {
            guard case .value(let b, _) = Bandwidth.reading(literal: s) else { fatalError("bad literal in the test") }
            return b
        }
        let fabric = try Fabric(name: "coprime", ranks: ["a", "b", "c"], switches: [], links: [
            ("a", "b", bw("999999.999999"), nil), ("a", "c", bw("999999.999998"), nil), ("b", "a", bw("999999.999999"), nil),
            ("c", "a", bw("999999.999999"), nil), ("b", "c", bw("1000000"), nil), ("c", "b", bw("1000000"), nil)])
        for collective in Collective.allCases {
            do {
                let s = try Synthesizer.synthesize(fabric, collective: collective)
                #expect(s.achievedAlgbw == s.boundAlgbw, "\(collective)")
            } catch {
                guard case .tooLarge(let m) = error else { Issue.record("\(collective): \(error)"); continue }
                #expect(m.contains("64 bits"), "\(m)")
            }
        }
        #expect(Rational(Int.max).multipliedReportingOverflow(by: Rational(2)) == nil)
        #expect(Rational(1, Int.max).addingReportingOverflow(Rational(1, Int.max - 1)) == nil)
        #expect(Rational(3, 4).addingReportingOverflow(Rational(1, 6)) == Rational(11, 12))
    }
}
