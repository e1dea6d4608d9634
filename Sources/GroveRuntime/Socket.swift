#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 address and port.
struct SocketAddress: Hashable, CustomStringConvertible {
    var address: in_addr_t  // network byte order
    var port: UInt16

    static let any = SocketAddress(address: INADDR_ANY, port: 0)

    init(address: in_addr_t, port: UInt16) {
        self.address = address
        self.port = port
    }

    init(_ s: sockaddr_in) {
        address = s.sin_addr.s_addr
        port = UInt16(bigEndian: s.sin_port)
    }

    var sockaddr: sockaddr_in {
        var s = sockaddr_in()
        s.sin_family = sa_family_t(AF_INET)
        s.sin_port = port.bigEndian
        s.sin_addr.s_addr = address
        return s
    }

    var host: String {
        var a = in_addr(s_addr: address)
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var description: String { "\(host):\(port)" }

    /// Resolves a host name or dotted address (IPv4).
    static func resolve(_ host: String, port: Int) throws(CommunicatorError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            throw .configuration("cannot resolve '\(host)': \(String(cString: gai_strerror(rc))) (is MASTER_ADDR right, and reachable from this host?)")
        }
        defer { freeaddrinfo(result) }
        let a = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
        return SocketAddress(address: a.sin_addr.s_addr, port: UInt16(port))
    }

    /// The IPv4 address of the first interface whose name matches one of `spec`'s
    /// comma-separated names or prefixes (`GROVE_SOCKET_IFNAME=eth0`, `=ib,eth`); a leading `^`
    /// excludes instead, as with `NCCL_SOCKET_IFNAME`.
    static func interface(_ spec: String) throws(CommunicatorError) -> (name: String, address: SocketAddress) {
        let exclude = spec.hasPrefix("^")
        let names = spec.dropFirst(exclude ? 1 : 0).split(separator: ",").map(String.init)
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { throw .system("getifaddrs failed: \(errnoText())") }
        defer { freeifaddrs(list) }
        var found: [String] = []
        var cursor = list
        while let ifa = cursor {
            defer { cursor = ifa.pointee.ifa_next }
            guard let a = ifa.pointee.ifa_addr, Int32(a.pointee.sa_family) == AF_INET else { continue }
            let name = String(cString: ifa.pointee.ifa_name)
            found.append(name)
            let hit = names.contains { name.hasPrefix($0) }
            guard hit != exclude, !(exclude && name == "lo") else { continue }
            let s = a.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            return (name, SocketAddress(address: s.sin_addr.s_addr, port: 0))
        }
        throw .configuration("GROVE_SOCKET_IFNAME=\(spec) matches no interface with an IPv4 address on this host (it has \(found.joined(separator: ", ")))")
    }
}

