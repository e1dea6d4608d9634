/// Reduction kernels over raw memory: 64-byte SIMD vectors with a scalar tail, unaligned loads
/// and stores (user buffers and received bytes carry no alignment promise). float16 and bfloat16
/// are widened to float32 lanes, combined, and rounded back. `Benchmarks/runtime/kernels.sh`
/// measures them.
public enum Reduction {
    /// `destination[i] = op(destination[i], source[i])` for `i < count`; `avg` combines as `sum`
    /// (the division happens once, at the end, in `divide`).
    public static func combine(_ op: ReduceOp, _ type: DataType, into destination: UnsafeMutableRawPointer,
                               from source: UnsafeRawPointer, count: Int) {
        switch type {
        case .float32: floating(op, destination, source, count, SIMD16<Float>.self)
        case .float64: floating(op, destination, source, count, SIMD8<Double>.self)
        case .int32: integer(op, destination, source, count, SIMD16<Int32>.self)
        case .int64: integer(op, destination, source, count, SIMD8<Int64>.self)
        case .uint8: integer(op, destination, source, count, SIMD64<UInt8>.self)
        case .float16: half(op, destination, source, count)
        case .bfloat16: brain(op, destination, source, count)
        }
    }

    /// The last step of `avg`: divides every element by `divisor` (the number of ranks).
    public static func divide(_ type: DataType, _ buffer: UnsafeMutableRawPointer, count: Int, by divisor: Int) {
        func each<T>(_ t: T.Type, _ f: (T) -> T) {
            let p = buffer.bindMemory(to: T.self, capacity: count)
            for i in 0..<count { p[i] = f(p[i]) }
        }
        switch type {
        case .float32: each(Float.self) { $0 / Float(divisor) }
        case .float64: each(Double.self) { $0 / Double(divisor) }
        case .float16: each(Float16.self) { Float16(Float($0) / Float(divisor)) }
        case .bfloat16: each(UInt16.self) { BFloat16(BFloat16(bitPattern: $0).floatValue / Float(divisor)).bitPattern }
        case .int32: each(Int32.self) { $0 / Int32(divisor) }
        case .int64: each(Int64.self) { $0 / Int64(divisor) }
        case .uint8: each(UInt8.self) { $0 / UInt8(truncatingIfNeeded: divisor) }
        }
    }

    @inline(__always)
    static func vectorLoop<V: SIMD>(_ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ v: V.Type,
                                    _ vector: (V, V) -> V, _ scalar: (V.Scalar, V.Scalar) -> V.Scalar) {
        let width = V.scalarCount
        let stride = MemoryLayout<V.Scalar>.stride
        var i = 0
        while i + width <= n {
            let a = d.loadUnaligned(fromByteOffset: i * stride, as: V.self)
            let b = s.loadUnaligned(fromByteOffset: i * stride, as: V.self)
            d.storeBytes(of: vector(a, b), toByteOffset: i * stride, as: V.self)
            i += width
        }
        while i < n {
            let a = d.loadUnaligned(fromByteOffset: i * stride, as: V.Scalar.self)
            let b = s.loadUnaligned(fromByteOffset: i * stride, as: V.Scalar.self)
            d.storeBytes(of: scalar(a, b), toByteOffset: i * stride, as: V.Scalar.self)
            i += 1
        }
    }

    @inline(__always)
    static func floating<V: SIMD>(_ op: ReduceOp, _ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ v: V.Type)
    where V.Scalar: BinaryFloatingPoint {
        switch op {
        case .sum, .avg: vectorLoop(d, s, n, v, { $0 + $1 }, { $0 + $1 })
        case .prod: vectorLoop(d, s, n, v, { $0 * $1 }, { $0 * $1 })
        case .min: vectorLoop(d, s, n, v, { pointwiseMin($0, $1) }, { Swift.min($0, $1) })
        case .max: vectorLoop(d, s, n, v, { pointwiseMax($0, $1) }, { Swift.max($0, $1) })
        }
    }

    @inline(__always)
    static func integer<V: SIMD>(_ op: ReduceOp, _ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ v: V.Type)
    where V.Scalar: FixedWidthInteger {
        switch op {
        case .sum, .avg: vectorLoop(d, s, n, v, { $0 &+ $1 }, { $0 &+ $1 })
        case .prod: vectorLoop(d, s, n, v, { $0 &* $1 }, { $0 &* $1 })
        case .min: vectorLoop(d, s, n, v, { pointwiseMin($0, $1) }, { Swift.min($0, $1) })
        case .max: vectorLoop(d, s, n, v, { pointwiseMax($0, $1) }, { Swift.max($0, $1) })
        }
    }

    /// float16 in float32 lanes.
    static func half(_ op: ReduceOp, _ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int) {
        @inline(__always) func run(_ f: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, _ g: (Float, Float) -> Float) {
            vectorLoop(d, s, n, SIMD16<Float16>.self,
                       { SIMD16<Float16>(f(SIMD16<Float>($0), SIMD16<Float>($1))) },
                       { Float16(g(Float($0), Float($1))) })
        }
        switch op {
        case .sum, .avg: run({ $0 + $1 }, { $0 + $1 })
        case .prod: run({ $0 * $1 }, { $0 * $1 })
        case .min: run({ pointwiseMin($0, $1) }, { Swift.min($0, $1) })
        case .max: run({ pointwiseMax($0, $1) }, { Swift.max($0, $1) })
        }
    }

    /// bfloat16 in float32 lanes: widen by shifting the bits up, round to nearest even on the
    /// way back, keep NaNs quiet.
    static func brain(_ op: ReduceOp, _ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int) {
        @inline(__always) func widen(_ x: SIMD16<UInt16>) -> SIMD16<Float> {
            unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: x) &<< 16, to: SIMD16<Float>.self)
        }
        @inline(__always) func narrow(_ x: SIMD16<Float>) -> SIMD16<UInt16> {
            let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
            let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            let quiet = (bits &>> 16) | 0x40
            return SIMD16<UInt16>(truncatingIfNeeded: rounded.replacing(with: quiet, where: x .!= x))
        }
        @inline(__always) func run(_ f: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, _ g: (Float, Float) -> Float) {
            vectorLoop(d, s, n, SIMD16<UInt16>.self,
                       { narrow(f(widen($0), widen($1))) },
                       { BFloat16(g(BFloat16(bitPattern: $0).floatValue, BFloat16(bitPattern: $1).floatValue)).bitPattern })
        }
        switch op {
        case .sum, .avg: run({ $0 + $1 }, { $0 + $1 })
        case .prod: run({ $0 * $1 }, { $0 * $1 })
        case .min: run({ pointwiseMin($0, $1) }, { Swift.min($0, $1) })
        case .max: run({ pointwiseMax($0, $1) }, { Swift.max($0, $1) })
        }
    }
}
