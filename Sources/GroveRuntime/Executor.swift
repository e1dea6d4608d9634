import Logging
import GroveSchedule
import GroveTopology
import GroveSynthesis

/// Where a step's bytes live during a call; `callCheck` is the executor's own 16 bytes for the
/// call announcement (see `CompiledProgram.callCheckChannel`).
enum MemorySlot: UInt8 { case input, output, scratch, callCheck }

/// A rank program resolved for one element count and size: byte ranges, message tags and the
/// dependency graph (explicit dependencies plus stream order) as successor lists. Built once per
/// (plan, count, type) and reused by every call of that shape. O(steps + dependencies).
struct CompiledProgram {
    /// `nothing`: a copy folded into the receive-reduce after it (see `fuseCopies`).
    enum Kind: UInt8 { case send, receive, receiveReduce, copy, nothing }

    struct Task {
        var kind: Kind
        var slot: MemorySlot
        var offset: Int
        var length: Int
        var sourceSlot: MemorySlot = .input
        var sourceOffset = 0
        var peer = -1
        var channel: UInt32 = 0
        var sequence: UInt32 = 0
        /// receiveReduce: where the incoming bytes wait for the reduction, in the staging area.
        var stagingOffset = 0
        /// receiveReduce: true when it combines `sourceSlot`/`sourceOffset` with the message into
        /// its range (the copy before it folded in) rather than its range with the message.
        var fromSource = false
    }

    /// The channel of the call announcement; plans number their channels from 0.
    static let callCheckChannel = UInt32.max

    var tasks: [Task] = []
    var successorStart: [Int] = []
    var successors: [Int32] = []
    /// Predecessors of each task; a receive or receive-reduce also waits for its message to arrive.
    var initialIndegree: [Int32] = []
    /// A receive is posted once the steps it has a data hazard with are done (`postIndegree` of
    /// them), not when its stream predecessor is: stream order only serializes a tree's slices
    /// from one peer, and a receive posted late finds its frames already in the transport's
    /// staging, one copy more (on 4 local ranks, 7% of the CPU at 32 MiB). A plan that leaves a
    /// hazard to stream order (a file's, not Grove's lowering) keeps the stream predecessor
    /// among them. Receive-reduces are posted into staging at the start and have none.
    var postIndegree: [Int32] = []
    var postSuccessorStart: [Int] = []
    var postSuccessors: [Int32] = []
    var stagingBytes = 0
    var peers: [Int] = []
    /// Receives from each rank, indexed by rank (for naming who owes data after a timeout).
    var receivesFromPeer: [Int32]
    var bytes: [MemorySlot: Int] = [:]

