import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveSchedule

/// Counts elements with libxml2 (FoundationXML), which fails on anything not well-formed.
final class StrictXML: NSObject, XMLParserDelegate {
    var elements = 0
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) { elements += 1 }

    static func elementCount(_ text: String) -> Int? {
        let d = StrictXML()
        let p = XMLParser(stream: InputStream(data: Data(text.utf8)))
        p.delegate = d
        return p.parse() ? d.elements : nil
    }
}

func exportShipped(_ file: String, dialect: MSCCLDialect, channels: Int? = nil) throws -> (text: String, program: MSCCLProgram) {
    let s = try loadShipped(file)
    var options = MSCCLExportOptions(dialect: dialect, name: file)
    options.channels = channels
    let program = try MSCCLExport.program(s.plans.first { $0.algorithm == "forest" }!, options: options)
    return (program.xml(), program)
}

/// The structural rules MSCCL's parsers and kernels enforce, written out here independently of
/// `MSCCLReader.validate`; returns the first broken rule.
func runtimeRuleViolation(_ p: MSCCLProgram, dialect: MSCCLDialect) -> String? {
    let names = ["allreduce", "allgather", dialect == .nccl ? "reduce_scatter" : "reducescatter"]
    if !names.contains(p.coll) { return "coll \(p.coll)" }
    if dialect == .executor && (p.outofplace == nil || p.minBytes == nil || p.maxBytes == nil) { return "executor attributes" }
    if p.nchannels < 1 || p.nchannels > 32 { return "nchannels" }
    for g in p.gpus {
        if g.threadBlocks.map(\.id) != Array(0..<g.threadBlocks.count) { return "gpu \(g.id): tb ids not contiguous" }
        if g.threadBlocks.count > (dialect == .nccl ? 216 : 1024) { return "gpu \(g.id): too many thread blocks" }
        if 1 + p.gpus.count + g.threadBlocks.count + g.threadBlocks.map(\.steps.count).reduce(0, +) > 4096 { return "gpu \(g.id): XML nodes" }
        var perChannel: [Int: (send: [Int], recv: [Int])] = [:]
        for tb in g.threadBlocks {
            if tb.send == g.id || tb.recv == g.id { return "gpu \(g.id) tb \(tb.id): peer is self" }
            if tb.send < -1 || tb.send >= p.ngpus || tb.recv < -1 || tb.recv >= p.ngpus { return "gpu \(g.id) tb \(tb.id): peer range" }
            if tb.chan < 0 || tb.chan >= p.nchannels { return "gpu \(g.id) tb \(tb.id): channel" }
            if tb.send >= 0 { perChannel[tb.chan, default: ([], [])].send.append(tb.send) }
            if tb.recv >= 0 { perChannel[tb.chan, default: ([], [])].recv.append(tb.recv) }
            if tb.steps.count > (dialect == .nccl ? 256 : 64) { return "gpu \(g.id) tb \(tb.id): \(tb.steps.count) steps" }
            var openNops = false
            for (k, s) in tb.steps.enumerated() {
                if s.s != k { return "gpu \(g.id) tb \(tb.id): step numbering" }
                // One dependency per step: (depid, deps) name one step of another block.
                if s.depid >= 0 {
                    if s.depid == tb.id || s.depid >= g.threadBlocks.count || s.deps < 0 || s.deps >= g.threadBlocks[s.depid].steps.count {
                        return "gpu \(g.id) tb \(tb.id) step \(k): dependency target"
                    }
                    if g.threadBlocks[s.depid].steps[s.deps].hasdep != 1 { return "gpu \(g.id) tb \(tb.id) step \(k): target lacks hasdep" }
                } else if s.deps != -1 {
                    return "gpu \(g.id) tb \(tb.id) step \(k): deps without depid"
                }
                if s.type == .nop {
                    if s.depid < 0 { return "gpu \(g.id) tb \(tb.id) step \(k): nop without dependency" }
                    openNops = true
                    continue
                }
                // Extra dependencies live on nops that end on the step's own dependency.
                if openNops && s.depid < 0 { return "gpu \(g.id) tb \(tb.id) step \(k): nop chain ends on a step without a dependency" }
                openNops = false
                if s.cnt < 1 || s.cnt >= 72 { return "gpu \(g.id) tb \(tb.id) step \(k): cnt \(s.cnt)" }
                let size = ["i": g.iChunks, "o": g.oChunks, "s": g.sChunks]
                let local: [(String, Int)]
                switch s.type {
                case .send: local = [(s.srcbuf, s.srcoff)]
                case .recv: local = [(s.dstbuf, s.dstoff)]
                default: local = [(s.srcbuf, s.srcoff), (s.dstbuf, s.dstoff)]
                }
                for (buf, off) in local where off < 0 || off + s.cnt > (size[buf] ?? -1) {
                    return "gpu \(g.id) tb \(tb.id) step \(k): chunks \(off)+\(s.cnt) outside \(buf)"
                }
                if [.send, .recvCopySend, .recvReduceCopySend].contains(s.type) && tb.send < 0 { return "send without peer" }
                if [.recv, .recvReduceCopy, .recvCopySend, .recvReduceCopySend].contains(s.type) && tb.recv < 0 { return "recv without peer" }
            }
            if openNops { return "gpu \(g.id) tb \(tb.id): trailing nops" }
        }
        for (c, peers) in perChannel {
            if Set(peers.send).count != peers.send.count || Set(peers.recv).count != peers.recv.count { return "gpu \(g.id) chan \(c): shared connection" }
            if peers.send.count > 32 || peers.recv.count > 32 { return "gpu \(g.id) chan \(c): over 32 blocks" }
        }
    }
    return nil
}

