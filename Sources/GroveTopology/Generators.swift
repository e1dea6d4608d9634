/// Generators for standard fabrics. Each returns a validated `Fabric` whose `description` says
/// where its numbers come from. Bandwidths are GB/s each way.
public enum FabricGenerator {
    /// Builder that names vertices and adds links in both directions.
    struct Builder {
        var ranks: [String] = []
        var switches: [String] = []
        var links: [(String, String, Rational)] = []
        mutating func both(_ a: String, _ b: String, _ bw: Rational) { links.append((a, b, bw)); links.append((b, a, bw)) }
        mutating func one(_ a: String, _ b: String, _ bw: Rational) { links.append((a, b, bw)) }
        func build(_ name: String, _ description: String) throws(TopologyError) -> Fabric {
            try Fabric(name: name, description: description, ranks: ranks, switches: switches,
                       links: links.map { (from: $0.0, to: $0.1, bandwidth: Bandwidth(gigabytesPerSecond: $0.2), latency: nil) })
        }
    }

    /// NVIDIA DGX boxes: 8 GPUs on an NVSwitch, one NIC per GPU into a per-rail InfiniBand switch.
    public static func dgx(boxes: Int, nvlink: Rational, nic: Rational, model: String) throws(TopologyError) -> Fabric {
        let desc = "\(boxes)× NVIDIA DGX \(model): 8 GPUs per box, each with \(nvlink.decimalString) GB/s each way into the box's NVSwitch fabric "
            + "(modelled as one switch)" + (boxes > 1 ? "; one \(nic.decimalString) GB/s NIC per GPU (\(Int(nic.doubleValue * 8)) Gb/s) into a rail InfiniBand switch shared by GPU i of every box (rail-optimized fabric, one switch per rail)" : "")
            + ". Figures: NVIDIA DGX \(model) system architecture documents."
        return try dgxBoxes(Array(repeating: (nvlink, nic), count: boxes), name: "dgx-\(model.lowercased())-\(boxes)", description: desc)
    }

    /// DGX boxes of any mix on one rail-optimized fabric: box n has 8 GPUs at `boxes[n].nvlink`
    /// into its NVSwitch and `boxes[n].nic` into rail switch i for GPU i.
    static func dgxBoxes(_ boxes: [(nvlink: Rational, nic: Rational)], name: String, description: String) throws(TopologyError) -> Fabric {
        var b = Builder()
        for (n, box) in boxes.enumerated() {
            let nvs = "n\(n).nvswitch"
            b.switches.append(nvs)
            for g in 0..<8 {
                let gpu = "n\(n).gpu\(g)"
                b.ranks.append(gpu)
                b.both(gpu, nvs, box.nvlink)
                if boxes.count > 1 { b.both(gpu, "ib.rail\(g)", box.nic) }
            }
        }
        if boxes.count > 1 { b.switches += (0..<8).map { "ib.rail\($0)" } }
        return try b.build(name, description)
    }

    /// A100 boxes then H100 boxes on shared rails (a cluster extended with a newer generation):
    /// 300 GB/s NVLink and 25 GB/s NICs, 450 and 50.
    public static func dgxMixed(a100: Int, h100: Int) throws(TopologyError) -> Fabric {
        let boxes = Array(repeating: (Rational(300), Rational(25)), count: a100) + Array(repeating: (Rational(450), Rational(50)), count: h100)
        let desc = "\(a100)× NVIDIA DGX A100 (300 GB/s NVLink, 25 GB/s NIC per GPU) and \(h100)× DGX H100 (450 GB/s, 50 GB/s) on one "
            + "rail-optimized InfiniBand fabric, one rail switch per GPU index shared by every box. Figures: NVIDIA DGX system architecture documents."
        return try dgxBoxes(boxes, name: "dgx-mixed-\(a100)a\(h100)h", description: desc)
    }

    public static func dgxA100(boxes: Int) throws(TopologyError) -> Fabric {
        try dgx(boxes: boxes, nvlink: Rational(300), nic: Rational(25), model: "A100")
    }

    public static func dgxH100(boxes: Int) throws(TopologyError) -> Fabric {
        try dgx(boxes: boxes, nvlink: Rational(450), nic: Rational(50), model: "H100")
    }

    /// xGMI link counts between the 16 GCDs of an 8× MI250 box (each GCD has 7 links): the two GCDs
    /// of one package share 4 links; the rest join packages as AMD's MI250 platform diagram shows.
    static let mi250Wiring: [(Int, Int, Int)] = [
        (0, 1, 4), (2, 3, 4), (4, 5, 4), (6, 7, 4), (8, 9, 4), (10, 11, 4), (12, 13, 4), (14, 15, 4),
        (0, 4, 2), (3, 7, 2), (8, 12, 2), (11, 15, 2),
        (0, 8, 1), (1, 5, 1), (1, 9, 1), (1, 10, 1), (2, 6, 1), (2, 9, 1), (2, 10, 1), (3, 11, 1),
        (4, 6, 1), (5, 6, 1), (5, 7, 1), (9, 13, 1), (10, 14, 1), (12, 14, 1), (13, 14, 1), (13, 15, 1),
    ]

