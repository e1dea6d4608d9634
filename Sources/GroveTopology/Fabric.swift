/// A vertex of the fabric graph. Ranks are vertices `0..<rankCount`, switches follow.
public struct VertexID: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: VertexID, b: VertexID) -> Bool { a.rawValue < b.rawValue }
}

/// A rank (a process, usually one accelerator). Rank r is vertex r.
public struct Rank: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var vertex: VertexID { VertexID(rawValue) }
    public var description: String { "\(rawValue)" }
    public static func < (a: Rank, b: Rank) -> Bool { a.rawValue < b.rawValue }
}

/// A link bandwidth in GB/s (10^9 bytes per second), held exactly.
public struct Bandwidth: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var gigabytesPerSecond: Rational
    public init(gigabytesPerSecond: Rational) { self.gigabytesPerSecond = gigabytesPerSecond }
    public init(_ gbps: Int) { self.gigabytesPerSecond = Rational(gbps) }
    public var description: String { "\(gigabytesPerSecond.decimalString) GB/s" }
    public static func < (a: Bandwidth, b: Bandwidth) -> Bool { a.gigabytesPerSecond < b.gigabytesPerSecond }
    public static func + (a: Bandwidth, b: Bandwidth) -> Bandwidth {
        Bandwidth(gigabytesPerSecond: a.gigabytesPerSecond + b.gigabytesPerSecond)
    }

    /// Bandwidths are whole numbers of kB/s: the resolution is 1 kB/s (10^-6 GB/s), the range
    /// 1 kB/s to 10^6 GB/s (1 PB/s). With these two limits, exact 64-bit arithmetic holds every
    /// capacity, and synthesis checks the sums it forms once (`IntegerFabric`) instead of trapping.
    public static let unitsPerGBps = 1_000_000
    public static let resolution = Bandwidth(gigabytesPerSecond: Rational(1, unitsPerGBps))
    public static let maximum = Bandwidth(1_000_000)

    /// Whether this bandwidth is a whole number of kB/s within the supported range.
    public var isRepresentable: Bool {
        let r = gigabytesPerSecond
        return Bandwidth.unitsPerGBps % r.denominator == 0 && r >= Bandwidth.resolution.gigabytesPerSecond
            && r <= Bandwidth.maximum.gigabytesPerSecond
    }

    /// What a JSON number literal gives as a bandwidth.
    public enum Reading: Equatable, Sendable {
        /// The literal rounded to the nearest kB/s (ties away from zero); `exact` is false when
        /// rounding changed it, as for Python's `27.500000000000004`.
        case value(Bandwidth, exact: Bool)
        case notANumber, zero, negative, belowResolution, aboveMaximum
    }

    /// Reads a JSON number literal of any length or exponent as a bandwidth in GB/s, digit by
    /// digit, so that `1e308`, `1e-308` and 40-digit mantissas are judged by value, never trap.
    /// O(length of the literal).
    public static func reading(literal text: String) -> Reading {
        var chars = Substring(text)
        let negative = chars.first == "-"
        if negative { chars = chars.dropFirst() }
        var digits: [UInt8] = []
        var pointExponent = 0, seenDot = false, seenDigit = false
        while let c = chars.first, let v = c.asciiValue, c == "." || (48...57).contains(v) {
            chars = chars.dropFirst()
            if c == "." {
                if seenDot { return .notANumber }
                seenDot = true
                continue
            }
            seenDigit = true
            if digits.isEmpty && v == 48 { if seenDot { pointExponent -= 1 }; continue }
            digits.append(v - 48)
            if seenDot { pointExponent -= 1 }
        }
        guard seenDigit else { return .notANumber }
        var exponent = 0
        if let e = chars.first, e == "e" || e == "E" {
            chars = chars.dropFirst()
            var expNegative = false
            if chars.first == "+" || chars.first == "-" { expNegative = chars.first == "-"; chars = chars.dropFirst() }
            guard !chars.isEmpty, chars.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .notANumber }
            // Saturate past ±10^15: beyond any file's digit count (64 MiB), so as good as infinite.
            let significant = chars.drop(while: { $0 == "0" })
            let e = significant.count > 15 ? 1_000_000_000_000_000 : Int(significant.isEmpty ? "0" : significant)!
            exponent = expNegative ? -e : e
            chars = chars.dropLast(chars.count)
        }
        guard chars.isEmpty else { return .notANumber }
        while digits.last == 0 { digits.removeLast(); pointExponent += 1 }
        if digits.isEmpty { return .zero }
        if negative { return .negative }
        // value = digits × 10^(exponent + pointExponent) GB/s; in kB/s units shift by 6 more.
        let shift = exponent + pointExponent + 6
        let integerDigits = digits.count + shift
        if integerDigits > 13 { return .aboveMaximum }
        var units = 0
        for i in 0..<max(integerDigits, 0) { units = units * 10 + (i < digits.count ? Int(digits[i]) : 0) }
        var exact = true
        if integerDigits < digits.count {
            let dropped = digits[max(integerDigits, 0)...]
            exact = false
            // Ties and above round up: the first dropped digit decides (a dropped 5 followed by
            // zeros is a tie, and trailing zeros were removed above).
            if integerDigits >= 0, dropped.first! >= 5 { units += 1 }
        }
        if units == 0 { return .belowResolution }
        let value = Bandwidth(gigabytesPerSecond: Rational(units, unitsPerGBps))
        return value > maximum ? .aboveMaximum : .value(value, exact: exact)
    }
}

