/// Reduction kernels over raw memory: 64-byte SIMD vectors with a scalar tail, unaligned loads
/// and stores (user buffers and received bytes carry no alignment promise). float16 and bfloat16
/// are widened to float32 lanes, combined, and rounded back. `Benchmarks/runtime/kernels.sh`
/// measures them.
public enum Reduction {
    /// `destination[i] = op(destination[i], source[i])` for `i < count`; `avg` combines as `sum`
    /// (the division happens once, at the end, in `divide`).
    public static func combine(_ op: ReduceOp, _ type: DataType, into destination: UnsafeMutableRawPointer,
                               from source: UnsafeRawPointer, count: Int) {
        combine(op, type, into: destination, UnsafeRawPointer(destination), source, count: count)
    }

    /// `destination[i] = op(first[i], second[i])`: a reduction and the copy before it in one
    /// pass over memory. `destination` may be `first` (then it is `combine(into:from:)`).
    public static func combine(_ op: ReduceOp, _ type: DataType, into destination: UnsafeMutableRawPointer,
                               _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, count: Int) {
        // Concrete vector types in every closure: generic SIMD comparisons are not specialized
        // and run an order of magnitude slower.
        let d = destination, f = first, s = second, n = count
        switch (type, op) {
        case (.float32, .sum), (.float32, .avg): vectorLoop(d, f, s, n, SIMD16<Float>.self, { $0 + $1 }, { $0 + $1 })
        case (.float32, .prod): vectorLoop(d, f, s, n, SIMD16<Float>.self, { $0 * $1 }, { $0 * $1 })
        case (.float32, .min): vectorLoop(d, f, s, n, SIMD16<Float>.self, { $0.replacing(with: $1, where: $1 .< $0) }, { $1 < $0 ? $1 : $0 })
        case (.float32, .max): vectorLoop(d, f, s, n, SIMD16<Float>.self, { $0.replacing(with: $1, where: $1 .> $0) }, { $1 > $0 ? $1 : $0 })
        case (.float64, .sum), (.float64, .avg): vectorLoop(d, f, s, n, SIMD8<Double>.self, { $0 + $1 }, { $0 + $1 })
        case (.float64, .prod): vectorLoop(d, f, s, n, SIMD8<Double>.self, { $0 * $1 }, { $0 * $1 })
        case (.float64, .min): vectorLoop(d, f, s, n, SIMD8<Double>.self, { $0.replacing(with: $1, where: $1 .< $0) }, { $1 < $0 ? $1 : $0 })
        case (.float64, .max): vectorLoop(d, f, s, n, SIMD8<Double>.self, { $0.replacing(with: $1, where: $1 .> $0) }, { $1 > $0 ? $1 : $0 })
        case (.int32, .sum), (.int32, .avg): vectorLoop(d, f, s, n, SIMD16<Int32>.self, { $0 &+ $1 }, { $0 &+ $1 })
        case (.int32, .prod): vectorLoop(d, f, s, n, SIMD16<Int32>.self, { $0 &* $1 }, { $0 &* $1 })
        case (.int32, .min): vectorLoop(d, f, s, n, SIMD16<Int32>.self, { $0.replacing(with: $1, where: $1 .< $0) }, { Swift.min($0, $1) })
        case (.int32, .max): vectorLoop(d, f, s, n, SIMD16<Int32>.self, { $0.replacing(with: $1, where: $1 .> $0) }, { Swift.max($0, $1) })
        case (.int64, .sum), (.int64, .avg): vectorLoop(d, f, s, n, SIMD8<Int64>.self, { $0 &+ $1 }, { $0 &+ $1 })
        case (.int64, .prod): vectorLoop(d, f, s, n, SIMD8<Int64>.self, { $0 &* $1 }, { $0 &* $1 })
        case (.int64, .min): vectorLoop(d, f, s, n, SIMD8<Int64>.self, { $0.replacing(with: $1, where: $1 .< $0) }, { Swift.min($0, $1) })
        case (.int64, .max): vectorLoop(d, f, s, n, SIMD8<Int64>.self, { $0.replacing(with: $1, where: $1 .> $0) }, { Swift.max($0, $1) })
        case (.uint8, .sum), (.uint8, .avg): vectorLoop(d, f, s, n, SIMD32<UInt8>.self, { $0 &+ $1 }, { $0 &+ $1 })
        case (.uint8, .prod): vectorLoop(d, f, s, n, SIMD32<UInt8>.self, { $0 &* $1 }, { $0 &* $1 })
        // 16 byte lanes: compares on wider byte vectors are not vectorized.
        case (.uint8, .min): vectorLoop(d, f, s, n, SIMD16<UInt8>.self, { $0.replacing(with: $1, where: $1 .< $0) }, { Swift.min($0, $1) })
        case (.uint8, .max): vectorLoop(d, f, s, n, SIMD16<UInt8>.self, { $0.replacing(with: $1, where: $1 .> $0) }, { Swift.max($0, $1) })
        case (.float16, _): half(op, d, f, s, n)
        case (.bfloat16, _): brain(op, d, f, s, n)
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
    static func vectorLoop<V: SIMD>(_ d: UnsafeMutableRawPointer, _ f: UnsafeRawPointer, _ s: UnsafeRawPointer, _ n: Int, _ v: V.Type,
                                    _ vector: (V, V) -> V, _ scalar: (V.Scalar, V.Scalar) -> V.Scalar) {
        let width = V.scalarCount
        let stride = MemoryLayout<V.Scalar>.stride
        var i = 0
        while i + width <= n {
            let a = f.loadUnaligned(fromByteOffset: i * stride, as: V.self)
            let b = s.loadUnaligned(fromByteOffset: i * stride, as: V.self)
            d.storeBytes(of: vector(a, b), toByteOffset: i * stride, as: V.self)
            i += width
        }
        while i < n {
            let a = f.loadUnaligned(fromByteOffset: i * stride, as: V.Scalar.self)
            let b = s.loadUnaligned(fromByteOffset: i * stride, as: V.Scalar.self)
            d.storeBytes(of: scalar(a, b), toByteOffset: i * stride, as: V.Scalar.self)
            i += 1
        }
    }

    /// float16 in float32 lanes. The conversions are integer bit manipulation (F. Giesen's
    /// "half to float done quick" and round-to-nearest-even float to half), because x86-64
    /// without F16C converts one element per library call.
    static func half(_ op: ReduceOp, _ d: UnsafeMutableRawPointer, _ a: UnsafeRawPointer, _ s: UnsafeRawPointer, _ n: Int) {
        @inline(__always) func run(_ f: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, _ g: (Float, Float) -> Float) {
            vectorLoop(d, a, s, n, SIMD16<UInt16>.self,
                       { HalfConversion.narrow(f(HalfConversion.widen($0), HalfConversion.widen($1))) },
                       { Float16(g(Float(Float16(bitPattern: $0)), Float(Float16(bitPattern: $1)))).bitPattern })
        }
        switch op {
        case .sum, .avg: run({ $0 + $1 }, { $0 + $1 })
        case .prod: run({ $0 * $1 }, { $0 * $1 })
        case .min: run({ $0.replacing(with: $1, where: $1 .< $0) }, { $1 < $0 ? $1 : $0 })
        case .max: run({ $0.replacing(with: $1, where: $1 .> $0) }, { $1 > $0 ? $1 : $0 })
        }
    }

    /// bfloat16 in float32 lanes: widen by shifting the bits up, round to nearest even on the
    /// way back, keep NaNs quiet.
    static func brain(_ op: ReduceOp, _ d: UnsafeMutableRawPointer, _ a: UnsafeRawPointer, _ s: UnsafeRawPointer, _ n: Int) {
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
            vectorLoop(d, a, s, n, SIMD16<UInt16>.self,
                       { narrow(f(widen($0), widen($1))) },
                       { BFloat16(g(BFloat16(bitPattern: $0).floatValue, BFloat16(bitPattern: $1).floatValue)).bitPattern })
        }
        switch op {
        case .sum, .avg: run({ $0 + $1 }, { $0 + $1 })
        case .prod: run({ $0 * $1 }, { $0 * $1 })
        case .min: run({ $0.replacing(with: $1, where: $1 .< $0) }, { $1 < $0 ? $1 : $0 })
        case .max: run({ $0.replacing(with: $1, where: $1 .> $0) }, { $1 > $0 ? $1 : $0 })
        }
    }
}

/// IEEE binary16 ↔ binary32 on 16 lanes with integer operations only; every operand is a
/// vector (vector–scalar overloads are not specialized and run per lane).
enum HalfConversion {
    typealias U = SIMD16<UInt32>

