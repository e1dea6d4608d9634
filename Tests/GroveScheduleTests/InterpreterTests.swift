import Foundation
import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveSchedule

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a plan on real numbers over an in-memory network: per (sender, receiver, channel) a FIFO
/// queue in the order sends actually run. Independent of the verifier, which matches by program
/// order on symbols. Steps run when their dependencies, their stream predecessor and (for
/// receives) a queued message allow; a stall is reported.
struct MemoryNetwork<T: Numeric & Equatable> {
    struct Key: Hashable { var from: Int; var to: Int; var channel: Int }

    static func run(_ plan: Plan, count: Int, inPlace: Bool, inputs: [[T]]) throws -> [[T]] {
        let n = plan.rankCount
        let counts = plan.bufferCounts(count: count)
        let big = max(counts[.input]!, counts[.output]!)
        // storage 0: input (or the shared in-place buffer), 1: output, 2: scratch
        var memory: [[[T]]] = (0..<n).map { v in
            var main = Array(repeating: T.zero, count: big)
            var input = inputs[v]
            if inPlace && plan.collective == .allgather {
                main.replaceSubrange((v * count)..<((v + 1) * count), with: input)
            } else {
                input += Array(repeating: T.zero, count: big - input.count)
                main = input
            }
            return [main, Array(repeating: T.zero, count: counts[.output]!), Array(repeating: T.zero, count: counts[.scratch]!)]
        }
        func place(_ r: BufferRange, _ v: Int) -> (Int, Int, Range<Int>) {
            let e = r.elements(count: counts[r.buffer]!)
            switch r.buffer {
            case .scratch: return (2, 0, e)
            case .input: return (0, inPlace && plan.collective == .allgather ? v * count : 0, e)
            case .output:
                guard inPlace else { return (1, 0, e) }
                return (0, plan.collective == .reduceScatter ? v * count : 0, e)
            }
        }
        var queues: [Key: [[T]]] = [:]
        var done = plan.programs.map { Array(repeating: false, count: $0.steps.count) }
        let previousInStream = plan.programs.map { p -> [Int] in
            var last: [Int: Int] = [:]
            return p.steps.enumerated().map { (i, s) in defer { last[s.stream] = i }; return last[s.stream] ?? -1 }
        }
        var remaining = plan.stepCount
        var open = plan.programs.map { Array($0.steps.indices) }
        while remaining > 0 {
            var progressed = false
            for v in 0..<n {
                var stillOpen: [Int] = []
                defer { open[v] = stillOpen }
                for i in open[v] {
                    let s = plan.programs[v].steps[i]
                    let prev = previousInStream[v][i]
                    guard prev < 0 || done[v][prev], s.dependencies.allSatisfy({ done[v][$0] }) else { stillOpen.append(i); continue }
                    let (st, off, e) = place(s.range, v)
                    switch s.operation {
                    case .send(let peer, let ch):
                        queues[Key(from: v, to: peer.rawValue, channel: ch), default: []].append(Array(memory[v][st][(off + e.lowerBound)..<(off + e.upperBound)]))
                    case .recv(let peer, let ch), .recvReduce(let peer, let ch):
                        let key = Key(from: peer.rawValue, to: v, channel: ch)
                        guard var q = queues[key], !q.isEmpty else { stillOpen.append(i); continue }
                        let m = q.removeFirst()
                        queues[key] = q
                        guard m.count == e.count else { throw VerificationError(description: "size mismatch at rank \(v) step \(i)") }
                        var reduce = false
                        if case .recvReduce = s.operation { reduce = true }
                        for (k, x) in m.enumerated() {
                            memory[v][st][off + e.lowerBound + k] = reduce ? memory[v][st][off + e.lowerBound + k] + x : x
                        }
                    case .copy(let source):
                        let (ss, so, se) = place(source, v)
                        let data = Array(memory[v][ss][(so + se.lowerBound)..<(so + se.upperBound)])
                        memory[v][st].replaceSubrange((off + e.lowerBound)..<(off + e.upperBound), with: data)
                    }
                    done[v][i] = true
                    remaining -= 1
                    progressed = true
                }
            }
            if !progressed { throw VerificationError(description: "the in-memory network stalled with \(remaining) steps left") }
        }
        return (0..<n).map { v in
            let (st, off, _) = place(BufferRange(.output, .zero, .one), v)
            return Array(memory[v][st][off..<(off + counts[.output]!)])
        }
    }
}

/// Deterministic small-integer data, so float sums are exact in any order.
func value<T: Numeric>(_ rank: Int, _ i: Int, as: T.Type) -> T { T(exactly: (rank * 31 + i * 7) % 17 + 1)! }

