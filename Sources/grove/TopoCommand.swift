import ArgumentParser
import Foundation
import GroveTopology

struct Topo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topo",
        abstract: "Generate, inspect and draw topology files.",
        discussion: """
        A topology file is Grove JSON, version 1:

          {"name": "pair", "ranks": ["g0", "g1"], "switches": [],
           "links": [{"from": "g0", "to": "g1", "bandwidth": 25, "bidirectional": true}]}

        bandwidth is GB/s (10^9 bytes/s) in the link's direction; latency (µs) is optional; \
        parallel links add up. A switch whose in- and out-capacity differ forwards only the smaller: \
        `grove synth` builds on the balanced part and prints the bound with and without the excess.
        """,
        subcommands: [Generate.self, Show.self, Dot.self, Expand.self]
    )
}

extension Topo {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a standard fabric as Grove JSON.",
            discussion: """
            Kinds and the options they use:
              dgx-a100, dgx-h100, mi250  --boxes
              dgx-mixed                  --a100-boxes --boxes (H100)
              ring, biring, star         --ranks --bandwidth
              torus                      --rows --cols --bandwidth
              leaf-spine                 --leaves --hosts-per-leaf --spines
                                         --bandwidth --uplink
              cloud                      --nics --gpus-per-host --local
              cloud (two tiers)          --hosts --ranks-per-host --nics --local
                                         --hosts-per-tor --spines
                                         --oversubscription

            A two-tier cloud takes --nics and --ranks-per-host in turn per host.
            1500 ranks on hosts of 1, 2, 4 and 8 GPUs with 100/200/400 Gb/s NICs,
            16 hosts per ToR, 4 spines, 3:1 oversubscribed:
              grove topo generate cloud --hosts 400 --ranks-per-host 1,2,4,8 \\
                --nics 12.5,25,50 --hosts-per-tor 16 --spines 4 \\
                --oversubscription 3 -o cloud-1500.json
            """
        )
        @Argument(help: "dgx-a100 | dgx-h100 | dgx-mixed | mi250 | ring | biring | star | torus | leaf-spine | cloud")
        var kind: String
        @Option(help: "Boxes (DGX, MI250; the H100 boxes of dgx-mixed).") var boxes = 1
        @Option(help: "Ranks (ring, biring, star).") var ranks = 8
        @Option(help: "Link or NIC bandwidth, GB/s.") var bandwidth = "25"
        @Option(help: "Torus rows.") var rows = 4
        @Option(help: "Torus columns.") var cols = 4
        @Option(help: "Leaf switches (leaf-spine).") var leaves = 4
        @Option(help: "Ranks per leaf (leaf-spine).") var hostsPerLeaf = 4
        @Option(help: "Spine switches (leaf-spine, cloud cluster).") var spines = 2
        @Option(help: "Leaf-to-spine uplink bandwidth, GB/s (leaf-spine).") var uplink = "25"
        @Option(help: "Comma-separated host NIC bandwidths, GB/s (cloud).") var nics = "12.5,25,25,50"
        @Option(help: "GPUs per host (cloud).") var gpusPerHost = 2
        @Option(help: "DGX A100 boxes beside the --boxes DGX H100 ones (dgx-mixed).") var a100Boxes = 1
        @Option(help: "Hosts (cloud cluster; NIC bandwidths and rank counts cycle over them).") var hosts: Int?
        @Option(help: "Comma-separated ranks per host, taken in turn (cloud cluster; default --gpus-per-host).") var ranksPerHost: String?
        @Option(help: "Hosts per top-of-rack switch (cloud cluster; default all on one).") var hostsPerTor: Int?
        @Option(help: "ToR uplink total : host NIC total under it, as N for N:1 (cloud cluster).") var oversubscription = "1"
        @Option(help: "GPU-to-host-switch bandwidth, GB/s (cloud).") var local = "32"
        @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

        func number(_ text: String, _ flag: String) throws -> Rational {
            // Read as a file's bandwidth is: rounded to 1 kB/s, within 1 kB/s … 10^6 GB/s.
            guard case .value(let b, _) = Bandwidth.reading(literal: text) else {
                throw UserError("--\(flag) \(text): expected a number of GB/s from 0.000001 to 1000000")
            }
            return b.gigabytesPerSecond
        }

        func count(_ value: Int, _ flag: String, min: Int) throws -> Int {
            guard value >= min else { throw UserError("--\(flag) \(value): must be at least \(min)") }
            return value
        }

        func run() throws {
            try reportingErrors {
                let fabric: Fabric
                do {
                    switch kind {
                    case "dgx-a100": fabric = try FabricGenerator.dgxA100(boxes: count(boxes, "boxes", min: 1))
                    case "dgx-h100": fabric = try FabricGenerator.dgxH100(boxes: count(boxes, "boxes", min: 1))
                    case "mi250": fabric = try FabricGenerator.mi250(boxes: count(boxes, "boxes", min: 1))
                    case "dgx-mixed":
                        fabric = try FabricGenerator.dgxMixed(a100: count(a100Boxes, "a100-boxes", min: 0), h100: count(boxes, "boxes", min: 0))
                        guard fabric.rankCount > 8 else { throw UserError("dgx-mixed: give --a100-boxes and --boxes (H100) adding up to 2 or more") }
                    case "ring", "biring":
                        fabric = try FabricGenerator.ring(ranks: count(ranks, "ranks", min: 2), bandwidth: number(bandwidth, "bandwidth"), bidirectional: kind == "biring")
                    case "star": fabric = try FabricGenerator.star(ranks: count(ranks, "ranks", min: 2), bandwidth: number(bandwidth, "bandwidth"))
                    case "torus":
                        fabric = try FabricGenerator.torus(rows: count(rows, "rows", min: 1), cols: count(cols, "cols", min: 2), bandwidth: number(bandwidth, "bandwidth"))
                    case "leaf-spine":
                        fabric = try FabricGenerator.leafSpine(leaves: count(leaves, "leaves", min: 1), hostsPerLeaf: count(hostsPerLeaf, "hosts-per-leaf", min: 1),
                                                               spines: count(spines, "spines", min: 1), nic: number(bandwidth, "bandwidth"), uplink: number(uplink, "uplink"))
                    case "cloud":
                        let speeds = try nics.split(separator: ",").map { try number(String($0), "nics") }
                        guard !speeds.isEmpty else { throw UserError("--nics: give at least one bandwidth") }
                        if hosts == nil && ranksPerHost == nil && hostsPerTor == nil {
                            fabric = try FabricGenerator.cloud(nics: speeds, gpusPerHost: count(gpusPerHost, "gpus-per-host", min: 1), local: number(local, "local"))
                            break
                        }
                        let counts = try (ranksPerHost ?? "\(gpusPerHost)").split(separator: ",").map { text in
                            guard let n = Int(text), (1...1024).contains(n) else { throw UserError("--ranks-per-host: '\(text)' is not a rank count from 1 to 1024") }
                            return n
                        }
                        guard !counts.isEmpty else { throw UserError("--ranks-per-host: give at least one rank count") }
                        let h = try count(hosts ?? speeds.count, "hosts", min: 1)
                        guard h <= 1 << 16 else { throw UserError("--hosts \(h): at most 65536") }
                        guard let ratio = Rational(decimalLiteral: oversubscription), ratio >= Rational(1, 1000), ratio <= Rational(1000) else {
                            throw UserError("--oversubscription \(oversubscription): give N for N:1, a number from 0.001 to 1000")
                        }
                        fabric = try FabricGenerator.cloudCluster(hosts: h, ranksPerHost: counts, nics: speeds, local: number(local, "local"),
                                                                  hostsPerTor: count(hostsPerTor ?? h, "hosts-per-tor", min: 1),
                                                                  spines: count(spines, "spines", min: 1), oversubscription: ratio)
                    default:
                        throw UserError("unknown fabric kind '\(kind)'; see `grove topo generate --help` for the kinds")
                    }
                } catch let e as TopologyError {
                    throw UserError("generated fabric is invalid: \(e)")
                }
                try writeOutput(TopologyFile.write(fabric), to: output)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Summarize a topology: ranks, switches, link classes, bandwidth per rank.")
        @Argument(help: "Topology file (Grove JSON).") var topology: String

        func run() throws {
            try reportingErrors {
                let f = try loadFabric(topology)
                print("fabric    \(f.name)")
                if let d = f.description { print("about     \(d)") }
                print("hash      \(f.hash)")
                print("vertices  \(f.rankCount) ranks, \(f.switchCount) switches, \(f.links.count) directed links")
                print("\nlink classes")
                var classes: [String: (count: Int, bw: Rational)] = [:]
                for l in f.links {
                    let kind = "\(f.isRank(l.from) ? "rank" : "switch") → \(f.isRank(l.to) ? "rank" : "switch")"
                    let key = "\(kind) @ \(l.bandwidth)"
                    classes[key, default: (0, l.bandwidth.gigabytesPerSecond)].count += 1
                }
                for (key, v) in classes.sorted(by: { $0.key < $1.key }) { print("  \(v.count) × \(key)") }
                let (out, inn) = f.capacities()
                var groups: [String: [String]] = [:]
                for r in f.ranks {
                    groups["out \(out[r.rawValue].decimalString) GB/s, in \(inn[r.rawValue].decimalString) GB/s", default: []].append(f.name(of: r.vertex))
                }
                print("\nbandwidth per rank")
                for (key, names) in groups.sorted(by: { $0.key < $1.key }) {
                    let list = names.count <= 4 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + ", … (\(names.count) ranks)"
                    print("  \(key): \(list)")
                }
                let uneven = f.switchImbalances()
                if !uneven.isEmpty {
                    print("\nunbalanced switches (only the smaller side can be forwarded)")
                    for u in uneven.prefix(8) {
                        print("  \(f.name(of: u.switch)): in \(u.in.decimalString) GB/s, out \(u.out.decimalString) GB/s")
                    }
                    if uneven.count > 8 { print("  … (\(uneven.count) switches)") }
                }
            }
        }
    }

    struct Dot: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the topology as Graphviz DOT (render with `dot -Tsvg`).")
        @Argument(help: "Topology file (Grove JSON).") var topology: String
        @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

        func run() throws {
            try reportingErrors {
                let f = try loadFabric(topology)
                var out = "digraph \(TopologyFile.quote(f.name)) {\n  graph [overlap=false, splines=true];\n"
                for r in f.ranks { out += "  \(TopologyFile.quote(f.name(of: r.vertex))) [shape=box, style=filled, fillcolor=\"#d8ecd0\"];\n" }
                for s in f.switches { out += "  \(TopologyFile.quote(f.name(of: s))) [shape=ellipse, style=filled, fillcolor=\"#dde3f0\"];\n" }
                var seen = Set<Int>()
                let n = f.vertexCount
                let byPair = Dictionary(uniqueKeysWithValues: f.links.map { ($0.from.rawValue * n + $0.to.rawValue, $0) })
                for l in f.links {
                    let key = l.from.rawValue * n + l.to.rawValue
                    guard !seen.contains(key) else { continue }
                    let reverse = byPair[l.to.rawValue * n + l.from.rawValue]
                    let both = reverse?.bandwidth == l.bandwidth
                    if both { seen.insert(l.to.rawValue * n + l.from.rawValue) }
                    out += "  \(TopologyFile.quote(f.name(of: l.from))) -> \(TopologyFile.quote(f.name(of: l.to))) [label=\"\(l.bandwidth.gigabytesPerSecond.decimalString)\"\(both ? ", dir=both" : "")];\n"
                }
                out += "}\n"
                try writeOutput(out, to: output)
            }
        }
    }

    struct Expand: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the topology in the minimal Grove JSON form (parallel links merged).")
        @Argument(help: "Topology file (Grove JSON).") var topology: String

        func run() throws {
            try reportingErrors { try writeOutput(TopologyFile.write(try loadFabric(topology)), to: nil) }
        }
    }
}
