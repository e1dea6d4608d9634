import Foundation
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The built `grove` executable beside the test bundle.
func groveExecutable() -> URL {
    var dir = Bundle.main.bundleURL
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("grove")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return repositoryRoot.appendingPathComponent(".build/debug/grove")
}

struct Run { var status: Int32; var stdout: String; var stderr: String }

/// Runs `grove` with extra environment variables; killed (status 137) after `timeout` seconds.
func grove(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 600) throws -> Run {
    let p = Process()
    p.executableURL = groveExecutable()
    p.arguments = arguments
    p.currentDirectoryURL = repositoryRoot
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let pid = p.processIdentifier
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if p.isRunning { kill(pid, SIGKILL) } }
    let drained = Drained()
    let e = err.fileHandleForReading
    Thread { drained.data = e.readDataToEndOfFile(); drained.done.signal() }.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    drained.done.wait()
    return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: drained.data, as: UTF8.self))
}

/// What a reader thread collected from a pipe.
final class Drained: @unchecked Sendable {
    var data = Data()
    let done = DispatchSemaphore(value: 0)
}

func temporaryFile(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("grove-test-\(UUID().uuidString).json").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite struct CLITests {
    static let badFiles: [(String, String)] = [
        (#"{"ranks": ["a", "b"], "links": [{"from": "a", "to": "c", "bandwidth": 1}]}"#, "unknown vertex 'c'"),
        (#"{"ranks": ["a", "a"], "links": []}"#, "duplicate name 'a'"),
        (#"{"ranks": ["a", "b"], "switches": ["a"], "links": []}"#, "both as a rank and as a switch"),
        (#"{"ranks": ["a", "b"], "links": [{"from": "a", "to": "b", "bandwidth": 0}, {"from": "b", "to": "a", "bandwidth": 1}]}"#, "bandwidth is zero"),
        (#"{"ranks": ["a", "b"], "links": [{"from": "a", "to": "b", "bandwidth": -1}, {"from": "b", "to": "a", "bandwidth": 1}]}"#, "negative"),
        (#"{"ranks": ["a", "b"], "links": [{"from": "a", "to": "b", "bandwidth": NaN}, {"from": "b", "to": "a", "bandwidth": 1}]}"#, "NaN is not a finite number"),
        (#"{"ranks": ["a", "b"], "links": [{"from": "a", "to": "b", "bandwidth": "x"}, {"from": "b", "to": "a", "bandwidth": 1}]}"#, "not a number"),
        (#"{"ranks": [], "links": []}"#, "no ranks"),
        (#"{"ranks": ["a", "b"], "links": [{"from": "a", "to": "b", "bandwidth": 1}]}"#, "rank 'b' cannot reach rank 'a'"),
        (#"{"ranks": ["a", "b"], "links": [{"from": "b", "to": "b", "bandwidth": 1}, {"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}]}"#, "to itself"),
        ("{\"ranks\": [\"a\"\n \"b\"]}", ":2:2:"),
    ]

    @Test(arguments: badFiles)
    func badInputExitsTwoWithOneLine(text: String, culprit: String) throws {
        let path = try temporaryFile(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try grove(["synth", path, "-c", "allgather"])
        #expect(r.status == 2)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(culprit), "stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("grove: \(path)"))
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"))
    }

    /// A switch receiving more than it sends is valid: synthesized on its balanced part, with
    /// the cut bound as given printed beside it (here a → s carries 2 GB/s, s → b only 1).
    @Test func unbalancedSwitchIsSynthesizedWithBothBounds() throws {
        let path = try temporaryFile(#"{"ranks": ["a", "b"], "switches": ["s"], "links": [{"from": "a", "to": "s", "bandwidth": 2}, {"from": "s", "to": "b", "bandwidth": 1}, {"from": "b", "to": "a", "bandwidth": 1}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try grove(["synth", path, "-c", "allgather"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("s (in 2, out 1 GB/s)"), "\(r.stdout)")
        #expect(r.stdout.contains("best balanced part (LP over all trimmings)"), "\(r.stdout)")
        let json = try grove(["synth", path, "-c", "allgather", "--json"])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(o["unbalanced_switches"] as? [String] == ["s"])
        #expect((o["balanced_part_algbw"] as? Double).map { $0 <= (o["bound_algbw"] as? Double ?? 0) } == true)
    }

    @Test func missingFileExitsTwo() throws {
        let r = try grove(["synth", "/nonexistent/fabric.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot read"))
    }

    @Test func unknownKeyWarnsAndSucceeds() throws {
        let path = try temporaryFile(#"{"ranks": ["a", "b"], "tag": 1, "links": [{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try grove(["synth", path])
        #expect(r.status == 0)
        #expect(r.stderr.contains("warning") && r.stderr.contains("unknown key 'tag'"))
    }

    @Test func jsonOutputHasTheDocumentedFields() throws {
        let r = try grove(["synth", "Topologies/dgx-a100-2.json", "-c", "allreduce", "--compare", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let o = try #require(object)
        for key in ["collective", "ranks", "algbw", "bound_algbw", "trees_per_rank", "trees", "engine", "seconds", "baselines"] {
            #expect(o[key] != nil, "missing \(key)")
        }
        #expect(o["collective"] as? String == "allreduce")
        #expect(o["ranks"] as? Int == 16)
        #expect((o["algbw"] as? Double) == (o["bound_algbw"] as? Double))
        let baselines = try #require(o["baselines"] as? [String: Double])
        #expect(baselines["ring"] != nil && baselines["double_binary_tree"] != nil)
    }

    @Test func scheduleFileVerifiesAndSimulates() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("grove-schedule-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try grove(["synth", "Topologies/dgx-a100-1.json", "-c", "allgather", "--slices", "2", "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        #expect(o["format"] as? String == "grove-schedule")
        #expect(o["version"] as? Int == 1)
        #expect((o["fabric_hash"] as? String)?.count == 16)
        let phases = try #require(o["forest"] as? [[String: Any]])
        let trees = try #require(phases.first?["trees"] as? [[String: Any]])
        let arcs = try #require(trees[0]["arcs"] as? [[String: Any]])
        #expect(arcs.count == 7)
        let plans = try #require(o["plans"] as? [[String: Any]])
        #expect(plans.first?["algorithm"] as? String == "forest")
        #expect((plans.first?["programs"] as? [Any])?.count == 8)

        let v = try grove(["verify", out])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.hasPrefix("ok"))
        let sim = try grove(["simulate", out, "--topology", "Topologies/dgx-a100-1.json", "--size", "64M"])
        #expect(sim.status == 0, "\(sim.stderr)")
        #expect(sim.stdout.contains("algbw") && sim.stdout.contains("busiest links"))
        let wrong = try grove(["simulate", out, "--topology", "Topologies/dgx-a100-2.json"])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("was made for fabric dgx-a100-1"))
    }

    @Test func mscclExportVerifiesInBothDialects() throws {
        for dialect in ["nccl", "executor"] {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("grove-msccl-\(UUID().uuidString).xml").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let e = try grove(["export", "Schedules/ring-bi-8.reduce-scatter.json", "--msccl", "--msccl-dialect", dialect, "-o", out])
            #expect(e.status == 0, "\(e.stderr)")
            #expect(e.stderr.contains("verified"))
            let text = try String(contentsOfFile: out, encoding: .utf8)
            #expect(text.hasPrefix("<algo ") && text.contains(dialect == "nccl" ? "coll=\"reduce_scatter\"" : "coll=\"reducescatter\""))
            let v = try grove(["verify", out])
            #expect(v.status == 0 && v.stdout.hasPrefix("ok") && v.stdout.contains("\(dialect) dialect"), "\(v.stdout)\(v.stderr)")
            // A receive that lands one chunk off is caught by the symbolic run.
            try text.replacingOccurrences(of: "type=\"r\" srcbuf=\"i\" srcoff=\"0\"", with: "type=\"r\" srcbuf=\"i\" srcoff=\"0\"")
                .replacingOccurrences(of: "dstoff=\"0\" cnt=\"1\" depid=\"-1\"", with: "dstoff=\"1\" cnt=\"1\" depid=\"-1\"")
                .write(toFile: out, atomically: true, encoding: .utf8)
            let bad = try grove(["verify", out])
            #expect(bad.status == 1 && bad.stdout.hasPrefix("FAIL"), "\(bad.stdout)")
            #expect(bad.stderr.hasPrefix("grove: FAIL"), "the verdict reaches stderr too: \(bad.stderr)")
        }
        // Another tool's MSCCL XML simulates on a fabric with as many ranks (shortest-path routing).
        let xml = FileManager.default.temporaryDirectory.appendingPathComponent("grove-msccl-\(UUID().uuidString).xml").path
        defer { try? FileManager.default.removeItem(atPath: xml) }
        #expect(try grove(["export", "Schedules/ring-bi-8.allreduce.json", "--msccl", "-o", xml]).status == 0)
        let sim = try grove(["simulate", xml, "--topology", "Topologies/ring-bi-8.json", "--size", "16M"])
        #expect(sim.status == 0 && sim.stdout.contains("plan        msccl") && sim.stdout.contains("algbw"), "\(sim.stdout)\(sim.stderr)")
        let none = try grove(["export", "Schedules/ring-bi-8.allreduce.json"])
        #expect(none.status == 2 && none.stderr.contains("choose one export format"))
        let dialect = try grove(["export", "Schedules/ring-bi-8.allreduce.json", "--msccl", "--msccl-dialect", "rccl"])
        #expect(dialect.status == 2 && dialect.stderr.contains("expected nccl or executor"))
    }

    @Test func brokenScheduleFailsVerification() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("grove-schedule-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(try grove(["synth", "Topologies/ring-uni-4.json", "-c", "allreduce", "-o", out]).status == 0)
        // Drop the first send of rank 1 from the file.
        var text = try String(contentsOfFile: out, encoding: .utf8)
        let marker = "{\"rank\": 1, \"steps\": [\n"
        let start = try #require(text.range(of: marker))
        let sendLine = try #require(text.range(of: "        [\"s\",", range: start.upperBound..<text.endIndex))
        let lineEnd = try #require(text.range(of: "\n", range: sendLine.upperBound..<text.endIndex))
        text.removeSubrange(sendLine.lowerBound..<lineEnd.upperBound)
        try text.write(toFile: out, atomically: true, encoding: .utf8)
        let v = try grove(["verify", out])
        #expect(v.status != 0)
        #expect(v.stdout.contains("FAIL") || v.stderr.contains("grove:"), "\(v.stdout)\(v.stderr)")
    }

    @Test func topoShowAndDot() throws {
        let show = try grove(["topo", "show", "Topologies/dgx-a100-2.json"])
        #expect(show.status == 0)
        #expect(show.stdout.contains("16 ranks, 10 switches"))
        #expect(show.stdout.contains("out 325 GB/s, in 325 GB/s"))
        let dot = try grove(["topo", "dot", "Topologies/ring-uni-4.json"])
        #expect(dot.status == 0)
        #expect(dot.stdout.hasPrefix("digraph"))
        #expect(dot.stdout.components(separatedBy: "->").count == 5)
    }

    @Test func generatorsMatchTheBundledFiles() throws {
        let r = try grove(["topo", "generate", "dgx-h100", "--boxes", "2"])
        #expect(r.status == 0)
        let bundled = try String(contentsOf: repositoryRoot.appendingPathComponent("Topologies/dgx-h100-2.json"), encoding: .utf8)
        #expect(r.stdout == bundled)
    }

    @Test func badRootIsAClearError() throws {
        let r = try grove(["synth", "Topologies/ring-uni-4.json", "-c", "broadcast", "--root", "9"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--root 9"))
    }
}
