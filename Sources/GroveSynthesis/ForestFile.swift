import GroveTopology

/// The JSON of a forest's phases, embedded in schedule files under "forest": per phase the
/// direction, trees per root, rate and bottleneck, and every tree with its arcs, switch paths
/// and multiplicities. A tree's weight (multiplicity / trees_per_root) is the fraction of its
/// root's shard it carries; a route's amount is in the same units as the multiplicity.
public enum ForestFile {
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
