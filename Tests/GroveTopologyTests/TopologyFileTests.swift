import Testing
@testable import GroveTopology

/// Parses `text` expecting exactly one problem, and returns its line.
func singleProblem(_ text: String) -> String {
    do {
        _ = try TopologyFile.parse(text)
        Issue.record("expected the file to be rejected")
        return ""
    } catch {
        switch error {
        case .invalid(let problems):
            #expect(problems.count == 1, "problems: \(problems)")
            return problems.first?.description ?? ""
        case .syntax(let e): return "\(e.position.line):\(e.position.column): \(e.message)"
        case .unreadable(let m): return m
        }
    }
}

func fabricText(ranks: [String] = ["a", "b"], switches: [String] = [], links: [String]) -> String {
    let q = { (s: String) in "\"\(s)\"" }
    return "{\"name\": \"t\", \"ranks\": [\(ranks.map(q).joined(separator: ", "))], \"switches\": [\(switches.map(q).joined(separator: ", "))], \"links\": [\(links.joined(separator: ", "))]}"
}

@Suite struct TopologyFileTests {
    @Test func parsesTheReadmeExample() throws {
        let text = """
        {"name": "pair", "ranks": ["g0", "g1"], "switches": [],
         "links": [{"from": "g0", "to": "g1", "bandwidth": 25, "bidirectional": true}]}
        """
        let f = try TopologyFile.parse(text).fabric
        #expect(f.rankCount == 2)
        #expect(f.links.count == 2)
        #expect(f.links.allSatisfy { $0.bandwidth == Bandwidth(25) })
    }

    @Test func parallelLinksAddUpAndDecimalsStayExact() throws {
        let f = try TopologyFile.parse(fabricText(links: [
            #"{"from": "a", "to": "b", "bandwidth": 12.5}"#, #"{"from": "a", "to": "b", "bandwidth": 0.1}"#,
            #"{"from": "b", "to": "a", "bandwidth": 1e1, "latency": 2.5}"#,
        ])).fabric
        #expect(f.links.count == 2)
        #expect(f.links[0].bandwidth.gigabytesPerSecond == Rational(126, 10))
        #expect(f.links[1].bandwidth.gigabytesPerSecond == Rational(10))
        #expect(f.links[1].latencyMicroseconds == 2.5)
    }