func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// A TCP socket, closed when released. Sendable because its only state is the immutable
/// descriptor; the store hands sockets to its client threads, one thread per socket.
final class Socket: @unchecked Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    static func tcp() throws(CommunicatorError) -> Socket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("cannot create a socket: \(errnoText())") }
        return Socket(fd: fd)
    }

    /// A listening socket. `what` names it in errors ("MASTER_PORT 29500").
    static func listen(on address: SocketAddress, what: String) throws(CommunicatorError) -> Socket {
        let s = try tcp()
        var one: Int32 = 1
        setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = address.sockaddr
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            let e = errno
            if e == EADDRINUSE { throw .rendezvous("\(what): port \(address.port) is already in use on this host (another job, or a rank 0 that did not exit?); choose another MASTER_PORT") }
            throw .rendezvous("\(what): cannot bind \(address): \(errnoText(e))")
        }
        guard Glibc.listen(s.fd, 1024) == 0 else { throw .rendezvous("\(what): cannot listen on \(address): \(errnoText())") }
        return s
    }

    /// Connects, retrying refused connections until `deadline` (the listener may not be up yet).
    static func connect(to address: SocketAddress, deadline: ContinuousClock.Instant, what: String) throws(CommunicatorError) -> Socket {
        var delay = 10
        while true {
            let s = try tcp()
            var a = address.sockaddr
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc == 0 { return s }
            let e = errno
            guard [ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, EINTR, ECONNRESET].contains(e) else {
                throw .rendezvous("cannot connect to \(what) at \(address): \(errnoText(e))")
            }
            guard ContinuousClock.now + .milliseconds(delay) < deadline else {
                throw .rendezvous("cannot connect to \(what) at \(address): \(errnoText(e)), retried until the timeout")
            }
            usleep(UInt32(delay * 1000))
            delay = min(delay * 2, 500)
        }
    }

    func accept() throws(CommunicatorError) -> Socket {
        while true {
            let fd = Glibc.accept(self.fd, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                return Socket(fd: fd)
            }
            if errno != EINTR { throw .system("accept failed: \(errnoText())") }
        }
    }

    /// The connected peer's address, for log lines.
    var peerDescription: String {
        var a = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) } }
        return rc == 0 ? "\(SocketAddress(a))" : "an unknown address"
    }

    var localAddress: SocketAddress {
        var a = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return SocketAddress(a)
    }

    func setNonBlocking() {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// TCP_NODELAY, and socket buffers of `bufferBytes` each way (0 keeps the kernel's autotuning).
    func tuneForData(bufferBytes: Int) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bufferBytes > 0 else { return }
        var size = Int32(clamping: bufferBytes)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Waits until the socket is readable (or writable) or the deadline passes.
    func wait(writable: Bool = false, until deadline: ContinuousClock.Instant) -> Bool {
        var p = pollfd(fd: fd, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        while true {
            let ms = max(0, (deadline - ContinuousClock.now).milliseconds)
            let rc = Glibc.poll(&p, 1, Int32(clamping: ms))
            if rc > 0 { return true }
            if rc == 0 || errno != EINTR { return false }
        }
    }

    /// Blocking-style full write with a deadline (control traffic only: store, handshakes).
    func writeAll(_ bytes: UnsafeRawBufferPointer, deadline: ContinuousClock.Instant, what: String) throws(CommunicatorError) {
        var done = 0
        while done < bytes.count {
            let n = send(fd, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n > 0 { done += n; continue }
            let e = errno
            if n < 0 && (e == EAGAIN || e == EINTR) {
                guard wait(writable: true, until: deadline) else { throw .timeout("writing to \(what) timed out") }
                continue
            }
            throw .system("writing to \(what) failed: \(errnoText(e))")
        }
    }

    /// Reads exactly `bytes.count` bytes; nil on an orderly close before the first byte.
    @discardableResult
    func readAll(_ bytes: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant, what: String) throws(CommunicatorError) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = recv(fd, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_DONTWAIT))
            if n > 0 { done += n; continue }
            if n == 0 {
                if done == 0 { return false }
                throw .system("\(what) closed the connection in the middle of a message")
            }
            let e = errno
            if e == EAGAIN || e == EINTR {
                guard wait(until: deadline) else { throw .timeout("reading from \(what) timed out") }
                continue
            }
            throw .system("reading from \(what) failed: \(errnoText(e))")
        }
        return true
    }
}

extension Socket {
    /// `readAll` into a new array; nil on an orderly close before the first byte.
    func readBytes(_ n: Int, deadline: ContinuousClock.Instant, what: String) throws(CommunicatorError) -> [UInt8]? {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(n, 1), alignment: 1)
        defer { b.deallocate() }
        guard n > 0 else { return [] }
        guard try readAll(b, deadline: deadline, what: what) else { return nil }
        return Array(b)
    }

    func writeBytes(_ bytes: [UInt8], deadline: ContinuousClock.Instant, what: String) throws(CommunicatorError) {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        defer { b.deallocate() }
        b.copyBytes(from: bytes)
        try writeAll(UnsafeRawBufferPointer(rebasing: b[0..<bytes.count]), deadline: deadline, what: what)
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
