import GroveSynthesis
import GroveTopology

public struct VerificationError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Proves a plan computes its collective by executing it symbolically.
///
/// Every element holds its origin (the index it came from) and the set of ranks whose inputs it
/// sums. Reductions must combine equal origins and disjoint sets (each contribution exactly once);
/// at the end every output element must hold exactly the expected origin and set. The run checks
/// bounds, reads of unwritten elements, and that the k-th receive from a peer on a channel meets
/// the k-th send (program order) with the same number of elements. A static pass proves freedom
/// from deadlock under blocking (rendezvous) semantics: with each matched send and receive merged
/// into one event, the graph of dependencies and stream order must be acyclic.
/// Cost: O(steps + Σ elements moved · ⌈N/64⌉) per size.
public enum Verifier {
    /// Sizes (nccl-tests `count`, in elements) checked by default: tiny, primes, and sizes not
    /// divisible by the slice count or the rank count.
    /// The largest element count `verify` accepts: the symbolic run holds every element.
    public static let maxCount = 1 << 26
    /// Channels a plan may use; the runtime keeps the values above for its own messages.
    public static let channels = 0..<(1 << 24)

    public static func defaultCounts(for plan: Plan) -> [Int] {
        Array(Set([1, 2, 3, plan.rankCount - 1, plan.rankCount + 1, plan.slices + 1, 97, 1021].filter { $0 > 0 && $0 <= maxCount })).sorted()
    }

    public static func verify(_ plan: Plan, counts: [Int]? = nil) throws(VerificationError) {
        try checkStructure(plan)
        for count in counts ?? defaultCounts(for: plan) {
            for inPlace in [false, true] {
                var run = SymbolicRun(plan: plan, count: count, inPlace: inPlace)
                try run.execute()
                try run.checkResult()
            }
        }
    }

    /// What every reader checks before using a plan, in O(steps + dependencies): one program per
    /// rank in order, peers that are other ranks, byte ranges within [0, 1], dependencies on
    /// earlier steps, every send matched by a receive, and no deadlock. `verify` adds the
    /// symbolic run that proves the result.
    public static func checkStructure(_ plan: Plan) throws(VerificationError) {
        guard plan.programs.count == plan.rankCount, plan.programs.enumerated().allSatisfy({ $0.offset == $0.element.rank.rawValue }) else {
            throw VerificationError(description: "the plan has \(plan.programs.count) programs for \(plan.rankCount) ranks (one per rank, in rank order)")
        }
        if let r = plan.root, !(0..<plan.rankCount).contains(r.rawValue) {
            throw VerificationError(description: "root \(r) is not a rank (0..\(plan.rankCount - 1))")
        }
        guard ScheduleBuilder.slices.contains(plan.slices) else {
            throw VerificationError(description: "\(plan.slices) slices per tree; a plan has \(ScheduleBuilder.slices.lowerBound) to \(ScheduleBuilder.slices.upperBound)")
        }
        for p in plan.programs {
            for (i, s) in p.steps.enumerated() {
                var ranges = [s.range]
                switch s.operation {
                case .send(let peer, let c), .recv(let peer, let c), .recvReduce(let peer, let c):
                    guard (0..<plan.rankCount).contains(peer.rawValue), peer != p.rank else {
                        throw VerificationError(description: "rank \(p.rank) step \(i): peer \(peer) is not another rank of the plan's \(plan.rankCount)")
                    }
                    guard channels.contains(c) else {
                        throw VerificationError(description: "rank \(p.rank) step \(i): channel \(c) is outside 0..<\(channels.upperBound)")
                    }
                case .copy(let source): ranges.append(source)
                }
                for r in ranges where !(r.lo >= .zero && r.lo <= r.hi && r.hi <= .one) {
                    throw VerificationError(description: "\(describe(plan, rank: p.rank.rawValue, step: i)): range out of bounds (fractions must lie in [0, 1])")
                }
            }
        }
        try checkDeadlockFreedom(plan)
    }

    static func describe(_ plan: Plan, rank: Int, step: Int) -> String {
        let s = plan.programs[rank].steps[step]
        let what: String
        switch s.operation {
        case .send(let p, let c): what = "send to \(p) on channel \(c)"
        case .recv(let p, let c): what = "recv from \(p) on channel \(c)"
        case .recvReduce(let p, let c): what = "recv-reduce from \(p) on channel \(c)"
        case .copy(let src): what = "copy from \(src)"
        }
        return "rank \(rank) step \(step) (\(what), \(s.range))"
    }

