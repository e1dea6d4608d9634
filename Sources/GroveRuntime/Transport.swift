import GroveSynthesis

/// What one collective call is, as every rank must agree: carried in every data frame so that a
/// rank called with another count, type or collective is named instead of corrupting memory.
public struct CallDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// Calls are numbered from 1 in the order a communicator makes them; every rank makes the
    /// same calls in the same order (as with NCCL and MPI).
    public var number: UInt32
    public var collective: Collective
    public var dataType: DataType
    public var op: ReduceOp
    /// nccl-tests' count: elements per rank for allgather input and reduce-scatter output, the
    /// whole buffer otherwise.
    public var count: Int
    public var root: Int

    public var description: String {
        var s = "\(collective.rawValue)(count \(count), \(dataType)"
        if [.allreduce, .reduceScatter, .reduce].contains(collective) { s += ", \(op)" }
        if collective.needsRoot { s += ", root \(root)" }
        return s + ") call \(number)"
    }
}

/// Names one message: the k-th transfer from one rank to another on a channel of a call, in
/// program order (the plan's FIFO matching, made explicit so transfers may start in any order).
public struct MessageTag: Hashable, Sendable {
    public var call: UInt32
    public var channel: UInt32
    public var sequence: UInt32
}

/// What a transport reports from `poll`.
public struct TransportEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The send with this context finished: its buffer may be reused.
        case sent
        /// The receive with this context holds all of its bytes.
        case received
    }
    public var kind: Kind
    /// The context given to `postSend` / `postReceive`.
    public var value: Int
}

/// Moves messages between ranks. The executor posts sends and receives with a context number and
/// learns of their completion from `poll`, as with verbs work requests and completion queues:
///
/// - Memory is named before use (`register`), so a verbs transport can pin user buffers once
///   and reuse the registration (Gloo's "register once").
/// - A receive names its destination before the data arrives, so a transport may place bytes
///   directly (zero-copy reads on TCP; an RDMA write after a clear-to-send on verbs).
/// - Sends and receives may be posted in any order; the tag matches them.
///
/// A transport is used by one thread at a time.
public protocol Transport: AnyObject {
    var rank: Int { get }
    var worldSize: Int { get }

    /// Connects to `peers` if not yet connected (both sides call it with the same pairs).
    func connect(to peers: [Int], deadline: ContinuousClock.Instant) throws(CommunicatorError)

    /// Announces the call whose messages follow; frames of other calls are checked against it.
    func begin(_ call: CallDescriptor)

    /// Memory a call will send from or receive into. A transport that needs registration keeps
    /// it for the region's lifetime; TCP needs none.
    func register(_ region: UnsafeMutableRawBufferPointer)

    func postSend(_ bytes: UnsafeRawBufferPointer, to peer: Int, tag: MessageTag, context: Int) throws(CommunicatorError)
    func postReceive(_ bytes: UnsafeMutableRawBufferPointer, from peer: Int, tag: MessageTag, context: Int) throws(CommunicatorError)

    /// Appends completions to `events`; waits until there is at least one or `deadline` passes
    /// (then returns with none). Throws when a peer is lost or misbehaves. A peer that closes
    /// after sending everything is not lost: its data is kept until received; only a receive
    /// that can no longer complete (posted now, or later) is an error.
    func poll(into events: inout [TransportEvent], until deadline: ContinuousClock.Instant) throws(CommunicatorError)

    /// Tells every connected peer that this rank is giving up, and why, so their calls fail with
    /// the cause instead of a timeout. Best effort; never blocks for long.
    func abort(_ error: CommunicatorError)

    /// Makes a `connect` or `poll` running on another thread fail soon, and every later one at
    /// once (`groveCommAbort` while a call is in flight). The one method that may be called
    /// from any thread; the connections to peers are cut, so they fail too.
    func interrupt()
}

extension Transport {
    /// Nothing to cut: a transport without connections (one rank) never waits.
    public func interrupt() {}
}
