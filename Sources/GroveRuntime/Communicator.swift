import Foundation
import Logging
import GroveSchedule
import GroveSynthesis

/// A group of ranks that run collectives together, NCCL- and MPI-style: every rank makes the
/// same calls in the same order with matching arguments. Calls block until this rank's part is
/// done, and fail (never hang) within the timeout with a `CommunicatorError` that names the rank
/// at fault. After a failure the communicator is unusable: every later call throws the same error.
///
/// Buffers follow NCCL: `count` is the element count of allreduce/broadcast/reduce buffers, of
/// each rank's allgather input and of each rank's reduce-scatter output. In-place calls pass one
/// buffer: for allgather this rank's part is at `rank · count` of it, for reduce-scatter the
/// result lands at `rank · count`.
///
/// Not thread-safe: one call at a time, as with an NCCL communicator on one stream.
public final class Communicator {
    public let rank: Int
    public let worldSize: Int
    public let plans: PlanLibrary
    /// How long one call may take before it fails with `.timeout`; `run(…, timeout:)` overrides it
    /// for one call.
    public var timeout: Duration
    /// The algorithm the last call ran ("forest", "ring", "double_binary_tree", "local").
    public private(set) var lastAlgorithm = ""
    let transport: Transport
    private var calls: UInt32 = 0
    private var failure: CommunicatorError?
    private var executors: [ExecutorKey: Executor] = [:]
    private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 64)
    /// The rendezvous store rank 0 serves, kept as long as the communicator and stopped with it
    /// (its threads hold it, so it would otherwise keep MASTER_PORT until the process exits).
    var rendezvous: StoreServer?
    /// This rank's connection to the store, kept to tell a silent rank after a timeout.
    var store: StoreClient?
    /// The `GROVE_DEBUG` log of this rank.
    public var log: Logger

    /// The default for `timeout`: long enough for a 1 GiB allreduce over a slow network,
    /// short enough that a lost rank is reported while someone is still watching.
    public static let defaultTimeout: Duration = .seconds(60)

    struct ExecutorKey: Hashable {
        /// "barrier" for the barrier's own plan, which may share an algorithm name with a call's.
        var purpose: String
        var algorithm: String
        var collective: Collective
        var root: Int
        var count: Int
        var elementSize: Int
    }

    /// A communicator over a given transport (the memory hub in tests, or a transport set up by
    /// hand). Use `Communicator.init(environment:…)` or `init(rendezvous:…)` for TCP.
    public init(transport: Transport, plans: PlanLibrary, timeout: Duration = Communicator.defaultTimeout) throws(CommunicatorError) {
        guard plans.worldSize == transport.worldSize else {
            throw .mismatch("the plans are for \(plans.worldSize) ranks, the transport connects \(transport.worldSize)")
        }
        self.transport = transport
        self.plans = plans
        self.rank = transport.rank
        self.worldSize = transport.worldSize
        self.timeout = timeout
        self.log = DebugLog.logger(rank: transport.rank)
    }

    deinit {
        scratch.deallocate()
        rendezvous?.stop()
    }

    /// Fails this communicator with `error` as a call that finds it would: the peers are told
    /// (their calls fail with the reason instead of waiting), and every later call throws it.
    /// For bindings that reject a call's arguments before making it. Same thread as the calls.
    public func fail(with error: CommunicatorError) {
        _ = reject(error)
    }

    /// Makes the call in flight on another thread fail soon, and every later call: the
    /// connections to the peers are cut. The one method that may be called from any thread.
    public func interrupt() {
        transport.interrupt()
    }

    // MARK: Typed calls

    public func allreduce<T: CommunicatorElement>(_ input: UnsafeBufferPointer<T>, into output: UnsafeMutableBufferPointer<T>,
                                                  op: ReduceOp = .sum) throws(CommunicatorError) {
        try same(input.count, output.count, "allreduce input and output")
        try run(.allreduce, input: UnsafeRawPointer(input.baseAddress), output: UnsafeMutableRawPointer(output.baseAddress),
                count: output.count, type: T.dataType, op: op)
    }

    /// In place: `buffer` is both input and result.
    public func allreduce<T: CommunicatorElement>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReduceOp = .sum) throws(CommunicatorError) {
        try run(.allreduce, input: UnsafeRawPointer(buffer.baseAddress), output: UnsafeMutableRawPointer(buffer.baseAddress),
                count: buffer.count, type: T.dataType, op: op)
    }

    public func allreduce<T: CommunicatorElement>(_ array: inout [T], op: ReduceOp = .sum) throws(CommunicatorError) {
        try array.withUnsafeMutableBufferPointer { (b: inout UnsafeMutableBufferPointer<T>) throws(CommunicatorError) in try allreduce(b, op: op) }
    }

    /// `output` holds every rank's `input`, rank r's at `r · input.count`.
    public func allgather<T: CommunicatorElement>(_ input: UnsafeBufferPointer<T>, into output: UnsafeMutableBufferPointer<T>) throws(CommunicatorError) {
        try same(input.count * worldSize, output.count, "allgather output (world size × input)")
        try run(.allgather, input: UnsafeRawPointer(input.baseAddress), output: UnsafeMutableRawPointer(output.baseAddress),
                count: input.count, type: T.dataType, op: .sum)
    }

    /// In place: this rank's part is already at `rank · count` of `buffer`.
    public func allgather<T: CommunicatorElement>(inPlace buffer: UnsafeMutableBufferPointer<T>) throws(CommunicatorError) {
        try divisible(buffer.count, "allgather buffer")
        try runInPlace(.allgather, buffer, op: .sum)
    }

    public func allgather<T: CommunicatorElement>(_ input: [T]) throws(CommunicatorError) -> [T] {
        var output = [T](unsafeUninitializedCapacity: input.count * worldSize) { b, initialized in
            UnsafeMutableRawBufferPointer(b).initializeMemory(as: UInt8.self, repeating: 0)
            initialized = b.count
        }
        try input.withUnsafeBufferPointer { (i) throws(CommunicatorError) in
            try output.withUnsafeMutableBufferPointer { (o: inout UnsafeMutableBufferPointer<T>) throws(CommunicatorError) in try allgather(i, into: o) }
        }
        return output
    }

    /// `output` (count elements) gets block `rank` of the reduction of every rank's `input`
    /// (world size × count elements).
    public func reduceScatter<T: CommunicatorElement>(_ input: UnsafeBufferPointer<T>, into output: UnsafeMutableBufferPointer<T>,
                                                      op: ReduceOp = .sum) throws(CommunicatorError) {
        try same(output.count * worldSize, input.count, "reduce-scatter input (world size × output)")
        try run(.reduceScatter, input: UnsafeRawPointer(input.baseAddress), output: UnsafeMutableRawPointer(output.baseAddress),
                count: output.count, type: T.dataType, op: op)
    }

    /// In place: the result lands at `rank · count` of `buffer`.
    public func reduceScatter<T: CommunicatorElement>(inPlace buffer: UnsafeMutableBufferPointer<T>, op: ReduceOp = .sum) throws(CommunicatorError) {
        try divisible(buffer.count, "reduce-scatter buffer")
        try runInPlace(.reduceScatter, buffer, op: op)
    }

    /// Every rank's `buffer` gets root's.
    public func broadcast<T: CommunicatorElement>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws(CommunicatorError) {
        try run(.broadcast, input: UnsafeRawPointer(buffer.baseAddress), output: UnsafeMutableRawPointer(buffer.baseAddress),
                count: buffer.count, type: T.dataType, op: .sum, root: root)
    }

    public func broadcast<T: CommunicatorElement>(_ array: inout [T], root: Int) throws(CommunicatorError) {
        try array.withUnsafeMutableBufferPointer { (b: inout UnsafeMutableBufferPointer<T>) throws(CommunicatorError) in try broadcast(b, root: root) }
    }

    /// Root's `output` gets the reduction of every rank's `input`; other ranks' outputs are untouched.
    public func reduce<T: CommunicatorElement>(_ input: UnsafeBufferPointer<T>, into output: UnsafeMutableBufferPointer<T>,
                                               op: ReduceOp = .sum, root: Int) throws(CommunicatorError) {
        try same(input.count, output.count, "reduce input and output")
        try run(.reduce, input: UnsafeRawPointer(input.baseAddress), output: UnsafeMutableRawPointer(output.baseAddress),
                count: output.count, type: T.dataType, op: op, root: root)
    }

    /// Returns once every rank has entered the barrier.
    public func barrier() throws(CommunicatorError) {
        if let failure { throw failure }
        let plan = try checked { () throws(CommunicatorError) in try plans.barrierPlan() }
        let token = UnsafeMutableRawBufferPointer.allocate(byteCount: worldSize, alignment: 1)
        defer { token.deallocate() }
        token.initializeMemory(as: UInt8.self, repeating: 1)
        try execute(plan, .allreduce, input: UnsafeRawPointer(token.baseAddress!), output: token.baseAddress!, count: worldSize,
                    type: .uint8, op: .max, root: 0, timeout: timeout, purpose: "barrier")
    }

    /// An allgather or reduce-scatter in place on `buffer` (world size × count elements).
    private func runInPlace<T: CommunicatorElement>(_ collective: Collective, _ buffer: UnsafeMutableBufferPointer<T>, op: ReduceOp) throws(CommunicatorError) {
        let count = buffer.count / worldSize
        let pointers = UnsafeMutableRawPointer(buffer.baseAddress).map {
            CallBuffers.inPlace(collective, buffer: $0, count: count, elementSize: T.dataType.size, rank: rank)
        }
        try run(collective, input: pointers.map { UnsafeRawPointer($0.input) }, output: pointers?.output, count: count, type: T.dataType, op: op)
    }

    // MARK: Untyped call

    /// A collective on raw memory, for callers that pick the type at run time (the benchmark).
    /// Pointers follow the NCCL conventions above; `input` may equal `output` (or point
    /// into it) for in-place calls.
    public func run(_ collective: Collective, input: UnsafeRawPointer?, output: UnsafeMutableRawPointer?, count: Int,
                    type: DataType, op: ReduceOp = .sum, root: Int = 0, timeout: Duration? = nil) throws(CommunicatorError) {
        if let failure { throw failure }
        guard count >= 0 else { throw reject(.invalidArgument("rank \(rank): \(collective.rawValue): count \(count) is negative")) }
        guard !collective.needsRoot || (0..<worldSize).contains(root) else {
            throw reject(.invalidArgument("rank \(rank): \(collective.rawValue): root \(root) is not a rank of this world (0…\(worldSize - 1))"))
        }
        guard count > 0 else { lastAlgorithm = "none"; return }
        guard let input, let output else { throw reject(.invalidArgument("rank \(rank): \(collective.rawValue): a buffer of \(count) elements has no memory")) }
        let bytes = count * type.size * ([.allgather, .reduceScatter].contains(collective) ? worldSize : 1)
        let (plan, reason) = try checked { () throws(CommunicatorError) in try plans.choosePlan(collective, root: root, bytes: bytes) }
        try execute(plan, collective, input: input, output: output, count: count, type: type, op: op, root: root,
                    timeout: timeout ?? self.timeout, reason: reason)
        if op == .avg && [.allreduce, .reduceScatter].contains(collective) || op == .avg && collective == .reduce && rank == root {
            Reduction.divide(type, output, count: count, by: worldSize)
        }
    }

    private func execute(_ plan: Plan, _ collective: Collective, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
                         count: Int, type: DataType, op: ReduceOp, root: Int, timeout: Duration,
                         purpose: String = "call", reason: @autoclosure () -> String = "") throws(CommunicatorError) {
        calls &+= 1
        let call = CallDescriptor(number: calls, collective: collective, dataType: type, op: op, count: count, root: root)
        if worldSize == 1 {
            lastAlgorithm = "local"
            let inBytes = plan.bufferCounts(count: count)[.input]! * type.size
            if UnsafeRawPointer(output) != input { output.copyMemory(from: input, byteCount: inBytes) }
            return
        }
        lastAlgorithm = plan.algorithm
        let key = ExecutorKey(purpose: purpose, algorithm: plan.algorithm, collective: collective, root: plan.root?.rawValue ?? 0, count: count, elementSize: type.size)
        let executor: Executor
        if let e = executors[key] { executor = e } else {
            executor = Executor(CompiledProgram(plan.programs[rank], plan: plan, count: count, elementSize: type.size))
            executors[key] = executor
            if purpose == "call" { log.info("\(call): \(plan.algorithm), as \(reason()); \(executor.program.tasks.count) steps with ranks \(executor.program.peers.map(String.init).joined(separator: ", "))") }
        }
        log.trace("\(call) starts (\(plan.algorithm))")
        let scratchBytes = executor.program.bytes[.scratch] ?? 0
        if scratch.count < scratchBytes {
            scratch.deallocate()
            scratch = .allocate(byteCount: scratchBytes, alignment: 64)
        }
        let deadline = ContinuousClock.now + timeout
        try checked { () throws(CommunicatorError) in
            do throws(CommunicatorError) {
                try transport.connect(to: executor.program.peers, deadline: deadline)
                try executor.run(call, log: log, memory: CallMemory(input: UnsafeMutableRawPointer(mutating: input), output: output, scratch: scratch.baseAddress!,
                                                           callCheck: executor.callCheck),
                             transport: transport, deadline: deadline)
            } catch {
                guard case .timeout(let m) = error else { throw error }
                throw silentRanks(after: m, call: call, timeout: timeout)
            }
        }
    }

    /// After a timeout, the rank actually at fault: every rank that timed out says so in the
    /// store, and a rank that says nothing within a short grace is silent (stopped, hung, or
    /// busy outside Grove). Without this, a rank waiting on a waiting rank blames the wrong one.
    private func silentRanks(after message: String, call: CallDescriptor, timeout: Duration) -> CommunicatorError {
        guard let store else { return .timeout(message) }
        let grace = ContinuousClock.now + min(max(timeout / 4, .seconds(1)), .seconds(3))
        store.replyGrace = .seconds(1)
        do {
            try store.set("timeout/\(rank)", "\(call.number)", deadline: grace)
            var silent: [Int] = []
            for r in 0..<worldSize where r != rank {
                if try store.get("timeout/\(r)", deadline: grace) == nil { silent.append(r) }
            }
            // Rank 0's store must outlive the others' questions: they timed out a moment later.
            if rendezvous != nil { Thread.sleep(forTimeInterval: 2) }
            guard !silent.isEmpty else { return .timeout(message) }
            let who = "rank\(silent.count > 1 ? "s" : "") \(silent.map(String.init).joined(separator: ", "))"
            log.warning("\(call): \(who) silent when the others timed out")
            return .timeout("\(call) timed out on rank \(rank): \(who) \(silent.count > 1 ? "are" : "is") silent "
                + "(the other ranks timed out waiting and said so; \(who) did not: stopped, hung, or busy outside Grove?)")
        } catch {
            guard store.servedByRankZero else { return .timeout(message + "; \(store.server) did not answer either") }
            return .timeout("\(call) timed out on rank \(rank): rank 0 is silent (its rendezvous store did not answer either: stopped or hung?)")
        }
    }

    /// Runs `body`; on failure tells the peers, and keeps the error for every later call.
    private func checked<R>(_ body: () throws(CommunicatorError) -> R) throws(CommunicatorError) -> R {
        do { return try body() } catch {
            failure = error
            transport.abort(error)
            throw error
        }
    }

    /// A call this rank cannot make still fails every rank, so that none waits for it.
    private func reject(_ error: CommunicatorError) -> CommunicatorError {
        if failure == nil {
            failure = error
            transport.abort(error)
        }
        return error
    }

    private func same(_ want: Int, _ got: Int, _ what: String) throws(CommunicatorError) {
        guard want == got else { throw reject(.invalidArgument("rank \(rank): \(what): expected \(want) elements, got \(got)")) }
    }

    private func divisible(_ n: Int, _ what: String) throws(CommunicatorError) {
        guard n % worldSize == 0 else { throw reject(.invalidArgument("rank \(rank): \(what) of \(n) elements is not a multiple of the world size \(worldSize)")) }
    }
}
