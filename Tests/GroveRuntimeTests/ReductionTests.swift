import Testing
@testable import GroveRuntime

@Suite struct ReductionKernels {
    @Test func halfWidensExactlyForEveryBitPattern() {
        var mismatches = 0
        for base in stride(from: 0, to: 65536, by: 16) {
            let h = SIMD16<UInt16>((0..<16).map { UInt16(base + $0) })
            let f = HalfConversion.widen(h)
            for i in 0..<16 {
                let want = Float(Float16(bitPattern: h[i]))
                if !(f[i] == want || (f[i].isNaN && want.isNaN)) || f[i].sign != want.sign { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func halfNarrowsWithRoundToNearestEven() {
        var rng = SplitMix(seed: 7)
        var values: [Float] = [0, -0, 1, -1, 65504, 65519, 65520, 1e6, -1e6, .infinity, -.infinity, .nan,
                               Float(Float16.leastNonzeroMagnitude), Float(Float16.leastNonzeroMagnitude) / 2,
                               Float(Float16.leastNormalMagnitude), 1.0009765625, 1.00048828125, 1.00146484375, 2049, 2051]
        for _ in 0..<200_000 { values.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        while values.count % 16 != 0 { values.append(3) }
        var mismatches: [Float] = []
        for base in stride(from: 0, to: values.count, by: 16) {
            let v = SIMD16<Float>(values[base..<(base + 16)])
            let h = HalfConversion.narrow(v)
            for i in 0..<16 {
                let want = Float16(v[i])
                let got = Float16(bitPattern: h[i])
                if !(got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN)) { mismatches.append(v[i]) }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// Every type and op against a scalar reference, on lengths that leave vector tails.
    @Test(arguments: DataType.allCases)
    func kernelsMatchScalarReference(type: DataType) {
        for op in ReduceOp.allCases {
            for count in [1, 15, 16, 17, 63, 1000, 4099] {
                let a = UnsafeMutableRawPointer.allocate(byteCount: count * type.size, alignment: 1)
                let b = UnsafeMutableRawPointer.allocate(byteCount: count * type.size, alignment: 1)
                defer { a.deallocate(); b.deallocate() }
                DataPattern.fill(a, type: type, count: count, rank: 0, op: op)
                DataPattern.fill(b, type: type, count: count, rank: 5, op: op)
                var want: [Double] = []
                for i in 0..<count {
                    let x = DataPattern.load(type, a, i), y = DataPattern.load(type, b, i)
                    switch op {
                    case .sum, .avg: want.append(type.isFloatingPoint ? DataPattern.rounded(x + y, type) : Double(DataPattern.wrap(Int64(x + y), type)))
                    case .prod: want.append(x * y)
                    case .min: want.append(min(x, y))
                    case .max: want.append(max(x, y))
                    }
                }
                // Three operands first (a and b must stay as they are), then in place.
                let c = UnsafeMutableRawPointer.allocate(byteCount: count * type.size, alignment: 1)
                defer { c.deallocate() }
                let before = (0..<count).map { (DataPattern.load(type, a, $0), DataPattern.load(type, b, $0)) }
                Reduction.combine(op, type, into: c, UnsafeRawPointer(a), UnsafeRawPointer(b), count: count)
                let wrongApart = (0..<count).filter { DataPattern.load(type, c, $0) != want[$0] }.count
                let changed = (0..<count).filter { DataPattern.load(type, a, $0) != before[$0].0 || DataPattern.load(type, b, $0) != before[$0].1 }.count
                #expect(wrongApart == 0 && changed == 0, "\(type) \(op) count \(count), into a third buffer")
                Reduction.combine(op, type, into: a, from: UnsafeRawPointer(b), count: count)
                let wrong = (0..<count).filter { DataPattern.load(type, a, $0) != want[$0] }.count
                #expect(wrong == 0, "\(type) \(op) count \(count)")
            }
        }
    }
}
