import Foundation
import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveSchedule

/// SplitMix64, so that a failing input is reproduced from its seed and index.
struct FuzzRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A mutation fuzzer for the readers of untrusted files: each input is a seed file with a few
/// random edits (bytes flipped, inserted, deleted or duplicated, and number literals swapped for
/// hostile ones). Every reader must return a value or throw; a trap ends the test process and so
/// fails the suite. Topologies that still parse are also synthesized, so an overflow in exact
/// arithmetic would trap here too.
@Suite struct ReaderFuzz {
    static let hostileNumbers = ["0", "-0", "1e308", "1e-308", "-1", "9223372036854775807", "9223372036854775808",
                                 "-9223372036854775808", "1e17", "1e-18", "27.500000000000004", "NaN", "Infinity",
                                 "0.0000005", "99999999999999999999999", "1/0", "-1/2", "3/2", "\"\"", "null", "[]", "{}"]

    static func mutate(_ seed: [UInt8], _ rng: inout FuzzRandom) -> [UInt8] {
        var b = seed
        for _ in 0..<Int.random(in: 1...4, using: &rng) where !b.isEmpty {
            let at = Int.random(in: 0..<b.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: b[at] = UInt8.random(in: 0...255, using: &rng)
            case 1: b.insert(UInt8.random(in: 32...126, using: &rng), at: at)
            case 2: b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...16, using: &rng)))
            case 3:
                let end = min(b.count, at + Int.random(in: 1...64, using: &rng))
                b.insert(contentsOf: b[at..<end], at: Int.random(in: 0...b.count, using: &rng))
            default:
                // Replace the number (or quoted fraction) that starts nearest `at` with a hostile one.
                guard let start = b[at...].firstIndex(where: { (48...57).contains($0) || $0 == 45 }) else { continue }
                let end = b[start...].firstIndex(where: { !((48...57).contains($0) || [45, 46, 101, 69, 43, 47].contains($0)) }) ?? b.count
                b.replaceSubrange(start..<end, with: Array(hostileNumbers.randomElement(using: &rng)!.utf8))
            }
        }
        return b
    }

    static func seed(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: repositoryRoot.appendingPathComponent(path)))
    }

    /// 20 000 mutated topologies: parse, validate, and synthesize what is still valid.
    @Test func topologyReader() throws {
        let seeds = try ["Topologies/cloud-hetero-6x2.json", "Topologies/ring-uni-4.json", "Tests/Fixtures/float-artifact-4.json"].map(ReaderFuzz.seed)
        var rng = FuzzRandom(state: 9)
        var parsed = 0, synthesized = 0
        for i in 0..<20_000 {
            let input = ReaderFuzz.mutate(seeds[i % seeds.count], &rng)
            guard let text = String(bytes: input, encoding: .utf8), let p = try? TopologyFile.parse(text) else { continue }
            parsed += 1
            if p.fabric.rankCount <= 12, (try? Synthesizer.synthesize(p.fabric, collective: .allgather)) != nil { synthesized += 1 }
        }
        print("topology fuzz: 20000 inputs, \(parsed) still valid, \(synthesized) synthesized")
        #expect(parsed > 0 && synthesized > 0, "the mutations left nothing valid: the fuzzer is not exercising the deeper code")
    }

    /// 20 000 mutated schedules (Grove JSON) and 2 000 MSCCL XML files: read and checked.
    @Test func scheduleReader() throws {
        let seeds = try ["Schedules/ring-uni-4.allgather.json", "Schedules/ring-uni-4.allreduce.json"].map(ReaderFuzz.seed)
        var rng = FuzzRandom(state: 11)
        var read = 0
        for i in 0..<20_000 {
            let input = ReaderFuzz.mutate(seeds[i % seeds.count], &rng)
            guard let text = String(bytes: input, encoding: .utf8), let s = try? Schedule.read(text) else { continue }
            read += 1
            _ = try? Verifier.verify(s.plans[0], counts: [1, 5])
        }
        let schedule = try Schedule.read(String(decoding: seeds[1], as: UTF8.self))
        let xml = Array(try MSCCLExport.program(schedule.plans[0], options: MSCCLExportOptions(dialect: .nccl, name: "fuzz")).xml().utf8)
        var xmlRead = 0
        for _ in 0..<2_000 {
            let input = ReaderFuzz.mutate(xml, &rng)
            if let text = String(bytes: input, encoding: .utf8), (try? Schedule.read(text)) != nil { xmlRead += 1 }
        }
        print("schedule fuzz: 20000 JSON inputs, \(read) still read; 2000 MSCCL XML inputs, \(xmlRead) still read")
        #expect(read > 0 && xmlRead > 0, "the mutations left nothing readable: the fuzzer is not exercising the deeper code")
    }
}