    /// Matches the k-th send from a to b on a channel with the k-th receive at b, in program order.
    static func matching(_ plan: Plan) throws(VerificationError) -> [Int: Int] {
        struct Key: Hashable { var from: Int; var to: Int; var channel: Int }
        var sends: [Key: [Int]] = [:], recvs: [Key: [Int]] = [:]
        let width = plan.programs.map { $0.steps.count }.max() ?? 0
        for p in plan.programs {
            for (i, s) in p.steps.enumerated() {
                switch s.operation {
                case .send(let peer, let c): sends[Key(from: p.rank.rawValue, to: peer.rawValue, channel: c), default: []].append(p.rank.rawValue * width + i)
                case .recv(let peer, let c), .recvReduce(let peer, let c):
                    recvs[Key(from: peer.rawValue, to: p.rank.rawValue, channel: c), default: []].append(p.rank.rawValue * width + i)
                case .copy: break
                }
            }
        }
        var match: [Int: Int] = [:]
        for key in Set(sends.keys).union(recvs.keys) {
            let s = sends[key] ?? [], r = recvs[key] ?? []
            if s.count != r.count {
                let (side, id) = s.count > r.count ? ("send", s[r.count]) : ("receive", r[s.count])
                throw VerificationError(description: "\(describe(plan, rank: id / width, step: id % width)): no matching \(side == "send" ? "receive" : "send") (\(s.count) sends, \(r.count) receives from rank \(key.from) to rank \(key.to) on channel \(key.channel))")
            }
            for (a, b) in zip(s, r) { match[a] = b; match[b] = a }
        }
        return match
    }

    /// Kahn's algorithm on steps with matched pairs merged. O(steps + dependencies).
    static func checkDeadlockFreedom(_ plan: Plan) throws(VerificationError) {
        let match = try matching(plan)
        let width = plan.programs.map { $0.steps.count }.max() ?? 0
        func node(_ id: Int) -> Int { min(id, match[id] ?? id) }
        var edges: [Int: [Int]] = [:]
        var indegree: [Int: Int] = [:]
        var nodes = Set<Int>()
        for p in plan.programs {
            var lastInStream: [Int: Int] = [:]
            for (i, s) in p.steps.enumerated() {
                let id = p.rank.rawValue * width + i
                let me = node(id)
                nodes.insert(me)
                for d in s.dependencies {
                    guard d >= 0 && d < i else {
                        throw VerificationError(description: "\(describe(plan, rank: p.rank.rawValue, step: i)): depends on step \(d), which is not an earlier step of the same rank (a dependency cycle or a forward reference)")
                    }
                    edges[node(p.rank.rawValue * width + d), default: []].append(me)
                }
                if let prev = lastInStream[s.stream] { edges[node(p.rank.rawValue * width + prev), default: []].append(me) }
                lastInStream[s.stream] = i
            }
        }
        for (_, targets) in edges { for t in targets { indegree[t, default: 0] += 1 } }
        var ready = nodes.filter { indegree[$0, default: 0] == 0 }
        var done = 0
        while let n = ready.popFirst() {
            done += 1
            for t in edges[n] ?? [] {
                indegree[t]! -= 1
                if indegree[t] == 0 { ready.insert(t) }
            }
        }
        if done < nodes.count {
            let stuck = nodes.filter { indegree[$0, default: 0] > 0 }.min()!
            throw VerificationError(description: "deadlock under blocking send/receive: \(describe(plan, rank: stuck / width, step: stuck % width)) is on a cycle of dependencies, stream order and matched transfers")
        }
    }
}

/// One execution of a plan on symbolic data.
struct SymbolicRun {
    let plan: Plan
    let count: Int
    let inPlace: Bool
    let n: Int
    let words: Int
    /// Per rank, per storage (0 main/input, 1 output when out of place, 2 scratch).
    var origin: [[[Int32]]]
    var contributors: [[[UInt64]]]
    var written: [[[Bool]]]
    let counts: [BufferKind: Int]

    init(plan: Plan, count: Int, inPlace: Bool) {
        self.plan = plan
        self.count = count
        self.inPlace = inPlace
        n = plan.rankCount
        words = (n + 63) / 64
        counts = plan.bufferCounts(count: count)
        let sizes = [max(counts[.input]!, counts[.output]!), counts[.output]!, counts[.scratch]!]
        origin = []; contributors = []; written = []
        for v in 0..<n {
            origin.append(sizes.map { Array(repeating: -1, count: $0) })
            contributors.append(sizes.map { Array(repeating: 0, count: $0 * words) })
            written.append(sizes.map { Array(repeating: false, count: $0) })
            // Inputs: element i of rank v's input comes from (global index, {v}).
            for i in 0..<counts[.input]! {
                let (s, at) = location(.input, i, rank: v)
                let global = plan.collective == .allgather ? v * count + i : i
                origin[v][s][at] = Int32(global)
                contributors[v][s][at * words + v / 64] = 1 << UInt64(v % 64)
                written[v][s][at] = true
            }
        }
    }

