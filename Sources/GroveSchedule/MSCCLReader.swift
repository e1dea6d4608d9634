import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GroveSynthesis
import GroveTopology

/// Reads MSCCL XML (any producer's), checks the structural rules the runtimes enforce, and turns
/// the program back into a `Plan` so the verifier can prove it.
public enum MSCCLReader {
    /// Parses with libxml2 (FoundationXML's `XMLParser`), which rejects any text that is not
    /// well-formed XML; then requires the MSCCL element structure and integer attributes.
    public static func parse(_ text: String) throws(MSCCLError) -> MSCCLProgram {
        let tree = try XMLTree.parse(text)
        guard tree.name == "algo" else { throw MSCCLError("the root element is <\(tree.name)>, expected <algo>") }
        let a = Attributes(tree, at: "<algo>")
        var program = MSCCLProgram(
            name: try a.string("name"), proto: try a.string("proto"), nchannels: try a.int("nchannels"),
            nchunksperloop: try a.int("nchunksperloop"), ngpus: try a.int("ngpus"), coll: try a.string("coll"),
            inplace: try a.int("inplace"), outofplace: try a.optionalInt("outofplace"), minBytes: try a.optionalInt("minBytes"),
            maxBytes: try a.optionalInt("maxBytes"), gpus: [])
        for g in tree.children {
            guard g.name == "gpu" else { throw MSCCLError("line \(g.line): <\(g.name)> inside <algo>, expected <gpu>") }
            let ga = Attributes(g, at: "<gpu> on line \(g.line)")
            var gpu = MSCCLProgram.Gpu(id: try ga.int("id"), iChunks: try ga.int("i_chunks"), oChunks: try ga.int("o_chunks"),
                                       sChunks: try ga.int("s_chunks"), threadBlocks: [])
            for (name, n) in [("i_chunks", gpu.iChunks), ("o_chunks", gpu.oChunks), ("s_chunks", gpu.sChunks)] where !(0...MSCCLDialect.maxChunks).contains(n) {
                throw MSCCLError("<gpu> on line \(g.line): \(name)=\(n); a buffer has 0 to \(MSCCLDialect.maxChunks) chunks")
            }
            for t in g.children {
                guard t.name == "tb" else { throw MSCCLError("line \(t.line): <\(t.name)> inside <gpu>, expected <tb>") }
                let ta = Attributes(t, at: "<tb> on line \(t.line)")
                var tb = MSCCLProgram.ThreadBlock(id: try ta.int("id"), send: try ta.int("send"), recv: try ta.int("recv"),
                                                  chan: try ta.int("chan"), steps: [])
                for s in t.children {
                    guard s.name == "step", s.children.isEmpty else {
                        throw MSCCLError("line \(s.line): <\(s.name)> inside <tb>, expected an empty <step/>")
                    }
                    let sa = Attributes(s, at: "<step> on line \(s.line)")
                    let typeName = try sa.string("type")
                    guard let type = MSCCLStep.Kind(rawValue: typeName) else {
                        throw MSCCLError("line \(s.line): step type '\(typeName)' is not one of \(MSCCLStep.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    tb.steps.append(MSCCLStep(s: try sa.int("s"), type: type, srcbuf: try sa.string("srcbuf"), srcoff: try sa.int("srcoff"),
                                              dstbuf: try sa.string("dstbuf"), dstoff: try sa.int("dstoff"), cnt: try sa.int("cnt"),
                                              depid: try sa.int("depid"), deps: try sa.int("deps"), hasdep: try sa.int("hasdep")))
                }
                gpu.threadBlocks.append(tb)
            }
            program.gpus.append(gpu)
        }
        return program
    }

