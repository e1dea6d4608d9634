import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The rendezvous key/value store speaks the wire protocol of torch's c10d `TCPStore`, the subset
/// Grove needs, so that one client talks both to the store rank 0 serves and to the store that
/// torchrun's agent already serves on `MASTER_PORT` (and a torch client can read Grove's keys).
///
/// Little-endian throughout: a command byte; keys and values are `u64 length · bytes`; key
/// lists are `u64 count · keys`. A connection opens with `VALIDATE · u32 0x3C85F7CE` (no reply).
/// | command | request | reply |
/// | --- | --- | --- |
/// | SET 1 | key, value | none |
/// | COMPARE_SET 2 | key, expected, desired | the value now stored (a missing key with empty `expected` is created) |
/// | GET 3 | key | value (empty when missing: WAIT first) |
/// | ADD 4 | key, i64 | i64, the new total (stored as decimal text) |
/// | CHECK 5 | keys | 0 all present, 1 not |
/// | WAIT 6 | keys | 0 once all are present; CANCEL_WAIT 12 ends it with 1 |
/// | PING 13 | u32 | the same u32 |
enum StoreWire {
    static let validate: UInt8 = 0, set: UInt8 = 1, compareSet: UInt8 = 2, get: UInt8 = 3, add: UInt8 = 4
    static let check: UInt8 = 5, wait: UInt8 = 6, cancelWait: UInt8 = 12, ping: UInt8 = 13
    static let magic: UInt32 = 0x3C85_F7CE
    static let stopWaiting: UInt8 = 0, waitCanceled: UInt8 = 1
    /// torch's libuv server's key and value limits (a longer one ends the connection), and
    /// Grove's own bound on the keys of one WAIT or CHECK.
    static let maxKey = 8192, maxValue = 8 << 20, maxKeys = 4096
    /// Connections served at once: a job's ranks each hold one; more is a port scan.
    static let maxClients = 8192

    static func u64(_ v: Int) -> [UInt8] { bytes(UInt64(v)) }
    static func u32(_ v: UInt32) -> [UInt8] { bytes(v) }
    static func string(_ s: [UInt8]) -> [UInt8] { u64(s.count) + s }
    static func integer<T: FixedWidthInteger>(_ b: [UInt8], as: T.Type) -> T {
        b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
    }
    static func bytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
}

/// The store rank 0 serves when no launcher serves one (one thread per client; a job's ranks
/// connect once each). A connection that does not open with VALIDATE within 10 s, or sends
/// anything malformed, is closed: a stranger on the port harms nobody.
final class StoreServer: @unchecked Sendable {
    let listener: Socket
    private let condition = NSCondition()
    private var values: [String: [UInt8]] = [:]
    private var clients: [Socket] = []
    private var stopped = false

    init(port: UInt16) throws(CommunicatorError) {
        listener = try Socket.listen(on: SocketAddress(address: INADDR_ANY, port: port), what: "the rendezvous store on MASTER_PORT \(port)")
        let t = Thread { [self] in acceptLoop() }
        t.name = "grove-store"
        t.start()
    }

    func stop() {
        condition.lock()
        stopped = true
        let open = clients
        condition.broadcast()
        condition.unlock()
        shutdown(listener.fd, Int32(SHUT_RDWR))
        for c in open { shutdown(c.fd, Int32(SHUT_RDWR)) }
    }

    deinit { stop() }

    /// Accepts until stopped. A failed accept (out of descriptors, an aborted connection) is
    /// retried after a pause, so no stranger can end the store; past `maxClients` connections
    /// new ones are closed at once. Each client's socket is released when its thread ends.
    private func acceptLoop() {
        while true {
            let accepted = try? listener.accept()
            condition.lock()
            if stopped { condition.unlock(); return }
            guard let c = accepted else {
                condition.unlock()
                usleep(10_000)
                continue
            }
            guard clients.count < StoreWire.maxClients else { condition.unlock(); continue }
            clients.append(c)
            condition.unlock()
            let t = Thread { [self] in
                serve(c)
                shutdown(c.fd, Int32(SHUT_RDWR))
                condition.lock()
                clients.removeAll { $0 === c }
                condition.unlock()
            }
            t.name = "grove-store-client"
            t.start()
        }
    }

