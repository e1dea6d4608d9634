import Foundation
import GroveRuntime
import GroveSynthesis
import Synchronization

/// A result code of `grove.h` (`groveResult_t`) and the message that goes with it.
struct Outcome: Error, Sendable {
    var code: Int32
    var message: String

    static let success = Outcome(code: Code.success, message: "")

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(_ error: CommunicatorError) {
        switch error {
        case .invalidArgument: code = Code.invalidArgument
        case .configuration, .mismatch, .schedule: code = Code.invalidUsage
        case .peerLost, .protocolViolation, .aborted: code = Code.remoteError
        case .timeout: code = Code.timeout
        case .rendezvous, .system: code = Code.systemError
        }
        message = error.description
    }

    static func invalid(_ message: String) -> Outcome { Outcome(code: Code.invalidArgument, message: message) }
}

/// `groveResult_t`'s values.
enum Code {
    static let success: Int32 = 0
    static let systemError: Int32 = 2
    static let internalError: Int32 = 3
    static let invalidArgument: Int32 = 4
    static let invalidUsage: Int32 = 5
    static let remoteError: Int32 = 6
    static let inProgress: Int32 = 7
    static let timeout: Int32 = 8
}

/// One collective, as a worker thread runs it. The pointers are the caller's, valid until the
/// request completes (the C API's contract).
struct Call: @unchecked Sendable {
    enum Kind {
        case collective(Collective, root: Int)
        case barrier
        /// A call rejected before it ran: fails the communicator with this error, in queue order.
        case reject(CommunicatorError)
    }
    var kind: Kind
    var input: UnsafeRawPointer?
    var output: UnsafeMutableRawPointer?
    var count = 0
    var type: DataType = .uint8
    var op: ReduceOp = .sum
    /// Memory the library allocated for this call (a reduce's non-root output given as NULL),
    /// freed when the call has run.
    var ownedOutput: UnsafeMutableRawBufferPointer?
}

/// A queued call and, once it has run, its outcome: what a `groveRequest_t` names.
final class Job: @unchecked Sendable {
    let call: Call
    /// The communicator it is queued on, so that a thread waiting for it can run it itself.
    weak var owner: CommHandle?
    let queued = ContinuousClock.now
    private let done = NSCondition()
    private var outcome: Outcome?

    init(_ call: Call) { self.call = call }

    func finish(_ o: Outcome) {
        done.lock()
        outcome = o
        done.broadcast()
        done.unlock()
    }

    /// The outcome if the call has run.
    var result: Outcome? {
        done.lock()
        defer { done.unlock() }
        return outcome
    }

    /// Waits for the outcome; runs the call on this thread if it is next and no call is running
    /// (a blocking call then costs no hand-off to the worker thread and back).
    func wait() -> Outcome {
        if let owner, let o = owner.runIfNext(self) { return o }
        done.lock()
        defer { done.unlock() }
        while outcome == nil { done.wait() }
        return outcome!
    }
}

/// A communicator behind a C handle: calls queue in issue order and run one at a time (a
/// `Communicator` is used by one thread at a time), either on the worker thread, so that
/// asynchronous calls overlap with the caller's work, or on a thread that waits for a call that
/// is next in line (a blocking call, or a wait right after an async one): waking the worker and
/// then the caller costs 0.1–1 ms on a busy host, more than a small collective. The worker
/// leaves a call `grace` to be waited on before it takes it, so that a caller that waits at once
/// (torch's synchronous calls wait right after issuing) is not beaten to it.
final class CommHandle: @unchecked Sendable {
    let rank: Int
    let size: Int
    /// Released by `close` once the worker has stopped, so the connections and rank 0's store
    /// port are closed before `groveCommDestroy` returns (not whenever the last reference goes).
    private var comm: Communicator?
    private let state = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var closing = false
    private var workerDone = false
    /// A call is running (on the worker or on a waiting thread).
    private var running = false
    static let grace: Duration = .microseconds(200)

    init(_ comm: Communicator) {
        self.comm = comm
        rank = comm.rank
        size = comm.worldSize
        let t = Thread { self.work() }  // holds the handle until `close` stops it
        t.name = "grove-comm-r\(comm.rank)"
        t.start()
    }

    func submit(_ call: Call) -> Job {
        let job = Job(call)
        state.lock()
        if closing {
            state.unlock()
            call.ownedOutput?.deallocate()
            job.finish(Outcome(code: Code.invalidArgument, message: "the communicator is being destroyed: no call can be queued on it"))
            return job
        }
        job.owner = self
        queue.append(job)
        state.signal()
        state.unlock()
        return job
    }