/// The collective's result computed directly from the inputs.
func expected<T: Numeric>(_ plan: Plan, count: Int, inputs: [[T]]) -> [[T]?] {
    let n = plan.rankCount
    let root = plan.root?.rawValue ?? 0
    func sum(_ idx: Int) -> T { inputs.reduce(T.zero) { $0 + $1[idx] } }
    return (0..<n).map { v -> [T]? in
        switch plan.collective {
        case .allreduce: return (0..<count).map(sum)
        case .allgather: return (0..<(n * count)).map { inputs[$0 / count][$0 % count] }
        case .reduceScatter: return (0..<count).map { sum(v * count + $0) }
        case .broadcast: return inputs[root]
        case .reduce: return v == root ? (0..<count).map(sum) : nil
        }
    }
}

func wrongElements<T: Numeric & Equatable>(_ plan: Plan, bytes: Int, inPlace: Bool, type: T.Type) throws -> Int {
    let n = plan.rankCount
    let elements = max(1, bytes / 4)
    let perRank = plan.collective == .allgather || plan.collective == .reduceScatter
    let count = perRank ? max(1, elements / n) : elements
    let inCount = plan.bufferCounts(count: count)[.input]!
    let inputs = (0..<n).map { v in (0..<inCount).map { value(v, $0, as: T.self) } }
    let got = try MemoryNetwork<T>.run(plan, count: count, inPlace: inPlace, inputs: inputs)
    let want = expected(plan, count: count, inputs: inputs)
    var wrong = 0
    for v in 0..<n { if let w = want[v] { wrong += zip(got[v], w).filter { $0 != $1 }.count } }
    return wrong
}

/// Sizes of the collective's buffer in bytes: one element, primes, and just over 1 MiB.
let interpreterSizes = [4, 388, 4084, 65537 * 4, 262147 * 4]

@Suite struct InterpreterRuns {
    @Test(arguments: Collective.allCases)
    func smallFabricPlansAreExact(collective: Collective) throws {
        for fabric in try smallFabrics() {
            let s = try Synthesizer.synthesize(fabric, collective: collective, root: collective.needsRoot ? Rank(1) : nil)
            var plans = [Lowering.plan(s, slices: 3)]
            for b in Baseline.allCases {
                if let p = Lowering.plan(baseline: b, fabric: fabric, collective: collective, root: Rank(1), slices: 2) { plans.append(p) }
            }
            for plan in plans {
                for bytes in interpreterSizes.prefix(4) {
                    #expect(try wrongElements(plan, bytes: bytes, inPlace: false, type: Float.self) == 0, "\(fabric.name) \(plan.algorithm) \(bytes) B float32")
                    #expect(try wrongElements(plan, bytes: bytes, inPlace: bytes < 5000, type: Int32.self) == 0, "\(fabric.name) \(plan.algorithm) \(bytes) B int32")
                }
            }
        }
    }
}

func scheduleFiles() -> [String] {
    let dir = repositoryRoot.appendingPathComponent("Schedules")
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
}

func loadShipped(_ file: String) throws -> Schedule {
    try ScheduleFile.read(try String(contentsOf: repositoryRoot.appendingPathComponent("Schedules/\(file)"), encoding: .utf8))
}

@Suite struct ShippedSchedules {
    @Test func everyTopologyHasItsSchedules() {
        #expect(scheduleFiles().count >= 45)
    }

    /// Every plan of every shipped schedule is proven correct and deadlock-free.
    @Test(arguments: scheduleFiles())
    func verifies(file: String) throws {
        let s = try loadShipped(file)
        for plan in s.plans { try Verifier.verify(plan, counts: [1, 97, plan.rankCount + 1]) }
    }

    /// Every plan runs on real float32 and int32 data with zero wrong elements, out of place and
    /// in place: at five sizes from one element to just over 1 MiB on fabrics of up to 16 ranks,
    /// and at 4 B, 388 B and 4084 B above that (the interpreter is a plain loop in a debug build;
    /// the full sizes on 32–64 ranks took 13 minutes).
    @Test(arguments: scheduleFiles())
    func interpreterIsExact(file: String) throws {
        let s = try loadShipped(file)
        for plan in s.plans {
            let sizes = plan.rankCount > 16 ? Array(interpreterSizes.prefix(3)) : interpreterSizes
            for bytes in sizes {
                #expect(try wrongElements(plan, bytes: bytes, inPlace: false, type: Float.self) == 0, "\(file) \(plan.algorithm) \(bytes) B float32")
                #expect(try wrongElements(plan, bytes: bytes, inPlace: true, type: Int32.self) == 0, "\(file) \(plan.algorithm) \(bytes) B int32 in place")
            }
        }
    }
}
