import Foundation
import GroveSchedule
import GroveSynthesis
import GroveTopology

/// Where a communicator's plans come from, and which plan a call uses.
///
/// - `schedules`: schedule files made by `grove synth -o`; each covers one collective, and its
///   size windows pick the forest or a baseline by message size. Collectives with no schedule
///   (and broadcast/reduce from another root) use the ring.
/// - `topology`: a fabric, synthesized on first use of each collective with the combinatorial
///   engine (no GLPK), with size windows as `grove synth` makes them.
/// - `baseline`: the ring or the double binary tree in rank order, for any world size (the tree
///   runs allreduce, broadcast and reduce; allgather and reduce-scatter use the ring, as NCCL).
///
/// Every rank must hold the same library; `identity` is what rendezvous compares.
public final class PlanLibrary: @unchecked Sendable {
    public enum Source: Sendable {
        case schedules([Schedule])
        case topology(Fabric)
        case baseline(Baseline)
    }

    public let source: Source
    public let worldSize: Int
    /// Slices per tree at every size, or nil to let `Pipelining` pick them per call from the
    /// size and the trees' depth.
    public let slices: Int?
    private let sourceIdentity: String
    /// A short string that differs when the plans may differ.
    public var identity: String {
        sourceIdentity + (pinnedAlgorithm.map { ":pinned=\($0)" } ?? "") + (slices.map { ":slices=\($0)" } ?? "")
    }
    /// Run this algorithm ("forest", "ring", "double_binary_tree", or for allreduce
    /// "recursive_doubling" / "halving_doubling") at every size instead of
    /// following the size windows. With a topology, a baseline the schedule did not keep is
    /// lowered on the fabric itself (its best ring order); with schedule files, in rank order.
    public var pinnedAlgorithm: String?
    private let lock = NSLock()
    private var synthesized: [String: Schedule] = [:]
    private var baselines: [String: Plan] = [:]
    /// Plans cut again for a call size's slice count, by collective, root, algorithm and slices.
    private var sliced: [String: Plan] = [:]
    private let uniform: Fabric

    public init(_ source: Source, worldSize: Int, slices: Int? = nil, identity: String? = nil) throws(CommunicatorError) {
        guard worldSize >= 1 else { throw .invalidArgument("the world size must be at least 1, not \(worldSize)") }
        if let slices, !ScheduleBuilder.slices.contains(slices) {
            throw .invalidArgument("\(slices) slices per tree: give \(ScheduleBuilder.slices.lowerBound) to \(ScheduleBuilder.slices.upperBound)")
        }
        self.source = source
        self.worldSize = worldSize
        self.slices = slices
        do { uniform = try FabricGenerator.star(ranks: max(worldSize, 2), bandwidth: Rational(1)) } catch {
            throw .schedule("cannot build the baseline fabric for \(worldSize) ranks: \(error)")
        }
        switch source {
        case .schedules(let list):
            for s in list where s.rankCount != worldSize {
                throw .mismatch("the \(s.collective.rawValue) schedule for \(s.fabricName) is for \(s.rankCount) ranks, but the world has \(worldSize)")
            }
            var seen = Set<String>()
            for s in list where !seen.insert(s.collective.rawValue).inserted {
                throw .invalidArgument("two schedules for \(s.collective.rawValue): give one per collective")
            }
            self.sourceIdentity = identity ?? "schedules:" + list.map { "\($0.collective.rawValue)@\($0.fabricHash)" }.sorted().joined(separator: ",")
        case .topology(let fabric):
            guard fabric.rankCount == worldSize else {
                throw .mismatch("the topology \(fabric.name) has \(fabric.rankCount) ranks, but the world has \(worldSize)")
            }
            self.sourceIdentity = identity ?? "topology:\(fabric.hash)"
        case .baseline(let b):
            self.sourceIdentity = identity ?? "baseline:\(b.rawValue)"
        }
    }

    /// The plan for a call of `bytes` (nccl-tests size).
    public func plan(_ collective: Collective, root: Int, bytes: Int) throws(CommunicatorError) -> Plan {
        try choosePlan(collective, root: root, bytes: bytes).plan
    }

    /// The plan for a call of `bytes` and why it was chosen, for the debug log.
    public func choosePlan(_ collective: Collective, root: Int, bytes: Int) throws(CommunicatorError) -> (plan: Plan, reason: String) {
        let (template, reason, rate) = try chooseAlgorithm(collective, root: root, bytes: bytes)
        // The slices are this runtime's (TCP), whatever runtime the schedule was made for.
        let count = slices ?? Pipelining.slices(for: template, bytes: bytes, costs: .tcp, rate: rate)
        guard count != template.slices, !template.phases.isEmpty else { return (template, reason + ", \(template.slices) slices per tree") }
        let key = "\(collective.rawValue)/\(root)/\(template.algorithm)/\(count)"
        lock.lock()
        defer { lock.unlock() }
        if sliced[key] == nil { sliced[key] = template.lowered(slices: count) }
        return (sliced[key]!, reason + ", \(count) slices per tree")
    }

