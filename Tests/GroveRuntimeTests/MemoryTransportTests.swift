import Foundation
import Testing
@testable import GroveSchedule
import GroveSynthesis
import GroveTopology
@testable import GroveRuntime

/// Runs `body` on every rank of an in-memory world, one thread per rank; returns each rank's
/// error (nil when it succeeded).
func withMemoryWorld(_ n: Int, library: (Int) throws -> PlanLibrary, timeout: Duration = .seconds(20),
                     _ body: @escaping @Sendable (Communicator) throws -> Void) throws -> [CommunicatorError?] {
    let hub = MemoryHub(worldSize: n)
    let comms = try (0..<n).map { r in try Communicator(transport: hub.transport(rank: r), plans: library(r), timeout: timeout) }
    let results = Results(n)
    let group = DispatchGroup()
    for c in comms {
        let box = UncheckedBox(c)
        group.enter()
        Thread {
            do { try body(box.value) } catch let e as CommunicatorError { results.set(box.value.rank, e) } catch {
                results.set(box.value.rank, .system("\(error)"))
            }
            group.leave()
        }.start()
    }
    group.wait()
    return results.all
}

final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [CommunicatorError?]
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ e: CommunicatorError) { lock.lock(); values[i] = e; lock.unlock() }
    var all: [CommunicatorError?] { lock.lock(); defer { lock.unlock() }; return values }
}

struct UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// One collective on raw buffers, checked against `DataPattern`; returns the wrong elements.
func runChecked(_ c: Communicator, _ collective: Collective, type: DataType, op: ReduceOp, count: Int, inPlace: Bool, root: Int = 0) throws -> Int {
    let n = c.worldSize
    let buffers = try CallBuffers(collective, count: count, type: type, rank: c.rank, worldSize: n, inPlace: inPlace, outputFill: 0xEE)
    let (inPtr, outPtr) = (buffers.input, buffers.output)
    DataPattern.fillInput(inPtr, collective, type: type, count: count, rank: c.rank, worldSize: n, op: op)
    try c.run(collective, input: inPtr, output: outPtr, count: count, type: type, op: op, root: root)
    return DataPattern.wrongElements(collective, type: type, op: op, output: outPtr, count: count, rank: c.rank, worldSize: n, root: root)
}

let collectivesWithRoot: [(Collective, Int)] = [(.allreduce, 0), (.allgather, 0), (.reduceScatter, 0), (.broadcast, 1), (.reduce, 2)]