    /// AMD MI250 boxes: 16 GCDs joined by 50 GB/s xGMI links, one 16 GB/s NIC per GCD into one switch.
    public static func mi250(boxes: Int) throws(TopologyError) -> Fabric {
        var b = Builder()
        for n in 0..<boxes {
            for g in 0..<16 { b.ranks.append("n\(n).gcd\(g)") }
            for (x, y, count) in mi250Wiring { b.both("n\(n).gcd\(x)", "n\(n).gcd\(y)", Rational(50 * count)) }
            if boxes > 1 { for g in 0..<16 { b.both("n\(n).gcd\(g)", "ib", Rational(16)) } }
        }
        if boxes > 1 { b.switches.append("ib") }
        let desc = "\(boxes)× AMD MI250 box: 16 GCDs (8 packages of 2), 50 GB/s per xGMI link each way, 7 links per GCD "
            + "(4 between the two GCDs of a package)" + (boxes > 1 ? "; one 16 GB/s NIC per GCD (128 Gb/s) into one InfiniBand switch" : "")
            + ". Figures: AMD Instinct MI250 platform topology."
        return try b.build("mi250-\(boxes)", desc)
    }

    /// A ring of `ranks` with links i→i+1 (and i+1→i when `bidirectional`).
    public static func ring(ranks n: Int, bandwidth: Rational, bidirectional: Bool) throws(TopologyError) -> Fabric {
        var b = Builder()
        b.ranks = (0..<n).map { "r\($0)" }
        for i in 0..<n {
            if bidirectional { b.both("r\(i)", "r\((i + 1) % n)", bandwidth) } else { b.one("r\(i)", "r\((i + 1) % n)", bandwidth) }
        }
        let kind = bidirectional ? "bidirectional" : "unidirectional"
        return try b.build("ring-\(bidirectional ? "bi" : "uni")-\(n)",
                           "\(kind) ring of \(n) ranks, \(bandwidth.decimalString) GB/s per link (textbook fabric; closed-form allgather algbw \(bidirectional ? "2·" : "")N·b/(N−1))")
    }

    /// A rows×cols 2D torus with bidirectional links (wrap-around in both dimensions).
    public static func torus(rows: Int, cols: Int, bandwidth: Rational) throws(TopologyError) -> Fabric {
        var b = Builder()
        func name(_ r: Int, _ c: Int) -> String { "r\(r)c\(c)" }
        for r in 0..<rows { for c in 0..<cols { b.ranks.append(name(r, c)) } }
        for r in 0..<rows {
            for c in 0..<cols {
                if cols > 2 || c == 0 { b.both(name(r, c), name(r, (c + 1) % cols), bandwidth) }
                if rows > 2 || r == 0 { b.both(name(r, c), name((r + 1) % rows, c), bandwidth) }
            }
        }
        return try b.build("torus-\(rows)x\(cols)", "\(rows)×\(cols) 2D torus, \(bandwidth.decimalString) GB/s per link each way (TPU-style direct-connect fabric)")
    }

    /// `n` ranks on one switch, each with a NIC of `bandwidth` each way.
    public static func star(ranks n: Int, bandwidth: Rational) throws(TopologyError) -> Fabric {
        var b = Builder()
        b.switches = ["switch"]
        for i in 0..<n { b.ranks.append("r\(i)"); b.both("r\(i)", "switch", bandwidth) }
        return try b.build("star-\(n)", "\(n) ranks on one non-blocking switch, \(bandwidth.decimalString) GB/s NIC each (closed form allgather algbw N·b/(N−1))")
    }

    /// A two-level leaf-spine (Clos) fabric: `hostsPerLeaf` ranks with NIC `nic` per leaf, every
    /// leaf with one uplink of `uplink` to each spine. Oversubscription = hostsPerLeaf·nic / (spines·uplink).
    public static func leafSpine(leaves: Int, hostsPerLeaf: Int, spines: Int, nic: Rational, uplink: Rational) throws(TopologyError) -> Fabric {
        var b = Builder()
        for s in 0..<spines { b.switches.append("spine\(s)") }
        for l in 0..<leaves {
            b.switches.append("leaf\(l)")
            for h in 0..<hostsPerLeaf { b.ranks.append("l\(l)h\(h)"); b.both("l\(l)h\(h)", "leaf\(l)", nic) }
            for s in 0..<spines { b.both("leaf\(l)", "spine\(s)", uplink) }
        }
        let ratio = (Rational(hostsPerLeaf) * nic) / (Rational(spines) * uplink)
        return try b.build("leaf-spine-\(leaves)x\(hostsPerLeaf)",
            "leaf-spine Clos: \(leaves) leaves × \(hostsPerLeaf) hosts (NIC \(nic.decimalString) GB/s), \(spines) spines, uplinks \(uplink.decimalString) GB/s; oversubscription \(ratio.decimalString):1 (typical Ethernet AI cluster; 25 GB/s = 200 GbE)")
    }

