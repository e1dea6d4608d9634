import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Messages over TCP: `connectionsPerPeer` sockets to each peer the plans need (made on first
/// use: the lower rank connects, the higher accepts), every message cut into frames of at most
/// `frameBytes` that are spread round-robin over them (striping), and one thread that moves all
/// of them with nonblocking `sendmsg`/`recv` and `poll`.
///
/// - Receives name their destination first, so a frame whose receive is posted is read straight
///   into the user's buffer (zero-copy) once the 40-byte header is in. Frames that arrive early
///   wait in staging buffers from a pool that is kept between calls.
/// - Sends queue frames that point into the caller's memory; small frames leave together in one
///   `sendmsg`. A send completes when its last byte is in the kernel.
/// - After warm-up, the data path allocates nothing: queues, pools and tables keep their capacity.
public final class TCPTransport: Transport {
    public struct Options: Sendable, Equatable {
        /// Connections to each peer; frames are striped over them.
        public var connectionsPerPeer: Int
        /// SO_SNDBUF/SO_RCVBUF for data sockets; 0 (the default) keeps the kernel's autotuning,
        /// which grows buffers to `net.ipv4.tcp_rmem`/`tcp_wmem`'s maximum — larger than a fixed
        /// size may be (`net.core.rmem_max` caps those, and fixing a size turns autotuning off).
        public var socketBufferBytes: Int
        /// The largest frame a message is cut into.
        public var frameBytes: Int
        /// How long `poll` checks the sockets without sleeping (yielding the core between checks)
        /// before it blocks in the kernel. Waking a blocked rank costs 60–500 µs here, so a short
        /// spin turns an 8-byte allreduce on two ranks from 75–525 µs into 28–33 µs
        /// (Benchmarks/README.md, "Small messages"); zero blocks at once.
        public var spin: Duration

        /// Defaults chosen by measurement (`Benchmarks/runtime/connections.sh`, recorded in
        /// Benchmarks/README.md): on this 2-core host more connections only add overhead
        /// (1 MiB allreduce: 0.84 GB/s busbw with 1, 0.67 with 2, 0.31 with 8). Raise
        /// `GROVE_CONNECTIONS` on links whose bandwidth-delay product one TCP window cannot fill.
        public static let standard = Options(connectionsPerPeer: 1, socketBufferBytes: 0, frameBytes: 512 << 10, spin: .microseconds(100))

        public init(connectionsPerPeer: Int, socketBufferBytes: Int, frameBytes: Int, spin: Duration = .microseconds(100)) {
            self.connectionsPerPeer = connectionsPerPeer
            self.socketBufferBytes = socketBufferBytes
            self.frameBytes = frameBytes
            self.spin = spin
        }
    }

    struct Key: Hashable {
        var peer: Int
        var tag: MessageTag
    }

    struct Posted {
        var bytes: UnsafeMutableRawBufferPointer
        var context: Int
        var received: Int
        var frames: Int
    }

    /// An early message: its complete frames, each in a pooled buffer.
    struct Staged {
        var call: CallDescriptor
        var pieces: [(offset: Int, buffer: UnsafeMutableRawBufferPointer, length: Int)] = []
    }

    public let rank: Int
    public let worldSize: Int
    public let options: Options
    let listener: Socket
    let addresses: [SocketAddress]
    let session: UInt32
    let log: Logger
    private var connections: [Connection] = []
    private var peerConnections: [Int: [Connection]] = [:]
    private var roundRobin: [Int: Int] = [:]
    private var call: CallDescriptor?
    private var posted: [Key: Posted] = [:]
    private var staged: [Key: Staged] = [:]
    /// Emptied piece lists of consumed early messages, reused so staging allocates nothing once warm.
    private var pieceLists: [[(offset: Int, buffer: UnsafeMutableRawBufferPointer, length: Int)]] = []
    private var sendFramesLeft: [Int32] = []
    private var completions: [TransportEvent] = []
    private var failure: CommunicatorError?
    private var closedPeers = Set<Int>()
    private var pollSet: [pollfd] = []
    private var pool = BufferPool()
    /// The data sockets `interrupt` cuts, and whether it has: the only state another thread
    /// touches, under its mutex. Sockets live as long as the transport, so the numbers
    /// stay theirs.
    private let cut = Mutex<(sockets: [Int32], interrupted: Bool)>(([], false))

    /// `listener` is this rank's bound data socket; `addresses[r]` is where rank r listens.
    init(rank: Int, worldSize: Int, listener: Socket, addresses: [SocketAddress], session: UInt32, options: Options,
         log: Logger = DebugLog.logger(rank: nil)) {
        self.log = log
        self.rank = rank
        self.worldSize = worldSize
        self.listener = listener
        self.addresses = addresses
        self.session = session
        self.options = options
        listener.setNonBlocking()
    }

    /// A lingering close: say we are done, then read and drop what peers still send for a moment,
    /// so that closing with unread bytes does not reset the connection (a reset can destroy an
    /// abort frame before the peer has read it).
    deinit {
        for c in connections { shutdown(c.socket.fd, Int32(SHUT_WR)) }
        let deadline = ContinuousClock.now + .milliseconds(200)
        var open = connections.filter { !$0.closed }
        let sink = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
        defer { sink.deallocate() }
        while !open.isEmpty && ContinuousClock.now < deadline {
            var fds = open.map { pollfd(fd: $0.socket.fd, events: Int16(POLLIN), revents: 0) }
            guard Glibc.poll(&fds, nfds_t(fds.count), 20) >= 0 || errno == EINTR else { break }
            open = open.filter { c in
                let n = recv(c.socket.fd, sink, 65536, Int32(MSG_DONTWAIT))
                return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))
            }
        }
        pool.releaseAll()
        for s in staged.values { for p in s.pieces { p.buffer.deallocate() } }
    }

    // MARK: Connecting

    public func connect(to peers: [Int], deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        if let failure { throw failure }
        let k = options.connectionsPerPeer
        for p in peers where p > rank && peerConnections[p] == nil {
            var list: [Connection] = []
            for i in 0..<k {
                let s = try Socket.connect(to: addresses[p], deadline: deadline, what: "rank \(p)")
                var hello = [UInt8](repeating: 0, count: FrameHeader.size)
                hello.withUnsafeMutableBytes { FrameHeader.hello(rank: rank, connection: i, connections: k, session: session).encode(into: $0.baseAddress!) }
                try s.writeBytes(hello, deadline: deadline, what: "rank \(p)")
                list.append(try adopt(s, peer: p))
            }
            peerConnections[p] = list
            log.info("connected to rank \(p) at \(addresses[p]) (\(k) connection\(k > 1 ? "s" : ""))")
        }
        // Lower ranks connect to us; take their connections until each peer we need has all.
        var missing = Set(peers.filter { $0 < rank && (peerConnections[$0]?.count ?? 0) < k })
        var incoming: [Int: [Connection]] = [:]
        var nextNote = ContinuousClock.now + .seconds(5)
        while !missing.isEmpty {
            if isInterrupted { throw abortedHere }
            guard listener.wait(until: min(deadline, nextNote)) else {
                if ContinuousClock.now < deadline {
                    log.info("waiting for rank\(missing.count > 1 ? "s" : "") \(missing.sorted().map(String.init).joined(separator: ", ")) to connect to \(addresses[rank])")
                    nextNote = .now + .seconds(5)
                    continue
                }
                throw .timeout("rank \(rank) waited for rank\(missing.count > 1 ? "s" : "") \(missing.sorted().map(String.init).joined(separator: ", ")) to connect until the timeout (did they start, and can they reach \(addresses[rank])?)")
            }
            guard let s = try? listener.accept() else { continue }
            // A connection is one of this job's ranks only once it sends a hello with the job's
            // session (the token rank 0 handed out at rendezvous): a stranger, silent or
            // speaking something else, is closed and forgotten, and the job goes on.
            let helloDeadline = min(deadline, .now + .seconds(2))
            guard let bytes = try? s.readBytes(FrameHeader.size, deadline: helloDeadline, what: "a connecting process"),
                  let h = try? bytes.withUnsafeBytes({ (b) throws(FrameError) in try FrameHeader.parse(b) }),
                  h.kind == .hello, h.word0 == session, Int(h.word1) < worldSize else {
                log.info("dropped a connection to its data port from \(s.peerDescription) that is not one of this job's ranks")
                continue
            }
            let from = Int(h.word1)
            guard from < rank else {
                throw .mismatch("rank \(from) connected to rank \(rank), but the lower rank connects: do two processes share RANK \(from)?")
            }
            guard h.offset == k else {
                throw .mismatch("rank \(from) connects with \(h.offset) connections per peer, rank \(rank) expects \(k): set GROVE_CONNECTIONS alike on every rank")
            }
            incoming[from, default: []].append(try adopt(s, peer: from))
            if incoming[from]!.count == k {
                peerConnections[from] = incoming[from]
                missing.remove(from)
                log.info("rank \(from) connected (\(k) connection\(k > 1 ? "s" : ""))")
            }
        }
    }

    private func adopt(_ s: Socket, peer: Int) throws(CommunicatorError) -> Connection {
        let fd = s.fd
        guard cut.withLock({ state in
            if !state.interrupted { state.sockets.append(fd) }
            return !state.interrupted
        }) else { throw abortedHere }
        s.setNonBlocking()
        s.tuneForData(bufferBytes: options.socketBufferBytes)
        let c = Connection(socket: s, peer: peer)
        connections.append(c)
        pollSet.append(pollfd(fd: s.fd, events: Int16(POLLIN), revents: 0))
        return c
    }

    // MARK: Transport

    public func begin(_ call: CallDescriptor) {
        self.call = call
    }

    public func register(_ region: UnsafeMutableRawBufferPointer) {}

    public func postSend(_ bytes: UnsafeRawBufferPointer, to peer: Int, tag: MessageTag, context: Int) throws(CommunicatorError) {
        if let failure { throw failure }
        guard let call else { throw .invalidArgument("send outside a call") }
        guard let conns = peerConnections[peer], !closedPeers.contains(peer) else {
            throw .peerLost(rank: peer, "rank \(peer) was lost: its connection to rank \(rank) is closed, needed for \(call)")
        }
        // One contiguous part per connection (striping); each connection cuts its part into
        // frames and interleaves them with the other messages it is sending.
        let k = conns.count
        let part = (bytes.count + k - 1) / k
        let frame = max(4096, min(options.frameBytes, part))
        var frames = 0
        let first = roundRobin[peer, default: 0]
        for i in 0..<k {
            let lo = min(bytes.count, i * part)
            let hi = min(bytes.count, lo + part)
            guard hi > lo || (i == 0 && bytes.count == 0) else { continue }
            frames += max(1, (hi - lo + frame - 1) / frame)
            conns[(first + i) % k].add(OutMessage(call: call, tag: tag, base: bytes.baseAddress.map { UnsafeRawPointer($0) },
                                                  next: lo, end: hi, frame: frame, context: context))
        }
        roundRobin[peer] = (first + 1) % k
        if context >= sendFramesLeft.count { sendFramesLeft += [Int32](repeating: 0, count: max(context + 1 - sendFramesLeft.count, sendFramesLeft.count)) }
        sendFramesLeft[context] = Int32(frames)
        for c in conns where c.hasOutput { try flush(c) }
    }

    public func postReceive(_ bytes: UnsafeMutableRawBufferPointer, from peer: Int, tag: MessageTag, context: Int) throws(CommunicatorError) {
        if let failure { throw failure }
        let key = Key(peer: peer, tag: tag)
        var p = Posted(bytes: bytes, context: context, received: 0, frames: 0)
        if var early = staged.removeValue(forKey: key) {
            try check(early.call, from: peer)
            for piece in early.pieces {
                try place(piece.length, at: piece.offset, into: p, from: peer)
                bytes.baseAddress.map { $0 + piece.offset }?.copyMemory(from: piece.buffer.baseAddress!, byteCount: piece.length)
                pool.release(piece.buffer)
                p.received += piece.length
                p.frames += 1
            }
            early.pieces.removeAll(keepingCapacity: true)
            pieceLists.append(early.pieces)
            if p.frames > 0 && p.received == bytes.count {
                completions.append(TransportEvent(kind: .received, value: context))
                return
            }
        }
        if closedPeers.contains(peer) {
            throw .peerLost(rank: peer, "rank \(peer) was lost: its connections to rank \(rank) closed while it still owed data for \(call.map { "\($0)" } ?? "a call")")
        }
        posted[key] = p
    }

    public func poll(into events: inout [TransportEvent], until deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        while true {
            if let failure { throw failure }
            if !completions.isEmpty {
                events += completions
                completions.removeAll(keepingCapacity: true)
                return
            }
            for (i, c) in connections.enumerated() {
                pollSet[i].fd = c.closed ? -1 : c.socket.fd
                pollSet[i].events = Int16(c.closed ? 0 : POLLIN | (c.hasOutput ? POLLOUT : 0))
                pollSet[i].revents = 0
            }
            var rc = spinPoll(until: min(deadline, ContinuousClock.now + options.spin))
            if rc == 0 {
                let left = deadline - ContinuousClock.now
                let ms = Int32(clamping: max(0, left.milliseconds + (left > .zero ? 1 : 0)))
                rc = Glibc.poll(&pollSet, nfds_t(pollSet.count), ms)
            }
            if rc < 0 && errno != EINTR { throw .system("poll failed: \(errnoText())") }
            if rc <= 0 {
                if ContinuousClock.now >= deadline { return }
                continue
            }
            for i in connections.indices where pollSet[i].revents != 0 {
                let c = connections[i]
                let r = Int32(pollSet[i].revents)
                do {
                    if r & Int32(POLLOUT) != 0 { try flush(c) }
                    if r & Int32(POLLIN | POLLHUP | POLLERR) != 0 { try receive(c) }
                } catch {
                    failure = error
                    throw error
                }
            }
        }
    }

    /// Checks the sockets without sleeping until one is ready or `end` passes, yielding the core
    /// between checks so that ranks sharing it (more ranks than cores) still run. Returns poll's
    /// result: 0 when nothing became ready.
    private func spinPoll(until end: ContinuousClock.Instant) -> Int32 {
        guard options.spin > .zero else { return 0 }
        while true {
            let rc = Glibc.poll(&pollSet, nfds_t(pollSet.count), 0)
            if rc != 0 || ContinuousClock.now >= end { return rc }
            sched_yield()
        }
    }

    public func interrupt() {
        let listening = listener.fd
        cut.withLock { state in
            state.interrupted = true
            for fd in state.sockets + [listening] { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private var isInterrupted: Bool { cut.withLock { $0.interrupted } }

    /// What `connect` throws once `interrupt` has cut this transport.
    private var abortedHere: CommunicatorError { .aborted(by: rank, reason: "the communicator was aborted on rank \(rank)") }

    public func abort(_ error: CommunicatorError) {
        if failure == nil { failure = error }
        let reason = Array(error.description.utf8.prefix(4000))
        var targets: [Connection] = []
        for (_, conns) in peerConnections {
            guard let c = conns.first(where: { !$0.closed }) else { continue }
            c.dropQueued()
            c.enqueue(FrameHeader.abort(rank: rank, reasonBytes: reason.count), payload: c.keep(reason), context: -1)
            targets.append(c)
        }
        let deadline = ContinuousClock.now + .seconds(1)
        for c in targets {
            while c.hasOutput && ContinuousClock.now < deadline {
                do { try flush(c) } catch { break }
                if c.hasOutput { _ = c.socket.wait(writable: true, until: deadline) }
            }
        }
    }

    // MARK: Moving bytes

    /// Writes queued frames until the socket is full or the queue is empty.
    private func flush(_ c: Connection) throws(CommunicatorError) {
        while c.hasOutput {
            c.refill()
            let n = c.writeSome()
            if n < 0 {
                let e = -n
                if e == EAGAIN || e == EINTR { return }
                // A peer that gave up says why before it closes: read what it sent first.
                for other in peerConnections[c.peer] ?? [] where !other.closed {
                    do { try receive(other) } catch {
                        if case .aborted = error { throw error }
                    }
                }
                closedPeers.insert(c.peer)
                throw .peerLost(rank: c.peer, "rank \(c.peer) was lost: writing to it from rank \(rank) failed (\(errnoText(Int32(e))))\(call.map { " during \($0)" } ?? "")")
            }
            for context in c.finishedFrames where context >= 0 {
                sendFramesLeft[context] -= 1
                if sendFramesLeft[context] == 0 { completions.append(TransportEvent(kind: .sent, value: context)) }
            }
            c.finishedFrames.removeAll(keepingCapacity: true)
        }
    }

    /// Reads what the socket has: headers into the connection's inbox, payloads straight to their
    /// destinations.
    private func receive(_ c: Connection) throws(CommunicatorError) {
        while true {
            if c.incoming == nil {
                guard c.buffered >= FrameHeader.size else {
                    guard try fill(c) else { return }
                    continue
                }
                let h: FrameHeader
                do { h = try FrameHeader.parse(UnsafeRawBufferPointer(start: c.inbox.baseAddress! + c.start, count: FrameHeader.size)) } catch {
                    throw .protocolViolation(peer: c.peer, "\(error)")
                }
                c.start += FrameHeader.size
                try startFrame(h, on: c)
            }
            guard var frame = c.incoming else { continue }
            // Bytes already in the inbox first, then large remainders straight from the socket.
            let take = min(frame.remaining, c.buffered)
            if take > 0 {
                frame.destination.copyMemory(from: c.inbox.baseAddress! + c.start, byteCount: take)
                c.start += take
                frame.destination += take
                frame.remaining -= take
            }
            while frame.remaining >= Connection.directReadBytes {
                let n = recv(c.socket.fd, frame.destination, frame.remaining, Int32(MSG_DONTWAIT))
                if n > 0 {
                    frame.destination += n
                    frame.remaining -= n
                    continue
                }
                c.incoming = frame
                try readFailed(c, n)
                return
            }
            c.incoming = frame
            if frame.remaining > 0 {
                guard try fill(c) else { return }
                continue
            }
            c.incoming = nil
            try finishFrame(frame, from: c.peer)
        }
    }

    /// Reads into the inbox; false when the socket has nothing more now.
    private func fill(_ c: Connection) throws(CommunicatorError) -> Bool {
        c.compact()
        let n = recv(c.socket.fd, c.inbox.baseAddress! + c.end, c.inbox.count - c.end, Int32(MSG_DONTWAIT))
        if n > 0 { c.end += n; return true }
        try readFailed(c, n)
        return false
    }

    /// A read returned `n` ≤ 0: nothing yet, an orderly close, or an error.
    private func readFailed(_ c: Connection, _ n: Int) throws(CommunicatorError) {
        let e = errno
        if n < 0 && (e == EAGAIN || e == EINTR) { return }
        let during = call.map { " during \($0)" } ?? ""
        if n < 0 || c.incoming != nil || c.buffered > 0 {
            closedPeers.insert(c.peer)
            let why = n < 0 ? errnoText(e) : "closed in the middle of a frame"
            throw .peerLost(rank: c.peer, "rank \(c.peer) was lost: its connection to rank \(rank) failed (\(why))\(during)")
        }
        c.closed = true
        if peerConnections[c.peer]?.allSatisfy(\.closed) ?? true {
            closedPeers.insert(c.peer)
            if posted.keys.contains(where: { $0.peer == c.peer }) {
                throw .peerLost(rank: c.peer, "rank \(c.peer) was lost: its connections to rank \(rank) closed while it still owed data\(during)")
            }
        }
    }

    private func startFrame(_ h: FrameHeader, on c: Connection) throws(CommunicatorError) {
        switch h.kind {
        case .hello:
            throw .protocolViolation(peer: c.peer, "a second hello on an open connection")
        case .abort:
            var reason = [UInt8](repeating: 0, count: h.length)
            var got = 0
            let deadline = ContinuousClock.now + .seconds(1)
            while got < h.length {
                let take = min(h.length - got, c.buffered)
                for i in 0..<take { reason[got + i] = c.inbox[c.start + i] }
                c.start += take
                got += take
                if got < h.length {
                    guard c.socket.wait(until: deadline), try fill(c) || c.buffered > 0 else { break }
                }
            }
            throw .aborted(by: c.peer, reason: String(decoding: reason.prefix(got), as: UTF8.self))
        case .data:
            let frameCall = h.call
            let key = Key(peer: c.peer, tag: h.tag)
            if let mine = call, frameCall.number == mine.number { try check(frameCall, from: c.peer) }
            if let p = posted[key] {
                try place(h.length, at: h.offset, into: p, from: c.peer)
                c.incoming = Incoming(key: key, call: frameCall, offset: h.offset, length: h.length,
                                      destination: p.bytes.baseAddress.map { $0 + h.offset } ?? UnsafeMutableRawPointer(bitPattern: 1)!,
                                      remaining: h.length, staging: nil)
            } else {
                let b = pool.take(h.length)
                c.incoming = Incoming(key: key, call: frameCall, offset: h.offset, length: h.length, destination: b.baseAddress!,
                                      remaining: h.length, staging: b)
            }
        }
    }

    private func finishFrame(_ f: Incoming, from peer: Int) throws(CommunicatorError) {
        if var p = posted[f.key] {
            if let b = f.staging {
                // The receive was posted while this frame was arriving in staging.
                try place(f.length, at: f.offset, into: p, from: peer)
                p.bytes.baseAddress.map { $0 + f.offset }?.copyMemory(from: b.baseAddress!, byteCount: f.length)
                pool.release(b)
            }
            p.received += f.length
            p.frames += 1
            if p.received == p.bytes.count {
                posted[f.key] = nil
                completions.append(TransportEvent(kind: .received, value: p.context))
            } else {
                posted[f.key] = p
            }
        } else {
            if staged[f.key] == nil { staged[f.key] = Staged(call: f.call, pieces: pieceLists.popLast() ?? []) }
            staged[f.key]!.pieces.append((f.offset, f.staging!, f.length))
        }
    }

    /// A frame of `length` bytes at `offset` must fit the posted receive.
    private func place(_ length: Int, at offset: Int, into p: Posted, from peer: Int) throws(CommunicatorError) {
        guard offset + length <= p.bytes.count, p.received + length <= p.bytes.count else {
            throw .mismatch("rank \(peer) sent more than the \(p.bytes.count) bytes rank \(rank) expects in \(call.map { "\($0)" } ?? "this call") (do the ranks hold the same schedule?)")
        }
    }

    private func check(_ theirs: CallDescriptor, from peer: Int) throws(CommunicatorError) {
        guard let mine = call, theirs != mine else { return }
        throw .mismatch("rank \(peer) called \(theirs) while rank \(rank) called \(mine): all ranks must make the same calls with the same arguments")
    }
}

/// A frame being received: where its remaining bytes go.
struct Incoming {
    var key: TCPTransport.Key
    var call: CallDescriptor
    var offset: Int
    var length: Int
    var destination: UnsafeMutableRawPointer
    var remaining: Int
    /// Set when the frame arrived before its receive was posted.
    var staging: UnsafeMutableRawBufferPointer?
}

/// The part of a message that one connection still has to cut into frames.
struct OutMessage {
    var call: CallDescriptor
    var tag: MessageTag
    var base: UnsafeRawPointer?
    /// Byte offsets in the message: the next frame starts at `next`; the part ends at `end`.
    var next: Int
    var end: Int
    var frame: Int
    var context: Int
}

/// One TCP connection to a peer: its outgoing frame queue and its incoming state.
final class Connection {
    static let inboxBytes = 64 << 10
    /// Payload remainders at least this large are read straight into their destination.
    static let directReadBytes = 16 << 10
    static let batch = 32

    struct OutFrame {
        var header: (UInt64, UInt64, UInt64, UInt64, UInt64)
        var payload: UnsafeRawPointer?
        var length: Int
        var context: Int
    }

    let socket: Socket
    let peer: Int
    var closed = false
    /// Bytes a queued frame points to that no caller owns (an abort's reason).
    private var owned: [UnsafeMutableRawBufferPointer] = []
    private var queue: [OutFrame] = []
    private var head = 0
    /// Messages with frames not yet queued, served in turn by `refill`.
    private var messages: [OutMessage] = []
    private var turn = 0
    /// Bytes of the head frame (header, then payload) already written.
    private var written = 0
    var finishedFrames: [Int] = []
    let inbox = UnsafeMutableRawBufferPointer.allocate(byteCount: Connection.inboxBytes, alignment: 64)
    var start = 0
    var end = 0
    var incoming: Incoming?
    private var iovecs = [iovec](repeating: iovec(), count: Connection.batch * 2)

    init(socket: Socket, peer: Int) {
        self.socket = socket
        self.peer = peer
        queue.reserveCapacity(256)
        finishedFrames.reserveCapacity(Connection.batch)
    }

    deinit {
        inbox.deallocate()
        for b in owned { b.deallocate() }
    }

    /// A copy of `bytes` that lives as long as the connection.
    func keep(_ bytes: [UInt8]) -> UnsafeRawPointer {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        b.copyBytes(from: bytes)
        owned.append(b)
        return UnsafeRawPointer(b.baseAddress!)
    }

    var hasOutput: Bool { head < queue.count || !messages.isEmpty }
    var buffered: Int { end - start }

    func compact() {
        if start == end { start = 0; end = 0 }
        if end == inbox.count, start > 0 {
            (inbox.baseAddress!).copyMemory(from: inbox.baseAddress! + start, byteCount: end - start)
            end -= start
            start = 0
        }
    }

    func enqueue(_ h: FrameHeader, payload: UnsafeRawPointer?, context: Int) {
        var f = OutFrame(header: (0, 0, 0, 0, 0), payload: payload, length: h.length, context: context)
        withUnsafeMutableBytes(of: &f.header) { h.encode(into: $0.baseAddress!) }
        queue.append(f)
    }

    /// Adds a message to send; its frames join the queue as `refill` takes them.
    func add(_ m: OutMessage) { messages.append(m) }

    /// Tops the frame queue up to `batch` unwritten frames, taking one frame from each message in
    /// turn: messages to one peer share its connection like processor sharing, so a small slice
    /// does not wait behind a whole large message of another tree.
    func refill() {
        while queue.count - head < Connection.batch && !messages.isEmpty {
            if turn >= messages.count { turn = 0 }
            var m = messages[turn]
            let length = min(m.frame, m.end - m.next)
            enqueue(FrameHeader.data(m.call, tag: m.tag, offset: m.next, length: length),
                    payload: m.base.map { $0 + m.next }, context: m.context)
            m.next += length
            if m.next >= m.end {
                messages.remove(at: turn)
            } else {
                messages[turn] = m
                turn += 1
            }
        }
    }

    /// Forgets frames not yet started (an abort makes them moot).
    func dropQueued() {
        let keep = written > 0 ? head + 1 : head
        if keep < queue.count { queue.removeSubrange(keep...) }
        messages.removeAll()
    }

    /// One `sendmsg` of up to `batch` frames; returns bytes written or −errno. Finished frames'
    /// contexts go to `finishedFrames`.
    func writeSome() -> Int {
        var count = 0
        var skip = written
        var i = head
        let n: Int = queue.withUnsafeMutableBufferPointer { frames in
            iovecs.withUnsafeMutableBufferPointer { iov in
                while i < frames.count && count + 2 <= iov.count {
                    let f = frames.baseAddress! + i
                    let headerBase = UnsafeMutableRawPointer(f) + MemoryLayout<OutFrame>.offset(of: \OutFrame.header)!
                    if skip < FrameHeader.size {
                        iov[count] = iovec(iov_base: headerBase + skip, iov_len: FrameHeader.size - skip)
                        count += 1
                        skip = 0
                    } else {
                        skip -= FrameHeader.size
                    }
                    if f.pointee.length - skip > 0, let p = f.pointee.payload {
                        iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: p) + skip, iov_len: f.pointee.length - skip)
                        count += 1
                    }
                    skip = 0
                    i += 1
                }
                var msg = msghdr()
                msg.msg_iov = iov.baseAddress
                msg.msg_iovlen = count
                while true {
                    let r = sendmsg(socket.fd, &msg, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    if r >= 0 { return r }
                    if errno != EINTR { return -Int(errno) }
                }
            }
        }
        guard n > 0 else { return n == 0 ? -Int(EAGAIN) : n }
        var left = n + written
        while head < queue.count {
            let size = FrameHeader.size + queue[head].length
            guard left >= size else { break }
            left -= size
            finishedFrames.append(queue[head].context)
            head += 1
        }
        written = left
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > queue.count {
            queue.removeSubrange(0..<head)
            head = 0
        }
        return n
    }
}

/// Staging buffers by power-of-two size, kept for reuse.
struct BufferPool {
    private var free: [Int: [UnsafeMutableRawBufferPointer]] = [:]

    private static func sizeClass(_ n: Int) -> Int { max(4096, 1 << (Int.bitWidth - (max(n, 1) - 1).leadingZeroBitCount)) }

    mutating func take(_ n: Int) -> UnsafeMutableRawBufferPointer {
        let size = BufferPool.sizeClass(n)
        if let b = free[size]?.popLast() { return b }
        return .allocate(byteCount: size, alignment: 64)
    }

    mutating func release(_ b: UnsafeMutableRawBufferPointer) {
        free[b.count, default: []].append(b)
    }

    mutating func releaseAll() {
        for list in free.values { for b in list { b.deallocate() } }
        free = [:]
    }
}
