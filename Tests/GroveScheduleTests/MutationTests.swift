import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveSchedule

/// Removes a step and renumbers the dependencies that pointed past it.
func removing(_ plan: Plan, rank: Int, step: Int) -> Plan {
    var p = plan
    var steps = p.programs[rank].steps
    steps.remove(at: step)
    for i in steps.indices {
        steps[i].dependencies = steps[i].dependencies.compactMap { $0 == step ? nil : ($0 > step ? $0 - 1 : $0) }
    }
    p.programs[rank].steps = steps
    return p
}

func isSend(_ s: Step) -> Bool { if case .send = s.operation { return true } else { return false } }

func expectRejected(_ plan: Plan, mentioning words: [String]) {
    do {
        try Verifier.verify(plan)
        Issue.record("the verifier accepted a faulty plan")
    } catch {
        for w in words { #expect(error.description.contains(w), "message: \(error.description)") }
    }
}

@Suite struct VerifierCatchesFaults {
    let fabric: Fabric
    let plan: Plan

    init() throws {
        fabric = try FabricGenerator.ring(ranks: 4, bandwidth: Rational(10), bidirectional: true)
        plan = Lowering.plan(try Synthesizer.synthesize(fabric, collective: .allreduce), slices: 2)
        try Verifier.verify(plan)
    }

    /// A channel past the plan limit (here one that would not fit the wire's 32 bits, and one
    /// that collides with the runtime's call check) is refused by the structure check.
    @Test func channelOutOfRange() {
        for channel in [1 << 40, Int(UInt32.max)] {
            var p = plan
            let i = p.programs[0].steps.firstIndex(where: isSend)!
            guard case .send(let peer, _) = p.programs[0].steps[i].operation else { return }
            p.programs[0].steps[i].operation = .send(peer: peer, channel: channel)
            #expect(throws: VerificationError.self) { try Verifier.checkStructure(p) }
        }
    }

    @Test func droppedSend() {
        let i = plan.programs[1].steps.firstIndex(where: isSend)!
        expectRejected(removing(plan, rank: 1, step: i), mentioning: ["no matching send"])
    }

    @Test func swappedOffset() {
        // Point one receive at the neighbouring slice of the output.
        var p = plan
        let i = p.programs[2].steps.lastIndex { if case .recv = $0.operation { return true } else { return false } }!
        let r = p.programs[2].steps[i].range
        let width = r.hi - r.lo
        p.programs[2].steps[i].range = BufferRange(r.buffer, r.lo >= width ? r.lo - width : r.lo + width, r.lo >= width ? r.lo : r.hi + width)
        expectRejected(p, mentioning: ["rank 2"])
    }

    @Test func duplicatedReduction() {
        // Rank 0 sends one partial sum twice and its parent reduces it twice.
        var p = plan
        let i = p.programs[0].steps.firstIndex(where: isSend)!
        let send = p.programs[0].steps[i]
        guard case .send(let peer, let channel) = send.operation else { return }
        p.programs[0].steps.append(Step(send.operation, send.range, dependencies: send.dependencies, stream: send.stream))
        let j = p.programs[peer.rawValue].steps.firstIndex {
            if case .recvReduce(let from, let ch) = $0.operation { return from == Rank(0) && ch == channel } else { return false }
        }!
        let rr = p.programs[peer.rawValue].steps[j]
        p.programs[peer.rawValue].steps.append(Step(rr.operation, rr.range, dependencies: [j], stream: rr.stream))
        expectRejected(p, mentioning: ["twice"])
    }

    @Test func dependencyCycle() {
        // Ranks 0 and 1 each receive before they send, on new channels: a head-to-head cycle.
        var p = plan
        let range = BufferRange(.output, .zero, Rational(1, 4))
        for (me, peer, first, second) in [(0, 1, 900, 901), (1, 0, 901, 900)] {
            let n = p.programs[me].steps.count
            p.programs[me].steps.append(Step(.recv(peer: Rank(peer), channel: first), BufferRange(.scratch, .zero, Rational(1, 4)), dependencies: [], stream: 900))
            p.programs[me].steps.append(Step(.send(peer: Rank(peer), channel: second), range, dependencies: [n], stream: 901))
        }
        expectRejected(p, mentioning: ["deadlock", "cycle"])
    }

    @Test func forwardDependencyIsRejected() {
        var p = plan
        p.programs[0].steps[0].dependencies = [p.programs[0].steps.count - 1]
        expectRejected(p, mentioning: ["rank 0 step 0", "not an earlier step"])
    }

    @Test func outOfBoundsRange() {
        var p = plan
        let r = p.programs[3].steps[0].range
        p.programs[3].steps[0].range = BufferRange(r.buffer, r.lo, Rational(5, 4))
        expectRejected(p, mentioning: ["rank 3 step 0", "out of bounds"])
    }

    @Test func readBeforeWrite() {
        // A send from scratch that nothing wrote.
        var p = plan
        let i = p.programs[1].steps.firstIndex(where: isSend)!
        let r = p.programs[1].steps[i].range
        p.programs[1].steps[i].range = BufferRange(.output, r.lo, r.hi)
        p.programs[1].steps[i].dependencies = []
        expectRejected(p, mentioning: ["rank 1"])
    }
}
