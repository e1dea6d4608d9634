import Foundation
import Testing

/// Real processes on loopback: `grove launch` starting `grove bench` ranks, whose #wrong column
/// comes from an independent element-by-element check. Every rank gets GROVE_TIMEOUT so that a
/// bug shows up as a failure, never as a hung suite. Two connections per peer (the default is
/// one), so that striping frames across connections is exercised end to end.
let rankTimeout = ["GROVE_TIMEOUT": "60", "GROVE_CONNECTIONS": "2"]

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

/// The table rows (lines without '#') of rank 0's output, and their #wrong fields, read by
/// column position as a script written for nccl-tests does.
func wrongColumns(_ stdout: String) -> (rows: Int, wrong: [Int]) {
    let rows = stdout.split(separator: "\n").filter { $0.hasPrefix("0: ") && !$0.hasPrefix("0: #") }
    var wrong: [Int] = []
    for row in rows {
        // "0:" then nccl-tests' 13: size count type redop root | time algbw busbw #wrong | (in place)
        let f = row.split(separator: " ", omittingEmptySubsequences: true).dropFirst()
        let columns = Array(f)
        if columns.count >= 9, let w = Int(columns[8]) { wrong.append(w) }
        if columns.count >= 13, let w = Int(columns[12]) { wrong.append(w) }
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
                let r = try grove(["launch", "-n", "\(n)", "--", groveExecutable().path, "bench", collective, "--topology", topology,
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
                    let r = try grove(["launch", "-n", "\(n)", "--", groveExecutable().path, "bench", collective, "--topology", topology,
                                       "--algo", "forest", "-d", type, "-o", op, "--root", "1", "-n", "1", "-w", "0", "--sizes"]
                                      + benchSizes(counts, elementSize: elementSize[type]!, perRank: perRank, ranks: n),
                                      environment: rankTimeout, timeout: 120)
                    let (rows, wrong) = wrongColumns(r.stdout)
                    #expect(r.status == 0 && rows == counts.count, "\(collective) \(type) \(op): \(r.stderr) \(r.stdout)")
                    #expect(wrong.count == 2 * counts.count && wrong.allSatisfy { $0 == 0 }, "\(collective) \(type) \(op): \(r.stdout)")
                }
            }
        }
    }

    /// A rank killed (SIGKILL) or stopped (SIGSTOP) in the middle of a long run: every other
    /// rank exits non-zero soon after its timeout, with an error that names rank 2, never a rank
    /// that was only waiting on it.
    @Test(arguments: [SIGKILL, SIGSTOP])
    func lostRankIsNamedByEveryOtherRank(signal: Int32) throws {
        let n = 4
        let port = 20000 + Int.random(in: 0..<20000)
        var ranks: [Process] = []
        var errors: [Drained] = []
        let started = Drained()
        for r in 0..<n {
            let p = Process()
            p.executableURL = groveExecutable()
            p.arguments = ["bench", "-b", "1M", "-e", "1M", "-n", "1000000", "-w", "0", "--timeout", signal == SIGSTOP ? "4" : "20"]
            p.environment = ProcessInfo.processInfo.environment.merging(
                ["RANK": "\(r)", "WORLD_SIZE": "\(n)", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(port)"]) { $1 }
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            let e = Drained()
            errors.append(e)
            let errHandle = err.fileHandleForReading
            Thread { e.data = errHandle.readDataToEndOfFile(); e.done.signal() }.start()
            let outHandle = out.fileHandleForReading
            if r == 0 {
                Thread {
                    while true {
                        let d = outHandle.availableData
                        if d.isEmpty { break }
                        if String(decoding: d, as: UTF8.self).contains("#wrong") { started.done.signal() }
                    }
                }.start()
            } else {
                Thread { _ = outHandle.readDataToEndOfFile() }.start()
            }
            try p.run()
            ranks.append(p)
        }
        defer { for p in ranks where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        #expect(started.done.wait(timeout: .now() + 60) == .success, "rank 0 never printed its header")
        usleep(500_000)
        let killedAt = Date()
        kill(ranks[2].processIdentifier, signal)
        for (r, p) in ranks.enumerated() where r != 2 {
            let gone = errors[r].done.wait(timeout: .now() + 40) == .success
            #expect(gone, "rank \(r) did not exit")
            p.waitUntilExit()
            let text = String(decoding: errors[r].data, as: UTF8.self)
            #expect(p.terminationStatus != 0, "rank \(r) exited 0")
            #expect(text.contains("rank 2"), "rank \(r): \(text)")
            #expect(!text.contains("waiting for data from rank") || signal == SIGKILL, "rank \(r) blames a waiting rank: \(text)")
            #expect(!text.contains("Fatal error"), "rank \(r): \(text)")
        }
        print("other ranks exited \(String(format: "%.2f", Date().timeIntervalSince(killedAt))) s after rank 2 got signal \(signal)")
    }

    @Test func rankThatNeverArrivesIsNamed() throws {
        let port = 20000 + Int.random(in: 0..<20000)
        let env = ["WORLD_SIZE": "3", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(port)", "GROVE_TIMEOUT": "3"]
        let drained = Drained()
        let other = Thread {
            let r = try? grove(["bench", "-b", "8", "-e", "8"], environment: env.merging(["RANK": "1"]) { $1 }, timeout: 60)
            drained.data = Data((r?.stderr ?? "").utf8)
            drained.done.signal()
        }
        other.start()
        let r0 = try grove(["bench", "-b", "8", "-e", "8"], environment: env.merging(["RANK": "0"]) { $1 }, timeout: 60)
        drained.done.wait()
        for text in [r0.stderr, String(decoding: drained.data, as: UTF8.self)] {
            #expect(text.contains("rank 2 of 3 never arrived"), "\(text)")
        }
        #expect(r0.status == 2)
    }

    /// The command line people bring from nccl-tests, and a parser written for nccl-tests: 13
    /// whitespace-separated columns by position, numbers where numbers belong.
    @Test func ncclTestsHabitsAndLayout() throws {
        let r = try grove(["launch", "-n", "2", "--no-prefix", "--", groveExecutable().path, "bench", "-b", "8", "-e", "1M", "-f", "2",
                           "-g", "1", "-c", "1", "-d", "float", "-o", "sum", "-n", "2", "-w", "1"], environment: rankTimeout, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").map(String.init) }
        #expect(rows.count == 18, "\(r.stdout)")
        for (i, f) in rows.enumerated() {
            #expect(f.count == 13, "\(f)")
            guard f.count == 13 else { continue }
            #expect(Int(f[0]) == 8 << i && Int(f[1]) == 2 << i, "\(f)")
            #expect(f[2] == "float" && f[3] == "sum" && f[4] == "-1", "\(f)")
            #expect([5, 6, 7, 9, 10, 11].allSatisfy { Double(f[$0]) != nil }, "\(f)")
            #expect(f[8] == "0" && f[12] == "0", "\(f)")
        }
        let unchecked = try grove(["launch", "-n", "2", "--no-prefix", "--", groveExecutable().path, "bench", "all_gather_perf",
                                   "-b", "64", "-e", "64", "-c", "0", "-n", "1", "-w", "0"], environment: rankTimeout, timeout: 120)
        let row = unchecked.stdout.split(separator: "\n").first { !$0.hasPrefix("#") }?.split(separator: " ").map(String.init) ?? []
        #expect(row.count == 13 && row[3] == "none" && row[8] == "N/A" && row[12] == "N/A", "\(unchecked.stdout)")
        // --extras appends the algorithm that ran: forest when forest is asked for.
        let topology = try heterogeneousTopology(ranks: 2)
        defer { try? FileManager.default.removeItem(atPath: topology) }
        let pinned = try grove(["launch", "-n", "2", "--no-prefix", "--", groveExecutable().path, "bench", "--topology", topology,
                                "--algo", "forest", "--extras", "-b", "1K", "-e", "1M", "-f", "32", "-n", "1", "-w", "0"],
                               environment: rankTimeout, timeout: 120)
        let algos = pinned.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: " ").last }
        #expect(algos.count == 3 && algos.allSatisfy { $0 == "forest" }, "\(pinned.stdout)\(pinned.stderr)")
        let gpus = try grove(["bench", "-g", "4"], timeout: 60)
        #expect(gpus.status == 2 && gpus.stderr.contains("-g 4: only -g 1 is meaningful here"), "\(gpus.stderr)")
        for bad in [["--timeout", "nan"], ["--timeout", "-1"], ["-T", "inf"], ["-b", "8589934592G"], ["-c", "allreduce"]] {
            let b = try grove(["bench"] + bad, timeout: 60)
            #expect(b.status != 0 && !b.stderr.contains("Fatal error") && b.stderr.split(separator: "\n").count <= 3, "\(bad): \(b.stderr)")
        }
    }

    /// GROVE_DEBUG=INFO shows the rendezvous, the plan chosen and why, and the connections.
    @Test func debugLogShowsRendezvousAndPlan() throws {
        let topology = try heterogeneousTopology(ranks: 2)
        defer { try? FileManager.default.removeItem(atPath: topology) }
        let r = try grove(["launch", "-n", "2", "--", groveExecutable().path, "bench", "--topology", topology, "-b", "1M", "-e", "1M",
                           "-n", "1", "-w", "0"], environment: rankTimeout.merging(["GROVE_DEBUG": "INFO"]) { $1 }, timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        for text in ["0: ", "1: "].flatMap({ p in ["rendezvous: rank", "rendezvous: all 2 ranks joined", "size window", "connect"].map { (p, $0) } }) {
            #expect(r.stderr.split(separator: "\n").contains { $0.hasPrefix(text.0) && $0.contains("grove INFO") && $0.contains(text.1) },
                    "\(text) missing from: \(r.stderr)")
        }
        let bad = try grove(["bench"], environment: ["GROVE_DEBUG": "LOUD", "RANK": "0", "WORLD_SIZE": "1"], timeout: 60)
        #expect(bad.status == 2 && bad.stderr.contains("GROVE_DEBUG=LOUD names no log level"), "\(bad.stderr)")
    }

    /// SIGKILL reaches no handler, so the kernel must take the ranks down with the launcher.
    @Test func ranksDieWithAKilledLauncher() throws {
        let marker = "\(Int.random(in: 100...999)).25"
        let p = Process()
        p.executableURL = groveExecutable()
        p.arguments = ["launch", "-n", "3", "--", "sleep", marker]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        func sleepers() -> Int {
            let ps = Process()
            ps.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
            ps.arguments = ["-f", "^sleep \(marker)$"]
            let out = Pipe()
            ps.standardOutput = out
            try? ps.run()
            ps.waitUntilExit()
            return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").count
        }
        var started = 0
        for _ in 0..<100 where started < 3 { usleep(50_000); started = sleepers() }
        #expect(started == 3, "the ranks did not start")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        var left = 3
        for _ in 0..<40 where left > 0 { usleep(50_000); left = sleepers() }
        #expect(left == 0, "\(left) ranks outlived their launcher")
    }

    @Test func launchPrefixesOutputAndStopsOnFirstFailure() throws {
        let ok = try grove(["launch", "-n", "3", "--", "/bin/sh", "-c", "echo hello from $RANK of $WORLD_SIZE"], timeout: 30)
        #expect(ok.status == 0)
        for r in 0..<3 { #expect(ok.stdout.contains("\(r): hello from \(r) of 3"), "\(ok.stdout)") }
        let start = Date()
        let bad = try grove(["launch", "-n", "3", "--grace", "1", "--", "/bin/sh", "-c", "if [ $RANK = 1 ]; then exit 7; fi; sleep 60"], timeout: 30)
        #expect(bad.status == 7)
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(bad.stderr.contains("rank 1 exited with status 7"), "\(bad.stderr)")
        let missing = try grove(["launch", "-n", "2", "--", "no-such-program-here"], timeout: 30)
        #expect(missing.status == 2 && missing.stderr.contains("not found on PATH"))
    }
}