/// One directed link. Parallel links in a file are merged into one with the summed bandwidth.
public struct Link: Hashable, Sendable {
    public var from: VertexID
    public var to: VertexID
    public var bandwidth: Bandwidth
    /// One-way latency in microseconds, if the file gives one.
    public var latencyMicroseconds: Double?

    public init(from: VertexID, to: VertexID, bandwidth: Bandwidth, latencyMicroseconds: Double? = nil) {
        self.from = from
        self.to = to
        self.bandwidth = bandwidth
        self.latencyMicroseconds = latencyMicroseconds
    }
}

/// A network fabric: a directed capacitated graph whose vertices are ranks and switches.
///
/// Value type with no I/O; `TopologyFile` reads and writes it. A `Fabric` that exists has passed
/// validation: names are unique, links join known vertices, every rank reaches every other rank,
/// and every switch has equal in- and out-capacity.
public struct Fabric: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// Names of all vertices: ranks first (in rank order), then switches.
    public private(set) var vertexNames: [String]
    public private(set) var rankCount: Int
    /// Directed links, at most one per ordered pair, sorted by (from, to).
    public private(set) var links: [Link]

    public var vertexCount: Int { vertexNames.count }
    public var switchCount: Int { vertexNames.count - rankCount }
    public var ranks: [Rank] { (0..<rankCount).map { Rank($0) } }
    public var switches: [VertexID] { (rankCount..<vertexCount).map { VertexID($0) } }
    public func isRank(_ v: VertexID) -> Bool { v.rawValue < rankCount }
    public func name(of v: VertexID) -> String { vertexNames[v.rawValue] }

    public typealias NamedLink = (from: String, to: String, bandwidth: Bandwidth, latency: Double?)

    /// Builds a fabric and validates it; throws `TopologyError.invalid` listing every problem.
    public init(name: String, description: String? = nil, ranks: [String], switches: [String], links: [NamedLink]) throws(TopologyError) {
        let (resolved, problems) = Fabric.resolve(ranks: ranks, switches: switches, links: links)
        if !problems.isEmpty { throw .invalid(problems) }
        try self.init(validatedName: name, description: description, vertexNames: ranks + switches,
                      rankCount: ranks.count, links: resolved)
    }

    /// Checks names and link endpoints: duplicates, a vertex that is both rank and switch,
    /// unknown vertices, self-loops, no ranks. O(V + E).
    public static func resolve(ranks: [String], switches: [String], links: [NamedLink]) -> (links: [Link], problems: [TopologyProblem]) {
        var problems: [TopologyProblem] = []
        var index: [String: Int] = [:]
        for (i, n) in (ranks + switches).enumerated() {
            if let j = index[n] {
                let both = (j < ranks.count) != (i < ranks.count)
                problems.append(TopologyProblem(where: both ? "vertex '\(n)'" : (i < ranks.count ? "ranks" : "switches"),
                    message: both ? "'\(n)' is listed both as a rank and as a switch; a vertex is one or the other"
                                  : "duplicate name '\(n)'; every vertex needs its own name"))
            } else {
                index[n] = i
            }
        }
        var resolved: [Link] = []
        for (i, l) in links.enumerated() {
            guard let f = index[l.from], let t = index[l.to] else {
                let unknown = index[l.from] == nil ? l.from : l.to
                problems.append(TopologyProblem(where: "link \(i) (\(l.from) → \(l.to))",
                    message: "unknown vertex '\(unknown)'; list it under \"ranks\" or \"switches\""))
                continue
            }
            if f == t {
                problems.append(TopologyProblem(where: "link \(i) (\(l.from) → \(l.to))",
                    message: "a link from a vertex to itself carries nothing; remove it"))
                continue
            }
            resolved.append(Link(from: VertexID(f), to: VertexID(t), bandwidth: l.bandwidth, latencyMicroseconds: l.latency))
        }
        if ranks.isEmpty {
            problems.append(TopologyProblem(where: "ranks", message: "the fabric has no ranks; list at least one under \"ranks\""))
        }
        return (resolved, problems)
    }

    /// Builds a fabric from resolved vertex indices (used by generators and the loader).
    public init(validatedName name: String, description: String?, vertexNames: [String], rankCount: Int, links: [Link]) throws(TopologyError) {
        self.name = name
        self.description = description
        self.vertexNames = vertexNames
        self.rankCount = rankCount
        var merged: [Int: Link] = [:]
        let n = vertexNames.count
        for l in links {
            let key = l.from.rawValue * n + l.to.rawValue
            if var m = merged[key] {
                m.bandwidth = m.bandwidth + l.bandwidth
                if let a = l.latencyMicroseconds { m.latencyMicroseconds = max(m.latencyMicroseconds ?? a, a) }
                merged[key] = m
            } else {
                merged[key] = l
            }
        }
        self.links = merged.keys.sorted().map { merged[$0]! }
        let problems = structuralProblems()
        if !problems.isEmpty { throw .invalid(problems) }
    }

    public func outLinks(of v: VertexID) -> [Link] { links.filter { $0.from == v } }

    /// Sum of bandwidths leaving and entering each vertex.
    public func capacities() -> (out: [Rational], in: [Rational]) {
        var out = Array(repeating: Rational.zero, count: vertexCount)
        var inn = out
        for l in links {
            out[l.from.rawValue] = out[l.from.rawValue] + l.bandwidth.gigabytesPerSecond
            inn[l.to.rawValue] = inn[l.to.rawValue] + l.bandwidth.gigabytesPerSecond
        }
        return (out, inn)
    }

    /// Switches whose in-capacity differs from their out-capacity. A switch forwards each byte
    /// it receives once, so only the smaller side can carry trees through it; synthesis builds
    /// its forest on a balanced part of the fabric and reports the cut bound with the excess
    /// beside the rate of that part. O(V + E).
    public func switchImbalances() -> [(switch: VertexID, in: Rational, out: Rational)] {
        let (out, inn) = capacities()
        return switches.filter { out[$0.rawValue] != inn[$0.rawValue] }.map { ($0, inn[$0.rawValue], out[$0.rawValue]) }
    }

    /// Reachability. O(V + E) for the two searches from rank 0.
    private func structuralProblems() -> [TopologyProblem] {
        var problems: [TopologyProblem] = []
        for l in links where !l.bandwidth.isRepresentable {
            problems.append(TopologyProblem(where: "link \(name(of: l.from)) → \(name(of: l.to))",
                message: "bandwidth \(l.bandwidth.gigabytesPerSecond.decimalString) GB/s (parallel links summed) is not a whole number of kB/s between 1 kB/s and 10^6 GB/s"))
        }
        // Sums below are safe only over representable bandwidths.
        guard problems.isEmpty else { return problems }
        guard rankCount > 1 else { return problems }
        let forward = reachable(from: VertexID(0), reverse: false)
        if let b = ranks.first(where: { !forward[$0.rawValue] }) {
            problems.append(TopologyProblem(where: "rank '\(name(of: b.vertex))'",
                message: "rank '\(name(of: VertexID(0)))' cannot reach rank '\(name(of: b.vertex))'; add a link path between them"))
        }
        let backward = reachable(from: VertexID(0), reverse: true)
        if let a = ranks.first(where: { !backward[$0.rawValue] }) {
            problems.append(TopologyProblem(where: "rank '\(name(of: a.vertex))'",
                message: "rank '\(name(of: a.vertex))' cannot reach rank '\(name(of: VertexID(0)))'; add a link path between them"))
        }
        return problems
    }

    /// The vertices reachable from `start` (against the links' direction if `reverse`) over the
    /// links whose index `uses` accepts. O(V + E).
    public func reachable(from start: VertexID, reverse: Bool, uses: (Int) -> Bool = { _ in true }) -> [Bool] {
        var adjacency = Array(repeating: [Int](), count: vertexCount)
        for (i, l) in links.enumerated() where uses(i) {
            if reverse { adjacency[l.to.rawValue].append(l.from.rawValue) } else { adjacency[l.from.rawValue].append(l.to.rawValue) }
        }
        var seen = Array(repeating: false, count: vertexCount)
        var stack = [start.rawValue]
        seen[start.rawValue] = true
        while let v = stack.popLast() {
            for w in adjacency[v] where !seen[w] { seen[w] = true; stack.append(w) }
        }
        return seen
    }

    /// A stable 64-bit FNV-1a hash of the fabric's graph (names, rank order, links), printed as
    /// 16 hex digits. Schedules carry it so a runtime can refuse one made for another fabric.
    public var hash: String {
        var h: UInt64 = 0xcbf29ce484222325
        func mix(_ s: String) {
            for b in s.utf8 { h ^= UInt64(b); h = h &* 0x100000001b3 }
            h ^= 0xff; h = h &* 0x100000001b3
        }
        mix("\(rankCount)")
        vertexNames.forEach(mix)
        for l in links { mix("\(l.from.rawValue)>\(l.to.rawValue)=\(l.bandwidth.gigabytesPerSecond)") }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// One thing wrong with a topology, with where it is.
public struct TopologyProblem: Sendable, Equatable, CustomStringConvertible {
    public var `where`: String
    public var message: String
    public init(where: String, message: String) { self.where = `where`; self.message = message }
    public var description: String { "\(self.where): \(message)" }
}

public enum TopologyError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid([TopologyProblem])
    case syntax(JSONSyntaxError)
    case unreadable(String)

    public var description: String {
        switch self {
        case .invalid(let p): return p.map(\.description).joined(separator: "\n")
        case .syntax(let e): return "\(e.position.line):\(e.position.column): \(e.message)"
        case .unreadable(let m): return m
        }
    }
}

extension Fabric {
    /// The same fabric with every link reversed: reduce-scatter on a fabric is allgather on its
    /// transpose with the trees turned around.
    public func transposed() -> Fabric {
        let reversed = links.map { Link(from: $0.to, to: $0.from, bandwidth: $0.bandwidth, latencyMicroseconds: $0.latencyMicroseconds) }
        // Reversal keeps names, balance and mutual reachability, so validation cannot fail.
        return try! Fabric(validatedName: name, description: description, vertexNames: vertexNames,
                           rankCount: rankCount, links: reversed)
    }
}
