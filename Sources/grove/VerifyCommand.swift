import ArgumentParser
import Foundation
import GroveSchedule
import GroveSynthesis
import GroveTopology

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove that a schedule computes its collective, without deadlock, at several sizes.",
        discussion: "Runs every plan in each file symbolically, in place and out of place, at sizes that include 1 element and primes. Exit status 1 names the rank, step and range that is wrong. Files ending in .xml are MSCCL algorithms (from grove export --msccl or any other tool): they are checked against the runtime's structural rules, then run symbolically with thread blocks as streams."
    )
    @Argument(help: "Schedule files (grove synth -o).") var schedules: [String]
    @Option(help: "Comma-separated element counts to check instead of the defaults.") var counts: String?
    @Option(help: "For .xml files: the MSCCL dialect whose rules apply, nccl or executor (default: from the file).") var mscclDialect: String?

    func run() throws {
        var failed = false
        try reportingErrors {
            let explicit = try counts.map { text in
                try text.split(separator: ",").map { s -> Int in
                    guard let v = Int(s), (1...Verifier.maxCount).contains(v) else {
                        throw UserError("--counts: '\(s)' is not an element count from 1 to \(Verifier.maxCount)")
                    }
                    return v
                }
            }
            for path in schedules {
                if path.hasSuffix(".xml") {
                    if !verifyMSCCL(path, counts: explicit) { failed = true }
                    continue
                }
                let schedule = try loadSchedule(path)
                for plan in schedule.plans {
                    do {
                        try Verifier.verify(plan, counts: explicit)
                        print("ok    \(path) \(plan.algorithm): \(schedule.collective.rawValue) over \(plan.rankCount) ranks, \(plan.stepCount) steps, counts \((explicit ?? Verifier.defaultCounts(for: plan)).map(String.init).joined(separator: ","))")
                    } catch {
                        failed = true
                        fail("\(path) \(plan.algorithm): \(error)")
                    }
                }
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// A FAIL line: in the report on stdout, and on stderr where errors are looked for.
    func fail(_ line: String) {
        print("FAIL  " + line)
        Console.error("FAIL " + line)
    }

    /// Checks one MSCCL XML file; prints ok or FAIL and returns whether it passed.
    func verifyMSCCL(_ path: String, counts explicit: [Int]?) -> Bool {
        do {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw MSCCLError("cannot read the file (does it exist?)")
            }
            var forced: MSCCLDialect?
            if let name = mscclDialect {
                guard let d = MSCCLDialect(rawValue: name) else { throw MSCCLError("--msccl-dialect '\(name)': expected nccl or executor") }
                forced = d
            }
            let (program, dialect, plan, counts) = try proveMSCCL(text, dialect: forced, counts: explicit)
            let blocks = program.gpus.reduce(0) { $0 + $1.threadBlocks.count }
            print("ok    \(path) msccl (\(dialect.rawValue) dialect): \(program.coll) over \(program.ngpus) gpus, \(blocks) thread blocks, \(plan.stepCount) transfers and copies, counts \(counts.map(String.init).joined(separator: ","))")
            return true
        } catch let e as MSCCLError {
            fail("\(path): \(e.description)")
        } catch let e as VerificationError {
            fail("\(path): \(e.description)")
        } catch {
            fail("\(path): \(error)")
        }
        return false
    }
}

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict a schedule's time on its fabric (links shared, per-message latency).",
        discussion: "The topology must be the one the schedule was made for (its hash is checked)."
    )
    @Argument(help: "Schedule file.") var schedule: String
    @Option(help: "Topology file the schedule was made for.") var topology: String
    @Option(help: "Collective buffer size in bytes (nccl-tests size); K, M, G suffixes allowed.") var size = "1G"
    @Option(help: "Plan to simulate: forest, ring, double_binary_tree, recursive_doubling or halving_doubling; a baseline the file does not hold is lowered on the fabric as the runtime would (default: the plan the size windows pick).") var algorithm: String?
    @Option(help: "Per-message latency in microseconds, software and NIC (default: the schedule's message costs, 5).") var alphaUs: Double?
    @Option(help: "Microseconds a rank spends posting each send; its sends start one such time apart, LogP's o (default: the schedule's message costs: 0, or 15 for Grove's TCP runtime).") var postingUs: Double?
    @Option(help: "Slices per tree (1-128; default: what the runtime picks for this size, from the trees' depth).") var slices: Int?
    @Option(help: "Share of each link's rate that carries payload, 0-1 (TCP over Ethernet: about 1448/1514; measure a plain stream over the link).") var wireEfficiency = 1.0
    @Flag(help: "Instead of one size: at every window size from --size up to 1 GiB, the plan the size windows pick against every baseline Grove can lower on this fabric; exits 1 if a baseline is predicted faster.")
    var sweep = false

    func run() throws {
        try reportingErrors {
            for (flag, v) in [("--alpha-us", alphaUs), ("--posting-us", postingUs)] {
                guard let v else { continue }
                guard v.isFinite, (0...1e6).contains(v) else { throw UserError("\(flag) \(v): give 0 to 10^6 microseconds") }
            }
            guard wireEfficiency.isFinite, wireEfficiency > 0, wireEfficiency <= 1 else {
                throw UserError("--wire-efficiency \(wireEfficiency): give the payload share of a link's rate, above 0 and at most 1")
            }
            var s = try loadSchedule(schedule)
            if let alphaUs { s.costs.latencyMicroseconds = alphaUs }
            if let postingUs { s.costs.postingMicroseconds = postingUs }
            let fabric = try loadFabric(topology)
            // MSCCL XML names no fabric: it need only have as many ranks.
            guard fabric.hash == s.fabricHash || (s.fabricHash.isEmpty && s.plans[0].rankCount == fabric.rankCount) else {
                throw UserError(s.fabricHash.isEmpty
                    ? "\(schedule) is for \(s.plans[0].rankCount) ranks, \(topology) has \(fabric.rankCount)"
                    : "\(schedule) was made for fabric \(s.fabricName) (hash \(s.fabricHash)), not \(topology) (hash \(fabric.hash))")
            }
            guard let bytes = ByteSize(argument: size)?.bytes, bytes > 0 else {
                throw UserError("--size \(size): expected bytes such as 4096, 64K, 16M or 1G")
            }
            if sweep { return try runSweep(s, fabric: fabric, from: bytes) }
            if let slices, !ScheduleBuilder.slices.contains(slices) {
                throw UserError("--slices \(slices): give \(ScheduleBuilder.slices.lowerBound) to \(ScheduleBuilder.slices.upperBound)")
            }
            var plan: Plan
            if let algorithm {
                let lowered = s.plans.contains { $0.algorithm == algorithm } ? [] : ScheduleBuilder.baselinePlans(fabric: fabric, collective: s.collective, root: s.root)
                guard let p = (s.plans + lowered).first(where: { $0.algorithm == algorithm }) else {
                    throw UserError("--algorithm \(algorithm): no such plan for \(s.collective.rawValue) (\(schedule) has \(s.plans.map(\.algorithm).joined(separator: ", ")); Grove can also lower \(lowered.map(\.algorithm).joined(separator: ", ")))")
                }
                plan = p.lowered(slices: s.slices(for: p, bytes: bytes))
            } else {
                plan = s.plan(forBytes: bytes)
            }
            if let slices {
                guard !plan.phases.isEmpty || slices == plan.slices else {
                    throw UserError("--slices: the \(plan.algorithm) plan of \(schedule) has fixed slicing (\(plan.slices)); it holds no trees to cut again")
                }
                plan = plan.lowered(slices: slices)
            }
            let r: SimulationResult
            do { r = try Simulator.simulate(plan, fabric: fabric, bytes: bytes, costs: s.costs, wireEfficiency: wireEfficiency) } catch {
                throw UserError("\(schedule): \(error)")
            }
            print("plan        \(plan.algorithm), \(plan.slices) slices per tree, \(r.messages) messages")
            print("size        \(bytes) bytes")
            print(String(format: "time        %.3f ms", r.seconds * 1e3))
            if s.algbw > .zero {
                print(String(format: "algbw       %.2f GB/s (synthesized rate %.2f GB/s, %.1f%%)", r.algbw, s.algbw.doubleValue, 100 * r.algbw / s.algbw.doubleValue))
            } else {
                print(String(format: "algbw       %.2f GB/s", r.algbw))
            }
            print(String(format: "busbw       %.4g GB/s", r.busbw))
            print("busiest links")
            for (l, u) in r.busiestLinks {
                print(String(format: "  %-28@ %5.1f%% busy", "\(fabric.name(of: l.from)) → \(fabric.name(of: l.to))" as NSString, 100 * u))
            }
        }
    }

    /// One line per size: the chosen plan's predicted time and each baseline's, lowered on the
    /// fabric itself as `grove synth` does (their ring order and routing), each cut into the
    /// slices the runtime would pick. A baseline that cannot beat the chosen plan even at its
    /// ideal rate is not simulated (shown as ≥ that time), as in `ScheduleBuilder.winners`.
    func runSweep(_ s: Schedule, fabric: Fabric, from smallest: Int) throws {
        let baselines = ScheduleBuilder.baselinePlans(fabric: fabric, collective: s.collective, root: s.root)
        print("# \(s.fabricName) \(s.collective.rawValue): predicted time (µs) of the plan the size windows pick and of each baseline")
        print("# " + (["size", "chosen", "slices", "time"] + baselines.map(\.algorithm)).joined(separator: "\t"))
        var slower: [String] = []
        let sizes = ScheduleBuilder.windowSizes.filter { $0 >= smallest }
        let chosen = sizes.map { s.choosePlan(forBytes: $0).plan }
        let results: [(bytes: Int, algorithm: String, seconds: [String: Double])]
        var times: [Double] = []
        do {
            for (plan, bytes) in zip(chosen, sizes) { times.append(try Simulator.simulate(plan, fabric: fabric, bytes: bytes, costs: s.costs).seconds) }
            results = try ScheduleBuilder.winners(baselines, fabric: fabric, collective: s.collective, root: s.root, sizes: sizes, leaders: times,
                                                  costs: s.costs, rate: s.bytesPerSecond)
        } catch {
            throw UserError("\(schedule): \(error)")
        }
        for (i, bytes) in sizes.enumerated() {
            let (plan, time) = (chosen[i], times[i])
            var cells = ["\(bytes)", plan.algorithm, "\(plan.slices)", String(format: "%.1f", time * 1e6)]
            for b in baselines {
                if let t = results[i].seconds[b.algorithm] {
                    cells.append(String(format: "%.1f", t * 1e6))
                    if t * 1.001 < time { slower.append("at \(bytes) bytes \(plan.algorithm) (\(String(format: "%.1f", time * 1e6)) µs) is slower than \(b.algorithm) (\(String(format: "%.1f", t * 1e6)) µs)") }
                } else {
                    cells.append("slower")
                }
            }
            print(cells.joined(separator: "\t"))
        }
        if !slower.isEmpty {
            for line in slower { Console.error("grove simulate --sweep: \(schedule): \(line)") }
            throw ExitCode(1)
        }
    }
}
