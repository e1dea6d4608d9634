import GroveSynthesis
import GroveTopology

/// Turns a synthesis into a schedule: plans and the size windows in which each is used.
public enum ScheduleBuilder {
    /// Sizes (bytes) at which plans are simulated to choose size windows.
    static let windowSizes = [64 << 10, 1 << 20, 16 << 20]
    /// Slices per tree: each slice is a message per tree arc, so more than this only adds
    /// messages (and lowering time) without measurable overlap.
    public static let slices = 1...64

    /// Builds the schedule for a synthesis: the forest plan, the baseline plans, and size windows
    /// where a baseline is predicted faster than the forest. Only plans that win somewhere are kept.
    public static func schedule(for s: Synthesis, fabric: Fabric, slices: Int) throws(SimulationError) -> Schedule {
        guard ScheduleBuilder.slices.contains(slices) else {
            throw SimulationError(description: "\(slices) slices per tree: give \(ScheduleBuilder.slices.lowerBound) to \(ScheduleBuilder.slices.upperBound)")
        }
        let forest = Lowering.plan(s, slices: slices)
        var candidates = [forest]
        for b in Baseline.allCases {
            if let p = Lowering.plan(baseline: b, fabric: fabric, collective: s.collective, root: s.root ?? Rank(0), slices: 2) { candidates.append(p) }
        }
        var winners: [String] = []
        for bytes in windowSizes {
            var best: (String, Double)?
            for p in candidates {
                let t = try Simulator.simulate(p, fabric: fabric, bytes: bytes).seconds
                if best == nil || t < best!.1 * 0.999 { best = (p.algorithm, t) }
            }
            winners.append(best!.0)
        }
        // A window runs from a measured size to the next size that has a different winner.
        var windows: [SizeWindow] = []
        for (i, w) in winners.enumerated() where w != "forest" {
            let lo = i == 0 ? 0 : windowSizes[i]
            let hi = i + 1 < windowSizes.count ? windowSizes[i + 1] : Int.max
            if let last = windows.last, last.algorithm == w, last.maxBytes == lo { windows[windows.count - 1].maxBytes = hi } else {
                windows.append(SizeWindow(minBytes: lo, maxBytes: hi, algorithm: w))
            }
        }
        let used = Set(windows.map(\.algorithm)).union(["forest"])
        return Schedule(fabricName: fabric.name, fabricHash: fabric.hash, collective: s.collective, root: s.root,
                        boundAlgbw: s.boundAlgbw, algbw: s.achievedAlgbw, plans: candidates.filter { used.contains($0.algorithm) }, windows: windows)
    }
}