    /// Storage and index of element `i` of a buffer at rank v, with in-place aliasing (NCCL:
    /// allgather's input is the output's slot v, reduce-scatter's output the input's slot v).
    func location(_ buffer: BufferKind, _ i: Int, rank v: Int) -> (Int, Int) {
        switch buffer {
        case .scratch: return (2, i)
        case .input:
            if inPlace && plan.collective == .allgather { return (0, v * count + i) }
            return (0, i)
        case .output:
            guard inPlace else { return (1, i) }
            if plan.collective == .reduceScatter { return (0, v * count + i) }
            return (0, i)
        }
    }

    func elements(_ r: BufferRange, rank: Int, step: Int) throws(VerificationError) -> Range<Int> {
        let limit = counts[r.buffer]!
        guard r.lo >= .zero, r.lo <= r.hi, r.hi <= .one else {
            throw VerificationError(description: "\(Verifier.describe(plan, rank: rank, step: step)): range out of bounds (fractions must lie in [0, 1])")
        }
        let e = r.elements(count: limit)
        guard e.upperBound <= limit else {
            throw VerificationError(description: "\(Verifier.describe(plan, rank: rank, step: step)): elements \(e) out of bounds of \(r.buffer.rawValue) (\(limit) elements) at count \(count)")
        }
        return e
    }

    struct Message { var origin: [Int32]; var contributors: [UInt64] }

    func read(_ r: BufferRange, rank v: Int, step: Int) throws(VerificationError) -> Message {
        let e = try elements(r, rank: v, step: step)
        var m = Message(origin: [], contributors: [])
        m.origin.reserveCapacity(e.count)
        for i in e {
            let (s, at) = location(r.buffer, i, rank: v)
            guard written[v][s][at] else {
                throw VerificationError(description: "\(Verifier.describe(plan, rank: v, step: step)): reads element \(i) of \(r.buffer.rawValue) before anything wrote it (count \(count)\(inPlace ? ", in place" : ""))")
            }
            m.origin.append(origin[v][s][at])
            m.contributors.append(contentsOf: contributors[v][s][(at * words)..<(at * words + words)])
        }
        return m
    }

    mutating func write(_ m: Message, into r: BufferRange, rank v: Int, step: Int, reduce: Bool) throws(VerificationError) {
        let e = try elements(r, rank: v, step: step)
        guard e.count == m.origin.count else {
            throw VerificationError(description: "\(Verifier.describe(plan, rank: v, step: step)): receives \(m.origin.count) elements into a range of \(e.count) at count \(count)")
        }
        for (k, i) in e.enumerated() {
            let (s, at) = location(r.buffer, i, rank: v)
            if reduce {
                guard written[v][s][at] else {
                    throw VerificationError(description: "\(Verifier.describe(plan, rank: v, step: step)): reduces into element \(i) of \(r.buffer.rawValue) before anything wrote it")
                }
                guard origin[v][s][at] == m.origin[k] else {
                    throw VerificationError(description: "\(Verifier.describe(plan, rank: v, step: step)): combines element \(m.origin[k]) into element \(origin[v][s][at]) (wrong offset) at count \(count)")
                }
                for w in 0..<words {
                    let mine = contributors[v][s][at * words + w], theirs = m.contributors[k * words + w]
                    guard mine & theirs == 0 else {
                        throw VerificationError(description: "\(Verifier.describe(plan, rank: v, step: step)): element \(i) would count rank \(w * 64 + (mine & theirs).trailingZeroBitCount)'s contribution twice")
                    }
                    contributors[v][s][at * words + w] = mine | theirs
                }
            } else {
                origin[v][s][at] = m.origin[k]
                for w in 0..<words { contributors[v][s][at * words + w] = m.contributors[k * words + w] }
                written[v][s][at] = true
            }
        }
    }

