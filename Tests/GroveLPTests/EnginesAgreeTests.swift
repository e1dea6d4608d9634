import Foundation
import Testing
import GroveTopology
@testable import GroveLP
@testable import GroveSynthesis

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func bundledTopologies() -> [String] {
    let dir = repositoryRoot.appendingPathComponent("Topologies")
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
}

/// SplitMix64: a tiny deterministic generator so failures reproduce from the seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

/// A random fabric of 3–10 vertices. Capacity is added along random directed cycles, so every
/// switch is balanced; a cycle through all ranks makes them mutually reachable; some extra
/// rank-to-rank links break symmetry. Capacities include halves to exercise scaling.
func randomFabric(seed: UInt64) throws -> Fabric {
    var rng = SplitMix(state: seed)
    let v = Int.random(in: 3...10, using: &rng)
    let withSwitches = seed % 3 != 0
    let ranks = withSwitches ? Int.random(in: 2...v, using: &rng) : v
    let names = (0..<v).map { $0 < ranks ? "r\($0)" : "s\($0)" }
    var links: [(from: String, to: String, bandwidth: Bandwidth, latency: Double?)] = []
    func cap() -> Bandwidth { Bandwidth(gigabytesPerSecond: Rational(Int.random(in: 1...12, using: &rng), Int.random(in: 1...2, using: &rng))) }
    func cycle(_ vertices: [Int]) {
        let c = cap()
        for (a, b) in zip(vertices, vertices.dropFirst() + [vertices[0]]) where a != b {
            links.append((names[a], names[b], c, nil))
        }
    }
    // Spanning cycle over all vertices, in random order.
    cycle(Array(0..<v).shuffled(using: &rng))
    for _ in 0..<Int.random(in: 0...4, using: &rng) {
        let length = Int.random(in: 2...v, using: &rng)
        cycle(Array(Array(0..<v).shuffled(using: &rng).prefix(length)))
    }
    for _ in 0..<Int.random(in: 0...3, using: &rng) where ranks >= 2 {
        let a = Int.random(in: 0..<ranks, using: &rng), b = Int.random(in: 0..<ranks, using: &rng)
        if a != b { links.append((names[a], names[b], cap(), nil)) }
    }
    return try Fabric(name: "random-\(seed)", ranks: Array(names.prefix(ranks)), switches: Array(names.dropFirst(ranks)), links: links)
}

@Suite struct EnginesAgree {
    /// 300 random fabrics: the bound equals the brute-force minimum over all cuts, the forest
    /// passes its check at exactly that rate (built both ways: greedy-first and exact-only, and
    /// with symmetry forced on as well as off), and the LP engine finds the same number — for allgather (all ranks are roots) and broadcast from one root.
    @Test func randomFabrics() throws {
        var withSwitches = 0, rotated = 0
        var built: [Bool: Int] = [:]
        for seed in UInt64(1)...300 {
            let fabric = try randomFabric(seed: seed)
            if fabric.switchCount > 0 { withSwitches += 1 }
            let integer = IntegerFabric(fabric)
            for roots in [fabric.ranks, [Rank(Int(seed) % fabric.rankCount)]] {
                let flow = RateSearch.optimalRate(integer, roots: roots)
                let brute = RateSearch.bruteForceRate(integer, roots: roots)
                #expect(flow.perRoot == brute, "seed \(seed) roots \(roots)")
                let lp = try RateLP.optimalRate(integer, roots: roots)
                #expect(lp.perRoot == flow.perRoot, "seed \(seed) roots \(roots)")
            }
            for construction in Construction.allCases {
                let ag = try Synthesizer.synthesize(fabric, collective: .allgather, construction: construction)
                #expect(ag.achievedAlgbw == ag.boundAlgbw, "seed \(seed) \(construction)")
                // With symmetry forced on (a rotation, where the fabric has one, builds the trees)
                // the bound and the forest's rate are the same.
                let sym = try Synthesizer.synthesize(fabric, collective: .allgather, construction: construction, symmetry: .on)
                #expect(sym.achievedAlgbw == ag.boundAlgbw && sym.boundAlgbw == ag.boundAlgbw, "seed \(seed) \(construction) symmetry on")
                if sym.forests[0].rotationOrder != nil { rotated += 1 }
                if construction == .automatic { built[ag.forests[0].builtGreedily, default: 0] += 1 }
                let bc = try Synthesizer.synthesize(fabric, collective: .broadcast, root: Rank(Int(seed) % fabric.rankCount), construction: construction)
                #expect(bc.achievedAlgbw == bc.boundAlgbw, "seed \(seed) \(construction)")
            }
        }
        #expect(withSwitches >= 100)
        // Both the greedy path and the fallback to the exact algorithms must have been exercised.
        #expect(built[true, default: 0] > 0 && built[false, default: 0] > 0, "greedy/exact counts: \(built)")
        print("random fabrics: greedy path built \(built[true, default: 0]) allgather forests, exact fallback \(built[false, default: 0]); \(rotated) built up to a rotation with symmetry on")
    }