@Suite struct ExecutorOverMemory {
    @Test(arguments: [2, 3, 5])
    func ringBaselineEveryCollective(n: Int) throws {
        let wrong = WrongCounter()
        let errors = try withMemoryWorld(n, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: n) }) { c in
            for (coll, root) in collectivesWithRoot {
                for count in [1, 7, 1000, 4099] {
                    for inPlace in [false, true] {
                        wrong.add(try runChecked(c, coll, type: .float32, op: .sum, count: count, inPlace: inPlace, root: root % n), "\(coll) \(count) \(inPlace)")
                    }
                }
            }
        }
        #expect(errors.allSatisfy { $0 == nil }, "\(errors)")
        #expect(wrong.total == 0, "\(wrong.notes)")
    }

    @Test func forestFromTopologyEveryTypeAndOp() throws {
        let fabric = try FabricGenerator.ring(ranks: 4, bandwidth: Rational(10), bidirectional: true)
        let library = try PlanLibrary(.topology(fabric), worldSize: 4)
        let wrong = WrongCounter()
        let errors = try withMemoryWorld(4, library: { _ in library }) { c in
            for type in DataType.allCases {
                for op in ReduceOp.allCases {
                    wrong.add(try runChecked(c, .allreduce, type: type, op: op, count: 1031, inPlace: false), "\(type) \(op)")
                    wrong.add(try runChecked(c, .reduceScatter, type: type, op: op, count: 257, inPlace: true), "rs \(type) \(op)")
                }
            }
            try c.barrier()
        }
        #expect(errors.allSatisfy { $0 == nil }, "\(errors)")
        #expect(wrong.total == 0, "\(wrong.notes)")
    }

    @Test func mismatchedCountsFailEveryRank() throws {
        let errors = try withMemoryWorld(3, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 3) }, timeout: .seconds(10)) { c in
            var a = [Float](repeating: 1, count: c.rank == 1 ? 200 : 100)
            try c.allreduce(&a)
        }
        for (r, e) in errors.enumerated() {
            #expect(e != nil, "rank \(r) did not fail")
            #expect(e.map { "\($0)".contains("count 200") && "\($0)".contains("count 100") } ?? false, "rank \(r): \(String(describing: e))")
        }
    }

    /// The typed in-place calls put this rank's block where NCCL does.
    @Test func typedInPlaceCalls() throws {
        let wrong = WrongCounter()
        let errors = try withMemoryWorld(3, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 3) }) { c in
            var gathered = [Int32](repeating: -1, count: 3 * 5)
            for i in 0..<5 { gathered[c.rank * 5 + i] = Int32(c.rank * 100 + i) }
            try gathered.withUnsafeMutableBufferPointer { (b: inout UnsafeMutableBufferPointer<Int32>) throws(CommunicatorError) in try c.allgather(inPlace: b) }
            let wantGathered: [Int32] = (0..<15).map { (i: Int) -> Int32 in Int32((i / 5) * 100 + i % 5) }
            wrong.add(zip(gathered, wantGathered).filter { $0 != $1 }.count, "allgather rank \(c.rank)")
            var reduced = (0..<15).map { Int32($0 + c.rank) }
            try reduced.withUnsafeMutableBufferPointer { (b: inout UnsafeMutableBufferPointer<Int32>) throws(CommunicatorError) in try c.reduceScatter(inPlace: b) }
            let block = Array(reduced[(c.rank * 5)..<(c.rank * 5 + 5)])
            let wantBlock: [Int32] = (0..<5).map { (i: Int) -> Int32 in Int32(3 * (c.rank * 5 + i) + 3) }
            wrong.add(zip(block, wantBlock).filter { $0 != $1 }.count, "reduce-scatter rank \(c.rank)")
        }
        #expect(errors.allSatisfy { $0 == nil }, "\(errors)")
        #expect(wrong.total == 0, "\(wrong.notes)")
    }

    /// A rank that never makes the call: the others fail within the per-call timeout, naming it.
    @Test func perCallTimeoutNamesTheSilentRank() throws {
        let started = ContinuousClock.now
        let errors = try withMemoryWorld(3, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 3) }, timeout: .seconds(30)) { c in
            guard c.rank != 1 else { return }
            let a = UnsafeMutableBufferPointer<Float>.allocate(capacity: 64)
            defer { a.deallocate() }
            a.initialize(repeating: 1)
            try c.run(.allreduce, input: UnsafeRawPointer(a.baseAddress), output: UnsafeMutableRawPointer(a.baseAddress), count: 64,
                      type: .float32, timeout: .milliseconds(300))
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(errors[1] == nil)
        for r in [0, 2] {
            let text = errors[r].map { "\($0)" } ?? "no error"
            // The silent rank is among those named as owing data ("rank 1", "ranks 1, 2", …).
            #expect(text.contains("timed out") && ranksOwingData(text).contains(1), "rank \(r): \(text)")
        }
    }

    @Test func lostRankIsNamed() throws {
        let errors = try withMemoryWorld(4, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 4) }, timeout: .seconds(10)) { c in
            var a = [Float](repeating: 1, count: 4096)
            try c.allreduce(&a)
            if c.rank == 2 { (c.transport as! MemoryTransport).close(); return }
            try c.allreduce(&a)
        }
        #expect(errors[2] == nil)
        for r in [0, 1, 3] {
            let text = errors[r].map { "\($0)" } ?? "no error"
            #expect(text.contains("rank 2"), "rank \(r): \(text)")
        }
    }
}

