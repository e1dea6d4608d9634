import GroveSynthesis

/// Deterministic test data, nccl-tests style: every rank fills its input from (rank, index), and
/// the expected result of any collective is computed element by element from the same formula,
/// never by running a collective. Values are small integers, so every reduction is exact in every
/// type and in every order; integer sums wrap as the kernels do.
public enum DataPattern {
    /// The input value of `rank` at element `index`. Products use 1s and 2s (at most 2^4 per
    /// element); bfloat16 sums use 1…4 so that sums of 64 ranks stay exact in 8 bits of mantissa.
    public static func value(rank: Int, index: Int, op: ReduceOp, type: DataType) -> Int {
        switch op {
        case .prod: return (rank + index) % 3 == 0 && rank < 12 ? 2 : 1
        default: return (rank &* 31 &+ index &* 7) % (type == .bfloat16 ? 4 : 17) + 1
        }
    }

    /// Writes `value(rank, first + i)` at element i, for i < count.
    public static func fill(_ p: UnsafeMutableRawPointer, type: DataType, count: Int, rank: Int, op: ReduceOp, first: Int = 0) {
        for i in 0..<count { store(Double(value(rank: rank, index: first + i, op: op, type: type)), type, p, i) }
    }

    /// Fills this rank's input of a call as a benchmark or test sees it.
    public static func fillInput(_ p: UnsafeMutableRawPointer, _ collective: Collective, type: DataType, count: Int, rank: Int,
                                 worldSize: Int, op: ReduceOp) {
        let n = collective == .reduceScatter ? count * worldSize : count
        fill(p, type: type, count: n, rank: rank, op: op)
    }

    /// Elements of this rank's output that differ from the collective's expected result.
    /// (Reduce checks the root only; other ranks' outputs are unspecified.)
    public static func wrongElements(_ collective: Collective, type: DataType, op: ReduceOp, output: UnsafeRawPointer,
                                     count: Int, rank: Int, worldSize: Int, root: Int = 0) -> Int {
        var wrong = 0
        func reduced(_ index: Int) -> Double {
            if type.isFloatingPoint {
                var acc = Double(value(rank: 0, index: index, op: op, type: type))
                for r in 1..<max(worldSize, 1) { acc = combine(op, acc, Double(value(rank: r, index: index, op: op, type: type))) }
                return op == .avg ? acc / Double(worldSize) : acc
            }
            // Integers wrap at the type's width, after every step, as the kernels do.
            var acc = Int64(value(rank: 0, index: index, op: op, type: type))
            for r in 1..<max(worldSize, 1) {
                let v = Int64(value(rank: r, index: index, op: op, type: type))
                switch op {
                case .sum, .avg: acc = wrap(acc &+ v, type)
                case .prod: acc = wrap(acc &* v, type)
                case .min: acc = Swift.min(acc, v)
                case .max: acc = Swift.max(acc, v)
                }
            }
            return Double(op == .avg ? acc / Int64(worldSize) : acc)
        }
        func expect(_ i: Int, _ want: Double) {
            if !matches(load(type, output, i), rounded(want, type)) { wrong += 1 }
        }
        switch collective {
        case .allreduce: for i in 0..<count { expect(i, reduced(i)) }
        case .reduce: if rank == root { for i in 0..<count { expect(i, reduced(i)) } }
        case .reduceScatter: for i in 0..<count { expect(i, reduced(rank * count + i)) }
        case .broadcast: for i in 0..<count { expect(i, Double(value(rank: root, index: i, op: op, type: type))) }
        case .allgather:
            for r in 0..<worldSize {
                for i in 0..<count { expect(r * count + i, Double(value(rank: r, index: i, op: op, type: type))) }
            }
        }
        return wrong
    }

    static func combine(_ op: ReduceOp, _ a: Double, _ b: Double) -> Double {
        switch op {
        case .sum, .avg: return a + b
        case .prod: return a * b
        case .min: return Swift.min(a, b)
        case .max: return Swift.max(a, b)
        }
    }

    static func wrap(_ v: Int64, _ type: DataType) -> Int64 {
        switch type {
        case .uint8: return Int64(UInt8(truncatingIfNeeded: v))
        case .int32: return Int64(Int32(truncatingIfNeeded: v))
        default: return v
        }
    }

    /// The value as the type stores it (round to nearest), back as a Double for comparison.
    static func rounded(_ v: Double, _ type: DataType) -> Double {
        switch type {
        case .float32: return Double(Float(v))
        case .float64: return v
        case .float16: return Double(Float16(v))
        case .bfloat16: return Double(BFloat16(Float(v)).floatValue)
        case .int32, .int64, .uint8: return v
        }
    }

    static func matches(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }

    static func load(_ type: DataType, _ p: UnsafeRawPointer, _ i: Int) -> Double {
        switch type {
        case .float32: return Double(p.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
        case .float64: return p.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
        case .float16: return Double(p.loadUnaligned(fromByteOffset: i * 2, as: Float16.self))
        case .bfloat16: return Double(BFloat16(bitPattern: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)).floatValue)
        case .int32: return Double(p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
        case .int64: return Double(p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
        case .uint8: return Double(p.load(fromByteOffset: i, as: UInt8.self))
        }
    }

    static func store(_ v: Double, _ type: DataType, _ p: UnsafeMutableRawPointer, _ i: Int) {
        switch type {
        case .float32: p.storeBytes(of: Float(v), toByteOffset: i * 4, as: Float.self)
        case .float64: p.storeBytes(of: v, toByteOffset: i * 8, as: Double.self)
        case .float16: p.storeBytes(of: Float16(v), toByteOffset: i * 2, as: Float16.self)
        case .bfloat16: p.storeBytes(of: BFloat16(Float(v)).bitPattern, toByteOffset: i * 2, as: UInt16.self)
        case .int32: p.storeBytes(of: Int32(v), toByteOffset: i * 4, as: Int32.self)
        case .int64: p.storeBytes(of: Int64(v), toByteOffset: i * 8, as: Int64.self)
        case .uint8: p.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self)
        }
    }
}