    @inline(__always)
    static func widen(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
        let x = U(truncatingIfNeeded: h)
        let shiftedExponent = U(repeating: 0x7C00 << 13)
        var o = (x & U(repeating: 0x7FFF)) &<< U(repeating: 13)
        let exponent = o & shiftedExponent
        o = o &+ U(repeating: (127 - 15) << 23)
        // Inf and NaN: all exponent bits.
        o = o.replacing(with: o &+ U(repeating: (128 - 16) << 23), where: exponent .== shiftedExponent)
        // Zero and subnormals: renormalize through a float subtraction.
        let magic = SIMD16<Float>(repeating: Float(bitPattern: 113 << 23))
        let renormalized = unsafeBitCast(unsafeBitCast(o &+ U(repeating: 1 << 23), to: SIMD16<Float>.self) - magic, to: U.self)
        o = o.replacing(with: renormalized, where: exponent .== U(repeating: 0))
        return unsafeBitCast(o | ((x & U(repeating: 0x8000)) &<< U(repeating: 16)), to: SIMD16<Float>.self)
    }

    @inline(__always)
    static func narrow(_ f: SIMD16<Float>) -> SIMD16<UInt16> {
        let bits = unsafeBitCast(f, to: U.self)
        let sign = bits & U(repeating: 0x8000_0000)
        let magnitude = bits ^ sign
        // Overflow to infinity; NaN stays a (quiet) NaN.
        let special = U(repeating: 0x7C00).replacing(with: U(repeating: 0x7E00), where: magnitude .> U(repeating: 255 << 23))
        // Subnormal results: let the float adder round, then take the low bits.
        let denormalMagic = U(repeating: ((127 - 15) + (23 - 10) + 1) << 23)
        let sum = unsafeBitCast(magnitude, to: SIMD16<Float>.self) + unsafeBitCast(denormalMagic, to: SIMD16<Float>.self)
        let subnormal = unsafeBitCast(sum, to: U.self) &- denormalMagic
        // Normal results: rebias and round to nearest even.
        let odd = (magnitude &>> U(repeating: 13)) & U(repeating: 1)
        let normal = (magnitude &+ U(repeating: UInt32(bitPattern: (15 - 127) << 23) &+ 0xFFF) &+ odd) &>> U(repeating: 13)
        var o = normal.replacing(with: subnormal, where: magnitude .< U(repeating: 113 << 23))
        o = o.replacing(with: special, where: magnitude .>= U(repeating: (127 + 16) << 23))
        return SIMD16<UInt16>(truncatingIfNeeded: o | (sign &>> U(repeating: 16)))
    }
}
