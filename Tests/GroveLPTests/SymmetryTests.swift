import Testing
import GroveTopology
@testable import GroveLP
@testable import GroveSynthesis

/// B copies of a random box (1–3 ranks, maybe a switch; capacity added along cycles, so switches
/// balance), listed box by box, joined by rank-to-rank links (b, i) → (b + d, j) for every box
/// b — so shifting every box by one is an automorphism. d = 1 for the first such family keeps the
/// fabric strongly connected.
func randomSymmetricFabric(seed: UInt64) throws -> Fabric {
    var rng = SplitMix(state: seed &* 0x2545F4914F6CDD1D)
    let boxes = Int.random(in: 2...4, using: &rng)
    let ranksPerBox = Int.random(in: 1...3, using: &rng)
    let withSwitch = ranksPerBox > 1 && Bool.random(using: &rng)
    let local = ranksPerBox + (withSwitch ? 1 : 0)
    func name(_ b: Int, _ i: Int) -> String { i < ranksPerBox ? "b\(b)r\(i)" : "b\(b)s" }
    func cap() -> Bandwidth { Bandwidth(gigabytesPerSecond: Rational(Int.random(in: 1...12, using: &rng), Int.random(in: 1...2, using: &rng))) }
    var links: [(from: String, to: String, bandwidth: Bandwidth, latency: Double?)] = []
    var intra: [(Int, Int, Bandwidth)] = []
    if local > 1 {
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let c = cap()
            let order = Array(0..<local).shuffled(using: &rng)
            for (a, b) in zip(order, order.dropFirst() + [order[0]]) { intra.append((a, b, c)) }
        }
    }
    var inter: [(Int, Int, Int, Bandwidth)] = [(Int.random(in: 0..<ranksPerBox, using: &rng), Int.random(in: 0..<ranksPerBox, using: &rng), 1, cap())]
    for _ in 0..<Int.random(in: 0...2, using: &rng) {
        inter.append((Int.random(in: 0..<ranksPerBox, using: &rng), Int.random(in: 0..<ranksPerBox, using: &rng), Int.random(in: 1..<boxes, using: &rng), cap()))
    }
    for b in 0..<boxes {
        for (x, y, c) in intra { links.append((name(b, x), name(b, y), c, nil)) }
        for (x, y, d, c) in inter { links.append((name(b, x), name((b + d) % boxes, y), c, nil)) }
    }
    let ranks = (0..<boxes).flatMap { b in (0..<ranksPerBox).map { name(b, $0) } }
    let switches = withSwitch ? (0..<boxes).map { name($0, ranksPerBox) } : []
    return try Fabric(name: "symmetric-\(seed)", ranks: ranks, switches: switches, links: links)
}

@Suite struct Symmetry {
    @Test func generatedFabricsHaveTheirRotation() throws {
        let cases: [(Fabric, Int)] = [
            (try FabricGenerator.dgxA100(boxes: 4), 4), (try FabricGenerator.dgxH100(boxes: 3), 3), (try FabricGenerator.mi250(boxes: 2), 2),
            (try FabricGenerator.ring(ranks: 12, bandwidth: Rational(25), bidirectional: true), 12),
            (try FabricGenerator.torus(rows: 4, cols: 6, bandwidth: Rational(25)), 4),
        ]
        for (fabric, order) in cases {
            let r = try #require(FabricSymmetry.rotation(IntegerFabric(fabric)), "\(fabric.name)")
            #expect(r.length == order, "\(fabric.name): \(r.length)")
            // σ maps every link onto a link of equal bandwidth, and moves every rank.
            let links = Set(fabric.links.map { "\($0.from.rawValue)>\($0.to.rawValue)@\($0.bandwidth.gigabytesPerSecond)" })
            for l in fabric.links {
                #expect(links.contains("\(r.permutation[l.from.rawValue])>\(r.permutation[l.to.rawValue])@\(l.bandwidth.gigabytesPerSecond)"))
            }
            #expect(fabric.ranks.allSatisfy { r.permutation[$0.rawValue] != $0.rawValue })
        }
    }

    /// 150 random symmetric fabrics: the bound from one max-flow per σ-cycle equals the
    /// brute-force minimum over all cuts; allgather with symmetry on and off both reach it (the
    /// forest check runs inside `synthesize`); and the symmetric packing built some of them.
    @Test func randomSymmetricFabrics() throws {
        var rotated = 0, builtUpToRotation = 0
        for seed in UInt64(1)...150 {
            let fabric = try randomSymmetricFabric(seed: seed)
            guard fabric.rankCount >= 4, fabric.vertexCount <= 20 else { continue }
            let integer = IntegerFabric(fabric)
            guard let rotation = FabricSymmetry.rotation(integer) else { continue }
            rotated += 1
            let sinks = try #require(rotation.representatives(of: fabric.ranks))
            #expect(sinks.count * rotation.length == fabric.rankCount)
            let reduced = RateSearch.optimalRate(integer, roots: fabric.ranks, sinks: sinks)
            #expect(reduced.perRoot == RateSearch.bruteForceRate(integer, roots: fabric.ranks), "seed \(seed)")
            for collective in [Collective.allgather, .reduceScatter] {
                let on = try Synthesizer.synthesize(fabric, collective: collective, symmetry: .on)
                let off = try Synthesizer.synthesize(fabric, collective: collective, symmetry: .off)
                #expect(on.achievedAlgbw == on.boundAlgbw && off.achievedAlgbw == off.boundAlgbw && on.boundAlgbw == off.boundAlgbw, "seed \(seed) \(collective)")
                if on.forests[0].rotationOrder != nil { builtUpToRotation += 1 }
            }
        }
        #expect(rotated >= 80)
        #expect(builtUpToRotation > 0)
        print("symmetric fabrics: \(rotated) with a rotation found; \(builtUpToRotation) forests built up to it")
    }
}