    init(_ program: RankProgram, plan: Plan, count: Int, elementSize: Int) {
        let counts = plan.bufferCounts(count: count)
        func slot(_ b: BufferKind) -> MemorySlot {
            switch b {
            case .input: return .input
            case .output: return .output
            case .scratch: return .scratch
            }
        }
        receivesFromPeer = [Int32](repeating: 0, count: plan.programs.count)
        for (kind, n) in counts { bytes[slot(kind)] = n * elementSize }
        var sequence: [Int: UInt32] = [:]  // per (peer, channel, direction)
        var peerSet = Set<Int>()
        for step in program.steps {
            let e = step.range.elements(count: counts[step.range.buffer]!)
            var t = Task(kind: .copy, slot: slot(step.range.buffer), offset: e.lowerBound * elementSize, length: e.count * elementSize)
            func tag(_ peer: Rank, _ channel: Int, _ direction: Int) {
                t.peer = peer.rawValue
                t.channel = UInt32(channel)
                let key = (peer.rawValue * 2 + direction) << 32 | channel
                t.sequence = sequence[key, default: 0]
                sequence[key] = t.sequence + 1
                peerSet.insert(peer.rawValue)
            }
            switch step.operation {
            case .send(let p, let c): t.kind = .send; tag(p, c, 0)
            case .recv(let p, let c): t.kind = .receive; tag(p, c, 1)
            case .recvReduce(let p, let c):
                t.kind = .receiveReduce
                tag(p, c, 1)
                t.stagingOffset = stagingBytes
                stagingBytes += t.length
            case .copy(let source):
                t.sourceSlot = slot(source.buffer)
                t.sourceOffset = source.elements(count: counts[source.buffer]!).lowerBound * elementSize
            }
            if t.kind == .receive || t.kind == .receiveReduce { receivesFromPeer[t.peer] += 1 }
            tasks.append(t)
        }
        // Every data frame carries its call (collective, type, op, count, root) and the receiver
        // compares it with its own. In allreduce, allgather and reduce-scatter every rank's
        // result depends on every rank's input, so whenever the ranks split into two groups
        // making different calls, some rank of each group sends to the other (in either group's
        // plan) and the mismatch is named. Broadcast and reduce have no such guarantee: ranks
        // told different roots would each send and finish "successfully". For those, every rank
        // announces its call to the next rank in rank order and expects the previous rank's, so
        // around the ring every rank is known to make the same call. (The announcement costs a
        // message per call: on 4 local ranks small allreduces took 143–199 µs with it,
        // 110–161 µs without.)
        if plan.programs.count > 1 && plan.collective.needsRoot {
            let n = plan.programs.count
            let (next, previous) = ((program.rank.rawValue + 1) % n, (program.rank.rawValue + n - 1) % n)
            tasks.append(Task(kind: .send, slot: .callCheck, offset: 0, length: 8, peer: next, channel: CompiledProgram.callCheckChannel))
            tasks.append(Task(kind: .receive, slot: .callCheck, offset: 8, length: 8, peer: previous, channel: CompiledProgram.callCheckChannel))
            receivesFromPeer[previous] += 1
            peerSet.formUnion([next, previous])
        }
        peers = peerSet.sorted()
        // Successor lists from dependencies and stream order, each edge once.
        var predecessors = [[Int]](repeating: [], count: tasks.count)  // the call check's two tasks have none
        var lastInStream: [Int: Int] = [:]
        var earlierInStream: [Int: [Int]] = [:]
        var postLists = [[Int32]](repeating: [], count: tasks.count)
        postIndegree = [Int32](repeating: 0, count: tasks.count)
        for (i, step) in program.steps.enumerated() {
            var ps = Set(step.dependencies)
            let prev = lastInStream[step.stream]
            if let prev { ps.insert(prev) }
            lastInStream[step.stream] = i
            predecessors[i] = ps.sorted()
            if tasks[i].kind == .receive {
                // Posting early is safe when the plan names every hazard as a dependency, as
                // Grove's lowering does. A plan from a file may leave one to stream order (a
                // step earlier in the stream touching the same bytes): then the receive also
                // waits for its stream predecessor, as before.
                var hazards = Set(step.dependencies)
                if let prev, earlierInStream[step.stream, default: []].contains(where: {
                    !hazards.contains($0) && CompiledProgram.mayOverlap(tasks[$0], tasks[i])
                }) {
                    hazards.insert(prev)
                }
                postIndegree[i] = Int32(hazards.count)
                for d in hazards { postLists[d].append(Int32(i)) }
            }
            earlierInStream[step.stream, default: []].append(i)
        }
        var successorLists = [[Int32]](repeating: [], count: tasks.count)
        for (i, ps) in predecessors.enumerated() { for p in ps { successorLists[p].append(Int32(i)) } }
        fuseCopies(program, successors: &successorLists, postSuccessors: &postLists)
        successorStart = [0]
        for list in successorLists {
            successors += list
            successorStart.append(successors.count)
        }
        initialIndegree = predecessors.enumerated().map { i, ps in
            Int32(ps.count + (tasks[i].kind == .receive || tasks[i].kind == .receiveReduce ? 1 : 0))
        }
        postSuccessorStart = [0]
        for list in postLists {
            postSuccessors += list
            postSuccessorStart.append(postSuccessors.count)
        }
    }

    /// Whether two tasks may touch the same bytes: the same slot with overlapping ranges, or
    /// input and output at all (an in-place call aliases them, at an offset for allgather and
    /// reduce-scatter). A copy also reads its source.
    static func mayOverlap(_ a: Task, _ b: Task) -> Bool {
        func ranges(_ t: Task) -> [(MemorySlot, Range<Int>)] {
            var r = [(t.slot, t.offset..<(t.offset + t.length))]
            if t.kind == .copy || t.fromSource { r.append((t.sourceSlot, t.sourceOffset..<(t.sourceOffset + t.length))) }
            return r
        }
        for (sa, ra) in ranges(a) {
            for (sb, rb) in ranges(b) {
                if sa == sb ? ra.overlaps(rb) : (sa != .scratch && sb != .scratch && sa != .callCheck && sb != .callCheck) { return true }
            }
        }
        return false
    }