    /// The rules MSCCL's parsers and kernels rely on, for `dialect`. Throws the first violation,
    /// naming gpu, thread block and step.
    public static func validate(_ p: MSCCLProgram, dialect: MSCCLDialect) throws(MSCCLError) {
        let collectives = ["allgather", "allreduce", dialect.collectiveName(.reduceScatter)]
        guard collectives.contains(p.coll) else {
            throw MSCCLError("coll=\"\(p.coll)\" is not one the \(dialect.rawValue) dialect names for these collectives (\(collectives.joined(separator: ", ")))")
        }
        guard ["Simple", "LL", "LL128"].contains(p.proto) else { throw MSCCLError("proto=\"\(p.proto)\" is not Simple, LL or LL128") }
        if dialect == .executor {
            guard p.outofplace != nil, let lo = p.minBytes, let hi = p.maxBytes else {
                throw MSCCLError("the executor dialect requires outofplace, minBytes and maxBytes on <algo>")
            }
            guard lo >= 0, hi >= 0, hi == 0 || hi >= lo else { throw MSCCLError("minBytes=\(lo), maxBytes=\(hi) is not a size range") }
        }
        // Count first: ngpus is only a number in the file, and a billion would allocate gigabytes.
        guard p.ngpus >= 1, p.ngpus == p.gpus.count, p.gpus.map(\.id).sorted() == Array(0..<p.ngpus) else {
            let missing = Set(0..<max(0, min(p.ngpus, p.gpus.count + 5))).subtracting(p.gpus.map(\.id)).sorted().prefix(5)
            throw MSCCLError("ngpus=\(p.ngpus) but the <gpu> ids are not each of 0..<\(p.ngpus) once (\(p.gpus.count) gpus; missing \(Array(missing)))")
        }
        guard p.nchannels >= 1 && p.nchannels <= MSCCLDialect.maxChannels else {
            throw MSCCLError("nchannels=\(p.nchannels): MSCCL allows 1 to \(MSCCLDialect.maxChannels)")
        }
        guard p.nchunksperloop >= 1 && p.nchunksperloop <= MSCCLDialect.maxChunks else {
            throw MSCCLError("nchunksperloop=\(p.nchunksperloop) is outside 1...\(MSCCLDialect.maxChunks)")
        }
        // (gpu, tb, step index) of each step that another step depends on.
        var dependedOn = Set<[Int]>()
        for g in p.gpus {
            let at = "gpu \(g.id)"
            if let k = g.threadBlocks.indices.first(where: { g.threadBlocks[$0].id != $0 }) {
                throw MSCCLError("\(at): thread block \(k) (in file order) has id \(g.threadBlocks[k].id); ids must run 0, 1, 2, … with none missing or repeated")
            }
            guard g.threadBlocks.count <= dialect.maxThreadBlocks else {
                throw MSCCLError("\(at): \(g.threadBlocks.count) thread blocks; the \(dialect.rawValue) runtime allows \(dialect.maxThreadBlocks)")
            }
            let nodes = 1 + p.gpus.count + g.threadBlocks.count + g.threadBlocks.reduce(0) { $0 + $1.steps.count }
            guard nodes <= MSCCLDialect.maxXMLNodes else {
                throw MSCCLError("\(at): the runtimes' parser would hold \(nodes) elements for this gpu; it holds \(MSCCLDialect.maxXMLNodes)")
            }
            let chunks = ["i": g.iChunks, "o": g.oChunks, "s": g.sChunks]
            var sendPeers: [Int: Set<Int>] = [:], recvPeers: [Int: Set<Int>] = [:]
            for tb in g.threadBlocks {
                let here = "\(at) tb \(tb.id)"
                for (role, peer) in [("send", tb.send), ("recv", tb.recv)] {
                    guard peer >= -1 && peer < p.ngpus else { throw MSCCLError("\(here): \(role) peer \(peer) is not a gpu (or -1)") }
                    guard peer != g.id else { throw MSCCLError("\(here): \(role) peer is the gpu itself") }
                }
                guard tb.chan >= 0 && tb.chan < p.nchannels else {
                    throw MSCCLError("\(here): chan \(tb.chan) is outside 0..<nchannels (\(p.nchannels))")
                }
                if tb.send >= 0 {
                    guard sendPeers[tb.chan, default: []].insert(tb.send).inserted else {
                        throw MSCCLError("\(here): a second thread block sends to gpu \(tb.send) on channel \(tb.chan) (one connection, one block)")
                    }
                }
                if tb.recv >= 0 {
                    guard recvPeers[tb.chan, default: []].insert(tb.recv).inserted else {
                        throw MSCCLError("\(here): a second thread block receives from gpu \(tb.recv) on channel \(tb.chan)")
                    }
                }
                guard tb.steps.count <= dialect.maxStepsPerThreadBlock else {
                    throw MSCCLError("\(here): \(tb.steps.count) steps; the \(dialect.rawValue) runtime allows \(dialect.maxStepsPerThreadBlock)")
                }
                var pendingNopDeps = false
                for (k, s) in tb.steps.enumerated() {
                    let site = "\(here) step \(k)"
                    guard s.s == k else { throw MSCCLError("\(site): s=\"\(s.s)\", steps must be numbered 0, 1, 2, … in order") }
                    guard s.hasdep == 0 || s.hasdep == 1 else { throw MSCCLError("\(site): hasdep must be 0 or 1") }
                    if s.depid == -1 {
                        guard s.deps == -1 else { throw MSCCLError("\(site): deps=\(s.deps) without a depid") }
                    } else {
                        guard s.depid >= 0 && s.depid < g.threadBlocks.count && s.depid != tb.id else {
                            throw MSCCLError("\(site): depid \(s.depid) is not another thread block of gpu \(g.id)")
                        }
                        guard s.deps >= 0 && s.deps < g.threadBlocks[s.depid].steps.count else {
                            throw MSCCLError("\(site): depends on step \(s.deps) of tb \(s.depid), which has \(g.threadBlocks[s.depid].steps.count) steps")
                        }
                        dependedOn.insert([g.id, s.depid, s.deps])
                    }
                    if s.type == .nop {
                        guard s.depid >= 0 else { throw MSCCLError("\(site): a nop without a dependency does nothing") }
                        pendingNopDeps = true
                        continue
                    }
                    if pendingNopDeps {
                        guard s.depid >= 0 else {
                            throw MSCCLError("\(site): follows nop steps but has no dependency itself (the executor requires the chain to end on the step's own dependency)")
                        }
                        pendingNopDeps = false
                    }
                    guard s.cnt >= 1 && s.cnt < MSCCLDialect.countLimit else {
                        throw MSCCLError("\(site): cnt=\(s.cnt); a step moves 1 to \(MSCCLDialect.countLimit - 1) chunks")
                    }
                    guard !s.type.sends || tb.send >= 0 else { throw MSCCLError("\(site): a \(s.type.rawValue) step in a thread block with no send peer") }
                    guard !s.type.receives || tb.recv >= 0 else { throw MSCCLError("\(site): a \(s.type.rawValue) step in a thread block with no recv peer") }
                    var local: [(String, String, Int)] = []
                    switch s.type {
                    case .send: local = [("src", s.srcbuf, s.srcoff)]
                    case .recv, .recvCopySend: local = [("dst", s.dstbuf, s.dstoff)]
                    case .recvReduceSend: local = [("src", s.srcbuf, s.srcoff)]
                    case .recvReduceCopy, .recvReduceCopySend, .copy, .reduce: local = [("src", s.srcbuf, s.srcoff), ("dst", s.dstbuf, s.dstoff)]
                    case .nop: break
                    }
                    for (role, buf, off) in local {
                        guard let size = chunks[buf] else { throw MSCCLError("\(site): \(role)buf \"\(buf)\" is not i, o or s") }
                        guard off >= 0 && off <= size - s.cnt else {
                            throw MSCCLError("\(site): \(role) chunks from \(off), \(s.cnt) of them, of buffer \(buf) are outside its \(size) chunks")
                        }
                    }
                }
                if pendingNopDeps { throw MSCCLError("\(here): ends with nop steps") }
            }
        }
        for g in p.gpus {
            for tb in g.threadBlocks {
                for s in tb.steps {
                    let marked = s.hasdep == 1, needed = dependedOn.contains([g.id, tb.id, s.s])
                    if marked != needed {
                        throw MSCCLError("gpu \(g.id) tb \(tb.id) step \(s.s): hasdep=\(s.hasdep) but \(needed ? "a step depends on it" : "no step depends on it")")
                    }
                }
            }
        }
        try checkConnections(p)
    }

