import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveSchedule

func smallFabrics() throws -> [Fabric] {
    try [
        FabricGenerator.ring(ranks: 4, bandwidth: Rational(25), bidirectional: false),
        FabricGenerator.ring(ranks: 5, bandwidth: Rational(25), bidirectional: true),
        FabricGenerator.star(ranks: 3, bandwidth: Rational(10)),
        FabricGenerator.dgxA100(boxes: 2),
        FabricGenerator.cloud(nics: [Rational(25, 2), Rational(50), Rational(25)], gpusPerHost: 2, local: Rational(32)),
        FabricGenerator.torus(rows: 2, cols: 3, bandwidth: Rational(50)),
    ]
}

@Suite struct LoweringVerifies {
    @Test(arguments: Collective.allCases)
    func forestPlansVerify(collective: Collective) throws {
        for fabric in try smallFabrics() {
            let root = collective.needsRoot ? Rank(fabric.rankCount - 1) : nil
            let s = try Synthesizer.synthesize(fabric, collective: collective, root: root)
            for slices in [1, 3] {
                let plan = Lowering.plan(s, slices: slices)
                try Verifier.verify(plan)
            }
        }
    }

    @Test(arguments: Collective.allCases)
    func baselinePlansVerify(collective: Collective) throws {
        for fabric in try smallFabrics() {
            for b in Baseline.allCases {
                guard let plan = Lowering.plan(baseline: b, fabric: fabric, collective: collective, root: Rank(1), slices: 2) else {
                    #expect(b == .doubleBinaryTree && (collective == .allgather || collective == .reduceScatter))
                    continue
                }
                try Verifier.verify(plan)
            }
        }
    }
}

@Suite struct SimulatorTests {
    /// Ring allreduce on a homogeneous bidirectional ring, two counter-rotating rings with half
    /// the data each: T = 2(N−1)/N · (M/2) / b, so algbw = N·b/(N−1). The fluid model has no
    /// other cost at large M than one latency per message.
    @Test func ringMatchesItsClosedForm() throws {
        let n = 6, b = 10.0
        let fabric = try FabricGenerator.ring(ranks: n, bandwidth: Rational(10), bidirectional: true)
        let plan = try #require(Lowering.plan(baseline: .ring, fabric: fabric, collective: .allreduce, slices: 4))
        let bytes = 1 << 30
        let r = try Simulator.simulate(plan, fabric: fabric, bytes: bytes)
        let closed = 2.0 * Double(n - 1) / Double(n) * Double(bytes) / 2 / (b * 1e9)
        #expect(r.seconds >= closed)
        #expect(r.seconds <= closed * 1.01 + Double(r.messages) * 5e-6, "simulated \(r.seconds) s, closed form \(closed) s")
        #expect(abs(r.algbw - Double(n) * b / Double(n - 1)) / (Double(n) * b / Double(n - 1)) < 0.01)
    }

    @Test func forestApproachesItsRateWithMoreSlices() throws {
        let fabric = try FabricGenerator.torus(rows: 2, cols: 3, bandwidth: Rational(50))
        let s = try Synthesizer.synthesize(fabric, collective: .allgather)
        let coarse = try Simulator.simulate(Lowering.plan(s, slices: 1), fabric: fabric, bytes: 1 << 30)
        let fine = try Simulator.simulate(Lowering.plan(s, slices: 16), fabric: fabric, bytes: 1 << 30)
        let rate = s.achievedAlgbw.doubleValue
        #expect(fine.algbw > coarse.algbw)
        #expect(fine.algbw <= rate * 1.0001, "no plan beats the bound")
        #expect(fine.algbw >= 0.8 * rate)
    }

    @Test func smallMessagesPayLatency() throws {
        let fabric = try FabricGenerator.star(ranks: 4, bandwidth: Rational(25))
        let s = try Synthesizer.synthesize(fabric, collective: .allreduce)
        let r = try Simulator.simulate(Lowering.plan(s, slices: 4), fabric: fabric, bytes: 4)
        #expect(r.seconds >= 2 * 5e-6, "at least one message per phase")
    }
}