    /// Folds each copy into the receive-reduce right after it that combines into the copy's
    /// destination and has no other data dependency (an inner tree rank: accumulator = own
    /// input, then + each child), so the first child's partial is combined with the input
    /// straight into the accumulator: one pass over memory less per slice. The copy becomes a
    /// no-op and whoever waited for it waits for the receive-reduce, which now does its work;
    /// since the two are adjacent, every edge still points forward and the graph stays acyclic.
    private mutating func fuseCopies(_ program: RankProgram, successors: inout [[Int32]], postSuccessors: inout [[Int32]]) {
        for (r, step) in program.steps.enumerated() where r > 0 && tasks[r].kind == .receiveReduce && step.dependencies == [r - 1] {
            let c = r - 1
            guard tasks[c].kind == .copy, tasks[c].slot == tasks[r].slot, tasks[c].offset == tasks[r].offset,
                  tasks[c].length == tasks[r].length else { continue }
            tasks[r].sourceSlot = tasks[c].sourceSlot
            tasks[r].sourceOffset = tasks[c].sourceOffset
            tasks[r].fromSource = true
            tasks[c].kind = .nothing
            successors[r] += successors[c].filter { $0 != Int32(r) }
            successors[c] = [Int32(r)]
            postSuccessors[r] += postSuccessors[c]
            postSuccessors[c] = []
        }
    }
}

/// The memory of one call, by slot. In-place calls alias input and output the NCCL way (the
/// communicator sets the pointers); the plans are correct for both.
struct CallMemory {
    var input: UnsafeMutableRawPointer
    var output: UnsafeMutableRawPointer
    var scratch: UnsafeMutableRawPointer

    var callCheck: UnsafeMutableRawPointer

    func base(_ s: MemorySlot) -> UnsafeMutableRawPointer {
        switch s {
        case .input: return input
        case .output: return output
        case .scratch: return scratch
        case .callCheck: return callCheck
        }
    }
}