@Suite struct MSCCLExportTests {
    /// The acceptance case: a 2×8 DGX A100 allreduce, both dialects.
    @Test(arguments: MSCCLDialect.allCases)
    func dgxA100x2AllreduceFollowsTheRuntimeRules(dialect: MSCCLDialect) throws {
        let (text, program) = try exportShipped("dgx-a100-2.allreduce.json", dialect: dialect)
        let elements = try #require(StrictXML.elementCount(text), "libxml2 rejects the export")
        #expect(elements == 1 + program.gpus.count + program.gpus.reduce(0) { $0 + $1.threadBlocks.count + $1.threadBlocks.reduce(0) { $0 + $1.steps.count } })
        let reread = try MSCCLReader.parse(text)
        #expect(reread == program)
        #expect(reread.ngpus == 16 && reread.coll == "allreduce")
        #expect(runtimeRuleViolation(reread, dialect: dialect) == nil)
        try MSCCLReader.validate(reread, dialect: dialect)
        // What the XML computes, with thread blocks as streams, is the allreduce.
        let plan = try MSCCLReader.plan(reread)
        try Verifier.verify(plan, counts: [1, 97, reread.nchunksperloop, 2 * reread.nchunksperloop])
        for k in [1, 3] {
            let bytes = 4 * k * reread.nchunksperloop
            #expect(try wrongElements(plan, bytes: bytes, inPlace: false, type: Float.self) == 0)
            #expect(try wrongElements(plan, bytes: bytes, inPlace: false, type: Int32.self) == 0)
        }
    }

    @Test func dialectsNameReduceScatterDifferently() throws {
        let nccl = try exportShipped("ring-uni-4.reduce-scatter.json", dialect: .nccl).text
        let executor = try exportShipped("ring-uni-4.reduce-scatter.json", dialect: .executor).text
        #expect(nccl.contains("coll=\"reduce_scatter\"") && !nccl.contains("outofplace="))
        #expect(executor.contains("coll=\"reducescatter\"") && executor.contains("outofplace=\"1\"") && executor.contains("maxBytes=\"0\""))
        #expect(throws: MSCCLError.self) { try MSCCLReader.validate(MSCCLReader.parse(nccl), dialect: .executor) }
    }

