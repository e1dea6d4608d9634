import ArgumentParser
import Foundation
import GroveRuntime
import GroveSynthesis

extension DataType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

extension ReduceOp: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

enum BenchAlgorithm: String, ExpressibleByArgument, CaseIterable {
    case auto, forest, ring, tree
}

/// A byte count with an optional K/M/G suffix (powers of 1024, as nccl-tests).
struct ByteSize: ExpressibleByArgument {
    var bytes: Int
    init?(argument: String) {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var text = argument.uppercased()
        if text.hasSuffix("B") { text.removeLast() }
        var scale = 1
        if let last = text.last, let u = units[last] { scale = u; text.removeLast() }
        guard let v = Int(text), v >= 0 else { return nil }
        bytes = v * scale
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Collective microbenchmark in the nccl-tests layout, across processes and hosts.",
        discussion: """
        Every rank runs this command; it learns its rank from the launcher's environment (RANK, \
        WORLD_SIZE, MASTER_ADDR, MASTER_PORT, or Slurm / Open MPI / PMI variables). On one host:

          grove launch -n 4 -- grove bench -c allreduce -b 8 -e 256M -f 2
          grove launch -n 4 -- grove bench --topology Topologies/ring-bi-8.json -d half -o max

        Across hosts, start one process per rank with your launcher (ssh, srun, mpirun, torchrun) \
        and MASTER_ADDR set to rank 0's host. Rank 0 prints the table: time is the mean over \
        iterations of the slowest rank's call, p50/p99 its percentiles; algbw = size / time, \
        busbw = algbw × 2(n−1)/n for allreduce, (n−1)/n for allgather and reduce-scatter, 1 for \
        broadcast and reduce (GB = 10^9 bytes). #wrong counts elements that differ from the \
        expected result of deterministic per-(rank, index) data, summed over ranks.
        """
    )

    @Option(name: .shortAndLong, help: "allreduce | allgather | reduce-scatter | broadcast | reduce")
    var collective: Collective = .allreduce
    @Option(name: [.customShort("b"), .customLong("minbytes")], help: "Smallest size in bytes (K, M, G suffixes).")
    var minBytes = ByteSize(argument: "8")!
    @Option(name: [.customShort("e"), .customLong("maxbytes")], help: "Largest size in bytes.")
    var maxBytes = ByteSize(argument: "64M")!
    @Option(name: [.customShort("f"), .customLong("stepfactor")], help: "Multiply the size by this factor each row.")
    var stepFactor = 2
    @Option(name: .customLong("sizes"), parsing: .upToNextOption, help: "Exact sizes in bytes instead of -b/-e/-f (for example primes).")
    var sizes: [ByteSize] = []
    @Option(name: [.customShort("d"), .customLong("datatype")], help: "float32 (float) | float64 (double) | float16 (half) | bfloat16 | int32 | int64 | uint8")
    var dataType: DataType = .float32
    @Option(name: [.customShort("o"), .customLong("op")], help: "sum | prod | min | max | avg")
    var op: ReduceOp = .sum
    @Option(help: "Root rank of broadcast and reduce.") var root = 0
    @Option(name: .customLong("schedule"), help: "A schedule file from `grove synth -o` (repeat for several collectives).")
    var schedules: [String] = []
    @Option(help: "A topology file: synthesize the forest at start-up (combinatorial engine).") var topology: String?
    @Option(help: "With --topology: slices each tree's share is cut into (more: less pipeline fill, more messages).")
    var slices = 4
    @Option(help: "auto (size windows of the schedule), forest, ring, or tree (double binary tree).")
    var algo: BenchAlgorithm = .auto
    @Option(name: [.customShort("n"), .customLong("iters")], help: "Timed iterations per size.") var iterations = 20
    @Option(name: [.customShort("w"), .customLong("warmup_iters")], help: "Untimed iterations per size.") var warmup = 5
    @Option(help: "Also write the rows as CSV to this file (rank 0).") var csv: String?
    @Option(help: "Seconds one call may take before every rank fails (default 60, or GROVE_TIMEOUT).") var timeout: Double?
    @Flag(help: "Only out-of-place calls.") var outOfPlaceOnly = false
    @Flag(help: "Measure the reduction kernels on this core instead (every type and op, 32 MiB buffers); needs no other ranks.")
    var kernels = false

    func run() throws {
        try reportingErrors(execute)
    }

