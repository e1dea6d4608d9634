import ArgumentParser
import Foundation
import GroveRuntime
import GroveSchedule
import GroveSynthesis

extension DataType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

extension ReduceOp: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

/// The algorithm names of schedules, `grove synth` and `grove simulate`, plus auto.
enum BenchAlgorithm: String, ExpressibleByArgument, CaseIterable {
    case auto, forest, ring
    case doubleBinaryTree = "double_binary_tree"
    case recursiveDoubling = "recursive_doubling"
    case halvingDoubling = "halving_doubling"
}

/// A byte count with an optional K/M/G suffix (powers of 1024, as nccl-tests); a count that
/// does not fit in 63 bits is rejected as an invalid value.
struct ByteSize: ExpressibleByArgument, CustomStringConvertible {
    var bytes: Int
    init(bytes: Int) { self.bytes = bytes }
    init?(argument: String) {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var text = argument.uppercased()
        if text.hasSuffix("B") { text.removeLast() }
        var scale = 1
        if let last = text.last, let u = units[last] { scale = u; text.removeLast() }
        guard let v = Int(text), v >= 0 else { return nil }
        let (b, overflow) = v.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        bytes = b
    }
    var description: String { "\(bytes)" }
    var defaultValueDescription: String { "\(bytes)" }
}

