/// Grove JSON topology files, version 1:
///
/// ```json
/// {"name": "two-gpus", "ranks": ["g0", "g1"], "switches": [],
///  "links": [{"from": "g0", "to": "g1", "bandwidth": 25, "bidirectional": true}]}
/// ```
///
/// Reading is pure (text in, `Fabric` out); the CLI does the file I/O.
public enum TopologyFile {
    public struct Parsed: Sendable {
        public var fabric: Fabric
        /// Things that are not errors but that the user probably did not mean (unknown keys).
        public var warnings: [TopologyProblem]
        /// Links whose bandwidth literal was rounded to the 1 kB/s resolution (see
        /// `Bandwidth.reading(literal:)`); the bound is exact for the rounded fabric.
        public var roundedLinks: [String]
    }

    /// The largest topology file read (64 MiB): a 16 000-GPU fabric takes about 20 MB, and
    /// the reader holds about 20 bytes of tree per byte of JSON.
    public static let maxBytes = 64 << 20

    /// Why a file of `bytes` is not read, or nil if it may be.
    public static func sizeProblem(bytes: Int) -> String? {
        bytes > maxBytes ? "\(bytes) bytes is larger than a topology file Grove reads (\(maxBytes >> 20) MiB)" : nil
    }

    static let topKeys: Set<String> = ["name", "description", "version", "ranks", "switches", "links"]
    static let linkKeys: Set<String> = ["from", "to", "bandwidth", "latency", "bidirectional", "comment"]

    /// Parses and validates a Grove JSON topology. Every problem found is reported, one per line.
    public static func parse(_ text: String) throws(TopologyError) -> Parsed {
        let root: JSONNode
        do { root = try JSONReader.parse(text) } catch { throw .syntax(error) }
        guard case .object(let members) = root.value else {
            throw .invalid([TopologyProblem(where: "top level", message: "expected a JSON object, found \(root.value.kindName)")])
        }
        var problems: [TopologyProblem] = []
        var warnings: [TopologyProblem] = []
        var roundedLinks: [String] = []
        var fields: [String: JSONNode] = [:]
        for m in members {
            if !topKeys.contains(m.key) {
                warnings.append(TopologyProblem(where: "\(m.keyPosition)", message: "unknown key '\(m.key)' ignored (known: \(topKeys.sorted().joined(separator: ", ")))"))
            }
            if fields[m.key] != nil {
                problems.append(TopologyProblem(where: "\(m.keyPosition)", message: "key '\(m.key)' appears twice"))
            }
            fields[m.key] = m.value
        }
        func stringList(_ key: String, required: Bool) -> [String] {
            guard let node = fields[key] else {
                if required { problems.append(TopologyProblem(where: "top level", message: "missing \"\(key)\", a list of vertex names")) }
                return []
            }
            guard case .array(let items) = node.value else {
                problems.append(TopologyProblem(where: "\"\(key)\" at \(node.position)", message: "expected a list of names, found \(node.value.kindName)"))
                return []
            }
            return items.compactMap { item in
                guard case .string(let s) = item.value, !s.isEmpty else {
                    problems.append(TopologyProblem(where: "\"\(key)\" at \(item.position)", message: "expected a non-empty name string, found \(item.value.kindName)"))
                    return nil
                }
                return s
            }
        }
        var name = "unnamed"
        if let n = fields["name"] {
            if case .string(let s) = n.value { name = s } else {
                problems.append(TopologyProblem(where: "\"name\" at \(n.position)", message: "expected a string"))
            }
        }
        var description: String?
        if let d = fields["description"] {
            if case .string(let s) = d.value { description = s } else {
                problems.append(TopologyProblem(where: "\"description\" at \(d.position)", message: "expected a string"))
            }
        }
        if let v = fields["version"], !(v.value.isNumber("1")) {
            problems.append(TopologyProblem(where: "\"version\" at \(v.position)", message: "this Grove reads topology version 1 only"))
        }
        let ranks = stringList("ranks", required: true)
        let switches = stringList("switches", required: false)
        var links: [Fabric.NamedLink] = []
        if let node = fields["links"] {
            if case .array(let items) = node.value {
                for (i, item) in items.enumerated() {
                    if let l = parseLink(item, index: i, problems: &problems, warnings: &warnings, rounded: &roundedLinks) { links.append(contentsOf: l) }
                }
            } else {
                problems.append(TopologyProblem(where: "\"links\" at \(node.position)", message: "expected a list of link objects, found \(node.value.kindName)"))
            }
        } else {
            problems.append(TopologyProblem(where: "top level", message: "missing \"links\", a list of {\"from\", \"to\", \"bandwidth\"} objects"))
        }
        if !problems.isEmpty {
            // Report name and endpoint problems too; reachability and balance are left out since
            // they depend on the links that were just rejected.
            throw .invalid(problems + Fabric.resolve(ranks: ranks, switches: switches, links: links).problems)
        }
        let fabric = try Fabric(name: name, description: description, ranks: ranks, switches: switches, links: links)
        return Parsed(fabric: fabric, warnings: warnings, roundedLinks: roundedLinks)
    }