    private struct Malformed: Error {}

    private func serve(_ c: Socket) {
        let who = "a store client"
        let idle = ContinuousClock.now + .seconds(86400 * 365)
        func read(_ n: Int, _ deadline: ContinuousClock.Instant) throws -> [UInt8] {
            guard let b = try c.readBytes(n, deadline: deadline, what: who) else { throw Malformed() }
            return b
        }
        // A request's parts follow its command byte at once; a client that stalls mid-request is dropped.
        func block(limit: Int) throws -> [UInt8] {
            let n = StoreWire.integer(try read(8, .now + .seconds(10)), as: UInt64.self)
            guard n <= UInt64(limit) else { throw Malformed() }
            return try read(Int(n), .now + .seconds(10))
        }
        func key() throws -> String { String(decoding: try block(limit: StoreWire.maxKey), as: UTF8.self) }
        func keyList() throws -> [String] {
            let n = StoreWire.integer(try read(8, .now + .seconds(10)), as: UInt64.self)
            guard n <= UInt64(StoreWire.maxKeys) else { throw Malformed() }
            return try (0..<Int(n)).map { _ in try key() }
        }
        func reply(_ bytes: [UInt8]) throws { try c.writeBytes(bytes, deadline: .now + .seconds(30), what: who) }
        do {
            let hello = try read(5, .now + .seconds(10))
            guard hello[0] == StoreWire.validate, StoreWire.integer(Array(hello[1...]), as: UInt32.self) == StoreWire.magic else { return }
            while true {
                let op = try read(1, idle)[0]
                switch op {
                case StoreWire.set:
                    let (k, v) = (try key(), try block(limit: StoreWire.maxValue))
                    update { $0[k] = v }
                case StoreWire.compareSet:
                    let (k, expected, desired) = (try key(), try block(limit: StoreWire.maxValue), try block(limit: StoreWire.maxValue))
                    let now: [UInt8] = update { values in
                        switch values[k] {
                        case nil where expected.isEmpty: values[k] = desired; return desired
                        case nil: return expected
                        case let current? where current == expected: values[k] = desired; return desired
                        case let current?: return current
                        }
                    }
                    try reply(StoreWire.string(now))
                case StoreWire.get:
                    let k = try key()
                    try reply(StoreWire.string(update { $0[k] } ?? []))
                case StoreWire.add:
                    let k = try key()
                    let delta = StoreWire.integer(try read(8, .now + .seconds(10)), as: Int64.self)
                    // As torch: a missing key counts as 0, a value that is not a number is an error.
                    let total: Int64? = update { values in
                        let current = values[k].map { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0
                        guard let current else { return nil }
                        let sum = current &+ delta
                        values[k] = Array(String(sum).utf8)
                        return sum
                    }
                    guard let total else { return }
                    try reply(StoreWire.bytes(total))
                case StoreWire.check:
                    let keys = try keyList()
                    try reply([update { v in keys.allSatisfy { v[$0] != nil } } ? 0 : 1])
                case StoreWire.wait:
                    try reply([try waitForKeys(try keyList(), c)])
                case StoreWire.cancelWait:
                    // The keys came just as the client gave up: it reads STOP_WAITING, then this.
                    try reply([StoreWire.waitCanceled])
                case StoreWire.ping:
                    try reply(try read(4, .now + .seconds(10)))
                default:
                    return
                }
            }
        } catch {
            return
        }
    }

    /// Blocks until every key is present (STOP_WAITING) or the client sends CANCEL_WAIT.
    private func waitForKeys(_ keys: [String], _ c: Socket) throws -> UInt8 {
        while true {
            condition.lock()
            let ready = keys.allSatisfy { values[$0] != nil }
            if !ready && !stopped { condition.wait(until: Date(timeIntervalSinceNow: 0.05)) }
            let isStopped = stopped
            condition.unlock()
            if ready { return StoreWire.stopWaiting }
            if isStopped { throw Malformed() }
            if c.wait(until: .now) {
                guard try c.readBytes(1, deadline: .now + .seconds(1), what: "a store client")?.first == StoreWire.cancelWait else { throw Malformed() }
                return StoreWire.waitCanceled
            }
        }
    }

    private func update<T>(_ body: (inout [String: [UInt8]]) -> T) -> T {
        condition.lock()
        defer { condition.broadcast(); condition.unlock() }
        return body(&values)
    }
}

/// A rank's connection to the store: Grove's own (rank 0) or torchrun's agent store. Every key
/// is sent as `/` + `namespace` + key, as torch's client does, so Python's
/// `TCPStore.get("grove/…")` reads the same entries.
final class StoreClient {
    let socket: Socket
    let server: String
    let namespace: String
    /// Whether rank 0 serves this store (not a launcher): then a store that does not answer
    /// means rank 0 does not.
    let servedByRankZero: Bool
    /// How long past a request's deadline its reply may take.
    var replyGrace: Duration = .seconds(5)

