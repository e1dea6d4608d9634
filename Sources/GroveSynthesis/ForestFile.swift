import GroveTopology

/// Writes a synthesis result as versioned JSON (format "grove-forest", version 1):
/// the fabric's name and hash, the collective, bound and achieved algbw (exact fraction and
/// decimal), and per phase the trees with their arcs, switch paths and multiplicities. A tree's
/// weight (multiplicity / trees_per_root) is the fraction of its root's shard it carries; a
/// route's amount is in the same units as the multiplicity.
public enum ForestFile {
    public static func write(_ s: Synthesis, fabric: Fabric) -> String {
        let q = TopologyFile.quote
        var out = "{\n"
        out += "  \"format\": \"grove-forest\",\n  \"version\": 1,\n"
        out += "  \"fabric\": \(q(fabric.name)),\n  \"fabric_hash\": \(q(fabric.hash)),\n"
        out += "  \"ranks\": \(fabric.rankCount),\n"
        out += "  \"collective\": \(q(s.collective.rawValue)),\n"
        if let r = s.root { out += "  \"root\": \(r.rawValue),\n" }
        out += "  \"bound_algbw\": {\"exact\": \(q(s.boundAlgbw.description)), \"gbps\": \(s.boundAlgbw.decimalString)},\n"
        out += "  \"algbw\": {\"exact\": \(q(s.achievedAlgbw.description)), \"gbps\": \(s.achievedAlgbw.decimalString)},\n"
        out += "  \"phases\": [\n"
        out += s.forests.map { phase($0, fabric: fabric) }.joined(separator: ",\n")
        out += "\n  ]\n}\n"
        return out
    }

    public static func phase(_ f: Forest, fabric: Fabric) -> String {
        let q = TopologyFile.quote
        var out = "    {\n"
        out += "      \"direction\": \(q(f.direction.rawValue)),\n"
        out += "      \"trees_per_root\": \(f.treesPerRoot),\n"
        out += "      \"rate_per_root\": {\"exact\": \(q(f.bound.perRoot.description)), \"gbps\": \(f.bound.perRoot.decimalString)},\n"
        out += "      \"bottleneck\": [" + f.bound.bottleneck.map { q(fabric.name(of: $0)) }.joined(separator: ", ") + "],\n"
        out += "      \"trees\": [\n"
        out += f.trees.map { t in
            let arcs = t.arcs.map { a in
                let routes = a.routes.map { r in
                    "{\"via\": [" + r.switches.map { q(fabric.name(of: $0)) }.joined(separator: ", ") + "], \"amount\": \(r.amount)}"
                }.joined(separator: ", ")
                return "          {\"from\": \(a.from.rawValue), \"to\": \(a.to.rawValue), \"routes\": [\(routes)]}"
            }.joined(separator: ",\n")
            let weight = Rational(t.multiplicity, f.treesPerRoot)
            return "        {\"root\": \(t.root.rawValue), \"multiplicity\": \(t.multiplicity), \"weight\": \(q(weight.description)), \"arcs\": [\n\(arcs)\n        ]}"
        }.joined(separator: ",\n")
        out += "\n      ]\n    }"
        return out
    }
}
