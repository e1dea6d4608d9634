import ArgumentParser
import Foundation
import GroveSchedule
import GroveSynthesis

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a schedule as MSCCL XML (for GPU runtimes) or its trees as Graphviz DOT.",
        discussion: """
            --msccl writes one plan (default: the forest) as an MSCCL algorithm. The nccl dialect \
            is read by Microsoft's MSCCL fork of NCCL and by RCCL; the executor dialect by \
            msccl-executor-nccl (set MSCCL_XML_FILES to the file). The output is read back, checked \
            against the runtimes' structural rules and verified symbolically before it is written. \
            minBytes/maxBytes come from the schedule's size windows unless given.
            --dot writes the forest's trees; render with `dot -Tsvg`.
            """
    )
    @Argument(help: "Schedule file (grove synth -o).") var schedule: String
    @Flag(help: "Graphviz DOT of the forest's trees.") var dot = false
    @Flag(help: "MSCCL XML of one plan.") var msccl = false
    @Option(help: "MSCCL dialect: nccl or executor.") var mscclDialect = "executor"
    @Option(help: "Plan to export with --msccl: forest, ring, double_binary_tree.") var algorithm = "forest"
    @Option(help: "MSCCL channels to spread the trees over (default: the most that fit, up to 32).") var channels: Int?
    @Option(help: "MSCCL protocol: Simple, LL or LL128.") var proto = "Simple"
    @Option(help: "Smallest buffer (bytes, nccl-tests size) the runtime may use the plan for.") var minBytes: Int?
    @Option(help: "Largest buffer (bytes) the runtime may use the plan for; 0 for no limit.") var maxBytes: Int?
    @Option(help: "With --dot, only the trees of this root rank (default: all).") var root: Int?
    @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

    func run() throws {
        try reportingErrors {
            guard dot != msccl else { throw UserError("choose one export format: --msccl or --dot") }
            let s = try loadSchedule(schedule)
            if let root, !(0..<s.plans[0].rankCount).contains(root) {
                throw UserError("--root \(root) is not a rank of \(schedule) (0…\(s.plans[0].rankCount - 1))")
            }
            var summary: String?
            try writeOutput(msccl ? try mscclText(s, summary: &summary) : dotText(s), to: output)
            // Said once the file is written, so a failed write is the only line.
            if let summary { Console.note(summary) }
        }
    }

    func mscclText(_ s: Schedule, summary: inout String?) throws -> String {
        guard let dialect = MSCCLDialect(rawValue: mscclDialect) else {
            throw UserError("--msccl-dialect '\(mscclDialect)': expected nccl or executor")
        }
        guard ["Simple", "LL", "LL128"].contains(proto) else { throw UserError("--proto '\(proto)': expected Simple, LL or LL128") }
        guard let plan = s.plans.first(where: { $0.algorithm == algorithm }) else {
            throw UserError("\(schedule) has no \(algorithm) plan (it has \(s.plans.map(\.algorithm).joined(separator: ", ")))")
        }
        var options = MSCCLExportOptions(dialect: dialect, name: "grove-\(s.fabricName)-\(s.collective.rawValue)-\(algorithm)")
        options.proto = proto
        options.channels = channels
        var window = s.byteRange(of: algorithm)
        if window.isEmpty {
            Console.note("grove: note: the size windows never pick the \(algorithm) plan (another plan is predicted at least as fast at every size); exporting it for all sizes")
            window = 0..<Int.max
        }
        options.minBytes = minBytes ?? window.lowerBound
        let hi = maxBytes ?? (window.upperBound == Int.max ? 0 : window.upperBound - 1)
        options.maxBytes = hi == 0 ? (dialect == .executor ? 0 : nil) : hi
        do {
            let program = try MSCCLExport.program(plan, options: options)
            let text = program.xml()
            _ = try proveMSCCL(text, dialect: dialect)
            let tbs = program.gpus.map(\.threadBlocks.count)
            let steps = program.gpus.flatMap { $0.threadBlocks.map(\.steps.count) }
            summary = ("grove: \(s.collective.rawValue) \(algorithm) plan as MSCCL (\(dialect.rawValue) dialect): \(program.ngpus) gpus, \(program.nchannels) channels, \(tbs.min()!)–\(tbs.max()!) thread blocks per gpu, up to \(steps.max() ?? 0) steps per block (limit \(dialect.maxStepsPerThreadBlock)), \(program.nchunksperloop) chunks per loop (counts must be multiples of it); verified")
            return text
        } catch let e as MSCCLError {
            throw UserError("\(schedule): \(e.description)")
        } catch let e as VerificationError {
            throw UserError("\(schedule): the MSCCL program does not verify (a bug in the exporter): \(e.description)")
        }
    }

    func dotText(_ s: Schedule) -> String {
        let plan = s.plans.first { $0.algorithm == "forest" } ?? s.plans[0]
        // Trees are read back from the routing table: channel → arcs.
        var byChannel: [Int: [ArcKey]] = [:]
        for k in plan.routing.keys { byChannel[k.channel, default: []].append(k) }
        let colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
        var out = "digraph \(quote(s.fabricName)) {\n  graph [rankdir=LR, label=\(quote("\(s.collective.rawValue) on \(s.fabricName): \(s.algbw.decimalString) GB/s"))];\n  node [shape=circle];\n"
        for (i, ch) in byChannel.keys.sorted().enumerated() {
            let arcs = byChannel[ch]!
            let sources = Set(arcs.map(\.from)), sinks = Set(arcs.map(\.to))
            let treeRoot = plan.collective == .reduceScatter || (plan.collective == .allreduce && i < byChannel.count / 2)
                ? sinks.subtracting(sources).first : sources.subtracting(sinks).first
            if let root, treeRoot?.rawValue != root { continue }
            for a in arcs.sorted(by: { ($0.from, $0.to) < ($1.from, $1.to) }) {
                out += "  \(a.from.rawValue) -> \(a.to.rawValue) [color=\"\(colors[ch % colors.count])\", tooltip=\"tree \(ch)\"];\n"
            }
        }
        return out + "}\n"
    }

    func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
}

/// Reads MSCCL XML as a runtime would, checks `dialect`'s rules (default: the file's own), and
/// proves what it computes with thread blocks as streams. Unless `counts` are given, it checks
/// the verifier's default counts and multiples of the chunks per loop (the only counts the
/// runtimes run it for).
func proveMSCCL(_ text: String, dialect: MSCCLDialect?, counts: [Int]? = nil) throws
    -> (program: MSCCLProgram, dialect: MSCCLDialect, plan: Plan, counts: [Int]) {
    let program = try MSCCLReader.parse(text)
    let d = dialect ?? program.dialect
    try MSCCLReader.validate(program, dialect: d)
    let plan = try MSCCLReader.plan(program)
    let checked = counts ?? Array(Set(Verifier.defaultCounts(for: plan) + [program.nchunksperloop, 3 * program.nchunksperloop])).sorted()
    try Verifier.verify(plan, counts: checked)
    return (program, d, plan, checked)
}
