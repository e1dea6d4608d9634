import Foundation
import Testing
import GroveSchedule
import GroveSynthesis
import GroveTopology
@testable import GroveRuntime

/// The runtime cuts a plan's trees per call size (issue 10): different sizes run different slice
/// counts, the same size reuses its plan, and every cut computes the collective exactly.
@Suite struct SlicingPerCall {
    @Test func sizesPickTheirSlicesAndRunExactly() throws {
        let fabric = try FabricGenerator.ring(ranks: 4, bandwidth: Rational(10), bidirectional: true)
        // Synthesized at run time, the size windows use the TCP runtime's message costs: a tiny
        // allreduce goes to recursive doubling (one message per round, not one per tree).
        let automatic = try PlanLibrary(.topology(fabric), worldSize: 4)
        #expect(try automatic.choosePlan(.allreduce, root: 0, bytes: 8).plan.algorithm == "recursive_doubling")
        let library = try PlanLibrary(.topology(fabric), worldSize: 4)
        library.pinnedAlgorithm = "forest"
        let small = try library.choosePlan(.allreduce, root: 0, bytes: 4 << 10).plan
        let large = try library.choosePlan(.allreduce, root: 0, bytes: 16 << 20).plan
        #expect(large.slices > small.slices, "16 MiB: \(large.slices) slices, 4 KiB: \(small.slices)")
        #expect(try library.choosePlan(.allreduce, root: 0, bytes: 16 << 20).plan == large, "the same size gets the same plan")
        let pinned = try PlanLibrary(.topology(fabric), worldSize: 4, slices: 3)
        pinned.pinnedAlgorithm = "forest"
        #expect(try pinned.choosePlan(.allreduce, root: 0, bytes: 16 << 20).plan.slices == 3)
        #expect(throws: CommunicatorError.self) { try PlanLibrary(.topology(fabric), worldSize: 4, slices: Pipelining.maximumSlices + 1) }

        let wrong = WrongCounter()
        let errors = try withMemoryWorld(4, library: { _ in library }) { c in
            for (coll, count) in [(Collective.allreduce, 1), (.allreduce, 1031), (.allreduce, 4 << 20), (.reduceScatter, 1 << 20), (.allgather, 1 << 20)] {
                wrong.add(try runChecked(c, coll, type: .float32, op: .sum, count: count, inPlace: false), "\(coll) \(count)")
            }
        }
        #expect(errors.allSatisfy { $0 == nil }, "\(errors)")
        #expect(wrong.total == 0, "\(wrong.notes)")
    }
}