/// Runs a compiled program over a transport: a dependency-counting scheduler on the calling
/// thread. Every ready step starts at once, so the plan's streams proceed concurrently; sends and
/// receives run inside the transport while local copies and reductions run here. Receive-reduce
/// messages are received into a staging area as soon as the call starts (their memory is
/// private), and reduced once their dependencies finish. Working arrays are kept between calls,
/// so a call of a shape seen before allocates nothing.
final class Executor {
    let program: CompiledProgram
    private var indegree: [Int32]
    private var postIndegree: [Int32]
    private var ready: [Int32] = []
    /// Receives that became free to post while tasks completed; posted right after.
    private var toPost: [Int32] = []
    private var events: [TransportEvent] = []
    /// Per rank: receives not yet complete, sends not yet taken (kept for the timeout message).
    private var pendingFromPeer: [Int32]
    private var sendsPending: [Int32]
    private let staging: UnsafeMutableRawBufferPointer
    /// The call announcement's memory: 8 bytes sent, 8 received.
    let callCheck = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)

    init(_ program: CompiledProgram) {
        self.program = program
        indegree = program.initialIndegree
        postIndegree = program.postIndegree
        pendingFromPeer = program.receivesFromPeer
        sendsPending = [Int32](repeating: 0, count: program.receivesFromPeer.count)
        ready.reserveCapacity(program.tasks.count)
        toPost.reserveCapacity(program.tasks.count)
        events.reserveCapacity(64)
        staging = .allocate(byteCount: max(program.stagingBytes, 1), alignment: 64)
    }

    deinit {
        staging.deallocate()
        callCheck.deallocate()
    }

    func run(_ call: CallDescriptor, log: Logger, memory: CallMemory, transport: Transport, deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        let tasks = program.tasks
        Executor.reset(&indegree, to: program.initialIndegree)
        Executor.reset(&postIndegree, to: program.postIndegree)
        Executor.reset(&pendingFromPeer, to: program.receivesFromPeer)
        for p in program.peers { sendsPending[p] = 0 }
        ready.removeAll(keepingCapacity: true)
        toPost.removeAll(keepingCapacity: true)
        transport.begin(call)
        callCheck.storeBytes(of: UInt64(call.number).littleEndian, as: UInt64.self)
        for s in [MemorySlot.input, .output, .scratch] {
            transport.register(UnsafeMutableRawBufferPointer(start: memory.base(s), count: program.bytes[s] ?? 0))
        }
        var remaining = tasks.count
        func post(_ i: Int) throws(CommunicatorError) {
            let t = tasks[i]
            let tag = MessageTag(call: call.number, channel: t.channel, sequence: t.sequence)
            let at = t.kind == .receiveReduce ? staging.baseAddress! + t.stagingOffset : memory.base(t.slot) + t.offset
            try transport.postReceive(UnsafeMutableRawBufferPointer(start: at, count: t.length), from: t.peer, tag: tag, context: i)
        }
        for (i, t) in tasks.enumerated() {
            if t.kind == .receiveReduce || (t.kind == .receive && postIndegree[i] == 0) { try post(i) }
            if indegree[i] == 0 { ready.append(Int32(i)) }
        }
        func complete(_ i: Int) {
            remaining -= 1
            for k in program.successorStart[i]..<program.successorStart[i + 1] {
                let s = Int(program.successors[k])
                indegree[s] -= 1
                if indegree[s] == 0 { ready.append(Int32(s)) }
            }
            for k in program.postSuccessorStart[i]..<program.postSuccessorStart[i + 1] {
                let s = Int(program.postSuccessors[k])
                postIndegree[s] -= 1
                if postIndegree[s] == 0 { toPost.append(Int32(s)) }
            }
        }

        var nextNote = ContinuousClock.now + .seconds(5)
        while remaining > 0 {
            while true {
                // Receives freed by completed tasks are posted before anything else runs.
                while let next = toPost.popLast() { try post(Int(next)) }
                guard let next = ready.popLast() else { break }
                let i = Int(next)
                let t = tasks[i]
                let at = memory.base(t.slot) + t.offset
                switch t.kind {
                case .send:
                    sendsPending[t.peer] += 1
                    let tag = MessageTag(call: call.number, channel: t.channel, sequence: t.sequence)
                    try transport.postSend(UnsafeRawBufferPointer(start: at, count: t.length), to: t.peer, tag: tag, context: i)
                case .receive:
                    // Posted earlier; its data is in and its predecessors are done.
                    complete(i)
                case .receiveReduce:
                    let first = t.fromSource ? UnsafeRawPointer(memory.base(t.sourceSlot) + t.sourceOffset) : UnsafeRawPointer(at)
                    Reduction.combine(call.op, call.dataType, into: at, first, UnsafeRawPointer(staging.baseAddress! + t.stagingOffset),
                                      count: t.length / call.dataType.size)
                    complete(i)
                case .copy:
                    let source = memory.base(t.sourceSlot) + t.sourceOffset
                    if source != at { at.copyMemory(from: source, byteCount: t.length) }
                    complete(i)
                case .nothing:
                    complete(i)
                }
            }
            guard remaining > 0 else { break }
            events.removeAll(keepingCapacity: true)
            try transport.poll(into: &events, until: min(deadline, nextNote))
            if events.isEmpty && ContinuousClock.now >= deadline {
                let error = timeoutError(call, transport: transport)
                log.warning("\(error)")
                throw error
            }
            if events.isEmpty && ContinuousClock.now >= nextNote {
                log.info("\(waitingFor(call, transport: transport))")
                nextNote = .now + .seconds(5)
            }
            for e in events {
                switch e.kind {
                case .sent:
                    sendsPending[tasks[e.value].peer] -= 1
                    complete(e.value)
                case .received:
                    let t = tasks[e.value]
                    pendingFromPeer[t.peer] -= 1
                    if t.kind == .receiveReduce || t.kind == .receive {
                        indegree[e.value] -= 1
                        if indegree[e.value] == 0 { ready.append(Int32(e.value)) }
                    } else {
                        complete(e.value)
                    }
                }
            }
        }
    }

    /// Copies `source` over `array` (same count) without allocating.
    private static func reset(_ array: inout [Int32], to source: [Int32]) {
        array.withUnsafeMutableBufferPointer { d in
            source.withUnsafeBufferPointer { s in d.baseAddress!.update(from: s.baseAddress!, count: s.count) }
        }
    }

    private func timeoutError(_ call: CallDescriptor, transport: Transport) -> CommunicatorError {
        .timeout("\(call) timed out on rank \(transport.rank)" + owed() + " (is a rank stopped, or calling a different collective?)")
    }

    private func waitingFor(_ call: CallDescriptor, transport: Transport) -> String {
        "\(call) still running on rank \(transport.rank)" + owed()
    }

    /// ", waiting for data from ranks a, b; sends to rank c not taken": who owes what.
    private func owed() -> String {
        let waiting = pendingFromPeer.indices.filter { pendingFromPeer[$0] > 0 }
        let blocked = sendsPending.indices.filter { sendsPending[$0] > 0 }
        var m = ""
        if !waiting.isEmpty { m += ", waiting for data from rank\(waiting.count > 1 ? "s" : "") \(waiting.map(String.init).joined(separator: ", "))" }
        if !blocked.isEmpty { m += "\(waiting.isEmpty ? "," : ";") sends to rank\(blocked.count > 1 ? "s" : "") \(blocked.map(String.init).joined(separator: ", ")) not taken" }
        return m
    }
}