    /// The k-th send from a to b on a channel meets the k-th receive at b from a on that channel,
    /// and both move the same number of chunks.
    static func checkConnections(_ p: MSCCLProgram) throws(MSCCLError) {
        struct Key: Hashable { var from: Int; var to: Int; var chan: Int }
        var sends: [Key: [(Int, Int, Int)]] = [:], recvs: [Key: [(Int, Int, Int)]] = [:]
        for g in p.gpus {
            for tb in g.threadBlocks {
                for s in tb.steps {
                    if s.type.sends { sends[Key(from: g.id, to: tb.send, chan: tb.chan), default: []].append((tb.id, s.s, s.cnt)) }
                    if s.type.receives { recvs[Key(from: tb.recv, to: g.id, chan: tb.chan), default: []].append((tb.id, s.s, s.cnt)) }
                }
            }
        }
        for key in Set(sends.keys).union(recvs.keys) {
            let s = sends[key] ?? [], r = recvs[key] ?? []
            guard s.count == r.count else {
                throw MSCCLError("gpu \(key.from) sends \(s.count) times to gpu \(key.to) on channel \(key.chan), which receives \(r.count) times")
            }
            for (a, b) in zip(s, r) where a.2 != b.2 {
                throw MSCCLError("gpu \(key.from) tb \(a.0) step \(a.1) sends \(a.2) chunks to gpu \(key.to), whose tb \(b.0) step \(b.1) receives \(b.2)")
            }
        }
    }