/// `-d all` or one type; `-o all` or one op, as nccl-tests.
enum Choice<Value: CaseIterable & CustomStringConvertible & ExpressibleByArgument>: ExpressibleByArgument, CustomStringConvertible {
    case all
    case one(Value)
    var values: [Value] { if case .one(let v) = self { return [v] }; return Array(Value.allCases) }
    var description: String { if case .one(let v) = self { return v.description }; return "all" }
    var defaultValueDescription: String { description }
    init?(argument: String) {
        if argument.lowercased() == "all" { self = .all; return }
        guard let v = Value(argument: argument) else { return nil }
        self = .one(v)
    }
    static var allValueStrings: [String] { ["all"] + Value.allCases.map(\.description) }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Collective microbenchmark in the nccl-tests layout, across processes and hosts.",
        discussion: """
        Every rank runs this command; it learns its rank from the launcher's environment (RANK, \
        WORLD_SIZE, MASTER_ADDR, MASTER_PORT, or Slurm / Open MPI / MPICH variables). On one host:

          grove launch -n 4 -- grove bench allreduce -b 8 -e 256M -f 2
          grove launch -n 4 -- grove bench --topology Topologies/ring-bi-8.json -d half -o max
          torchrun --standalone --nproc-per-node 4 --no-python grove bench allreduce
          mpirun -n 4 grove bench all_reduce -b 8 -e 128M -f 2 -g 1 -c 1 -n 20 -w 5 -d all -o all

        The collective is the first argument (nccl-tests names work too: all_reduce, \
        all_gather_perf, …); the flags keep nccl-tests' letters and meanings. Across hosts, start \
        one process per rank with your launcher; MASTER_ADDR names rank 0's host unless the \
        launcher tells (see grove launch --help).

        Rank 0 prints nccl-tests' 13 columns, out-of-place then in-place: size count type redop \
        root, then time algbw busbw #wrong for each. time is the mean over iterations of the \
        slowest rank's call; algbw = size / time, busbw = algbw × 2(n−1)/n for allreduce, (n−1)/n \
        for allgather and reduce-scatter, 1 for broadcast and reduce (GB = 10^9 bytes). #wrong \
        counts elements that differ from the expected result of deterministic per-(rank, index) \
        data, summed over ranks (N/A with -c 0). --extras appends p50, p99 and the algorithm \
        that ran; --csv always has them.
        """
    )

    @Argument(help: ArgumentHelp("allreduce | allgather | reduce-scatter | broadcast | reduce (or all_reduce, all_reduce_perf, …); default allreduce.", valueName: "collective"))
    var collectiveName: Collective?
    @Option(name: .customLong("collective"), help: "The same as the first argument, for scripts that prefer a flag.")
    var collectiveFlag: Collective?
    @Option(name: [.customShort("b"), .customLong("minbytes")], help: "Smallest size in bytes (K, M, G suffixes).")
    var minBytes = ByteSize(bytes: 8)
    @Option(name: [.customShort("e"), .customLong("maxbytes")], help: "Largest size in bytes.")
    var maxBytes = ByteSize(bytes: 64 << 20)
    @Option(name: [.customShort("f"), .customLong("stepfactor")], help: "Multiply the size by this factor each row (1: add -i instead).")
    var stepFactor = 2
    @Option(name: [.customShort("i"), .customLong("stepbytes")], help: "With -f 1: add this many bytes each row.")
    var stepBytes = ByteSize(bytes: 1 << 20)
    @Option(name: .customLong("sizes"), parsing: .upToNextOption, help: "Exact sizes in bytes instead of -b/-e/-f (for example primes).")
    var sizes: [ByteSize] = []
    @Option(name: [.customShort("d"), .customLong("datatype")], help: "float (float32) | double (float64) | half (float16) | bfloat16 | int32 | int64 | uint8 | all")
    var dataTypes: Choice<DataType> = .one(.float32)
    @Option(name: [.customShort("o"), .customLong("op")], help: "sum | prod | min | max | avg | all (reductions only)")
    var ops: Choice<ReduceOp> = .one(.sum)
    @Option(name: [.customShort("r"), .customLong("root")], help: "Root rank of broadcast and reduce.") var root = 0
    @Option(name: [.customShort("c"), .customLong("check")], help: "Check every result (1) or not (0; #wrong prints N/A).")
    var check = 1
    @Option(name: .customLong("schedule"), help: "A schedule from `grove synth -o` (Grove JSON) or MSCCL XML; repeat for several collectives.")
    var schedules: [String] = []
    @Option(help: "A topology file: synthesize the forest at start-up (combinatorial engine).") var topology: String?
    @Option(help: "Slices each tree's share is cut into at every size, 1-128 (default: picked per call from the size and the trees' depth; see Pipelining).")
    var slices: Int?
    @Option(help: "auto (the schedule's size windows), forest, ring, double_binary_tree, or for allreduce recursive_doubling or halving_doubling.")
    var algo: BenchAlgorithm = .auto
    @Option(name: [.customShort("n"), .customLong("iters")], help: "Timed iterations per size.") var iterations = 20
    @Option(name: [.customShort("w"), .customLong("warmup_iters")], help: "Untimed iterations per size.") var warmup = 5
    @Option(name: [.customShort("g"), .customLong("ngpus")], help: "nccl-tests' devices per process: Grove runs one rank per process, so only 1.")
    var gpus = 1
    @Option(name: [.customShort("t"), .customLong("nthreads")], help: "nccl-tests' threads per process: Grove runs one rank per process, so only 1.")
    var threads = 1
    @Option(name: [.customShort("m"), .customLong("agg_iters")], help: "nccl-tests' calls aggregated per iteration: only 1.") var aggregated = 1
    @Option(name: [.customShort("G"), .customLong("cudagraph")], help: "nccl-tests' CUDA graph launches: none on CPU, only 0.") var cudaGraph = 0
    @Option(name: [.customShort("z"), .customLong("blocking")], help: "nccl-tests' blocking collectives: Grove's calls always block; 0 or 1.") var blocking = 0
    @Option(help: "Also write the rows as CSV to this file (rank 0), with p50, p99 and the algorithm.") var csv: String?
    @Option(name: [.customShort("T"), .customLong("timeout")], help: "Seconds one call may take before every rank fails (default 60, or GROVE_TIMEOUT).")
    var timeout: Double?
    @Flag(help: "Append p50, p99 (µs) and the algorithm that ran to each row, after nccl-tests' 13 columns.") var extras = false
    @Flag(help: "Only out-of-place calls.") var outOfPlaceOnly = false
    @Flag(help: "Measure the reduction kernels on this core instead (every type and op, 32 MiB buffers); needs no other ranks.")
    var kernels = false

    func run() throws {
        try reportingErrors(execute)
    }

    var collective: Collective { collectiveName ?? collectiveFlag ?? .allreduce }

    /// nccl-tests flags that have one meaningful value here: that value passes silently, any other is refused with why.
    func checkNCCLTestsFlags() throws {
        let cpuOnly: [(String, Int, Int, String)] = [
            ("-g", gpus, 1, "Grove runs one rank per process on CPU; start more ranks with the launcher instead (grove launch -n N)"),
            ("-t", threads, 1, "Grove runs one rank per process; start more ranks with the launcher instead (grove launch -n N)"),
            ("-m", aggregated, 1, "Grove times every call alone"),
            ("-G", cudaGraph, 0, "there are no CUDA graphs on CPU"),
        ]
        for (flag, value, only, why) in cpuOnly where value != only {
            throw UserError("\(flag) \(value): only \(flag) \(only) is meaningful here: \(why)")
        }
        guard blocking == 0 || blocking == 1 else { throw UserError("-z \(blocking): give 0 or 1 (Grove's calls always block)") }
        guard check == 0 || check == 1 else { throw UserError("-c \(check): give 1 to check results or 0 not to (nccl-tests' -c; the collective is the first argument)") }
        if let collectiveName, let collectiveFlag, collectiveName != collectiveFlag {
            throw UserError("the collective is given twice, as \(collectiveName.rawValue) and --collective \(collectiveFlag.rawValue)")
        }
    }

    func execute() throws {
        if kernels { return measureKernels() }
        try checkNCCLTestsFlags()
        guard stepFactor >= 1 else { throw UserError("-f \(stepFactor): the step factor is at least 1 (1: step by -i bytes)") }
        guard stepFactor >= 2 || stepBytes.bytes > 0 || !sizes.isEmpty || minBytes.bytes == maxBytes.bytes else {
            throw UserError("-f 1 with -i 0 never reaches -e; give -f 2 or more, or -i with a size")
        }
        guard minBytes.bytes <= maxBytes.bytes else { throw UserError("-b \(minBytes.bytes) is larger than -e \(maxBytes.bytes)") }
        guard iterations >= 1, warmup >= 0 else { throw UserError("-n must be at least 1 and -w at least 0") }
        let callTimeout = try timeout.map { (t) throws -> Duration in try validTimeout(t, flag: "--timeout") }
        let env: LaunchEnvironment
        do { env = try LaunchEnvironment.from(ProcessInfo.processInfo.environment) } catch { throw UserError("\(error)") }
        let library: PlanLibrary
        do { library = try makeLibrary(worldSize: env.worldSize) } catch {
            Communicator.abandon(env, reason: "\(error)", timeout: callTimeout)
            throw error
        }
        let comm: Communicator
        do { comm = try Communicator(env, plans: library, timeout: callTimeout) } catch {
            throw UserError("rank \(env.rank): \(error)")
        }
        let reduces = [.allreduce, .reduceScatter, .reduce].contains(collective)
        var table = BenchTable(collective: collective, root: collective.needsRoot ? root : -1, ranks: env.worldSize,
                               checked: check == 1, extras: extras, outOfPlaceOnly: outOfPlaceOnly, print: env.rank == 0)
        if env.rank == 0 { table.header(self, env: env, library: library) }
        for type in dataTypes.values {
            for op in reduces ? ops.values : [.sum] {
                for bytes in sizeList() {
                    let divisor = type.size * ([.allgather, .reduceScatter].contains(collective) ? env.worldSize : 1)
                    let count = bytes / divisor
                    var row = BenchRow(bytes: count * divisor, count: count, type: type, op: reduces ? op.description : "none")
                    for inPlace in outOfPlaceOnly ? [false] : [false, true] {
                        do { row.results.append(try measure(comm, count: count, type: type, op: op, inPlace: inPlace)) } catch {
                            throw UserError("rank \(env.rank): \(error)")
                        }
                    }
                    table.add(row)
                }
            }
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
        if let slices, !ScheduleBuilder.slices.contains(slices) {
            throw UserError("--slices \(slices): give \(ScheduleBuilder.slices.lowerBound) to \(ScheduleBuilder.slices.upperBound)")
        }
        do {
            var library: PlanLibrary
            if !schedules.isEmpty {
                library = try PlanLibrary.load(schedules: schedules, worldSize: worldSize, slices: slices)
            } else if let topology {
                library = try PlanLibrary.load(topology: topology, worldSize: worldSize, slices: slices)
            } else {
                guard algo != .forest else { throw UserError("--algo forest needs --schedule or --topology") }
                library = try PlanLibrary(.baseline(algo == .doubleBinaryTree ? .doubleBinaryTree : .ring), worldSize: worldSize)
            }
            // Without a schedule or topology the baseline library is already the ring or tree
            // asked for; the butterflies (allreduce only) are pinned on it.
            if algo != .auto && (!schedules.isEmpty || topology != nil || [.recursiveDoubling, .halvingDoubling].contains(algo)) {
                library.pinnedAlgorithm = algo.rawValue
            }
            return library
        } catch let e as CommunicatorError {
            throw UserError("\(e)")
        }
    }

    /// -b to -e by -f (or by -i when -f is 1), never past -e and never overflowing.
    func sizeList() -> [Int] {
        if !sizes.isEmpty { return sizes.map(\.bytes) }
        var list: [Int] = []
        var b = max(minBytes.bytes, 1)
        while b <= maxBytes.bytes {
            list.append(b)
            let (next, overflow) = stepFactor >= 2 ? b.multipliedReportingOverflow(by: stepFactor) : b.addingReportingOverflow(stepBytes.bytes)
            guard !overflow, next > b else { break }
            b = next
        }
        return list
    }

    /// Warm-up, timed iterations (each call timed alone; the row's time for an iteration is the
    /// slowest rank's), then one checked call on fresh data.
    func measure(_ comm: Communicator, count: Int, type: DataType, op: ReduceOp, inPlace: Bool) throws -> BenchResult {
        let n = comm.worldSize
        let buffers = try CallBuffers(collective, count: count, type: type, rank: comm.rank, worldSize: n, inPlace: inPlace)
        let (src, dst) = (buffers.input, buffers.output)
        DataPattern.fillInput(src, collective, type: type, count: count, rank: comm.rank, worldSize: n, op: op)
        func call() throws { try comm.run(collective, input: src, output: dst, count: count, type: type, op: op, root: root) }
        for _ in 0..<warmup { try call() }
        try comm.barrier()
        var seconds = [Double](repeating: 0, count: iterations)
        for i in 0..<iterations {
            let t0 = ContinuousClock.now
            try call()
            let d = (ContinuousClock.now - t0).components
            seconds[i] = Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        // Before the timing exchange below, which is a call of its own.
        let algorithm = comm.lastAlgorithm
        try comm.allreduce(&seconds, op: .max)
        guard check == 1 else { return BenchResult(seconds: seconds, wrong: nil, algorithm: algorithm) }
        // Fresh data for the check: the timed in-place calls overwrote the input.
        if inPlace && collective == .allgather { buffers.resetOutput(to: 0) }
        DataPattern.fillInput(src, collective, type: type, count: count, rank: comm.rank, worldSize: n, op: op)
        try call()
        var wrong = [Int64(DataPattern.wrongElements(collective, type: type, op: op, output: dst, count: count,
                                                     rank: comm.rank, worldSize: n, root: root))]
        try comm.allreduce(&wrong)
        return BenchResult(seconds: seconds, wrong: Int(wrong[0]), algorithm: algorithm)
    }
}

/// A timeout flag in seconds, judged as GROVE_TIMEOUT is.
func validTimeout(_ seconds: Double, flag: String) throws -> Duration {
    guard let d = LaunchEnvironment.timeout(seconds: seconds) else {
        throw UserError("\(flag) \(seconds): give a number of seconds above 0 and at most 86400 (a day)")
    }
    return d
}

struct BenchResult {
    var seconds: [Double]
    /// Elements wrong, summed over ranks; nil when the check was off (-c 0).
    var wrong: Int?
    var algorithm: String
    var mean: Double { seconds.reduce(0, +) / Double(seconds.count) }
    func percentile(_ p: Double) -> Double {
        let s = seconds.sorted()
        return s[min(s.count - 1, Int((p * Double(s.count)).rounded(.up)) - 1)]
    }
}

struct BenchRow {
    var bytes: Int
    var count: Int
    var type: DataType
    var op: String
    var results: [BenchResult] = []
}

/// The nccl-tests table: its 13 columns (size count type redop root, then time algbw busbw
/// #wrong out-of-place and in-place) at the same positions, so scripts written for nccl-tests
/// parse it; Grove's extras come after them.
struct BenchTable {
    var collective: Collective
    var root: Int
    var ranks: Int
    var checked: Bool
    var extras: Bool
    var outOfPlaceOnly: Bool
    var print: Bool
    var rows: [BenchRow] = []

    var wrong: Int { rows.reduce(0) { $0 + $1.results.reduce(0) { $0 + ($1.wrong ?? 0) } } }

    func out(_ s: String) { if print { FileHandle.standardOutput.write(Data((s + "\n").utf8)) } }

    func header(_ b: Bench, env: LaunchEnvironment, library: PlanLibrary) {
        out("# nThread 1 nGpus 1 minBytes \(b.minBytes.bytes) maxBytes \(b.maxBytes.bytes) step: "
            + (b.stepFactor >= 2 ? "\(b.stepFactor)(factor)" : "\(b.stepBytes.bytes)(bytes)")
            + " warmup iters: \(b.warmup) iters: \(b.iterations) agg iters: 1 validation: \(b.check) graph: 0")
        out("# grove bench \(collective.rawValue): \(ranks) ranks, one per process; plans: \(library.identity)")
        out("#")
        let places = outOfPlaceOnly ? 1 : 2
        let extraTitles = extras ? String(repeating: "      p50      p99", count: places) + "  algo" : ""
        let extraUnits = extras ? String(repeating: "     (us)     (us)", count: places) : ""
        out("#" + pad("", 52) + "out-of-place" + (outOfPlaceOnly ? "" : pad("", 25) + "in-place"))
        out("#" + pad("size", 11) + pad("count", 14) + pad("type", 10) + pad("redop", 8) + pad("root", 8)
            + String(repeating: pad("time", 9) + pad("algbw", 8) + pad("busbw", 8) + pad("#wrong", 7), count: places) + extraTitles)
        out("#" + pad("(B)", 11) + pad("(elements)", 14) + pad("", 26)
            + String(repeating: pad("(us)", 9) + pad("(GB/s)", 8) + pad("(GB/s)", 8) + pad("", 7), count: places) + extraUnits)
    }

    /// nccl-tests' time format: two decimals below 100 µs, one below 10 ms, none above.
    static func time(_ seconds: Double) -> String {
        let us = seconds * 1e6
        return String(format: us >= 10_000 ? "%.0f" : us >= 100 ? "%.1f" : "%.2f", us)
    }

    mutating func add(_ row: BenchRow) {
        rows.append(row)
        var line = " " + pad("\(row.bytes)", 11) + pad("\(row.count)", 14) + pad(row.type.ncclName, 10) + pad(row.op, 8) + pad("\(root)", 8)
        for r in row.results {
            let algbw = Double(row.bytes) / r.mean / 1e9
            line += pad(BenchTable.time(r.mean), 9) + String(format: " %7.2f %7.2f", algbw, busbw(row, r)) + pad(r.wrong.map(String.init) ?? "N/A", 7)
        }
        if extras {
            for r in row.results { line += pad(BenchTable.time(r.percentile(0.5)), 9) + pad(BenchTable.time(r.percentile(0.99)), 9) }
            line += "  " + (row.results.last?.algorithm ?? "")
        }
        out(line)
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

    /// One line per row and placement; `program` first so that Benchmarks/runtime/summarize.py
    /// reads it as it is.
    func csv() -> String {
        var s = "program,collective,ranks,algorithm,placement,size_bytes,count,type,redop,root,time_us,p50_us,p99_us,algbw_gbps,busbw_gbps,wrong\n"
        for row in rows {
            for (i, r) in row.results.enumerated() {
                let algbw = Double(row.bytes) / r.mean / 1e9
                s += "grove-\(r.algorithm),\(collective.rawValue),\(ranks),\(r.algorithm),\(i == 0 ? "out-of-place" : "in-place"),"
                s += "\(row.bytes),\(row.count),\(row.type),\(row.op),\(root),"
                s += String(format: "%.2f,%.2f,%.2f,%.4f,%.4f,", r.mean * 1e6, r.percentile(0.5) * 1e6, r.percentile(0.99) * 1e6, algbw, busbw(row, r))
                s += (r.wrong.map(String.init) ?? "") + "\n"
            }
        }
        return s
    }
}

/// Right-aligns `s` in `width` columns.
func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