    /// Cloud hosts with unequal NICs behind one top-of-rack switch; each host's GPUs share a
    /// PCIe switch at `local` GB/s per GPU.
    public static func cloud(nics: [Rational], gpusPerHost: Int, local: Rational) throws(TopologyError) -> Fabric {
        var b = Builder()
        b.switches.append("tor")
        for (h, nic) in nics.enumerated() {
            let pcie = "h\(h).pcie"
            b.switches.append(pcie)
            for g in 0..<gpusPerHost { b.ranks.append("h\(h).gpu\(g)"); b.both("h\(h).gpu\(g)", pcie, local) }
            b.both(pcie, "tor", nic)
        }
        let speeds = nics.map { "\($0.decimalString)" }.joined(separator: ", ")
        return try b.build("cloud-hetero-\(nics.count)x\(gpusPerHost)",
            "heterogeneous cloud cluster: \(nics.count) hosts of \(gpusPerHost) GPUs on a PCIe switch (\(local.decimalString) GB/s per GPU, PCIe 4.0 x16), host NICs of \(speeds) GB/s (100/200/400 Gb/s instance types) into one top-of-rack switch")
    }

    /// A heterogeneous cloud cluster in two switch tiers: `hosts` hosts, host h with
    /// `ranksPerHost[h mod count]` ranks on a PCIe switch (`local` GB/s per rank) and a NIC of
    /// `nics[h mod count]` GB/s into its top-of-rack switch; `hostsPerTor` hosts per ToR; every
    /// ToR with one uplink to each of `spines` spine switches, together carrying the ToR's NIC
    /// total divided by `oversubscription` (1: non-blocking; 3: 3:1). With one ToR there is no
    /// spine tier. Lists cycle independently, so lists of coprime lengths mix every combination.
    public static func cloudCluster(hosts: Int, ranksPerHost: [Int], nics: [Rational], local: Rational,
                                    hostsPerTor: Int, spines: Int, oversubscription: Rational) throws(TopologyError) -> Fabric {
        precondition(hosts >= 1 && !ranksPerHost.isEmpty && !nics.isEmpty && hostsPerTor >= 1 && spines >= 1 && oversubscription > .zero)
        var b = Builder()
        let tors = (hosts + hostsPerTor - 1) / hostsPerTor
        if tors > 1 { b.switches += (0..<spines).map { "spine\($0)" } }
        for t in 0..<tors {
            let tor = "tor\(t)"
            b.switches.append(tor)
            var down = Rational.zero
            for h in t * hostsPerTor ..< min(hosts, (t + 1) * hostsPerTor) {
                let pcie = "h\(h).pcie"
                b.switches.append(pcie)
                for g in 0..<ranksPerHost[h % ranksPerHost.count] { b.ranks.append("h\(h).gpu\(g)"); b.both("h\(h).gpu\(g)", pcie, local) }
                let nic = nics[h % nics.count]
                b.both(pcie, tor, nic)
                down = down + nic
            }
            if tors > 1 {
                // To 1 MB/s, down: a file states it exactly, and exact synthesis stays in 64 bits.
                let share = down / (oversubscription * Rational(spines))
                let milli = share * Rational(1000)
                let uplink = Rational(max(1, milli.numerator / milli.denominator), 1000)
                for sp in 0..<spines { b.both(tor, "spine\(sp)", uplink) }
            }
        }
        let speeds = nics.map(\.decimalString).joined(separator: ", ")
        let counts = ranksPerHost.map(String.init).joined(separator: ", ")
        return try b.build("cloud-\(hosts)h-\(b.ranks.count)r",
            "heterogeneous cloud cluster: \(hosts) hosts of \(counts) ranks in turn on a PCIe switch (\(local.decimalString) GB/s per rank), "
            + "host NICs of \(speeds) GB/s in turn; \(hostsPerTor) hosts per top-of-rack switch"
            + (tors > 1 ? ", each ToR with one uplink to each of \(spines) spines, \(oversubscription.decimalString):1 oversubscribed" : ""))
    }
}