    @Test func unknownVertexIsNamed() {
        let p = singleProblem(fabricText(links: [#"{"from": "a", "to": "zz", "bandwidth": 1}"#, #"{"from": "b", "to": "a", "bandwidth": 1}"#]))
        #expect(p.contains("unknown vertex 'zz'"))
        #expect(p.contains("link 0"))
    }

    @Test func duplicateNameIsNamed() {
        let p = singleProblem(fabricText(ranks: ["a", "b", "a"], links: [#"{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}"#]))
        #expect(p.contains("duplicate name 'a'"))
    }

    @Test func rankAndSwitchAtOnceIsNamed() {
        let p = singleProblem(fabricText(switches: ["b"], links: [#"{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}"#]))
        #expect(p.contains("'b' is listed both as a rank and as a switch"))
    }

    @Test(arguments: [
        ("0", "bandwidth is zero"),
        ("-3", "bandwidth -3 is negative"),
        ("NaN", "bandwidth NaN is not a finite number"),
        ("Infinity", "bandwidth Infinity is not a finite number"),
        ("\"fast\"", "bandwidth is a string, not a number"),
        ("null", "bandwidth is null, not a number"),
    ])
    func badBandwidthIsNamed(value: String, message: String) {
        let p = singleProblem(fabricText(links: [#"{"from": "a", "to": "b", "bandwidth": \#(value)}"#, #"{"from": "b", "to": "a", "bandwidth": 1}"#]))
        #expect(p.contains(message), "got: \(p)")
        #expect(p.contains("link 0 (a → b)"))
    }

    @Test func noRanks() {
        let p = singleProblem(#"{"name": "empty", "ranks": [], "switches": ["s"], "links": []}"#)
        #expect(p.contains("no ranks"))
    }

    @Test func unreachableRankNamesBoth() {
        // a → b only: b cannot reach a.
        let p = singleProblem(fabricText(links: [#"{"from": "a", "to": "b", "bandwidth": 1}"#]))
        #expect(p.contains("rank 'b' cannot reach rank 'a'"))
        let q = singleProblem(fabricText(ranks: ["a", "b", "c"], links: [#"{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}"#, #"{"from": "c", "to": "a", "bandwidth": 1}"#]))
        #expect(q.contains("rank 'a' cannot reach rank 'c'"))
    }

    @Test func unbalancedSwitchIsAcceptedAndNamed() throws {
        // A switch may receive more than it sends (egress caps): not a problem of the file;
        // synthesis builds on its balanced part.
        let f = try TopologyFile.parse(fabricText(switches: ["sw"], links: [
            #"{"from": "a", "to": "sw", "bandwidth": 10, "bidirectional": true}"#,
            #"{"from": "b", "to": "sw", "bandwidth": 10}"#, #"{"from": "sw", "to": "b", "bandwidth": 5}"#,
        ])).fabric
        let u = f.switchImbalances()
        #expect(u.count == 1 && f.name(of: u[0].switch) == "sw" && u[0].in == Rational(20) && u[0].out == Rational(15))
    }

    @Test func selfLoopIsNamed() {
        let p = singleProblem(fabricText(links: [#"{"from": "a", "to": "a", "bandwidth": 1}"#, #"{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}"#]))
        #expect(p.contains("link 0 (a → a)"))
        #expect(p.contains("to itself"))
    }

    @Test func unknownKeysWarnButLoad() throws {
        let parsed = try TopologyFile.parse(#"{"name": "t", "colour": "red", "ranks": ["a", "b"], "links": [{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true, "speed": 3}]}"#)
        #expect(parsed.warnings.count == 2)
        #expect(parsed.warnings.contains { $0.description.contains("unknown key 'colour'") })
        #expect(parsed.warnings.contains { $0.description.contains("unknown key 'speed'") && $0.description.contains("link 0") })
    }

    @Test func syntaxErrorGivesLineAndColumn() {
        let p = singleProblem("{\"ranks\": [\"a\"],\n  \"links\": [{\"from\": \"a\" \"to\": \"b\"}]}")
        #expect(p.hasPrefix("2:26:"), "got: \(p)")
        #expect(p.contains("expected ',' or '}'"))
    }

    @Test func everyProblemIsListed() {
        do {
            _ = try TopologyFile.parse(fabricText(links: [#"{"from": "a", "to": "x", "bandwidth": 1}"#, #"{"from": "a", "to": "b", "bandwidth": 0}"#]))
            Issue.record("expected rejection")
        } catch {
            guard case .invalid(let problems) = error else { Issue.record("wrong error \(error)"); return }
            #expect(problems.count == 2)
        }
    }

    @Test func generatedFabricsRoundTrip() throws {
        let fabrics = try [
            FabricGenerator.dgxA100(boxes: 2), FabricGenerator.mi250(boxes: 2), FabricGenerator.torus(rows: 3, cols: 4, bandwidth: Rational(50)),
            FabricGenerator.ring(ranks: 5, bandwidth: Rational(25, 2), bidirectional: false),
            FabricGenerator.leafSpine(leaves: 3, hostsPerLeaf: 2, spines: 2, nic: Rational(25), uplink: Rational(10)),
            FabricGenerator.cloud(nics: [Rational(25, 2), Rational(50)], gpusPerHost: 2, local: Rational(32)),
            FabricGenerator.cloudCluster(hosts: 7, ranksPerHost: [1, 2, 4], nics: [Rational(5, 4), Rational(25)], local: Rational(32),
                                         hostsPerTor: 3, spines: 2, oversubscription: Rational(3)),
        ]
        for f in fabrics {
            let again = try TopologyFile.parse(TopologyFile.write(f)).fabric
            #expect(again == f, "\(f.name) changed in a write/read round trip")
            #expect(again.hash == f.hash)
        }
    }

    /// The two-tier cloud cluster: host h takes the lists' entries in turn, every ToR's uplinks
    /// carry its hosts' NIC total over the oversubscription (to 1 MB/s, down), and one ToR has no
    /// spine tier.
    @Test func cloudClusterTiers() throws {
        let nics = [Rational(5, 4), Rational(25), Rational(50)]
        let f = try FabricGenerator.cloudCluster(hosts: 10, ranksPerHost: [1, 2, 4, 8], nics: nics, local: Rational(32),
                                                 hostsPerTor: 4, spines: 3, oversubscription: Rational(3))
        #expect(f.rankCount == (0..<10).reduce(0) { $0 + [1, 2, 4, 8][$1 % 4] })
        #expect(f.name == "cloud-10h-\(f.rankCount)r")
        func vertex(_ name: String) -> VertexID { VertexID(f.vertexNames.firstIndex(of: name)!) }
        func bandwidth(_ a: String, _ b: String) -> Rational {
            f.links.filter { $0.from == vertex(a) && $0.to == vertex(b) }.reduce(Rational.zero) { $0 + $1.bandwidth.gigabytesPerSecond }
        }
        #expect(bandwidth("h5.pcie", "tor1") == nics[5 % 3])
        for t in 0..<3 {
            let down = (t * 4 ..< min(10, t * 4 + 4)).reduce(Rational.zero) { $0 + nics[$1 % 3] }
            let up = (0..<3).reduce(Rational.zero) { $0 + bandwidth("tor\(t)", "spine\($1)") }
            #expect(up <= down / Rational(3) && up > down / Rational(3) - Rational(3, 1000), "tor\(t): \(up) up for \(down) down")
        }
        let single = try FabricGenerator.cloudCluster(hosts: 3, ranksPerHost: [2], nics: nics, local: Rational(32),
                                                      hostsPerTor: 8, spines: 2, oversubscription: Rational(1))
        #expect(!single.vertexNames.contains("spine0"))
        #expect(single.rankCount == 6)
    }

    @Test func mi250GcdsHaveSevenLinks() {
        var links = Array(repeating: 0, count: 16)
        for (a, b, n) in FabricGenerator.mi250Wiring { links[a] += n; links[b] += n }
        #expect(links.allSatisfy { $0 == 7 })
    }

    @Test func decimalLiterals() {
        #expect(Rational(decimalLiteral: "12.5") == Rational(25, 2))
        #expect(Rational(decimalLiteral: "-0.25E-2") == Rational(-1, 400))
        #expect(Rational(decimalLiteral: "3e2") == Rational(300))
        #expect(Rational(decimalLiteral: "1.2.3") == nil)
        #expect(Rational(decimalLiteral: "NaN") == nil)
        #expect(Rational(decimalLiteral: "") == nil)
    }
}

/// Bandwidth literals as scripts write them: any length, any exponent, read by value and rounded
/// once to 1 kB/s; out-of-range values are named, never trapped on.
@Suite struct BandwidthLiteralTests {
    func units(_ literal: String) -> (Int, Bool)? {
        guard case .value(let b, let exact) = Bandwidth.reading(literal: literal) else { return nil }
        let r = b.gigabytesPerSecond * Rational(Bandwidth.unitsPerGBps)
        #expect(r.isInteger)
        return (r.numerator, exact)
    }

    @Test func pythonFloatArtifactsRoundToTheNearestKilobytePerSecond() {
        #expect(units("27.500000000000004")! == (27_500_000, false))
        #expect(units("33.333333333333336")! == (33_333_333, false))
        #expect(units("12.5")! == (12_500_000, true))
        #expect(units("0.0000015")! == (2, false))
        #expect(units("0.0000014999")! == (1, false))
        #expect(units("1.5e-6")! == (2, false))
        #expect(units("2500e-3")! == (2_500_000, true))
        #expect(units("0.000000500")! == (1, false))
        #expect(units("1000000")! == (1_000_000_000_000, true))
        #expect(units("1E6")! == (1_000_000_000_000, true))
        #expect(units("000012.50000")! == (12_500_000, true))
        #expect(units("1" + String(repeating: "0", count: 5) + "." + String(repeating: "1", count: 60))! == (100_000_111_111, false))
    }

    @Test func extremesAreNamedNotTrapped() {
        #expect(Bandwidth.reading(literal: "1e308") == .aboveMaximum)
        #expect(Bandwidth.reading(literal: "1e17") == .aboveMaximum)
        #expect(Bandwidth.reading(literal: "9e15") == .aboveMaximum)
        #expect(Bandwidth.reading(literal: "1000000.0000005") == .aboveMaximum)
        #expect(Bandwidth.reading(literal: "1e99999999999999999999") == .aboveMaximum)
        #expect(Bandwidth.reading(literal: "1e-308") == .belowResolution)
        #expect(Bandwidth.reading(literal: "1e-18") == .belowResolution)
        #expect(Bandwidth.reading(literal: "0.0000004999") == .belowResolution)
        #expect(Bandwidth.reading(literal: "1e-99999999999999999999") == .belowResolution)
        #expect(Bandwidth.reading(literal: "-0") == .zero)
        #expect(Bandwidth.reading(literal: "0.0e5") == .zero)
        #expect(Bandwidth.reading(literal: "-2.5") == .negative)
        #expect(Bandwidth.reading(literal: "1.2.3") == .notANumber)
        #expect(Bandwidth.reading(literal: "1e") == .notANumber)
    }

    @Test func fileMessagesNameTheLinkAndTheRange() {
        #expect(singleProblem(fabricText(links: [#"{"from": "a", "to": "b", "bandwidth": 1e17, "bidirectional": true}"#]))
            .contains("above Grove's maximum of 10^6 GB/s"))
        #expect(singleProblem(fabricText(links: [#"{"from": "a", "to": "b", "bandwidth": 1e-18, "bidirectional": true}"#]))
            .contains("below Grove's resolution of 1 kB/s"))
        #expect(singleProblem(fabricText(links: [#"{"from": "a", "to": "b", "bandwidth": 5, "bandwidth": 7, "bidirectional": true}"#]))
            .contains("key 'bandwidth' appears twice in one link"))
    }

    @Test func roundedLinksAreReported() throws {
        let parsed = try TopologyFile.parse(fabricText(links: [
            #"{"from": "a", "to": "b", "bandwidth": 27.500000000000004}"#, #"{"from": "b", "to": "a", "bandwidth": 25}"#]))
        #expect(parsed.roundedLinks.count == 1)
        #expect(parsed.roundedLinks[0].hasPrefix("link 0 (a → b)"))
    }

    @Test func parallelLinksAboveTheMaximumAreRejected() {
        let text = fabricText(links: [#"{"from": "a", "to": "b", "bandwidth": 1e6, "bidirectional": true}"#,
                                      #"{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}"#])
        #expect(throws: TopologyError.self) { try TopologyFile.parse(text) }
    }
}
