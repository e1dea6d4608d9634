import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveSchedule

/// Recursive doubling and halving-doubling allreduce, power-of-two rank counts and not.
@Suite struct ButterflyTests {
    @Test(arguments: Butterfly.allCases)
    func everyRankCountVerifiesAndRunsExactly(kind: Butterfly) throws {
        for n in 2...9 {
            let fabric = try FabricGenerator.star(ranks: n, bandwidth: Rational(25))
            let plan = kind.allreduce(on: fabric)
            try Verifier.verify(plan, counts: [1, 2, 3, n, 97, 1021])
            for bytes in [4, 388, 4084] {
                #expect(try wrongElements(plan, bytes: bytes, inPlace: false, type: Float.self) == 0, "\(kind) n=\(n) \(bytes) B")
                #expect(try wrongElements(plan, bytes: bytes, inPlace: true, type: Int32.self) == 0, "\(kind) n=\(n) \(bytes) B in place")
            }
        }
    }

    @Test func roundsAreLogarithmic() throws {
        // 8 ranks: recursive doubling sends 3 messages per rank, halving-doubling 6; with 6 ranks
        // the two folded pairs add one message each way.
        func sends(_ plan: Plan, _ rank: Int) -> Int {
            plan.programs[rank].steps.filter { if case .send = $0.operation { return true } else { return false } }.count
        }
        let eight = try FabricGenerator.star(ranks: 8, bandwidth: Rational(25))
        #expect((0..<8).allSatisfy { sends(Butterfly.recursiveDoubling.allreduce(on: eight), $0) == 3 })
        #expect((0..<8).allSatisfy { sends(Butterfly.halvingDoubling.allreduce(on: eight), $0) == 6 })
        let six = Butterfly.recursiveDoubling.allreduce(on: try FabricGenerator.star(ranks: 6, bandwidth: Rational(25)))
        #expect(sends(six, 0) == 1, "rank 0 folds into rank 1 and waits")
        #expect(sends(six, 1) == 3, "rank 1: two rounds and the hand-back")
        #expect(sends(six, 5) == 2)
    }

    @Test func smallCallsPreferFewRounds() throws {
        // At 8 bytes on 8 ranks the butterfly's 3 latencies beat the ring's 14.
        let fabric = try FabricGenerator.star(ranks: 8, bandwidth: Rational(25))
        let ring = try #require(Lowering.plan(baseline: .ring, fabric: fabric, collective: .allreduce, slices: 1))
        let rd = try Simulator.simulate(Butterfly.recursiveDoubling.allreduce(on: fabric), fabric: fabric, bytes: 8).seconds
        let chain = try Simulator.simulate(ring, fabric: fabric, bytes: 8).seconds
        #expect(rd < chain / 3, "recursive doubling \(rd) s, ring \(chain) s")
    }
}