    /// A plan whose steps each wait on two or three other thread blocks, so the export needs nops:
    /// rank 0 gathers ranks 1 and 2's inputs, then sends the whole output to each.
    static func gatherThenSpread() -> Plan {
        func r(_ b: BufferKind, _ lo: Int, _ hi: Int, _ d: Int) -> BufferRange { BufferRange(b, Rational(lo, d), Rational(hi, d)) }
        let zero = RankProgram(rank: Rank(0), steps: [
            Step(.copy(source: r(.input, 0, 1, 1)), r(.output, 0, 1, 3), dependencies: [], stream: 9),
            Step(.recv(peer: Rank(1), channel: 0), r(.output, 1, 2, 3), dependencies: [], stream: 1),
            Step(.recv(peer: Rank(2), channel: 0), r(.output, 2, 3, 3), dependencies: [], stream: 2),
            Step(.send(peer: Rank(1), channel: 0), r(.output, 0, 1, 1), dependencies: [0, 1, 2], stream: 1),
            Step(.send(peer: Rank(2), channel: 0), r(.output, 0, 1, 1), dependencies: [0, 1, 2], stream: 2),
        ])
        let others = [1, 2].map { v in
            RankProgram(rank: Rank(v), steps: [
                Step(.send(peer: Rank(0), channel: 0), r(.input, 0, 1, 1), dependencies: [], stream: 0),
                Step(.recv(peer: Rank(0), channel: 0), r(.output, 0, 1, 1), dependencies: [], stream: 0),
            ])
        }
        return Plan(collective: .allgather, rankCount: 3, root: nil, programs: [zero] + others, slices: 1, algorithm: "test")
    }

    @Test func extraDependenciesBecomeNops() throws {
        let plan = Self.gatherThenSpread()
        try Verifier.verify(plan)
        for dialect in MSCCLDialect.allCases {
            let program = try MSCCLExport.program(plan, options: MSCCLExportOptions(dialect: dialect, name: "t"))
            let steps = program.gpus[0].threadBlocks.flatMap(\.steps)
            // Each send waits on the copy block and the other receive block: one nop each.
            #expect(steps.filter { $0.type == .nop }.count == 2)
            let reread = try MSCCLReader.parse(program.xml())
            #expect(runtimeRuleViolation(reread, dialect: dialect) == nil)
            try MSCCLReader.validate(reread, dialect: dialect)
            try Verifier.verify(MSCCLReader.plan(reread))
        }
    }