/// The ranks a timeout message says data was owed by.
func ranksOwingData(_ text: String) -> Set<Int> {
    guard let r = text.range(of: #"waiting for data from ranks? [0-9, ]+"#, options: .regularExpression) else { return [] }
    return Set(text[r].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) })
}

final class WrongCounter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var total = 0
    private(set) var notes: [String] = []
    func add(_ n: Int, _ note: String) {
        lock.lock()
        defer { lock.unlock() }
        total += n
        if n > 0 { notes.append("\(note): \(n)") }
    }
}

@Suite struct CompiledPrograms {
    /// An inner rank of an in-tree copies its input to the accumulator and then combines the
    /// first child's partial into it; compiled, the copy is folded into that receive-reduce, and
    /// the dependency graph still orders every task (a topological order reaches all of them).
    @Test(arguments: [Collective.allreduce, .reduceScatter, .reduce])
    func copiesFoldIntoReceiveReduceAndTheGraphStaysAcyclic(collective: Collective) throws {
        let library = try PlanLibrary(.baseline(.ring), worldSize: 4, slices: 3)
        let plan = try library.plan(collective, root: 0, bytes: 4096)
        var folded = 0
        for program in plan.programs {
            let compiled = CompiledProgram(program, plan: plan, count: 1024, elementSize: 4)
            let tasks = compiled.tasks
            for (i, t) in tasks.enumerated() where t.kind == .nothing {
                folded += 1
                let next = tasks[i + 1]
                #expect(next.kind == .receiveReduce && next.fromSource && next.slot == t.slot && next.offset == t.offset)
            }
            var indegree = compiled.initialIndegree.enumerated().map { i, d in
                d - (tasks[i].kind == .receive || tasks[i].kind == .receiveReduce ? 1 : 0)
            }
            var queue = indegree.indices.filter { indegree[$0] == 0 }
            var reached = 0
            while let i = queue.popLast() {
                reached += 1
                for k in compiled.successorStart[i]..<compiled.successorStart[i + 1] {
                    let s = Int(compiled.successors[k])
                    indegree[s] -= 1
                    if indegree[s] == 0 { queue.append(s) }
                }
            }
            #expect(reached == tasks.count, "rank \(program.rank.rawValue): \(tasks.count - reached) tasks never become ready")
            if collective == .allreduce {
                // Posted before all its predecessors are done: the stream predecessor is not waited for.
                let early = tasks.indices.filter { tasks[$0].kind == .receive && compiled.postIndegree[$0] < compiled.initialIndegree[$0] - 1 }
                #expect(!early.isEmpty, "rank \(program.rank.rawValue): some allgather receive is posted before its stream predecessor is done")
            }
        }
        #expect(folded > 0)
    }

    /// A plan from a file may leave a hazard to stream order: a receive over bytes an earlier
    /// send of its stream reads then waits for that stream, not posted at the start.
    @Test func aReceiveLeftToStreamOrderWaitsForItsStream() throws {
        let plan = try PlanLibrary(.baseline(.ring), worldSize: 2).plan(.allreduce, root: 0, bytes: 4096)
        let half = BufferRange(.output, .zero, Rational(1, 2))
        func receive(into range: BufferRange) -> CompiledProgram {
            CompiledProgram(RankProgram(rank: Rank(0), steps: [
                Step(.send(peer: Rank(1), channel: 0), half, dependencies: [], stream: 7),
                Step(.recv(peer: Rank(1), channel: 0), range, dependencies: [], stream: 7),
            ]), plan: plan, count: 1024, elementSize: 4)
        }
        #expect(receive(into: half).postIndegree[1] == 1)
        #expect(receive(into: BufferRange(.output, Rational(1, 2), .one)).postIndegree[1] == 0)
    }
}
