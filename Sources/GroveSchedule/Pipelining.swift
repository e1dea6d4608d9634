/// How many slices a tree plan is cut into for a call of a given size.
///
/// A tree of depth D whose share is cut into S slices takes about (S + D − 1)/S of its ideal time:
/// the first slice needs D hops to reach the farthest rank, and the links near the root are idle
/// while the last ones drain. More slices shrink that fill to (D − 1)/S, and each slice is one
/// more message per tree arc. So the model takes S = `MessageCosts.slicesPerLevel` · (D − 1)
/// (fill at most 1/32 ≈ 3% of the call for engines, 1/16 for Grove's TCP runtime, where each
/// message costs posting time) and lowers it until the average tree's slice holds at
/// least the runtime's floor (`MessageCosts.sliceFloor`), so that a message's fixed cost (a
/// frame header, a system call, a wake-up; a work request on verbs) stays small beside its bytes;
/// 1 ≤ S ≤ 128. D is the sum over the plan's phases of their deepest tree; the size is the
/// collective's buffer (nccl-tests `size`).
///
/// The slice counts come from the simulator over the shipped fabrics: at 1 GiB the forests reach
/// 92.8–100% of their rate with up to 128 slices (MI250 × 2's 19-deep trees need more than 64;
/// Benchmarks/README.md). The floor is the runtime's.
/// Grove's TCP runtime: what a tree moves in 500 µs at the schedule's rate, at least 16 KiB —
/// measured on 4 local ranks, where a forest allreduce of 4 MiB (4 trees at about 0.33 GB/s
/// each) moved 0.42–0.45 GB/s busbw in 64 KiB slices and 0.51–0.55 in 256 KiB, while on the
/// emulated fabric (trees at a few MB/s) slices of a few KiB still cost little. Engines posting
/// in parallel: 64 KiB (not measured here: no GPU).
public enum Pipelining {
    public static let maximumSlices = 128

    /// The slice count for a call of `bytes` on `plan`'s trees (`plan.slices` for a plan without
    /// trees, whose slicing is fixed), with slices no smaller on average than `costs`' floor for
    /// a plan at `rate` bytes/s (the schedule's synthesized rate).
    public static func slices(for plan: Plan, bytes: Int, costs: MessageCosts = .parallelEngines, rate: Double = 0) -> Int {
        guard !plan.phases.isEmpty else { return plan.slices }
        // Phases run one after another along each slice (allreduce: up the in-trees, then down
        // the out-trees), so their depths add up to the pipeline's length.
        let depth = plan.phases.reduce(0) { $0 + $1.depth }
        let wanted = max(1, costs.slicesPerLevel * (depth - 1))
        // Bytes per tree in the phase with the most trees (the smallest average piece): the trees
        // of a phase cover the buffer once, by shards or whole.
        let trees = plan.phases.map { $0.trees.count }.max() ?? 1
        let perTree = bytes / max(trees, 1)
        let affordable = max(1, perTree / max(costs.sliceFloor(rate: rate, trees: trees), 1))
        return min(maximumSlices, wanted, affordable)
    }
}

extension Schedule {
    /// The plan for a buffer of `bytes`: the algorithm the size windows name, cut into the
    /// slices `Pipelining` picks for that size, with the reason for the debug log. Lowers the
    /// plan again when the slices differ from the stored ones: callers that repeat sizes cache it
    /// (the runtime's `PlanLibrary` does).
    public func choosePlan(forBytes bytes: Int) -> (plan: Plan, reason: String) {
        let (template, reason) = chooseAlgorithm(forBytes: bytes)
        let slices = slices(for: template, bytes: bytes)
        return (template.lowered(slices: slices), reason + ", \(slices) slice\(slices == 1 ? "" : "s") per tree")
    }

    /// The synthesized rate in bytes per second, what `Pipelining`'s slice floor is scaled by.
    public var bytesPerSecond: Double { algbw.doubleValue * 1e9 }

    /// The slices for a call of `bytes` on one of this schedule's plans (or a baseline lowered
    /// on its fabric), with the schedule's message costs.
    public func slices(for plan: Plan, bytes: Int) -> Int {
        Pipelining.slices(for: plan, bytes: bytes, costs: costs, rate: bytesPerSecond)
    }

    /// The plan for a buffer of `bytes`, as `choosePlan`.
    public func plan(forBytes bytes: Int) -> Plan { choosePlan(forBytes: bytes).plan }
}
