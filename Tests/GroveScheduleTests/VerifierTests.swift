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