    func execute() throws {
        if kernels { return measureKernels() }
        guard stepFactor >= 2 || !sizes.isEmpty || minBytes.bytes == maxBytes.bytes else { throw UserError("-f must be at least 2") }
        guard iterations >= 1, warmup >= 0 else { throw UserError("-n must be at least 1 and -w at least 0") }
        let env: LaunchEnvironment
        do { env = try LaunchEnvironment.from(ProcessInfo.processInfo.environment) } catch { throw UserError("\(error)") }
        let library = try makeLibrary(worldSize: env.worldSize)
        let comm: Communicator
        do { comm = try Communicator(env, plans: library, timeout: timeout.map { .milliseconds(Int64($0 * 1000)) }) } catch {
            throw UserError("rank \(env.rank): \(error)")
        }
        var table = BenchTable(collective: collective, type: dataType, op: op, root: collective.needsRoot ? root : -1,
                               ranks: env.worldSize, print: env.rank == 0)
        if env.rank == 0 { table.header(self, env: env, library: library) }
        for bytes in sizeList(worldSize: env.worldSize) {
            let divisor = dataType.size * ([.allgather, .reduceScatter].contains(collective) ? env.worldSize : 1)
            let count = bytes / divisor
            var row = BenchRow(bytes: count * divisor, count: count)
            for inPlace in outOfPlaceOnly ? [false] : [false, true] {
                do { row.results.append(try measure(comm, count: count, inPlace: inPlace)) } catch {
                    throw UserError("rank \(env.rank): \(error)")
                }
            }
            row.algorithm = comm.lastAlgorithm
            table.add(row)
        }
        table.footer()
        if env.rank == 0, let csv { try writeOutput(table.csv(), to: csv) }
        if table.wrong > 0 { throw ExitCode(1) }
    }

    /// GB/s of destination bytes combined per second, best of 5 passes over 32 MiB (memory bound
    /// at this size; the buffers do not fit in cache).
    func measureKernels() {
        let bytes = 32 << 20
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        defer { a.deallocate(); b.deallocate() }
        print("# reduction kernels: destination bytes per second, best of 5 passes over \(bytes >> 20) MiB")
        print("#" + pad("type", 9) + ReduceOp.allCases.map { pad($0.description, 9) }.joined() + "   (GB/s)")
        for type in DataType.allCases {
            DataPattern.fill(a.baseAddress!, type: type, count: bytes / type.size, rank: 0, op: .prod)
            DataPattern.fill(b.baseAddress!, type: type, count: bytes / type.size, rank: 1, op: .prod)
            var line = " " + pad(type.description, 9)
            for op in ReduceOp.allCases {
                var best = Double.infinity
                for _ in 0..<5 {
                    let t0 = ContinuousClock.now
                    Reduction.combine(op, type, into: a.baseAddress!, from: UnsafeRawPointer(b.baseAddress!), count: bytes / type.size)
                    let d = (ContinuousClock.now - t0).components
                    best = min(best, Double(d.seconds) + Double(d.attoseconds) * 1e-18)
                }
                line += String(format: " %8.2f", Double(bytes) / best / 1e9)
            }
            print(line)
        }
    }

    func makeLibrary(worldSize: Int) throws -> PlanLibrary {
        do {
            var library: PlanLibrary
            if !schedules.isEmpty {
                library = try PlanLibrary.load(schedules: schedules, worldSize: worldSize)
            } else if let topology {
                guard slices >= 1 else { throw UserError("--slices must be at least 1") }
                library = try PlanLibrary.load(topology: topology, worldSize: worldSize, slices: slices)
            } else {
                guard algo != .forest else { throw UserError("--algo forest needs --schedule or --topology") }
                library = try PlanLibrary(.baseline(algo == .tree ? .doubleBinaryTree : .ring), worldSize: worldSize)
            }
            switch algo {
            case .auto: break
            case .forest: library.pinnedAlgorithm = "forest"
            case .ring: if schedules.isEmpty && topology == nil { break } else { library.pinnedAlgorithm = "ring" }
            case .tree: if schedules.isEmpty && topology == nil { break } else { library.pinnedAlgorithm = "double_binary_tree" }
            }
            return library
        } catch let e as CommunicatorError {
            throw UserError("\(e)")
        }
    }

    func sizeList(worldSize: Int) -> [Int] {
        if !sizes.isEmpty { return sizes.map(\.bytes) }
        var list: [Int] = []
        var b = max(minBytes.bytes, 1)
        while b <= maxBytes.bytes {
            list.append(b)
            guard stepFactor >= 2 else { break }
            b *= stepFactor
        }
        return list
    }

