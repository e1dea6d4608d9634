import ArgumentParser
import Foundation
import GroveLP
import GroveSchedule
import GroveSynthesis
import GroveTopology

extension Collective: ExpressibleByArgument {
    /// Grove's names, and nccl-tests' (`all_reduce`, `all_reduce_perf`, `reduce_scatter`, …).
    public init?(argument: String) {
        var name = argument.lowercased()
        if name.hasSuffix("_perf") { name.removeLast(5) }
        let plain = name.filter { $0 != "_" && $0 != "-" }
        guard let c = Collective.allCases.first(where: { $0.rawValue.filter { $0 != "-" } == plain }) else { return nil }
        self = c
    }
}

enum Engine: String, ExpressibleByArgument, CaseIterable {
    case flow, lp
}

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Synthesize a throughput-optimal forest for a collective on a fabric.",
        discussion: """
        Computes the optimal rate (the cut bound, proven attainable), removes switches by edge \
        splitting and packs spanning trees that reach it. algbw follows nccl-tests: bytes of the \
        collective's buffer / time, GB = 10^9 bytes. Examples:

          grove synth Topologies/dgx-a100-2.json -c allreduce --compare
          grove synth Topologies/ring-bi-8.json -c allgather --engine lp --json
          grove synth fabric.json -c broadcast --root 3 -o forest.json
        """
    )

    @Argument(help: "Topology file (Grove JSON); omit with --all.") var topology: String?
    @Option(help: "Synthesize allgather, reduce-scatter and allreduce for every topology in this folder; -o names the output folder.")
    var all: String?
    @Option(help: "Slices each tree's share is cut into for pipelining (more slices: closer to the rate at large sizes, more messages).")
    var slices = 4
    @Option(name: .shortAndLong, help: "allgather | reduce-scatter | allreduce | broadcast | reduce")
    var collective: Collective = .allgather
    @Option(help: "Root rank for broadcast and reduce: an index or a rank name (default 0).") var root: String?
    @Option(help: "How to compute the optimal rate: flow (exact max-flow search) or lp (GLPK, exact).")
    var engine: Engine = .flow
    @Flag(help: "Build the forest with exact edge splitting and tree packing only, skipping the greedy fast path (slower; same rate).")
    var exact = false
    @Option(help: ArgumentHelp("At most K trees per rank (ForestColl's fixed K): the best rate with K tree units per root, printed beside the unbounded optimum. Fewer trees: fewer, larger messages.", valueName: "K"))
    var treesPerRank: Int?
    @Option(help: ArgumentHelp("Build trees up to a rotation of the fabric (boxes, torus rows, ring positions): trees for one root per cycle, mapped to the others. auto: from 128 ranks up.", valueName: "auto|on|off"))
    var symmetry: SymmetryUse = .auto
    @Flag(help: "Also evaluate ring and double-binary-tree baselines on the same fabric.") var compare = false
    @Option(name: .shortAndLong, help: "Write the schedule (forest, per-rank programs, size windows) as versioned JSON to this file.") var output: String?
    @Flag(help: "Print one JSON object on standard output instead of the summary.") var json = false
    @Option(help: ArgumentHelp("The runtime the size windows are chosen for: engines (one engine per tree posts at once, as GPU runtimes such as MSCCL; no serial per-message cost) or tcp (Grove's TCP runtime: one progress thread per rank, 15 µs per message posted).", valueName: "engines|tcp"))
    var runtime: RuntimeKind = .engines

    func run() throws {
        try reportingErrors(execute)
    }

    func execute() throws {
            if let k = treesPerRank, k < 1 { throw UserError("--trees-per-rank \(k): give 1 or more trees per rank") }
            if let all {
                guard treesPerRank == nil else {
                    throw UserError("--trees-per-rank applies to one topology; with --all, forests of 1–3 trees per rank already compete in every schedule's size windows")
                }
                return try synthesizeAll(all)
            }
            guard let topology else { throw UserError("give a topology file, or --all FOLDER -o FOLDER") }
            guard ScheduleBuilder.slices.contains(slices) else { throw UserError("--slices \(slices): give 1 to \(ScheduleBuilder.slices.upperBound)") }
            let parsed = try loadTopology(topology)
            let fabric = parsed.fabric
            let rootRank = try resolveRoot(fabric)
            let progress = Progress()
            var engineFunction: Synthesizer.RateEngine?
            if engine == .lp {
                engineFunction = { (f: IntegerFabric, roots: [Rank]) throws -> OptimalRate in try RateLP.optimalRate(f, roots: roots) }
            }
            // Unbalanced switches: the LP finds the best balanced part where it stays small
            // (N·(E + N) flow columns); beyond, water-filling alone.
            var balancer: Synthesizer.Balancer?
            if !fabric.switchImbalances().isEmpty && fabric.rankCount * (fabric.links.count + fabric.rankCount) <= 400_000 {
                balancer = { (f: IntegerFabric, roots: [Rank]) throws -> (perRootUnits: Double, capacities: [Double]) in
                    let best = try BalancedLP.solve(f, roots: roots)
                    return (best.perRootUnits, best.capacities)
                }
            }
            let result: Synthesis
            do {
                result = try Synthesizer.synthesize(fabric, collective: collective, root: rootRank, engine: engineFunction,
                                                    construction: exact ? .exact : .automatic, treesPerRoot: treesPerRank,
                                                    balancer: balancer, symmetry: symmetry, progress: { progress.report($0) })
            } catch {
                throw UserError("\(topology): \(error)")
            }
            let seconds = progress.elapsed
            var baselines: [(Baseline, Double)] = []
            var baselineModel = ""
            if compare { (baselines, baselineModel) = try evaluateBaselines(fabric, root: rootRank ?? Rank(0)) }
            if let output {
                // With no cap given, forests of 1–3 trees per rank compete in the size windows.
                var capped: [Synthesis] = []
                if treesPerRank == nil {
                    capped = ScheduleBuilder.cappedForests(for: result, fabric: fabric, progress: { progress.report($0) })
                }
                let schedule = try ScheduleBuilder.schedule(for: result, fabric: fabric, slices: slices, costs: runtime.costs, capped: capped)
                try writeOutput(ScheduleFile.write(schedule, forest: result, fabric: fabric), to: output)
            }
            if json {
                printJSON(result, fabric: fabric, seconds: seconds, baselines: baselines, model: baselineModel,
                          roundedLinks: parsed.roundedLinks.count)
            } else {
                printSummary(result, fabric: fabric, seconds: seconds, baselines: baselines, model: baselineModel)
            }
    }

    /// Baselines under ideal routing (concurrent-flow LP) where the LP is small enough, else with
    /// each transfer spread over its own max flow. Returns the values and which model was used.
    func evaluateBaselines(_ fabric: Fabric, root: Rank) throws -> ([(Baseline, Double)], String) {
        var values: [(Baseline, Double)] = []
        var usedLP = true
        for b in Baseline.allCases {
            var best: Double?
            for candidate in b.candidates(on: fabric, collective: collective, root: root) {
                let v: Double?
                do { v = try ConcurrentFlowLP.algbw(fabric, transfers: candidate) } catch { throw UserError("\(topology ?? ""): \(error)") }
                guard let v else { usedLP = false; best = nil; break }
                best = max(best ?? 0, v)
            }
            values.append((b, best ?? b.algbw(on: fabric, collective: collective, root: root).doubleValue))
        }
        return (values, usedLP ? "ideal routing (concurrent-flow LP)" : "each edge over its own max flow")
    }

    /// Writes DIR-OUT/<topology>.<collective>.json for every topology in `folder`.
    func synthesizeAll(_ folder: String) throws {
        guard let output else { throw UserError("--all needs -o OUTPUT-FOLDER") }
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        guard !files.isEmpty else { throw UserError("\(folder): no .json topology files") }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        for file in files {
            let fabric = try loadFabric("\(folder)/\(file)")
            for c in [Collective.allgather, .reduceScatter, .allreduce] {
                let result: Synthesis
                do { result = try Synthesizer.synthesize(fabric, collective: c) } catch { throw UserError("\(folder)/\(file): \(error)") }
                let capped = ScheduleBuilder.cappedForests(for: result, fabric: fabric)
                let schedule = try ScheduleBuilder.schedule(for: result, fabric: fabric, slices: slices, costs: runtime.costs, capped: capped)
                let path = "\(output)/\(file.dropLast(5)).\(c.rawValue).json"
                try writeOutput(ScheduleFile.write(schedule, forest: result, fabric: fabric), to: path)
                Console.note("wrote \(path): \(schedule.plans.map(\.algorithm).joined(separator: ", ")), windows \(schedule.windows.map { "\($0.algorithm) [\($0.minBytes), \($0.maxBytes == Int.max ? "∞" : String($0.maxBytes)))" }.joined(separator: " "))")
            }
        }
    }

    func resolveRoot(_ fabric: Fabric) throws -> Rank? {
        guard let root else { return nil }
        guard collective.needsRoot else { throw UserError("--root applies to broadcast and reduce only") }
        if let i = Int(root) {
            guard i >= 0 && i < fabric.rankCount else { throw UserError("--root \(i): the fabric has ranks 0...\(fabric.rankCount - 1)") }
            return Rank(i)
        }
        guard let i = fabric.vertexNames.prefix(fabric.rankCount).firstIndex(of: root) else {
            throw UserError("--root \(root): no rank of that name in \(fabric.name)")
        }
        return Rank(i)
    }

    func printSummary(_ s: Synthesis, fabric: Fabric, seconds: Double, baselines: [(Baseline, Double)], model: String) {
        let busbw = s.achievedAlgbw * s.collective.busFactor(ranks: fabric.rankCount)
        let trees = s.forests.reduce(0) { $0 + $1.trees.count }
        print("fabric      \(fabric.name): \(fabric.rankCount) ranks, \(fabric.switchCount) switches")
        print("collective  \(s.collective.rawValue)" + (s.root.map { " from root \($0) (\(fabric.name(of: $0.vertex)))" } ?? ""))
        if let cap = s.treesPerRootCap {
            let loss = 100 * (1 - s.achievedAlgbw.doubleValue / s.boundAlgbw.doubleValue)
            print("algbw       \(gbps(s.achievedAlgbw)) GB/s with at most \(cap) tree\(cap == 1 ? "" : "s") per rank (exact: \(s.achievedAlgbw)), "
                  + "unbounded optimum \(gbps(s.boundAlgbw)) GB/s: " + String(format: "%.2f%% lower", loss))
            if let upper = s.cappedUpperBound, upper > s.achievedAlgbw {
                print("            (switch ports trimmed for splitting: the best \(cap)-tree forest lies between this and \(gbps(upper)) GB/s)")
            }
        } else if let part = s.balancedAlgbw {
            let names = fabric.switchImbalances().map { u in
                "\(fabric.name(of: u.switch)) (in \(u.in.decimalString), out \(u.out.decimalString) GB/s)"
            }
            let list = names.count <= 3 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + ", … (\(names.count) switches)"
            let best = s.balancedOptimumAlgbw ?? s.boundAlgbw.doubleValue
            let verdict = s.achievedAlgbw == s.boundAlgbw ? "= bound: optimal"
                : s.achievedAlgbw.doubleValue >= best * (1 - 1e-6) ? "optimal"
                : String(format: "%.4f%% below the best balanced part", 100 * (1 - s.achievedAlgbw.doubleValue / best))
            print("algbw       \(gbps(s.achievedAlgbw)) GB/s achieved by the forest (exact: \(s.achievedAlgbw)), \(verdict)")
            print("bound       \(gbps(s.boundAlgbw)) GB/s counting every link as given; unbalanced switches forward only the smaller")
            print("            of their in- and out-capacity: \(list)")
            if let best = s.balancedOptimumAlgbw {
                print("            best balanced part (LP over all trimmings): \(String(format: "%.2f", best)) GB/s, the optimum for switches that forward")
                print("            without copying; the forest is built on it, rounded to a finer unit grid: \(gbps(part)) GB/s")
            } else {
                print("            balanced part (larger sides water-filled, widest ports first): \(gbps(part)) GB/s, reached by the forest")
            }
        } else {
            print("algbw       \(gbps(s.achievedAlgbw)) GB/s achieved by the forest = bound \(gbps(s.boundAlgbw)) GB/s (exact: \(s.achievedAlgbw))")
        }
        print("busbw       \(gbps(busbw)) GB/s")
        for (i, f) in s.forests.enumerated() {
            let label = s.forests.count > 1 ? (i == 0 ? "reduce-scatter phase" : "allgather phase") : "forest"
            print("\(label): \(f.trees.count) trees, multiplicities summing to \(f.treesPerRoot) per root, "
                  + (f.cap == nil ? "\(gbps(f.bound.perRoot)) GB/s per root" : "\(gbps(f.bound.perRoot)) GB/s per root unbounded"))
            print("  tree depth: " + f.depthHistogram.map { "\($0.trees) of depth \($0.depth)" }.joined(separator: ", ")
                  + (f.torus.map { " (torus construction, \($0.rows) × \($0.cols))" } ?? (f.builtGreedily ? " (greedy construction)" : " (exact construction)")))
            if let order = f.rotationOrder {
                print("  symmetry: a rotation of order \(order); trees built for \(f.roots.count / order) of \(f.roots.count) roots and mapped")
            }
            if !f.bound.bottleneck.isEmpty {
                print("  bottleneck: \(describeCut(f.bound.bottleneck, fabric: fabric, direction: f.direction))")
            }
        }
        print("trees       \(trees) distinct")
        print("engine      \(engine.rawValue)" + (engine == .flow ? " (\(s.maxFlowRuns) max-flows for the bound)" : " (GLPK simplex + exact)") + String(format: ", %.2f s", seconds))
        for (b, v) in baselines {
            let ratio = v > 0 ? String(format: " — forest is %.2f×", s.achievedAlgbw.doubleValue / v) : ""
            print("baseline    \(b.rawValue): \(String(format: "%.2f", v)) GB/s\(ratio)")
        }
        if !baselines.isEmpty { print("            (baselines with \(model))") }
    }

    /// Names the side of the cut that is smaller, so "all but one GPU" reads as "into that GPU".
    /// For in-trees the forest was built on the reversed fabric, so the cut's links point inward.
    func describeCut(_ cut: [VertexID], fabric: Fabric, direction: TreeDirection) -> String {
        let inside = Set(cut)
        let outside = (0..<fabric.vertexCount).map { VertexID($0) }.filter { !inside.contains($0) }
        func list(_ vs: [VertexID]) -> String {
            let names = vs.map { fabric.name(of: $0) }
            return names.count <= 6 ? names.joined(separator: ", ") : names.prefix(5).joined(separator: ", ") + ", … (\(names.count) vertices)"
        }
        let (outward, inward) = direction == .outward ? ("leaving", "into") : ("into", "leaving")
        return outside.count < cut.count ? "the links \(inward) {\(list(outside))}" : "the links \(outward) {\(list(cut))}"
    }

    func printJSON(_ s: Synthesis, fabric: Fabric, seconds: Double, baselines: [(Baseline, Double)], model: String, roundedLinks: Int) {
        let q = TopologyFile.quote
        var fields: [String] = [
            "\"collective\": \(q(s.collective.rawValue))",
            "\"fabric\": \(q(fabric.name))",
            "\"ranks\": \(fabric.rankCount)",
            "\"algbw\": \(s.achievedAlgbw.doubleValue)",
            "\"bound_algbw\": \(s.boundAlgbw.doubleValue)",
            "\"algbw_exact\": \(q(s.achievedAlgbw.description))",
            "\"bound_algbw_exact\": \(q(s.boundAlgbw.description))",
            "\"busbw\": \((s.achievedAlgbw * s.collective.busFactor(ranks: fabric.rankCount)).doubleValue)",
            "\"trees_per_rank\": \(s.forests.map(\.treesPerRoot).max() ?? 0)",
            "\"trees_per_rank_cap\": \(s.treesPerRootCap.map(String.init) ?? "null")",
            "\"trees\": \(s.forests.reduce(0) { $0 + $1.trees.count })",
            "\"tree_depths\": [" + s.forests.map { f in "{" + f.depthHistogram.map { "\"\($0.depth)\": \($0.trees)" }.joined(separator: ", ") + "}" }.joined(separator: ", ") + "]",
            "\"engine\": \(q(engine.rawValue))",
            "\"rotation_order\": \(s.forests.compactMap(\.rotationOrder).first.map(String.init) ?? "null")",
            "\"seconds\": \(String(format: "%.4f", seconds))",
            "\"bottleneck\": [" + (s.forests.first?.bound.bottleneck ?? []).map { q(fabric.name(of: $0)) }.joined(separator: ", ") + "]",
        ]
        if let r = s.root { fields.append("\"root\": \(r.rawValue)") }
        if let part = s.balancedAlgbw {
            fields.append("\"balanced_part_algbw\": \(part.doubleValue)")
            if let best = s.balancedOptimumAlgbw { fields.append("\"balanced_optimum_algbw\": \(best)") }
            fields.append("\"balanced_part_algbw_exact\": \(q(part.description))")
            fields.append("\"unbalanced_switches\": [" + fabric.switchImbalances().map { q(fabric.name(of: $0.switch)) }.joined(separator: ", ") + "]")
        }
        if roundedLinks > 0 {
            fields.append("\"bandwidths_rounded\": \(roundedLinks)")
            fields.append("\"note\": \(q("bandwidths rounded to 1 kB/s; the bound is exact for the rounded fabric"))")
        }
        if !baselines.isEmpty {
            fields.append("\"baselines\": {" + baselines.map { "\(q($0.0.rawValue)): \($0.1)" }.joined(separator: ", ") + "}")
            fields.append("\"baseline_model\": \(q(model))")
        }
        print("{" + fields.joined(separator: ", ") + "}")
    }
}

/// Whose message costs the size windows are predicted with (`MessageCosts`).
enum RuntimeKind: String, ExpressibleByArgument, CaseIterable {
    case engines, tcp

    var costs: MessageCosts { self == .tcp ? .tcp : .parallelEngines }
}
extension SymmetryUse: ExpressibleByArgument {}