    /// Runs steps as their dependencies, stream order and matching sends allow; sends are
    /// buffered, so a stall here is a deadlock under any semantics.
    mutating func execute() throws(VerificationError) {
        let match = try Verifier.matching(plan)
        let width = plan.programs.map { $0.steps.count }.max() ?? 0
        var done = (0..<n).map { Array(repeating: false, count: plan.programs[$0].steps.count) }
        var inFlight: [Int: Message] = [:]
        // Per rank, the steps of each stream in order, and the position reached in each.
        var streams: [[[Int]]] = []
        for p in plan.programs {
            var byStream: [Int: [Int]] = [:]
            for (i, s) in p.steps.enumerated() { byStream[s.stream, default: []].append(i) }
            streams.append(byStream.keys.sorted().map { byStream[$0]! })
        }
        var position = streams.map { Array(repeating: 0, count: $0.count) }
        var remaining = plan.stepCount
        var progress = true
        while remaining > 0 && progress {
            progress = false
            for v in 0..<n {
                for si in 0..<streams[v].count {
                    while position[v][si] < streams[v][si].count {
                        let i = streams[v][si][position[v][si]]
                        let step = plan.programs[v].steps[i]
                        guard step.dependencies.allSatisfy({ $0 < i && done[v][$0] }) else { break }
                        let id = v * width + i
                        // A receive waits until its matching send has run.
                        if isReceive(step) && inFlight[match[id] ?? -1] == nil { break }
                        switch step.operation {
                        case .send:
                            inFlight[id] = try read(step.range, rank: v, step: i)
                        case .recv:
                            try write(inFlight.removeValue(forKey: match[id]!)!, into: step.range, rank: v, step: i, reduce: false)
                        case .recvReduce:
                            try write(inFlight.removeValue(forKey: match[id]!)!, into: step.range, rank: v, step: i, reduce: true)
                        case .copy(let source):
                            let m = try read(source, rank: v, step: i)
                            try write(m, into: step.range, rank: v, step: i, reduce: false)
                        }
                        done[v][i] = true
                        position[v][si] += 1
                        remaining -= 1
                        progress = true
                    }
                }
            }
        }
        if remaining > 0 {
            for v in 0..<n {
                for si in 0..<streams[v].count where position[v][si] < streams[v][si].count {
                    let i = streams[v][si][position[v][si]]
                    throw VerificationError(description: "deadlock at count \(count): \(Verifier.describe(plan, rank: v, step: i)) can never run (it waits for a step or a message that never comes)")
                }
            }
        }
    }

    private func isReceive(_ s: Step) -> Bool {
        switch s.operation { case .recv, .recvReduce: return true; default: return false }
    }

    func checkResult() throws(VerificationError) {
        let c = plan.collective
        let all: [UInt64] = (0..<words).map { w in
            let bits = min(64, n - w * 64)
            return bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
        }
        func expect(rank v: Int, index i: Int, origin o: Int, set: [UInt64]) throws(VerificationError) {
            let (s, at) = location(.output, i, rank: v)
            let where_ = "rank \(v) output element \(i) at count \(count)\(inPlace ? " (in place)" : "")"
            guard written[v][s][at] else { throw VerificationError(description: "\(where_) is never written") }
            guard origin[v][s][at] == Int32(o) else {
                throw VerificationError(description: "\(where_) holds element \(origin[v][s][at]), expected \(o)")
            }
            let got = Array(contributors[v][s][(at * words)..<(at * words + words)])
            guard got == set else {
                func has(_ bits: [UInt64], _ r: Int) -> Bool { bits[r / 64] & (UInt64(1) << UInt64(r % 64)) != 0 }
                let missing = (0..<n).filter { has(set, $0) && !has(got, $0) }
                let extra = (0..<n).filter { !has(set, $0) && has(got, $0) }
                throw VerificationError(description: "\(where_) lacks contributions of ranks \(missing) and has extra \(extra)")
            }
        }
        func only(_ r: Int) -> [UInt64] { (0..<words).map { $0 == r / 64 ? 1 << UInt64(r % 64) : 0 } }
        for v in 0..<n {
            switch c {
            case .allgather:
                for j in 0..<(n * count) { try expect(rank: v, index: j, origin: j, set: only(j / count)) }
            case .reduceScatter:
                for i in 0..<count { try expect(rank: v, index: i, origin: v * count + i, set: all) }
            case .allreduce:
                for i in 0..<count { try expect(rank: v, index: i, origin: i, set: all) }
            case .broadcast:
                let r = plan.root?.rawValue ?? 0
                for i in 0..<count { try expect(rank: v, index: i, origin: i, set: only(r)) }
            case .reduce:
                if v == (plan.root?.rawValue ?? 0) { for i in 0..<count { try expect(rank: v, index: i, origin: i, set: all) } }
            }
        }
    }
}