    @Test(arguments: bundledTopologies())
    func bundledFabric(file: String) throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Topologies/\(file)"), encoding: .utf8)
        let fabric = try TopologyFile.parse(text).fabric
        guard fabric.rankCount <= 64 else { return }
        for f in [fabric, fabric.transposed()] {
            let integer = IntegerFabric(f)
            let flow = RateSearch.optimalRate(integer, roots: f.ranks)
            let lp = try RateLP.optimalRate(integer, roots: f.ranks)
            #expect(flow.perRoot == lp.perRoot, "\(file)")
        }
    }

    @Test func lpDrivesSynthesisToTheSameForestRate() throws {
        let fabric = try FabricGenerator.dgxA100(boxes: 2)
        let s = try Synthesizer.synthesize(fabric, collective: .allreduce, engine: { try RateLP.optimalRate($0, roots: $1) })
        let t = try Synthesizer.synthesize(fabric, collective: .allreduce)
        #expect(s.achievedAlgbw == t.achievedAlgbw)
        #expect(s.achievedAlgbw == s.boundAlgbw)
    }

    @Test func fractionRecovery() {
        #expect(RateLP.closestFraction(to: 200.0 / 7.0, maxDenominator: 8) == Rational(200, 7))
        #expect(RateLP.closestFraction(to: 3.5, maxDenominator: 1) == Rational(4) || RateLP.closestFraction(to: 3.5, maxDenominator: 1) == Rational(3))
        #expect(RateLP.closestFraction(to: .nan, maxDenominator: 4) == nil)
    }
}

@Suite struct BaselineRouting {
    @Test func ringClosedFormOnARing() throws {
        let n = 6, b = Rational(25)
        let fabric = try FabricGenerator.ring(ranks: n, bandwidth: b, bidirectional: false)
        let closed = Rational(n) * b / Rational(n - 1)
        let candidates = Baseline.ring.candidates(on: fabric, collective: .allgather)
        let lp = try candidates.compactMap { try ConcurrentFlowLP.algbw(fabric, transfers: $0) }.max()
        #expect(abs(try #require(lp) - closed.doubleValue) < 1e-9)
        #expect(Baseline.ring.algbw(on: fabric, collective: .allgather) == closed)
    }

    /// Ideal routing never loses to per-edge max-flow routing, and no baseline beats the proven
    /// bound: the bound holds for every allgather or allreduce schedule.
    @Test(arguments: bundledTopologies())
    func idealRoutingIsBetweenMultipathAndTheBound(file: String) throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Topologies/\(file)"), encoding: .utf8)
        let fabric = try TopologyFile.parse(text).fabric
        guard fabric.rankCount <= 16 else { return }
        for c in [Collective.allgather, .allreduce] {
            let bound = try Synthesizer.synthesize(fabric, collective: c).boundAlgbw.doubleValue
            for b in Baseline.allCases {
                let multipath = b.algbw(on: fabric, collective: c).doubleValue
                let ideal = try b.candidates(on: fabric, collective: c).compactMap { try ConcurrentFlowLP.algbw(fabric, transfers: $0) }.max() ?? 0
                #expect(ideal >= multipath - 1e-6, "\(file) \(c) \(b)")
                #expect(ideal <= bound + 1e-6, "\(file) \(c) \(b): \(ideal) > bound \(bound)")
            }
        }
    }
}
