import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The rendezvous key/value store that rank 0 serves (as torch's TCPStore): ranks put their
/// address under their rank and wait for everyone else's. Requests are
/// `op u8 · key length u32 · key · value length u32 · value · wait ms u32`, little-endian;
/// ops 1 "insert if absent", 2 "get, waiting up to wait ms", 3 "set". The reply is a status
/// byte (0 ok, 1 exists / not found), then for a found get `length u32 · value`.
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

    private func acceptLoop() {
        while true {
            guard let c = try? listener.accept() else { return }
            condition.lock()
            if stopped { condition.unlock(); return }
            clients.append(c)
            condition.unlock()
            let t = Thread { [self] in serve(c) }
            t.name = "grove-store-client"
            t.start()
        }
    }

    private func serve(_ c: Socket) {
        let forever = ContinuousClock.now + .seconds(86400 * 365)
        let who = "a store client"
        func u32(_ b: [UInt8]) -> Int { Int(b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }) }
        func block() throws(CommunicatorError) -> [UInt8] {
            let n = u32(try c.readBytes(4, deadline: forever, what: who) ?? [])
            guard n <= 1 << 20 else { throw .protocolViolation(peer: -1, "store request of \(n) bytes") }
            return try c.readBytes(n, deadline: forever, what: who) ?? []
        }
        while true {
            do {
                guard let op = try c.readBytes(1, deadline: forever, what: who)?.first else { return }
                let key = String(decoding: try block(), as: UTF8.self)
                let value = try block()
                let wait = u32(try c.readBytes(4, deadline: forever, what: who) ?? [0, 0, 0, 0])
                var reply: [UInt8]
                condition.lock()
                switch op {
                case 1:
                    if values[key] == nil { values[key] = value; reply = [0] } else { reply = [1] }
                    condition.broadcast()
                case 3:
                    values[key] = value
                    reply = [0]
                    condition.broadcast()
                default:
                    let until = Date(timeIntervalSinceNow: Double(wait) / 1000)
                    while values[key] == nil && !stopped && condition.wait(until: until) {}
                    if let v = values[key] { reply = [0] + withUnsafeBytes(of: UInt32(v.count).littleEndian, Array.init) + v } else { reply = [1] }
                }
                condition.unlock()
                try c.writeBytes(reply, deadline: ContinuousClock.now + .seconds(30), what: who)
            } catch {
                return
            }
        }
    }
}

/// A rank's connection to the store.
final class StoreClient {
    let socket: Socket
    let server: String

    init(_ address: SocketAddress, deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        server = "the rendezvous store of rank 0 at \(address) (MASTER_ADDR:MASTER_PORT)"
        socket = try Socket.connect(to: address, deadline: deadline, what: server)
    }

    private func request(_ op: UInt8, _ key: String, _ value: [UInt8], wait: Duration, deadline: ContinuousClock.Instant) throws(CommunicatorError) -> [UInt8]? {
        var m: [UInt8] = [op]
        func u32(_ v: Int) { m += withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        u32(key.utf8.count)
        m += key.utf8
        u32(value.count)
        m += value
        u32(Int(clamping: max(0, wait.milliseconds)))
        try socket.writeBytes(m, deadline: deadline, what: server)
        let replyDeadline = deadline + .seconds(5)
        guard let status = try socket.readBytes(1, deadline: replyDeadline, what: server) else {
            throw .rendezvous("\(server) closed the connection (did rank 0 exit?)")
        }
        guard status[0] == 0 else { return nil }
        guard op == 2 else { return [] }
        let length = try socket.readBytes(4, deadline: replyDeadline, what: server) ?? [0, 0, 0, 0]
        return try socket.readBytes(Int(length.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }), deadline: replyDeadline, what: server) ?? []
    }

    /// Stores `value` unless the key exists; returns whether it was stored.
    func insert(_ key: String, _ value: String, deadline: ContinuousClock.Instant) throws(CommunicatorError) -> Bool {
        try request(1, key, Array(value.utf8), wait: .zero, deadline: deadline) != nil
    }

    func set(_ key: String, _ value: String, deadline: ContinuousClock.Instant) throws(CommunicatorError) {
        _ = try request(3, key, Array(value.utf8), wait: .zero, deadline: deadline)
    }

    /// The value, waiting for it until `deadline`; nil if it never came.
    func get(_ key: String, deadline: ContinuousClock.Instant) throws(CommunicatorError) -> String? {
        let wait = deadline - ContinuousClock.now
        return try request(2, key, [], wait: wait, deadline: deadline).map { String(decoding: $0, as: UTF8.self) }
    }
}
