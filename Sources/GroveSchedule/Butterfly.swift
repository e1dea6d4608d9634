import GroveSynthesis
import GroveTopology

/// Latency-optimal allreduce plans that are not forests, written directly as steps.
///
/// - `recursive_doubling`: log₂P rounds; in each, a rank and its partner (id XOR 2^j) exchange
///   the whole buffer and both add what they receive. Few messages, each of the full size: the
///   choice for the smallest calls.
/// - `halving_doubling` (Rabenseifner): reduce-scatter by recursive halving (each round sends
///   half of the range still owned and adds the partner's half of it), then allgather by recursive
///   doubling in reverse: 2·log₂P rounds moving 2(P − 1)/P of the buffer in all, like a ring, in
///   log₂P steps instead of P − 1.
///
/// Any rank count: with N = P + r (P the largest power of two ≤ N), ranks 0 … 2r − 1 pair off
/// first (even sends its buffer to the odd one above it, which adds it), P ranks run the rounds,
/// and each odd rank hands the result back (as MPICH does). Every addition has the same two
/// operands on both sides of an exchange, so all ranks end with bit-identical results.
/// Dependencies come from the same hazard tracker as forest plans. O(N · log N) steps.
public enum Butterfly: String, CaseIterable, Sendable {
    case recursiveDoubling = "recursive_doubling"
    case halvingDoubling = "halving_doubling"

    /// The allreduce plan over `n` ranks; routes from `fabric` (its max-flow paths, as baselines).
    public func allreduce(on fabric: Fabric) -> Plan {
        let n = fabric.rankCount
        let layout = Layout(collective: .allreduce, n: n)
        var builders = (0..<n).map { ProgramBuilder(rank: Rank($0), layout: layout) }
        var p = 1
        while p * 2 <= n { p *= 2 }
        let extra = n - p
        let rounds = p.trailingZeroBitCount
        // Rank of the ith active rank (the odd one of a pair, or one above the pairs).
        func real(_ id: Int) -> Int { id < extra ? 2 * id + 1 : id + extra }
        let whole = { (b: BufferKind) in BufferRange(b, .zero, .one) }
        // A rank sends to and receives from the same partner on one channel: the receive gets a
        // stream of its own, or it would wait for the send (and the partner's send for it).
        let inbound = 1 << 20
        for r in 0..<n { builders[r].add(.copy(source: whole(.input)), whole(.output), stream: 0) }
        // Pairs fold: channel 0.
        for e in stride(from: 0, to: 2 * extra, by: 2) {
            builders[e].add(.send(peer: Rank(e + 1), channel: 0), whole(.output), stream: 0)
            builders[e + 1].add(.recvReduce(peer: Rank(e), channel: 0), whole(.output), stream: inbound)
        }
        var channel = 1
        switch self {
        case .recursiveDoubling:
            // Alternate output and scratch so a rank sends one while it adds into the other.
            var current = Array(repeating: BufferKind.output, count: p)
            for j in 0..<rounds {
                for id in 0..<p {
                    let me = real(id), partner = Rank(real(id ^ (1 << j)))
                    let other: BufferKind = current[id] == .output ? .scratch : .output
                    builders[me].add(.copy(source: whole(current[id])), whole(other), stream: channel)
                    builders[me].add(.send(peer: partner, channel: channel), whole(current[id]), stream: channel)
                    builders[me].add(.recvReduce(peer: partner, channel: channel), whole(other), stream: inbound + channel)
                    current[id] = other
                }
                channel += 1
            }
            for id in 0..<p where current[id] == .scratch {
                builders[real(id)].add(.copy(source: whole(.scratch)), whole(.output), stream: channel)
            }
            channel += 1
        case .halvingDoubling:
            var range = Array(repeating: (lo: Rational.zero, hi: Rational.one), count: p)
            var history: [[(lo: Rational, hi: Rational)]] = Array(repeating: [], count: p)
            for j in 0..<rounds {
                let d = p >> (j + 1)
                for id in 0..<p {
                    let (lo, hi) = range[id]
                    let mid = (lo + hi) * Rational(1, 2)
                    let low = id & d == 0
                    let keep = low ? (lo, mid) : (mid, hi), give = low ? (mid, hi) : (lo, mid)
                    let partner = Rank(real(id ^ d))
                    builders[real(id)].add(.send(peer: partner, channel: channel), BufferRange(.output, give.0, give.1), stream: channel)
                    builders[real(id)].add(.recvReduce(peer: partner, channel: channel), BufferRange(.output, keep.0, keep.1), stream: inbound + channel)
                    history[id].append(range[id])
                    range[id] = keep
                }
                channel += 1
            }
            // Allgather: undo the halvings, last first; the partner holds the other half.
            for j in (0..<rounds).reversed() {
                let d = p >> (j + 1)
                for id in 0..<p {
                    let mine = range[id], before = history[id][j]
                    let theirs = mine.lo == before.lo ? (mine.hi, before.hi) : (before.lo, mine.lo)
                    let partner = Rank(real(id ^ d))
                    builders[real(id)].add(.send(peer: partner, channel: channel), BufferRange(.output, mine.lo, mine.hi), stream: channel)
                    builders[real(id)].add(.recv(peer: partner, channel: channel), BufferRange(.output, theirs.0, theirs.1), stream: inbound + channel)
                    range[id] = before
                }
                channel += 1
            }
        }
        // Each odd rank of a pair hands the result back.
        for e in stride(from: 0, to: 2 * extra, by: 2) {
            builders[e + 1].add(.send(peer: Rank(e), channel: channel), whole(.output), stream: channel)
            builders[e].add(.recv(peer: Rank(e + 1), channel: channel), whole(.output), stream: inbound + channel)
        }
        var plan = Plan(collective: .allreduce, rankCount: n, root: nil, programs: builders.map { $0.program },
                        slices: 1, algorithm: rawValue)
        var router = MultipathRouter(fabric)
        for prog in plan.programs {
            for step in prog.steps {
                guard case .send(let peer, let ch) = step.operation else { continue }
                let key = ArcKey(channel: ch, from: prog.rank, to: peer)
                if plan.routing[key] == nil {
                    plan.routing[key] = router.paths(prog.rank, peer).map { WeightedPath(vertices: $0.vertices, weight: $0.weight) }
                }
            }
        }
        return plan
    }
}
