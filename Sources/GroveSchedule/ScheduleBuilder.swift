import GroveSynthesis
import GroveTopology

/// Turns a synthesis into a schedule: plans and the size windows in which each is used.
public enum ScheduleBuilder {
    /// Sizes (bytes of the collective's buffer) at which plans are simulated to choose size
    /// windows: every power of four from 1 KiB to 1 GiB. A window starts at a sampled size and
    /// runs to the next sampled size with a different winner.
    public static let windowSizes = stride(from: 10, through: 30, by: 2).map { 1 << $0 }
    /// Slices per tree, the range `Pipelining` picks from and `--slices` accepts: each slice is
    /// a message per tree arc, so more than this only adds messages (and lowering and
    /// simulation time) without measurable overlap.
    public static let slices = 1...Pipelining.maximumSlices

    /// The trees-per-rank caps a schedule tries beside the optimal forest.
    public static let treeCaps = [1, 2, 3]

    /// Forests of `s`'s collective with at most K trees per rank for each K in `caps` below what
    /// the optimal forest uses (ForestColl's fixed K, `Synthesizer.synthesize(treesPerRoot:)`),
    /// each kept only if its rate beats every smaller K's: fewer trees mean fewer, larger
    /// messages and shallower pipelines, so one of them can be faster than the optimal forest
    /// at sizes where its many trees cannot fill.
    /// They are optional: a cap whose forest cannot be built (an internal error) is left out,
    /// and the optimal forest's schedule stands without it.
    public static func cappedForests(for s: Synthesis, fabric: Fabric, caps: [Int] = treeCaps,
                                     progress: ((String) -> Void)? = nil) -> [Synthesis] {
        let units = s.forests.map(\.treesPerRoot).min() ?? 1
        var kept: [Synthesis] = []
        for k in caps.sorted() where k < units {
            guard let c = try? Synthesizer.synthesize(fabric, collective: s.collective, root: s.root, treesPerRoot: k, progress: progress),
                  c.treesPerRootCap != nil, kept.allSatisfy({ $0.achievedAlgbw < c.achievedAlgbw }) else { continue }
            kept.append(c)
        }
        return kept
    }

    /// Every plan other than the forest that Grove can lower for `collective` on `fabric`: the
    /// ring and the double binary tree (as forests, on the fabric's best ring order), and for
    /// allreduce recursive doubling and halving-doubling.
    public static func baselinePlans(fabric: Fabric, collective: Collective, root: Rank?) -> [Plan] {
        var plans = Baseline.allCases.compactMap { Lowering.plan(baseline: $0, fabric: fabric, collective: collective, root: root ?? Rank(0), slices: 2) }
        if collective == .allreduce { plans += Butterfly.allCases.map { $0.allreduce(on: fabric) } }
        return plans
    }

    /// A plan's predicted time at `bytes`, cut into the slices the runtime would pick for a
    /// schedule of `rate` bytes/s.
    public static func predictedSeconds(_ plan: Plan, fabric: Fabric, bytes: Int, costs: MessageCosts = .parallelEngines,
                                        rate: Double = 0) throws(SimulationError) -> Double {
        let slices = Pipelining.slices(for: plan, bytes: bytes, costs: costs, rate: rate)
        return try Simulator.simulate(plan.lowered(slices: slices), fabric: fabric, bytes: bytes, costs: costs).seconds
    }

    /// The winner at each size in `sizes` among `candidates` (ties to the earlier candidate, the
    /// forest first). A baseline whose time cannot beat the leader's even at its ideal rate
    /// (`Baseline.algbw`: the simulator never moves the bytes faster than the links allow) is
    /// not simulated; with a 2% margin for element rounding.
    /// `leaders`: per size, a time to beat that is not among the candidates (the chosen plan's,
    /// in a sweep). `rates`: ideal rates (bytes/s) of candidates other than baselines, such as
    /// capped forests, skipped the same way.
    public static func winners(_ candidates: [Plan], fabric: Fabric, collective: Collective, root: Rank?,
                               sizes: [Int], leaders: [Double]? = nil, costs: MessageCosts = .parallelEngines,
                               rate: Double = 0, rates: [String: Double] = [:]) throws(SimulationError) -> [(bytes: Int, algorithm: String, seconds: [String: Double])] {
        var ideal = rates
        for p in candidates {
            if let b = Baseline(rawValue: p.algorithm) { ideal[p.algorithm] = b.algbw(on: fabric, collective: collective, root: root ?? Rank(0)).doubleValue * 1e9 }
        }
        var out: [(bytes: Int, algorithm: String, seconds: [String: Double])] = []
        for (i, bytes) in sizes.enumerated() {
            var best: (String, Double)? = leaders.map { ("leader", $0[i]) }
            var times: [String: Double] = [:]
            for p in candidates {
                if let best, let rate = ideal[p.algorithm], rate > 0, best.1 <= 0.98 * Double(bytes) / rate { continue }
                let t = try predictedSeconds(p, fabric: fabric, bytes: bytes, costs: costs, rate: rate)
                times[p.algorithm] = t
                if best == nil || t < best!.1 * 0.999 { best = (p.algorithm, t) }
            }
            out.append((bytes, best!.0, times))
        }
        return out
    }

    /// Builds the schedule for a synthesis: the forest plan (stored with `slices` slices per
    /// tree; the runtime cuts it again per call), the baseline plans, and size windows where a
    /// baseline is predicted faster than the forest, predicted with the message costs of the
    /// runtime that will run it. Only plans that win somewhere are kept.
    /// `capped`: forests of the same collective with fewer trees per rank (`cappedForests`),
    /// candidates named "forest-kK" beside the baselines.
    public static func schedule(for s: Synthesis, fabric: Fabric, slices: Int, costs: MessageCosts = .parallelEngines,
                                capped: [Synthesis] = []) throws(SimulationError) -> Schedule {
        guard ScheduleBuilder.slices.contains(slices) else {
            throw SimulationError(description: "\(slices) slices per tree: give \(ScheduleBuilder.slices.lowerBound) to \(ScheduleBuilder.slices.upperBound)")
        }
        let forests = [s] + capped
        let candidates = forests.map { Lowering.plan($0, slices: slices) } + baselinePlans(fabric: fabric, collective: s.collective, root: s.root)
        var rates: [String: Double] = [:]
        for f in capped { rates[f.planName] = f.achievedAlgbw.doubleValue * 1e9 }
        let results = try winners(candidates, fabric: fabric, collective: s.collective, root: s.root, sizes: windowSizes, costs: costs,
                                  rate: s.achievedAlgbw.doubleValue * 1e9, rates: rates)
        var windows: [SizeWindow] = []
        for (i, r) in results.enumerated() where r.algorithm != s.planName {
            let lo = i == 0 ? 0 : r.bytes
            let hi = i + 1 < results.count ? results[i + 1].bytes : Int.max
            if let last = windows.last, last.algorithm == r.algorithm, last.maxBytes == lo { windows[windows.count - 1].maxBytes = hi } else {
                windows.append(SizeWindow(minBytes: lo, maxBytes: hi, algorithm: r.algorithm))
            }
        }
        let used = Set(windows.map(\.algorithm)).union([s.planName])
        return Schedule(fabricName: fabric.name, fabricHash: fabric.hash, collective: s.collective, root: s.root,
                        boundAlgbw: s.boundAlgbw, algbw: s.achievedAlgbw, plans: candidates.filter { used.contains($0.algorithm) }, windows: windows, costs: costs)
    }
}