    /// Warm-up, timed iterations (each call timed alone; the row's time for an iteration is the
    /// slowest rank's), then one checked call on fresh data.
    func measure(_ comm: Communicator, count: Int, inPlace: Bool) throws -> BenchResult {
        let n = comm.worldSize
        let buffers = CallBuffers(collective, count: count, type: dataType, rank: comm.rank, worldSize: n, inPlace: inPlace)
        let (src, dst) = (buffers.input, buffers.output)
        DataPattern.fillInput(src, collective, type: dataType, count: count, rank: comm.rank, worldSize: n, op: op)
        func call() throws { try comm.run(collective, input: src, output: dst, count: count, type: dataType, op: op, root: root) }
        for _ in 0..<warmup { try call() }
        try comm.barrier()
        var seconds = [Double](repeating: 0, count: iterations)
        for i in 0..<iterations {
            let t0 = ContinuousClock.now
            try call()
            let d = (ContinuousClock.now - t0).components
            seconds[i] = Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        try comm.allreduce(&seconds, op: .max)
        // Fresh data for the check: the timed in-place calls overwrote the input.
        if inPlace && collective == .allgather { buffers.resetOutput(to: 0) }
        DataPattern.fillInput(src, collective, type: dataType, count: count, rank: comm.rank, worldSize: n, op: op)
        try call()
        var wrong = [Int64(DataPattern.wrongElements(collective, type: dataType, op: op, output: dst, count: count,
                                                     rank: comm.rank, worldSize: n, root: root))]
        try comm.allreduce(&wrong)
        return BenchResult(seconds: seconds, wrong: Int(wrong[0]))
    }
}

struct BenchResult {
    var seconds: [Double]
    var wrong: Int
    var mean: Double { seconds.reduce(0, +) / Double(seconds.count) }
    func percentile(_ p: Double) -> Double {
        let s = seconds.sorted()
        return s[min(s.count - 1, Int((p * Double(s.count)).rounded(.up)) - 1)]
    }
}

struct BenchRow {
    var bytes: Int
    var count: Int
    var results: [BenchResult] = []
    var algorithm = ""
}

/// The nccl-tests table, with p50/p99 columns and the algorithm that ran.
struct BenchTable {
    var collective: Collective
    var type: DataType
    var op: ReduceOp
    var root: Int
    var ranks: Int
    var print: Bool
    var rows: [BenchRow] = []

    var wrong: Int { rows.reduce(0) { $0 + $1.results.reduce(0) { $0 + $1.wrong } } }

    func out(_ s: String) { if print { FileHandle.standardOutput.write(Data((s + "\n").utf8)) } }

    func header(_ b: Bench, env: LaunchEnvironment, library: PlanLibrary) {
        out("# grove bench: \(collective.rawValue), \(ranks) ranks, minBytes \(b.minBytes.bytes) maxBytes \(b.maxBytes.bytes) step: \(b.stepFactor)(factor) warmup iters: \(b.warmup) iters: \(b.iterations) validation: 1")
        out("# plans: \(library.identity)")
        out("#")
        let place = "      time     p50     p99   algbw   busbw  #wrong"
        out("#" + pad("", 57) + "out-of-place" + pad("", 44) + (b.outOfPlaceOnly ? "" : "in-place"))
        out("#" + pad("size", 11) + pad("count", 13) + pad("type", 10) + pad("redop", 7) + pad("root", 7) + place + (b.outOfPlaceOnly ? "" : place) + "  algo")
        out("#" + pad("(B)", 11) + pad("(elements)", 13) + pad("", 24) + "      (us)    (us)    (us)  (GB/s)  (GB/s)        " + (b.outOfPlaceOnly ? "" : "      (us)    (us)    (us)  (GB/s)  (GB/s)        "))
    }

    mutating func add(_ row: BenchRow) {
        rows.append(row)
        var line = " " + pad("\(row.bytes)", 11) + pad("\(row.count)", 13) + pad(type.ncclName, 10) + pad(op.description, 7) + pad("\(root)", 7)
        for r in row.results {
            let algbw = Double(row.bytes) / r.mean / 1e9
            let busbw = algbw * collective.busFactor(ranks: ranks).doubleValue
            line += String(format: " %9.1f %7.1f %7.1f %7.2f %7.2f %7d", r.mean * 1e6, r.percentile(0.5) * 1e6, r.percentile(0.99) * 1e6, algbw, busbw, r.wrong)
        }
        out(line + "  " + row.algorithm)
    }

    func busbw(_ row: BenchRow, _ r: BenchResult) -> Double {
        Double(row.bytes) / r.mean / 1e9 * collective.busFactor(ranks: ranks).doubleValue
    }

    func footer() {
        let all = rows.flatMap { row in row.results.map { busbw(row, $0) } }
        out("# Out of bounds values : \(wrong) \(wrong == 0 ? "OK" : "FAILED")")
        out(String(format: "# Avg bus bandwidth    : %.4f", all.isEmpty ? 0 : all.reduce(0, +) / Double(all.count)))
        out("#")
    }

    func csv() -> String {
        var s = "collective,ranks,algorithm,placement,size_bytes,count,type,redop,root,time_us,p50_us,p99_us,algbw_gbps,busbw_gbps,wrong\n"
        for row in rows {
            for (i, r) in row.results.enumerated() {
                let algbw = Double(row.bytes) / r.mean / 1e9
                s += "\(collective.rawValue),\(ranks),\(row.algorithm),\(i == 0 ? "out-of-place" : "in-place"),\(row.bytes),\(row.count),\(type),\(op),\(root),"
                s += String(format: "%.2f,%.2f,%.2f,%.4f,%.4f,", r.mean * 1e6, r.percentile(0.5) * 1e6, r.percentile(0.99) * 1e6, algbw, busbw(row, r))
                s += "\(r.wrong)\n"
            }
        }
        return s
    }
}

/// Right-aligns `s` in `width` columns.
func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
