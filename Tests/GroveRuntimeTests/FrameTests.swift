import Testing
import GroveSynthesis
@testable import GroveRuntime

@Suite struct FrameParsing {
    func bytes(_ h: FrameHeader) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: FrameHeader.size)
        b.withUnsafeMutableBytes { h.encode(into: $0.baseAddress!) }
        return b
    }

    func parse(_ b: [UInt8]) throws -> FrameHeader {
        try b.withUnsafeBytes { try FrameHeader.parse($0) }
    }

    @Test func dataHeaderRoundTrips() throws {
        let call = CallDescriptor(number: 7, collective: .reduce, dataType: .bfloat16, op: .max, count: 123_456_789, root: 5)
        let h = FrameHeader.data(call, tag: MessageTag(call: 7, channel: 31, sequence: 9), offset: 1 << 33, length: 65536)
        let back = try parse(bytes(h))
        #expect(back == h)
        #expect(back.call == call)
        #expect(back.tag == MessageTag(call: 7, channel: 31, sequence: 9))
    }

    @Test func helloAndAbortRoundTrip() throws {
        let hello = FrameHeader.hello(rank: 12, connection: 3, connections: 4, session: 0xDEAD_BEEF)
        #expect(try parse(bytes(hello)) == hello)
        let abort = FrameHeader.abort(rank: 2, reasonBytes: 100)
        #expect(try parse(bytes(abort)) == abort)
    }

    @Test func badFieldsAreNamed() {
        let good = bytes(FrameHeader.data(CallDescriptor(number: 1, collective: .allreduce, dataType: .float32, op: .sum, count: 10, root: 0),
                                          tag: MessageTag(call: 1, channel: 0, sequence: 0), offset: 0, length: 40))
        func broken(_ at: Int, _ v: UInt8) -> String {
            var b = good
            b[at] = v
            do { _ = try parse(b); return "accepted" } catch { return "\(error)" }
        }
        #expect(broken(0, 0).contains("magic"))
        #expect(broken(4, 9).contains("kind"))
        #expect(broken(5, 77).contains("collective"))
        #expect(broken(6, 0).contains("data type"))
        #expect(broken(7, 200).contains("op"))
        #expect(broken(23, 0x7F).contains("frame limit"))
        var short = good
        short.removeLast()
        #expect(throws: FrameError.self) { try parse(short) }
    }

    /// Random and mutated headers: the parser never traps, and whatever it accepts has lengths and
    /// offsets within the limits the receiver relies on.
    @Test func fuzz() {
        var rng = SplitMix(seed: 0x6772_6F76_6521)
        let seed = bytes(FrameHeader.data(CallDescriptor(number: 3, collective: .allgather, dataType: .int64, op: .sum, count: 1000, root: 0),
                                          tag: MessageTag(call: 3, channel: 2, sequence: 1), offset: 4096, length: 4096))
        var accepted = 0
        for i in 0..<200_000 {
            var b: [UInt8]
            if i % 2 == 0 {
                b = (0..<FrameHeader.size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if i % 4 == 0 { b[0] = 0x47; b[1] = 0x52; b[2] = 0x56; b[3] = 0x31 }
            } else {
                b = seed
                for _ in 0..<(1 + Int(rng.next() % 4)) { b[Int(rng.next() % UInt64(FrameHeader.size))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            guard let h = try? parse(b) else { continue }
            accepted += 1
            #expect(h.length >= 0 && h.length <= FrameHeader.maxPayload)
            #expect(h.offset >= 0 && h.count >= 0)
            if h.kind == .abort { #expect(h.length <= 4096) }
        }
        #expect(accepted > 1000)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