    @Test func planThatCannotFitIsAClearError() throws {
        // On one channel every peer's traffic shares a block: far beyond the executor's 64 steps.
        let error = #expect(throws: MSCCLError.self) {
            _ = try exportShipped("dgx-a100-2.allreduce.json", dialect: .executor, channels: 1)
        }
        #expect(error?.description.contains("the executor runtime allows 64") == true)
        #expect(error?.description.contains("--slices") == true)
    }

    /// Planted faults in an exported program; each must be rejected with a message naming it.
    static let faults: [(String, String, @Sendable (inout MSCCLProgram) -> Void)] = [
        ("tb id gap", "ids must run 0, 1, 2", { $0.gpus[1].threadBlocks[0].id = 99 }),
        ("peer is self", "peer is the gpu itself", { p in
            let k = p.gpus[2].threadBlocks.firstIndex { $0.send >= 0 }!
            p.gpus[2].threadBlocks[k].send = 2
        }),
        ("chunk out of bounds", "outside its", { p in
            let k = p.gpus[0].threadBlocks.firstIndex { $0.send >= 0 }!
            p.gpus[0].threadBlocks[k].steps[0].srcoff = p.gpus[0].oChunks
        }),
        ("too many steps", "the executor runtime allows 64", { p in
            var tb = p.gpus[0].threadBlocks[0]
            while tb.steps.count <= 64 { var s = tb.steps[0]; s.s = tb.steps.count; s.depid = -1; s.deps = -1; tb.steps.append(s) }
            p.gpus[0].threadBlocks[0] = tb
        }),
        ("count too large", "cnt=80", { p in p.gpus[3].threadBlocks[0].steps[0].cnt = 80 }),
        ("nop chain without a dependency", "follows nop steps", { p in
            let k = p.gpus[0].threadBlocks.firstIndex { $0.steps.contains { $0.depid < 0 } }!
            let j = p.gpus[0].threadBlocks[k].steps.firstIndex { $0.depid < 0 }!
            let other = k == 0 ? 1 : 0
            var nop = p.gpus[0].threadBlocks[k].steps[j]
            nop.type = .nop; nop.depid = other; nop.deps = 0; nop.hasdep = 0
            p.gpus[0].threadBlocks[other].steps[0].hasdep = 1
            p.gpus[0].threadBlocks[k].steps.insert(nop, at: j)
            for i in p.gpus[0].threadBlocks[k].steps.indices { p.gpus[0].threadBlocks[k].steps[i].s = i }
        }),
        ("missing hasdep", "hasdep=0 but a step depends on it", { p in
            let tb = p.gpus[0].threadBlocks.first { $0.steps.contains { $0.depid >= 0 } }!
            let s = tb.steps.first { $0.depid >= 0 }!
            p.gpus[0].threadBlocks[s.depid].steps[s.deps].hasdep = 0
        }),
        ("mismatched transfer size", "chunks to gpu", { p in
            let k = p.gpus[1].threadBlocks.firstIndex { $0.steps.contains { $0.type == .send } }!
            let steps = p.gpus[1].threadBlocks[k].steps
            let j = steps.indices.filter { steps[$0].type == .send }.min { steps[$0].srcoff < steps[$1].srcoff }!
            p.gpus[1].threadBlocks[k].steps[j].cnt += 1
        }),
        ("executor attributes missing", "requires outofplace", { $0.outofplace = nil }),
    ]

    @Test(arguments: faults.indices)
    func validatorRejectsPlantedFault(index: Int) throws {
        let (name, message, plant) = Self.faults[index]
        var program = try exportShipped("ring-uni-4.allreduce.json", dialect: .executor).program
        plant(&program)
        #expect(runtimeRuleViolation(program, dialect: .executor) != nil || name == "mismatched transfer size", "\(name): the test's own rules miss it")
        let error = #expect(throws: MSCCLError.self, "\(name)") {
            try MSCCLReader.validate(MSCCLReader.parse(program.xml()), dialect: .executor)
        }
        #expect(error?.description.contains(message) == true, "\(name): \(error?.description ?? "")")
    }

    @Test func swappedOffsetFailsVerification() throws {
        var program = try exportShipped("ring-uni-4.allreduce.json", dialect: .executor).program
        // Two receives of rank 1 trade destinations: the XML is well-formed but computes garbage.
        let k = program.gpus[1].threadBlocks.firstIndex { $0.steps.filter { $0.type == .recv }.count >= 2 }!
        let idx = program.gpus[1].threadBlocks[k].steps.indices.filter { program.gpus[1].threadBlocks[k].steps[$0].type == .recv }
        let a = program.gpus[1].threadBlocks[k].steps[idx[0]].dstoff
        program.gpus[1].threadBlocks[k].steps[idx[0]].dstoff = program.gpus[1].threadBlocks[k].steps[idx[1]].dstoff
        program.gpus[1].threadBlocks[k].steps[idx[1]].dstoff = a
        let reread = try MSCCLReader.parse(program.xml())
        try MSCCLReader.validate(reread, dialect: .executor)
        #expect(throws: VerificationError.self) { try Verifier.verify(MSCCLReader.plan(reread)) }
    }

    @Test func malformedXMLNamesTheLine() throws {
        let text = try exportShipped("ring-uni-4.allreduce.json", dialect: .nccl).text
        let cut = String(text.prefix(text.count / 2))
        let error = #expect(throws: MSCCLError.self) { try MSCCLReader.parse(cut) }
        #expect(error?.description.contains("not well-formed XML") == true)
        let stray = text.replacingOccurrences(of: "</tb>", with: "junk</tb>")
        let strayError = #expect(throws: MSCCLError.self) { try MSCCLReader.parse(stray) }
        #expect(strayError?.description.contains("unexpected text") == true)
    }
}