    private static func parseLink(_ item: JSONNode, index i: Int, problems: inout [TopologyProblem], warnings: inout [TopologyProblem],
                                  rounded quantized: inout [String])
        -> [Fabric.NamedLink]? {
        guard case .object(let members) = item.value else {
            problems.append(TopologyProblem(where: "link \(i) at \(item.position)", message: "expected an object with \"from\", \"to\", \"bandwidth\", found \(item.value.kindName)"))
            return nil
        }
        var f: [String: JSONNode] = [:]
        for m in members {
            if !linkKeys.contains(m.key) {
                warnings.append(TopologyProblem(where: "link \(i) at \(m.keyPosition)", message: "unknown key '\(m.key)' ignored (known: \(linkKeys.sorted().joined(separator: ", ")))"))
            }
            if f[m.key] != nil {
                problems.append(TopologyProblem(where: "link \(i) at \(m.keyPosition)", message: "key '\(m.key)' appears twice in one link; give it once"))
            }
            f[m.key] = m.value
        }
        func endpoint(_ key: String) -> String? {
            guard let n = f[key] else { return nil }
            if case .string(let s) = n.value { return s }
            return nil
        }
        guard let from = endpoint("from"), let to = endpoint("to") else {
            problems.append(TopologyProblem(where: "link \(i) at \(item.position)", message: "\"from\" and \"to\" must both be vertex names"))
            return nil
        }
        let label = "link \(i) (\(from) → \(to)) at \(item.position)"
        guard let bw = f["bandwidth"] else {
            problems.append(TopologyProblem(where: label, message: "missing \"bandwidth\" (GB/s)"))
            return nil
        }
        guard case .number(let bandwidthLiteral) = bw.value else {
            problems.append(TopologyProblem(where: label, message: "bandwidth is \(bw.value.kindName), not a number; give GB/s as a number such as 25 or 12.5"))
            return nil
        }
        let value: Bandwidth
        // A literal of a million digits is quoted by its start and length, not in full.
        let literal = bandwidthLiteral.count <= 32 ? bandwidthLiteral : "\(bandwidthLiteral.prefix(24))… (\(bandwidthLiteral.count) characters)"
        switch Bandwidth.reading(literal: bandwidthLiteral) {
        case .value(let v, let exact):
            value = v
            if !exact { quantized.append(label) }
        case .notANumber:
            problems.append(TopologyProblem(where: label, message: "bandwidth \(literal) is not a finite number; give GB/s as a number such as 25 or 12.5"))
            return nil
        case .zero:
            problems.append(TopologyProblem(where: label, message: "bandwidth is zero; remove the link or give its speed in GB/s"))
            return nil
        case .negative:
            problems.append(TopologyProblem(where: label, message: "bandwidth \(literal) is negative; give its speed in GB/s (use two links for two directions)"))
            return nil
        case .belowResolution:
            problems.append(TopologyProblem(where: label, message: "bandwidth \(literal) GB/s is below Grove's resolution of 1 kB/s (0.000001 GB/s); bandwidth is in GB/s"))
            return nil
        case .aboveMaximum:
            problems.append(TopologyProblem(where: label, message: "bandwidth \(literal) GB/s is above Grove's maximum of 10^6 GB/s (1 PB/s); bandwidth is in GB/s"))
            return nil
        }
        var latency: Double?
        if let l = f["latency"] {
            guard case .number(let lit) = l.value, let r = Rational(decimalLiteral: lit), r >= .zero else {
                problems.append(TopologyProblem(where: label, message: "latency must be a non-negative number of microseconds"))
                return nil
            }
            latency = r.doubleValue
        }
        var bidirectional = false
        if let b = f["bidirectional"] {
            guard case .bool(let v) = b.value else {
                problems.append(TopologyProblem(where: label, message: "\"bidirectional\" must be true or false"))
                return nil
            }
            bidirectional = v
        }
        let forward = (from: from, to: to, bandwidth: value, latency: latency)
        return bidirectional ? [forward, (from: to, to: from, bandwidth: forward.bandwidth, latency: latency)] : [forward]
    }

    /// Writes a fabric as Grove JSON version 1, one link per line. A pair of opposite links with
    /// the same bandwidth and latency is written once with `"bidirectional": true`.
    public static func write(_ fabric: Fabric) -> String {
        var out = "{\n  \"version\": 1,\n  \"name\": \(quote(fabric.name)),\n"
        if let d = fabric.description { out += "  \"description\": \(quote(d)),\n" }
        let names = fabric.vertexNames
        out += "  \"ranks\": [" + names[0..<fabric.rankCount].map(quote).joined(separator: ", ") + "],\n"
        out += "  \"switches\": [" + names[fabric.rankCount...].map(quote).joined(separator: ", ") + "],\n"
        var byPair: [Int: Link] = [:]
        let n = fabric.vertexCount
        for l in fabric.links { byPair[l.from.rawValue * n + l.to.rawValue] = l }
        var lines: [String] = []
        for l in fabric.links {
            let reverse = byPair[l.to.rawValue * n + l.from.rawValue]
            let paired = reverse.map { $0.bandwidth == l.bandwidth && $0.latencyMicroseconds == l.latencyMicroseconds } ?? false
            if paired && l.from > l.to { continue }
            var s = "    {\"from\": \(quote(names[l.from.rawValue])), \"to\": \(quote(names[l.to.rawValue])), \"bandwidth\": \(l.bandwidth.gigabytesPerSecond.decimalString)"
            if let lat = l.latencyMicroseconds { s += ", \"latency\": \(Rational.shortDecimal(lat))" }
            if paired { s += ", \"bidirectional\": true" }
            lines.append(s + "}")
        }
        out += "  \"links\": [\n" + lines.joined(separator: ",\n") + "\n  ]\n}\n"
        return out
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension JSONValue {
    func isNumber(_ literal: String) -> Bool {
        if case .number(let l) = self { return Rational(decimalLiteral: l) == Rational(decimalLiteral: literal) }
        return false
    }
}

extension Rational {
    /// Prints a Double with at most 6 decimals and no trailing zeros.
    public static func shortDecimal(_ v: Double) -> String {
        var s = String(format: "%.6f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