    /// The program as a Grove plan: thread blocks become streams, MSCCL channels the channels,
    /// chunks exact fractions of their buffers; fused receive-and-send steps become two steps.
    /// Each gpu's steps are ordered topologically (thread-block order plus dependencies), so a
    /// cycle among them is reported here.
    public static func plan(_ p: MSCCLProgram) throws(MSCCLError) -> Plan {
        let collective: Collective
        switch p.coll {
        case "allgather": collective = .allgather
        case "allreduce": collective = .allreduce
        case "reduce_scatter", "reducescatter": collective = .reduceScatter
        default: throw MSCCLError("coll=\"\(p.coll)\" is not allgather, allreduce or reduce-scatter")
        }
        var programs: [RankProgram] = []
        for g in p.gpus.sorted(by: { $0.id < $1.id }) {
            let buffers: [String: (BufferKind, Int)] = ["i": (.input, g.iChunks), "o": (.output, g.oChunks), "s": (.scratch, g.sChunks)]
            func range(_ buf: String, _ off: Int, _ cnt: Int) -> BufferRange {
                let (kind, size) = buffers[buf]!
                return BufferRange(kind, Rational(off, size), Rational(off + cnt, size))
            }
            // Order: Kahn over (tb, step) with edges from the previous step and the dependency.
            let blocks = g.threadBlocks
            var next = Array(repeating: 0, count: blocks.count)
            // Per MSCCL step, the Grove steps whose completion stands for its own.
            var emitted: [[[Int]]] = blocks.map { Array(repeating: [], count: $0.steps.count) }
            var steps: [Step] = []
            var progress = true
            while progress {
                progress = false
                for (b, tb) in blocks.enumerated() {
                    while next[b] < tb.steps.count {
                        let s = tb.steps[next[b]]
                        var deps: [Int] = []
                        if next[b] > 0 { deps += emitted[b][next[b] - 1] }
                        if s.depid >= 0 {
                            guard next[s.depid] > s.deps else { break }
                            deps += emitted[s.depid][s.deps]
                        }
                        let chan = tb.chan
                        func add(_ op: Operation, _ r: BufferRange, _ extra: [Int] = []) {
                            steps.append(Step(op, r, dependencies: Array(Set(deps + extra)).sorted(), stream: b))
                        }
                        switch s.type {
                        case .nop: break
                        case .send: add(.send(peer: Rank(tb.send), channel: chan), range(s.srcbuf, s.srcoff, s.cnt))
                        case .recv: add(.recv(peer: Rank(tb.recv), channel: chan), range(s.dstbuf, s.dstoff, s.cnt))
                        case .recvCopySend:
                            let r = range(s.dstbuf, s.dstoff, s.cnt)
                            add(.recv(peer: Rank(tb.recv), channel: chan), r)
                            add(.send(peer: Rank(tb.send), channel: chan), r, [steps.count - 1])
                        case .recvReduceCopy, .recvReduceCopySend:
                            let src = range(s.srcbuf, s.srcoff, s.cnt), dst = range(s.dstbuf, s.dstoff, s.cnt)
                            if src != dst { add(.copy(source: src), dst) }
                            add(.recvReduce(peer: Rank(tb.recv), channel: chan), dst, src != dst ? [steps.count - 1] : [])
                            if s.type == .recvReduceCopySend { add(.send(peer: Rank(tb.send), channel: chan), dst, [steps.count - 1]) }
                        case .copy: add(.copy(source: range(s.srcbuf, s.srcoff, s.cnt)), range(s.dstbuf, s.dstoff, s.cnt))
                        case .recvReduceSend, .reduce:
                            throw MSCCLError("gpu \(g.id) tb \(b) step \(s.s): grove cannot yet model '\(s.type.rawValue)' steps (a reduction with no stored result)")
                        }
                        // A nop stands for everything it waited on.
                        emitted[b][next[b]] = s.type == .nop ? Array(Set(deps)) : [steps.count - 1]
                        next[b] += 1
                        progress = true
                    }
                }
            }
            if let b = blocks.indices.first(where: { next[$0] < blocks[$0].steps.count }) {
                throw MSCCLError("gpu \(g.id) tb \(b) step \(next[b]) can never start: its dependencies form a cycle with thread-block order")
            }
            programs.append(RankProgram(rank: Rank(g.id), steps: steps))
        }
        return Plan(collective: collective, rankCount: p.ngpus, root: nil, programs: programs, slices: 1, algorithm: "msccl")
    }
}