    /// Stops the worker once the queue is empty (destroy) or at once, failing what is queued and
    /// cutting the call in flight (abort); returns when the worker has stopped.
    func close(abort: Bool) {
        state.lock()
        closing = true
        var dropped: [Job] = []
        if abort {
            dropped = Array(queue[head...])
            queue.removeAll()
            head = 0
        }
        state.broadcast()
        state.unlock()
        if abort {
            comm?.interrupt()
            let m = "rank \(rank): the communicator was aborted (groveCommAbort) before this call ran"
            for j in dropped {
                j.call.ownedOutput?.deallocate()
                j.finish(Outcome(code: Code.remoteError, message: m))
            }
        }
        state.lock()
        while !workerDone { state.wait() }
        comm = nil
        state.unlock()
    }

    private func work() {
        // No wake-up preemption: a submit that wakes this thread must not take the core from
        // the caller, which usually goes on to wait for (and run) the call itself.
        var param = sched_param()
        pthread_setschedparam(pthread_self(), 3, &param)  // SCHED_BATCH, which Glibc's module does not export
        while true {
            state.lock()
            while (head == queue.count && !closing) || running { state.wait() }
            guard head < queue.count else {
                workerDone = true
                state.broadcast()
                state.unlock()
                return
            }
            let age = ContinuousClock.now - queue[head].queued
            if age < CommHandle.grace && !closing {
                let (s, atto) = (CommHandle.grace - age).components
                _ = state.wait(until: Date(timeIntervalSinceNow: Double(s) + Double(atto) * 1e-18))
                state.unlock()
                continue
            }
            let job = takeHead()
            state.unlock()
            execute(job)
        }
    }

    /// Runs `job` here if it is the next call and none is running; nil if it is not for this thread.
    func runIfNext(_ job: Job) -> Outcome? {
        state.lock()
        guard !running, head < queue.count, queue[head] === job else {
            state.unlock()
            return nil
        }
        _ = takeHead()
        state.unlock()
        return execute(job)
    }

    /// Takes the next call and marks one running; under `state`.
    private func takeHead() -> Job {
        let job = queue[head]
        head += 1
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        }
        running = true
        return job
    }

    @discardableResult
    private func execute(_ job: Job) -> Outcome {
        let outcome = run(job.call)
        job.call.ownedOutput?.deallocate()
        job.finish(outcome)
        state.lock()
        running = false
        state.broadcast()
        state.unlock()
        return outcome
    }

    private func run(_ c: Call) -> Outcome {
        guard let comm else { return Outcome(code: Code.invalidArgument, message: "the communicator was destroyed") }
        do throws(CommunicatorError) {
            switch c.kind {
            case .collective(let collective, let root):
                try comm.run(collective, input: c.input, output: c.output, count: c.count, type: c.type, op: c.op, root: root)
            case .barrier:
                try comm.barrier()
            case .reject(let error):
                comm.fail(with: error)
                return Outcome(error)
            }
            return .success
        } catch {
            return Outcome(error)
        }
    }
}

/// Live handles by number. A handle is its number as a pointer, never an address, so a
/// destroyed or made-up handle is found missing instead of dereferenced; numbers are not reused.
struct Registry: ~Copyable {
    private var next: UInt = 0x6772_0000_0001
    private var comms: [UInt: CommHandle] = [:]
    private var requests: [UInt: Job] = [:]

    mutating func add(_ c: CommHandle) -> OpaquePointer {
        next += 1
        comms[next] = c
        return OpaquePointer(bitPattern: next)!
    }

    mutating func add(_ j: Job) -> OpaquePointer {
        next += 1
        requests[next] = j
        return OpaquePointer(bitPattern: next)!
    }

    /// The number a handle is (0 for NULL, which is never given out).
    private static func key(_ h: OpaquePointer?) -> UInt { h.map { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer($0))) } ?? 0 }

    func comm(_ h: OpaquePointer?) -> CommHandle? { comms[Registry.key(h)] }
    func request(_ h: OpaquePointer?) -> Job? { requests[Registry.key(h)] }
    mutating func removeComm(_ h: OpaquePointer?) -> CommHandle? { comms.removeValue(forKey: Registry.key(h)) }
    mutating func removeRequest(_ h: OpaquePointer?) -> Job? { requests.removeValue(forKey: Registry.key(h)) }
}

let registry = Mutex(Registry())

/// The calling thread's last error message, as a C string that lives until its next call.
enum LastError {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { free($0) }
        return k
    }()

    static func set(_ message: String) {
        free(pthread_getspecific(key))
        pthread_setspecific(key, strdup(message))
    }

    static var current: UnsafePointer<CChar> {
        if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
        return empty.utf8Start.withMemoryRebound(to: CChar.self, capacity: 1) { $0 }
    }

    private static let empty: StaticString = ""
}
