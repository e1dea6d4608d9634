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

/// The posting cost (LogP's o) of Grove's TCP runtime: a plan that sends more messages per rank
/// pays for them, and schedules keep the costs their windows were chosen with.
@Suite struct MessageCostTests {
    @Test func postingCostChargesEveryMessage() throws {
        let fabric = try FabricGenerator.star(ranks: 4, bandwidth: Rational(2))
        let forest = Lowering.plan(try Synthesizer.synthesize(fabric, collective: .allreduce), slices: 1)
        let rd = Butterfly.recursiveDoubling.allreduce(on: fabric)
        func time(_ p: Plan, _ c: MessageCosts) throws -> Double { try Simulator.simulate(p, fabric: fabric, bytes: 8, costs: c).seconds }
        // Both take two rounds: equal without a posting cost. With it, the forest (three sends a
        // phase from each rank, one per tree) pays two more postings a phase than doubling.
        #expect(abs(try time(forest, .parallelEngines) - time(rd, .parallelEngines)) < 1e-7)
        let gap = try time(forest, .tcp) - time(rd, .tcp)
        #expect(abs(gap - 4 * MessageCosts.tcp.postingMicroseconds * 1e-6) < 1e-7, "gap \(gap)")
    }

    @Test func schedulesKeepTheirCosts() throws {
        let fabric = try FabricGenerator.star(ranks: 4, bandwidth: Rational(2))
        let s = try Synthesizer.synthesize(fabric, collective: .allreduce)
        let tcp = try ScheduleBuilder.schedule(for: s, fabric: fabric, slices: 2, costs: .tcp)
        let read = try Schedule.read(ScheduleFile.write(tcp, forest: s, fabric: fabric))
        #expect(read.costs == .tcp)
        #expect(read.choosePlan(forBytes: 8).plan.algorithm == "recursive_doubling", "small calls: fewest messages")
        let engines = try ScheduleBuilder.schedule(for: s, fabric: fabric, slices: 2)
        #expect(try Schedule.read(ScheduleFile.write(engines, forest: s, fabric: fabric)).costs == .parallelEngines)
    }
}