/// A parsed XML element: name, attributes, element children (text must be whitespace).
struct XMLTree {
    var name: String
    var attributes: [String: String]
    var children: [XMLTree]
    var line: Int

    static func parse(_ text: String) throws(MSCCLError) -> XMLTree {
        // MSCCL XML declares no entities; a DOCTYPE is how entity expansion and external
        // entities get in, so none is read.
        if text.range(of: "<!DOCTYPE", options: .caseInsensitive) != nil || text.range(of: "<!ENTITY", options: .caseInsensitive) != nil {
            throw MSCCLError("the file has a DOCTYPE or entity declarations; MSCCL XML has none, and Grove does not expand them")
        }
        let delegate = TreeBuilder()
        // From a stream libxml2 is fed in small chunks; one 10 MB chunk would trip its lookahead limit.
        let parser = XMLParser(stream: InputStream(data: Data(text.utf8)))
        parser.delegate = delegate
        let ok = parser.parse()
        if let e = delegate.failure { throw e }
        guard ok, let root = delegate.root else {
            let err = parser.parserError.map { "\($0.localizedDescription)" } ?? "not well-formed"
            throw MSCCLError("line \(parser.lineNumber), column \(parser.columnNumber): not well-formed XML (\(err))")
        }
        return root
    }

    final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [XMLTree] = []
        var root: XMLTree?
        var failure: MSCCLError?

        /// <algo><gpu><tb><step/> is 4 deep; deeper nesting is refused before it can exhaust anything.
        static let maxDepth = 8

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            guard stack.count < TreeBuilder.maxDepth else {
                if failure == nil { failure = MSCCLError("line \(parser.lineNumber): elements nested more than \(TreeBuilder.maxDepth) deep; MSCCL XML is <algo><gpu><tb><step/>") }
                parser.abortParsing()
                return
            }
            stack.append(XMLTree(name: name, attributes: attributes, children: [], line: parser.lineNumber))
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard failure == nil, let done = stack.popLast() else { return }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if failure == nil, !string.allSatisfy(\.isWhitespace) {
                failure = MSCCLError("line \(parser.lineNumber): unexpected text '\(string.prefix(20))' (MSCCL XML holds only elements)")
                parser.abortParsing()
            }
        }
    }
}

/// Typed attribute access with errors that say which element lacks what.
struct Attributes {
    let node: XMLTree
    let at: String
    init(_ node: XMLTree, at: String) { self.node = node; self.at = at }

    func string(_ key: String) throws(MSCCLError) -> String {
        guard let v = node.attributes[key] else { throw MSCCLError("\(at): missing attribute \(key)") }
        return v
    }

    func int(_ key: String) throws(MSCCLError) -> Int {
        let v = try string(key)
        guard let i = Int(v) else { throw MSCCLError("\(at): \(key)=\"\(v)\" is not an integer") }
        return i
    }

    func optionalInt(_ key: String) throws(MSCCLError) -> Int? {
        node.attributes[key] == nil ? nil : try int(key)
    }
}
