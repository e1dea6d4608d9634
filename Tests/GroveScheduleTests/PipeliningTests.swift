import Foundation
import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveSchedule

/// Plans cut again per call (issue 10): the model's choice, the plans it produces, the file
/// round trip of the trees they are cut from, and the trees themselves.
@Suite struct PipeliningTests {
    @Test func slicesGrowWithSizeAndStayInBounds() throws {
        let fabric = try FabricGenerator.dgxA100(boxes: 2)
        let plan = Lowering.plan(try Synthesizer.synthesize(fabric, collective: .allreduce), slices: 4)
        var previous = 0
        for bytes in ScheduleBuilder.windowSizes {
            let s = Pipelining.slices(for: plan, bytes: bytes)
            #expect(ScheduleBuilder.slices.contains(s))
            #expect(s >= previous, "slices never fall as the size grows (\(bytes) B: \(s) after \(previous))")
            previous = s
        }
        #expect(Pipelining.slices(for: plan, bytes: 1 << 10) == 1, "a small call is one message per tree arc")
        #expect(Pipelining.slices(for: plan, bytes: 1 << 30) == Pipelining.maximumSlices)
    }

    @Test func deeperPipelinesGetMoreSlices() throws {
        // A unidirectional ring's trees are chains of N − 1 arcs; a star's are one arc deep.
        let ring = try FabricGenerator.ring(ranks: 6, bandwidth: Rational(25), bidirectional: false)
        let star = try FabricGenerator.star(ranks: 6, bandwidth: Rational(25))
        let chain = Lowering.plan(try Synthesizer.synthesize(ring, collective: .allgather), slices: 1)
        let flat = Lowering.plan(try Synthesizer.synthesize(star, collective: .allgather), slices: 1)
        #expect(chain.maxDepth == 5)
        #expect(flat.maxDepth == 1)
        #expect(Pipelining.slices(for: flat, bytes: 1 << 30) == 1, "a one-hop tree has nothing to fill")
        #expect(Pipelining.slices(for: chain, bytes: 1 << 30) == MessageCosts.parallelEngines.slicesPerLevel * (chain.maxDepth - 1),
                "a chain of 5 arcs gets the engines' slices per level for each level it fills")
    }

    @Test(arguments: Collective.allCases)
    func plansCutAgainVerify(collective: Collective) throws {
        for fabric in try smallFabrics() {
            let root = collective.needsRoot ? Rank(fabric.rankCount - 1) : nil
            let stored = Lowering.plan(try Synthesizer.synthesize(fabric, collective: collective, root: root), slices: 4)
            for slices in [1, 7, 64] {
                let cut = stored.lowered(slices: slices)
                #expect(cut.slices == slices)
                #expect(cut.routing == stored.routing)
                try Verifier.verify(cut, counts: [1, 97, 1021])
            }
            let ring = try #require(Lowering.plan(baseline: .ring, fabric: fabric, collective: collective, root: root ?? Rank(0), slices: 2))
            try Verifier.verify(ring.lowered(slices: 5), counts: [1, 97])
        }
    }

    @Test func phasesSurviveTheFileAndAreChecked() throws {
        let fabric = try FabricGenerator.ring(ranks: 5, bandwidth: Rational(25), bidirectional: true)
        let s = try Synthesizer.synthesize(fabric, collective: .allreduce)
        let schedule = try ScheduleBuilder.schedule(for: s, fabric: fabric, slices: 2)
        let text = ScheduleFile.write(schedule, forest: s, fabric: fabric)
        let back = try ScheduleFile.read(text)
        #expect(back.plans.map(\.phases) == schedule.plans.map(\.phases))
        #expect(back.plans[0].lowered(slices: 9) == schedule.plans[0].lowered(slices: 9))
        // Turn the first arc of the first tree around: it now leaves a rank the tree has not
        // reached, and the reader says so.
        let firstArc = #"\"trees\": \[\[(\d+), (\d+), \[(\d+),(\d+),"#
        let at = try #require(text.range(of: firstArc, options: .regularExpression))
        let broken = text.replacingOccurrences(of: firstArc, with: #""trees": [[$1, $2, [$4,$3,"#, options: .regularExpression, range: at)
        #expect(broken != text)
        #expect {
            try ScheduleFile.read(broken)
        } throws: { error in
            (error as? ScheduleFileError)?.description.contains("does not extend the tree") == true
        }
    }

    @Test func switchesBecomeOneHop() throws {
        // Behind one switch every rank reaches every other in one hop: all trees are stars.
        for fabric in [try FabricGenerator.star(ranks: 8, bandwidth: Rational(25)), try FabricGenerator.dgxA100(boxes: 1)] {
            let s = try Synthesizer.synthesize(fabric, collective: .allgather)
            #expect(s.forests[0].maxDepth == 1, "\(fabric.name): depths \(s.forests[0].depthHistogram)")
            #expect(s.achievedAlgbw == s.boundAlgbw)
        }
        // Two boxes: the rail crossing adds a hop. With NVSwitch split into rings the mean depth
        // was 6.7; complete-graph splits bring it under 4, with the largest group at depth 2.
        let trees = try Synthesizer.synthesize(try FabricGenerator.dgxA100(boxes: 2), collective: .allgather).forests[0].trees
        let mean = Double(trees.reduce(0) { $0 + $1.depth }) / Double(trees.count)
        #expect(mean < 4, "mean depth \(mean)")
        #expect(5 * trees.filter { $0.depth <= 2 }.count >= 2 * trees.count, "at least 40% of the trees have depth 2")
    }

    @Test func latencyIsPaidPerHopNotPerSlice() throws {
        // One chain of 4 hops: the last byte lands after (S + D − 1) slice times plus D latencies.
        let fabric = try FabricGenerator.ring(ranks: 5, bandwidth: Rational(10), bidirectional: false)
        let plan = try #require(Lowering.plan(baseline: .ring, fabric: fabric, collective: .broadcast, slices: 1))
        let bytes = 1 << 24, alpha = 5e-6
        for slices in [1, 8, 32] {
            let r = try Simulator.simulate(plan.lowered(slices: slices), fabric: fabric, bytes: bytes, costs: MessageCosts(latencyMicroseconds: alpha * 1e6, postingMicroseconds: 0))
            let slice = Double(bytes) / Double(slices) / 10e9
            let expected = Double(slices + 3) * slice + 4 * alpha
            #expect(abs(r.seconds - expected) / expected < 0.01, "\(slices) slices: \(r.seconds) s, expected \(expected) s")
        }
    }
}
