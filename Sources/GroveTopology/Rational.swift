/// An exact rational number `numerator / denominator` in lowest terms, denominator > 0.
///
/// Grove claims optimality, so every rate, bound and capacity that feeds a comparison is a
/// `Rational` or an integer; `Double` is only for printing. Arithmetic traps on 64-bit overflow
/// rather than rounding: fabrics whose numbers would overflow are far outside what a real
/// cluster describes (bandwidths are given with a few decimals, ranks number in the thousands).
import Foundation

public struct Rational: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    public init(_ numerator: Int, _ denominator: Int = 1) {
        precondition(denominator != 0, "Rational with zero denominator")
        let sign = denominator < 0 ? -1 : 1
        let g = Rational.gcd(numerator, denominator)
        self.numerator = sign * numerator / Swift.max(g, 1)
        self.denominator = sign * denominator / Swift.max(g, 1)
    }

    public static let zero = Rational(0)
    public static let one = Rational(1)

    public var doubleValue: Double { Double(numerator) / Double(denominator) }
    public var isInteger: Bool { denominator == 1 }

    public var description: String {
        denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)"
    }

    /// A short decimal rendering for people (exact when the value has few decimals).
    public var decimalString: String {
        denominator == 1 ? "\(numerator)" : Rational.shortDecimal(doubleValue)
    }

    public static func gcd(_ a: Int, _ b: Int) -> Int {
        var (x, y) = (a.magnitude, b.magnitude)
        while y != 0 { (x, y) = (y, x % y) }
        return Int(x)
    }

    public static func lcm(_ a: Int, _ b: Int) -> Int {
        if a == 0 || b == 0 { return 0 }
        return Swift.abs(checkedMul(a / gcd(a, b), b))
    }

    public static func checkedMul(_ a: Int, _ b: Int) -> Int {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        precondition(!o, "exact arithmetic overflowed 64 bits")
        return r
    }

    public static func checkedAdd(_ a: Int, _ b: Int) -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        precondition(!o, "exact arithmetic overflowed 64 bits")
        return r
    }

    public static func + (a: Rational, b: Rational) -> Rational {
        guard let s = a.addingReportingOverflow(b) else { preconditionFailure("exact arithmetic overflowed 64 bits") }
        return s
    }

    public static prefix func - (a: Rational) -> Rational { Rational(-a.numerator, a.denominator) }
    public static func - (a: Rational, b: Rational) -> Rational { a + (-b) }

    public static func * (a: Rational, b: Rational) -> Rational {
        guard let p = a.multipliedReportingOverflow(by: b) else { preconditionFailure("exact arithmetic overflowed 64 bits") }
        return p
    }

    /// The product, or nil when it does not fit in 64-bit parts. Cross-cancelling first makes the
    /// result lowest terms, so nil means the exact value itself is too large, not a step on the way.
    public func multipliedReportingOverflow(by b: Rational) -> Rational? {
        let g1 = Rational.gcd(numerator, b.denominator), g2 = Rational.gcd(b.numerator, denominator)
        let (n, o1) = (numerator / Swift.max(g1, 1)).multipliedReportingOverflow(by: b.numerator / Swift.max(g2, 1))
        let (d, o2) = (denominator / Swift.max(g2, 1)).multipliedReportingOverflow(by: b.denominator / Swift.max(g1, 1))
        return o1 || o2 ? nil : Rational(n, d)
    }

    /// The sum, or nil when it does not fit in 64-bit parts.
    public func addingReportingOverflow(_ b: Rational) -> Rational? {
        let g = Rational.gcd(denominator, b.denominator)
        let (d, o1) = (denominator / g).multipliedReportingOverflow(by: b.denominator)
        let (x, o2) = numerator.multipliedReportingOverflow(by: b.denominator / g)
        let (y, o3) = b.numerator.multipliedReportingOverflow(by: denominator / g)
        let (n, o4) = x.addingReportingOverflow(y)
        return o1 || o2 || o3 || o4 ? nil : Rational(n, d)
    }

    public static func / (a: Rational, b: Rational) -> Rational {
        precondition(b.numerator != 0, "Rational division by zero")
        return a * Rational(b.denominator, b.numerator)
    }

    public static func < (a: Rational, b: Rational) -> Bool {
        // Cross-multiplication in 128 bits cannot overflow for 64-bit parts.
        let l = a.numerator.multipliedFullWidth(by: b.denominator)
        let r = b.numerator.multipliedFullWidth(by: a.denominator)
        return (l.high, l.low) < (r.high, r.low)
    }

    /// Parses a JSON number literal (`12`, `12.5`, `1e3`, `-0.25E-2`) exactly.
    /// Returns nil for text that is not a number literal or whose exact value needs more than 64 bits.
    public init?(decimalLiteral text: String) {
        var chars = Substring(text)
        var negative = false
        if chars.first == "-" { negative = true; chars = chars.dropFirst() }
        var mantissa = 0, scale = 0, digits = 0, seenDot = false
        while let c = chars.first, c.isASCII, c.isNumber || c == "." {
            chars = chars.dropFirst()
            if c == "." {
                if seenDot { return nil }
                seenDot = true
                continue
            }
            let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(Int(c.asciiValue! - 48))
            if o1 || o2 { return nil }
            mantissa = m2
            digits += 1
            if seenDot { scale += 1 }
        }
        if digits == 0 { return nil }
        var exponent = 0
        if let e = chars.first, e == "e" || e == "E" {
            chars = chars.dropFirst()
            var expNegative = false
            if chars.first == "+" || chars.first == "-" { expNegative = chars.first == "-"; chars = chars.dropFirst() }
            guard !chars.isEmpty, chars.allSatisfy({ $0.isASCII && $0.isNumber }), chars.count < 4,
                  let e = Int(chars) else { return nil }
            exponent = expNegative ? -e : e
            chars = chars.dropLast(chars.count)
        }
        guard chars.isEmpty else { return nil }
        let power = exponent - scale
        guard Swift.abs(power) <= 18 else { return nil }
        var p = 1
        for _ in 0..<Swift.abs(power) { p *= 10 }
        if power >= 0 {
            let (v, o) = mantissa.multipliedReportingOverflow(by: p)
            if o { return nil }
            self.init(negative ? -v : v, 1)
        } else {
            self.init(negative ? -mantissa : mantissa, p)
        }
    }
}