    /// The stored plan for a call before it is cut into the call size's slices, and the rate
    /// (bytes/s) of its schedule, for the slice floor (0 without one).
    private func chooseAlgorithm(_ collective: Collective, root: Int, bytes: Int) throws(CommunicatorError) -> (plan: Plan, reason: String, rate: Double) {
        switch source {
        case .baseline(let b):
            if let name = pinnedAlgorithm, let kind = Butterfly(rawValue: name), collective == .allreduce {
                return (butterfly(kind, on: uniform), "pinned to \(name)", 0)
            }
            let useTree = b == .doubleBinaryTree && ![.allgather, .reduceScatter].contains(collective)
            return (try baseline(useTree ? .doubleBinaryTree : .ring, collective, root: root), "no schedule or topology given: the \(b.rawValue) baseline", 0)
        case .schedules(let list):
            if let s = list.first(where: { $0.collective == collective && ($0.root?.rawValue ?? 0) == (collective.needsRoot ? root : 0) }) {
                let rate = s.bytesPerSecond
                if let p = try pinned(s, on: uniform, collective, root: root) { return (p, "pinned to \(p.algorithm)", rate) }
                let (p, reason) = s.chooseAlgorithm(forBytes: bytes)
                return (p, reason, rate)
            }
            return (try baseline(.ring, collective, root: root), "no schedule loaded for \(collective.rawValue)\(collective.needsRoot ? " root \(root)" : ""): the ring baseline", 0)
        case .topology(let fabric):
            let s = try synthesizedSchedule(fabric, collective, root: root)
            let rate = s.bytesPerSecond
            if let p = try pinned(s, on: fabric, collective, root: root) { return (p, "pinned to \(p.algorithm)", rate) }
            let (p, reason) = s.chooseAlgorithm(forBytes: bytes)
            return (p, "synthesized for \(fabric.name); " + reason, rate)
        }
    }

    private func pinned(_ s: Schedule, on fabric: Fabric, _ collective: Collective, root: Int) throws(CommunicatorError) -> Plan? {
        guard let name = pinnedAlgorithm else { return nil }
        if let p = s.plans.first(where: { $0.algorithm == name }) { return p }
        if let b = Butterfly(rawValue: name) {
            // Allreduce only; the other collectives follow the size windows.
            guard collective == .allreduce else { return nil }
            return butterfly(b, on: fabric)
        }
        guard let b = Baseline(rawValue: name) else { return nil }
        return try baseline(b, collective, root: root, on: fabric)
    }

    private func butterfly(_ b: Butterfly, on fabric: Fabric) -> Plan {
        cachedBaseline("\(b.rawValue)/allreduce/0/\(fabric.name)") { b.allreduce(on: fabric) }
    }

    /// A two-phase ring allreduce of `worldSize` bytes: no rank leaves before all have entered.
    func barrierPlan() throws(CommunicatorError) -> Plan { try baseline(.ring, .allreduce, root: 0) }

    private func baseline(_ b: Baseline, _ collective: Collective, root: Int, on fabric: Fabric? = nil) throws(CommunicatorError) -> Plan {
        try cachedBaseline("\(b.rawValue)/\(collective.rawValue)/\(collective.needsRoot ? root : 0)/\(fabric?.name ?? "")") { () throws(CommunicatorError) in
            let b = b == .doubleBinaryTree && [.allgather, .reduceScatter].contains(collective) ? .ring : b
            guard let p = Lowering.plan(baseline: b, fabric: fabric ?? uniform, collective: collective, root: Rank(root), slices: 2) else {
                throw .schedule("no \(b.rawValue) plan for \(collective.rawValue)")
            }
            return p
        }
    }

    /// The plan cached under `key` in `baselines`, made by `make` on first use (under the lock).
    private func cachedBaseline<E: Error>(_ key: String, _ make: () throws(E) -> Plan) throws(E) -> Plan {
        lock.lock()
        defer { lock.unlock() }
        if let p = baselines[key] { return p }
        let p = try make()
        baselines[key] = p
        return p
    }

    private func synthesizedSchedule(_ fabric: Fabric, _ collective: Collective, root: Int) throws(CommunicatorError) -> Schedule {
        let key = "\(collective.rawValue)/\(collective.needsRoot ? root : 0)"
        lock.lock()
        defer { lock.unlock() }
        if let s = synthesized[key] { return s }
        do {
            let synthesis = try Synthesizer.synthesize(fabric, collective: collective, root: collective.needsRoot ? Rank(root) : nil)
            let capped = ScheduleBuilder.cappedForests(for: synthesis, fabric: fabric)
            let s = try ScheduleBuilder.schedule(for: synthesis, fabric: fabric, slices: 4, costs: .tcp, capped: capped)
            synthesized[key] = s
            return s
        } catch {
            throw .schedule("cannot synthesize \(collective.rawValue) on \(fabric.name): \(error)")
        }
    }
}
