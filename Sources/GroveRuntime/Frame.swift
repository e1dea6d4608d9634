import GroveSynthesis

/// The header in front of every frame on a TCP connection; 40 bytes, little-endian:
///
/// | bytes | field |
/// | --- | --- |
/// | 0–3 | magic "GRV1" |
/// | 4 | kind: 1 data, 2 abort, 3 hello |
/// | 5–7 | collective, data type, reduce op (data); 0 otherwise |
/// | 8–11 | call number (data); session (hello) |
/// | 12–15 | channel (data); sender rank (hello, abort) |
/// | 16–19 | sequence (data); connection index (hello) |
/// | 20–23 | payload length in bytes |
/// | 24–31 | payload offset in the message (data); connections per peer (hello) |
/// | 32–39 | the call's element count (data); root (bits 48–63) |
///
/// A data message is cut into frames of at most `maxPayload` bytes, spread over the connections
/// to the peer; an abort frame's payload is the reason as UTF-8.
public struct FrameHeader: Equatable, Sendable {
    public enum Kind: UInt8, Sendable { case data = 1, abort = 2, hello = 3 }

    public static let size = 40
    public static let magic: UInt32 = 0x3156_5247  // "GRV1" read little-endian
    /// The largest payload a peer may announce in one frame.
    public static let maxPayload = 1 << 24
    static let maxCount = 1 << 46

    public var kind: Kind
    public var collective: Collective = .allreduce
    public var dataType: DataType = .uint8
    public var op: ReduceOp = .sum
    public var word0: UInt32 = 0
    public var word1: UInt32 = 0
    public var word2: UInt32 = 0
    public var length: Int = 0
    public var offset: Int = 0
    public var count: Int = 0
    public var root: Int = 0

    static let collectiveCodes: [Collective] = [.allgather, .reduceScatter, .allreduce, .broadcast, .reduce]

    public static func data(_ call: CallDescriptor, tag: MessageTag, offset: Int, length: Int) -> FrameHeader {
        FrameHeader(kind: .data, collective: call.collective, dataType: call.dataType, op: call.op,
                    word0: tag.call, word1: tag.channel, word2: tag.sequence, length: length, offset: offset,
                    count: call.count, root: call.root)
    }

    public static func hello(rank: Int, connection: Int, connections: Int, session: UInt32) -> FrameHeader {
        FrameHeader(kind: .hello, word0: session, word1: UInt32(rank), word2: UInt32(connection), offset: connections)
    }

    public static func abort(rank: Int, reasonBytes: Int) -> FrameHeader {
        FrameHeader(kind: .abort, word1: UInt32(rank), length: reasonBytes)
    }

    public var tag: MessageTag { MessageTag(call: word0, channel: word1, sequence: word2) }

    /// The call a data frame belongs to.
    public var call: CallDescriptor {
        CallDescriptor(number: word0, collective: collective, dataType: dataType, op: op, count: count, root: root)
    }

    public func encode(into p: UnsafeMutableRawPointer) {
        p.storeBytes(of: FrameHeader.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: kind.rawValue, toByteOffset: 4, as: UInt8.self)
        let code = UInt8(FrameHeader.collectiveCodes.firstIndex(of: collective)! + 1)
        p.storeBytes(of: kind == .data ? code : 0, toByteOffset: 5, as: UInt8.self)
        p.storeBytes(of: kind == .data ? dataType.rawValue : 0, toByteOffset: 6, as: UInt8.self)
        p.storeBytes(of: kind == .data ? op.rawValue : 0, toByteOffset: 7, as: UInt8.self)
        p.storeBytes(of: word0.littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: word1.littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: word2.littleEndian, toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: UInt32(length).littleEndian, toByteOffset: 20, as: UInt32.self)
        p.storeBytes(of: UInt64(offset).littleEndian, toByteOffset: 24, as: UInt64.self)
        p.storeBytes(of: (UInt64(count) | UInt64(root) << 48).littleEndian, toByteOffset: 32, as: UInt64.self)
    }

    /// Parses and checks a header: every field in range, so the receiver can trust lengths and
    /// offsets before touching memory. Throws a one-line description of the first problem.
    public static func parse(_ p: UnsafeRawBufferPointer) throws(FrameError) -> FrameHeader {
        guard p.count >= size else { throw FrameError("header of \(p.count) bytes, expected \(size)") }
        let base = p.baseAddress!
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        let magic = u32(0)
        guard magic == FrameHeader.magic else {
            throw FrameError("bad magic 0x\(String(magic, radix: 16)) (not a Grove peer, or the stream lost its place)")
        }
        guard let kind = Kind(rawValue: p[4]) else { throw FrameError("unknown frame kind \(p[4])") }
        var h = FrameHeader(kind: kind)
        h.word0 = u32(8)
        h.word1 = u32(12)
        h.word2 = u32(16)
        h.length = Int(u32(20))
        let offset = u64(24)
        let countAndRoot = u64(32)
        switch kind {
        case .data:
            guard p[5] >= 1 && Int(p[5]) <= collectiveCodes.count else { throw FrameError("unknown collective code \(p[5])") }
            h.collective = collectiveCodes[Int(p[5]) - 1]
            guard let t = DataType(rawValue: p[6]) else { throw FrameError("unknown data type code \(p[6])") }
            guard let o = ReduceOp(rawValue: p[7]) else { throw FrameError("unknown reduce op code \(p[7])") }
            h.dataType = t
            h.op = o
            guard h.length <= maxPayload else { throw FrameError("payload of \(h.length) bytes exceeds the \(maxPayload)-byte frame limit") }
            let count = countAndRoot & (1 << 48 - 1)
            guard count <= UInt64(maxCount) else { throw FrameError("element count \(count) is out of range") }
            guard offset <= UInt64(maxCount) * 8 else { throw FrameError("payload offset \(offset) is out of range") }
            h.offset = Int(offset)
            h.count = Int(count)
            h.root = Int(countAndRoot >> 48)
        case .abort:
            guard h.length <= 4096 else { throw FrameError("abort reason of \(h.length) bytes exceeds 4096") }
        case .hello:
            guard h.length == 0 else { throw FrameError("hello frame with a \(h.length)-byte payload") }
            guard offset >= 1 && offset <= 64 else { throw FrameError("hello announces \(offset) connections per peer (1…64)") }
            h.offset = Int(offset)
        }
        return h
    }
}

public struct FrameError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