    init(_ address: SocketAddress, namespace: String, describedAs server: String, servedByRankZero: Bool,
         deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        self.server = server
        self.servedByRankZero = servedByRankZero
        self.namespace = "/" + namespace
        socket = try Socket.connect(to: address, deadline: deadline, what: server)
        try socket.writeBytes([StoreWire.validate] + StoreWire.u32(StoreWire.magic), deadline: deadline, what: server)
    }

    private func send(_ op: UInt8, _ parts: [[UInt8]], deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        try socket.writeBytes([op] + parts.flatMap(StoreWire.string), deadline: deadline, what: server)
    }

    private func receive(_ n: Int, deadline: ContinuousClock.Instant) throws(CommunicatorError) -> [UInt8] {
        guard let b = try socket.readBytes(n, deadline: deadline, what: server) else {
            throw .rendezvous("\(server) closed the connection (did rank 0 or the launcher exit?)")
        }
        return b
    }

    private func receiveValue(deadline: ContinuousClock.Instant) throws(CommunicatorError) -> [UInt8] {
        let n = StoreWire.integer(try receive(8, deadline: deadline), as: UInt64.self)
        guard n <= UInt64(StoreWire.maxValue) else { throw .rendezvous("\(server) answered with a value of \(n) bytes: is MASTER_PORT another program's?") }
        return try receive(Int(n), deadline: deadline)
    }

    private func wire(_ key: String) -> [UInt8] { Array((namespace + key).utf8) }

    /// Stores `value` unless the key exists; returns whether it was stored.
    func insert(_ key: String, _ value: String, deadline: ContinuousClock.Instant) throws(CommunicatorError) -> Bool {
        try send(StoreWire.compareSet, [wire(key), [], Array(value.utf8)], deadline: deadline)
        return try receiveValue(deadline: deadline + replyGrace) == Array(value.utf8)
    }

    func set(_ key: String, _ value: String, deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        try send(StoreWire.set, [wire(key), Array(value.utf8)], deadline: deadline)
    }

    /// The value, waiting for it until `deadline`; nil if it never came.
    func get(_ key: String, deadline: ContinuousClock.Instant) throws(CommunicatorError) -> String? {
        try socket.writeBytes([StoreWire.wait] + StoreWire.u64(1) + StoreWire.string(wire(key)), deadline: deadline, what: server)
        if !socket.wait(until: deadline) {
            try socket.writeBytes([StoreWire.cancelWait], deadline: deadline + replyGrace, what: server)
            // STOP_WAITING may have crossed the cancel: read up to WAIT_CANCELED, then the key is absent or racing.
            var answers: [UInt8] = []
            while answers.last != StoreWire.waitCanceled { answers += try receive(1, deadline: deadline + replyGrace) }
            guard answers.first == StoreWire.stopWaiting else { return nil }
        } else {
            guard try receive(1, deadline: deadline + replyGrace) == [StoreWire.stopWaiting] else {
                throw .rendezvous("\(server) answered a wait with something else: is MASTER_PORT another program's?")
            }
        }
        try send(StoreWire.get, [wire(key)], deadline: deadline + replyGrace)
        return String(decoding: try receiveValue(deadline: deadline + replyGrace), as: UTF8.self)
    }
}
