import Foundation
import Testing

/// Real processes on loopback: `grove launch` starting `grove bench` ranks, whose #wrong column
/// comes from an independent element-by-element check. Every rank gets GROVE_TIMEOUT so that a
/// bug shows up as a failure, never as a hung suite.
let rankTimeout = ["GROVE_TIMEOUT": "60"]

/// A heterogeneous fabric for N ranks (hosts with unequal NICs), so the forest is not a ring.
func heterogeneousTopology(ranks n: Int) throws -> String {
    let (nics, gpus): (String, Int) = switch n {
    case 2: ("10,25", 1)
    case 3: ("10,25,50", 1)
    case 4: ("10,25", 2)
    case 5: ("10,25,25,40,50", 1)
    default: ("10,25,25,50", n / 4)
    }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("grove-e2e-\(n)-\(UUID().uuidString).json").path
    let r = try grove(["topo", "generate", "cloud", "--nics", nics, "--gpus-per-host", "\(gpus)", "-o", path])
    guard r.status == 0 else { throw CLIFailure(r.stderr) }
    return path
}

struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Sizes in bytes for `count` elements of a type in a collective on n ranks (nccl-tests' size).
func benchSizes(_ counts: [Int], elementSize: Int, perRank: Bool, ranks n: Int) -> [String] {
    counts.map { "\($0 * elementSize * (perRank ? n : 1))" }
}

/// The table rows (lines without '#') of rank 0's output, and their #wrong fields.
func wrongColumns(_ stdout: String) -> (rows: Int, wrong: [Int]) {
    let rows = stdout.split(separator: "\n").filter { $0.hasPrefix("0: ") && !$0.hasPrefix("0: #") }
    var wrong: [Int] = []
    for row in rows {
        let f = row.split(separator: " ", omittingEmptySubsequences: true)
        // "0:" size count type redop root | time p50 p99 algbw busbw #wrong | (again) | algo
        if f.count >= 12, let w = Int(f[11]) { wrong.append(w) }
        if f.count >= 19, let w = Int(f[17]) { wrong.append(w) }
    }
    return (rows.count, wrong)
}

@Suite(.serialized) struct EndToEnd {
    static let collectives = ["allreduce", "allgather", "reduce-scatter", "broadcast", "reduce"]

    /// N = 2, 3, 4, 5, 8 processes, every collective, forest and ring, float32, from one element
    /// to 16 MiB including primes: zero wrong elements in place and out of place.
    @Test(arguments: [2, 3, 4, 5, 8])
    func everyCollectiveAtEverySize(ranks n: Int) throws {
        let topology = try heterogeneousTopology(ranks: n)
        defer { try? FileManager.default.removeItem(atPath: topology) }
        for collective in EndToEnd.collectives {
            let perRank = collective == "allgather" || collective == "reduce-scatter"
            let counts = perRank ? [1, 97, 65537, (4 << 20) / n] : [1, 97, 65537, 4 << 20]
            for algo in ["forest", "ring"] {
                let sizes = benchSizes(counts, elementSize: 4, perRank: perRank, ranks: n)
                let r = try grove(["launch", "-n", "\(n)", "--", groveExecutable().path, "bench", "-c", collective, "--topology", topology,
                                   "--algo", algo, "--root", "\(n - 1)", "-n", "1", "-w", "0", "--sizes"] + sizes,
                                  environment: rankTimeout, timeout: 300)
                let (rows, wrong) = wrongColumns(r.stdout)
                #expect(r.status == 0, "\(n) ranks \(collective) \(algo): \(r.stderr)")
                #expect(rows == counts.count && wrong.count == 2 * counts.count, "\(n) ranks \(collective) \(algo): \(r.stdout)")
                #expect(wrong.allSatisfy { $0 == 0 }, "\(n) ranks \(collective) \(algo): \(r.stdout)")
            }
        }
    }

    /// Every type with every op on the reducing collectives; every type on the others.
    @Test func everyTypeAndOp() throws {
        let n = 3
        let topology = try heterogeneousTopology(ranks: n)
        defer { try? FileManager.default.removeItem(atPath: topology) }
        let types = ["float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8"]
        let elementSize = ["float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int32": 4, "int64": 8, "uint8": 1]
        for type in types {
            for collective in EndToEnd.collectives {
                let reduces = ["allreduce", "reduce-scatter", "reduce"].contains(collective)
                for op in reduces ? ["sum", "prod", "min", "max", "avg"] : ["sum"] {
                    let perRank = collective == "allgather" || collective == "reduce-scatter"
                    let counts = [1, 1031, 20011]
                    let r = try grove(["launch", "-n", "\(n)", "--", groveExecutable().path, "bench", "-c", collective, "--topology", topology,
                                       "-d", type, "-o", op, "--root", "1", "-n", "1", "-w", "0", "--sizes"]
                                      + benchSizes(counts, elementSize: elementSize[type]!, perRank: perRank, ranks: n),
                                      environment: rankTimeout, timeout: 120)
                    let (rows, wrong) = wrongColumns(r.stdout)
                    #expect(r.status == 0 && rows == counts.count, "\(collective) \(type) \(op): \(r.stderr) \(r.stdout)")
                    #expect(wrong.count == 2 * counts.count && wrong.allSatisfy { $0 == 0 }, "\(collective) \(type) \(op): \(r.stdout)")
                }
            }
        }
    }
}
