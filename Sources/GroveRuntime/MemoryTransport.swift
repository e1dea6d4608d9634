import Foundation

/// In-process ranks for tests and examples: the transports of one hub hand messages to each other
/// through memory under one lock, with the same matching, call checks and failure reporting as
/// TCP. Each rank runs on its own thread.
public final class MemoryHub: @unchecked Sendable {
    let condition = NSCondition()
    fileprivate var members: [MemoryTransport] = []

    public init(worldSize: Int) {
        members = (0..<worldSize).map { MemoryTransport(rank: $0, worldSize: worldSize) }
        for m in members { m.hub = self }
    }

    public func transport(rank: Int) -> MemoryTransport { members[rank] }
}

public final class MemoryTransport: Transport, @unchecked Sendable {
    struct Key: Hashable {
        var from: Int
        var tag: MessageTag
    }

    struct Posted {
        var bytes: UnsafeMutableRawBufferPointer
        var context: Int
    }

    struct Message {
        var bytes: [UInt8]
        var call: CallDescriptor
    }

    public let rank: Int
    public let worldSize: Int
    fileprivate weak var hub: MemoryHub?
    private var call: CallDescriptor?
    private var posted: [Key: Posted] = [:]
    private var unexpected: [Key: Message] = [:]
    private var completions: [TransportEvent] = []
    private var failure: CommunicatorError?
    private var closedPeers = Set<Int>()
    private var closed = false

    init(rank: Int, worldSize: Int) {
        self.rank = rank
        self.worldSize = worldSize
    }

    private func locked<R>(_ body: () throws(CommunicatorError) -> R) throws(CommunicatorError) -> R {
        let c = hub!.condition
        c.lock()
        defer { c.broadcast(); c.unlock() }
        return try body()
    }

    public func connect(to peers: [Int], deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        for p in peers where p < 0 || p >= worldSize || p == rank {
            throw .invalidArgument("rank \(rank) cannot connect to rank \(p) in a world of \(worldSize)")
        }
    }

    public func begin(_ call: CallDescriptor) {
        try? locked { self.call = call }
    }

    public func register(_ region: UnsafeMutableRawBufferPointer) {}

    /// Checks a message against the posted receive; the receiver's view of the mismatch.
    private func deliver(_ m: Message, from peer: Int, into p: Posted) throws(CommunicatorError) {
        if let call, m.call != call {
            throw .mismatch("rank \(peer) called \(m.call) while rank \(rank) called \(call): all ranks must make the same calls with the same arguments")
        }
        guard m.bytes.count == p.bytes.count else {
            throw .mismatch("rank \(peer) sent \(m.bytes.count) bytes where rank \(rank) expected \(p.bytes.count) in \(m.call)")
        }
        m.bytes.withUnsafeBytes { p.bytes.copyMemory(from: $0) }
        completions.append(TransportEvent(kind: .received, value: p.context))
    }

    public func postSend(_ bytes: UnsafeRawBufferPointer, to peer: Int, tag: MessageTag, context: Int) throws(CommunicatorError) {
        try locked { () throws(CommunicatorError) in
            if let failure { throw failure }
            guard let call else { throw .invalidArgument("send outside a call") }
            let target = hub!.members[peer]
            guard !target.closed else { throw .peerLost(rank: peer, "rank \(peer) was lost: it closed before rank \(rank) sent to it in \(call)") }
            let key = Key(from: rank, tag: tag)
            let m = Message(bytes: Array(bytes), call: call)
            if let p = target.posted.removeValue(forKey: key) {
                do throws(CommunicatorError) { try target.deliver(m, from: rank, into: p) } catch { target.failure = error }
            } else {
                target.unexpected[key] = m
            }
            completions.append(TransportEvent(kind: .sent, value: context))
        }
    }

    public func postReceive(_ bytes: UnsafeMutableRawBufferPointer, from peer: Int, tag: MessageTag, context: Int) throws(CommunicatorError) {
        try locked { () throws(CommunicatorError) in
            if let failure { throw failure }
            let key = Key(from: peer, tag: tag)
            if let m = unexpected.removeValue(forKey: key) {
                try deliver(m, from: peer, into: Posted(bytes: bytes, context: context))
            } else if closedPeers.contains(peer) {
                throw .peerLost(rank: peer, "rank \(peer) was lost: it closed while rank \(rank) still expected data in \(call.map(String.init(describing:)) ?? "a call")")
            } else {
                posted[key] = Posted(bytes: bytes, context: context)
            }
        }
    }

    public func poll(into events: inout [TransportEvent], until deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        let c = hub!.condition
        c.lock()
        defer { c.unlock() }
        while completions.isEmpty && failure == nil {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            let (s, atto) = left.components
            _ = c.wait(until: Date(timeIntervalSinceNow: Double(s) + Double(atto) * 1e-18))
        }
        if let failure { throw failure }
        events += completions
        completions.removeAll(keepingCapacity: true)
    }

    public func abort(_ error: CommunicatorError) {
        // A one-rank communicator drops its hub at once: no peer to tell.
        guard hub != nil else { return }
        try? locked {
            for m in hub!.members where m.rank != rank && m.failure == nil {
                m.failure = .aborted(by: rank, reason: error.description)
            }
        }
    }

    /// Leaves the hub as a process would exit: receives still waiting for this rank fail, and so
    /// do later ones that its sent messages do not satisfy.
    public func close() {
        guard hub != nil else { return }
        try? locked {
            closed = true
            for m in hub!.members where m.rank != rank {
                m.closedPeers.insert(rank)
                if m.failure == nil, m.posted.keys.contains(where: { $0.from == rank }) {
                    m.failure = .peerLost(rank: rank, "rank \(rank) was lost: it closed while rank \(m.rank) still expected data in \(m.call.map(String.init(describing:)) ?? "a call")")
                }
            }
        }
    }
}
