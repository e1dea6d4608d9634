import Testing
import GroveTopology
@testable import GroveSynthesis

/// The fast paths that make large fabrics quick (issue 11): tori by construction, boxes and hosts
/// behind switches by the spread split between parts with Prim's trees. Each must reach the bound
/// exactly (the forest check recomputes the rate from link loads) and be the path that ran.
@Suite struct FastConstructions {
    @Test(arguments: [(3, 3), (3, 4), (4, 4), (5, 7), (4, 6), (8, 16)])
    func torusByConstruction(rows: Int, cols: Int) throws {
        let fabric = try FabricGenerator.torus(rows: rows, cols: cols, bandwidth: Rational(25))
        let rotation = try #require(FabricSymmetry.rotation(IntegerFabric(fabric)))
        let torus = try #require(TorusForest.recognize(IntegerFabric(fabric), rotation: rotation))
        #expect(torus.rows * torus.cols == rows * cols)
        for collective in [Collective.allgather, .reduceScatter] {
            let s = try Synthesizer.synthesize(fabric, collective: collective, symmetry: .on)
            #expect(s.achievedAlgbw == s.boundAlgbw, "\(fabric.name) \(collective)")
            let forest = try #require(s.forests.first)
            let (count, depth, shape) = (forest.trees.count, forest.maxDepth, forest.torus)
            #expect(shape == TorusShape(rows: rows, cols: cols))
            // Four shapes per root (two when both sides are odd: the mirrors coincide, and are
            // then listed twice), every tree ⌈(R−1)/2⌉ + ⌈(C−1)/2⌉ deep.
            #expect(count == 4 * rows * cols)
            #expect(depth == rows / 2 + cols / 2, "\(fabric.name): depth \(depth)")
        }
    }

    @Test func torusNotRecognizedWhereItIsNotOne() throws {
        // One link slower: no longer uniform, so not the construction's torus; a ring has two
        // neighbours per rank. Synthesis still reaches the bound by the other paths.
        let torus = try FabricGenerator.torus(rows: 4, cols: 4, bandwidth: Rational(25))
        var links = torus.links.map { l in
            (from: torus.name(of: l.from), to: torus.name(of: l.to), bandwidth: l.bandwidth, latency: l.latencyMicroseconds)
        }
        links[0].bandwidth = Bandwidth(gigabytesPerSecond: Rational(20))
        let uneven = try Fabric(name: "uneven", ranks: torus.ranks.map { torus.name(of: $0.vertex) }, switches: [], links: links)
        for fabric in [uneven, try FabricGenerator.ring(ranks: 12, bandwidth: Rational(25), bidirectional: true)] {
            if let rotation = FabricSymmetry.rotation(IntegerFabric(fabric)) {
                #expect(TorusForest.recognize(IntegerFabric(fabric), rotation: rotation) == nil, "\(fabric.name)")
            }
            let s = try Synthesizer.synthesize(fabric, collective: .allgather, symmetry: .on)
            #expect(s.achievedAlgbw == s.boundAlgbw, "\(fabric.name)")
        }
    }

    @Test func mi250BoxesPackGreedily() throws {
        // The spread split sends NIC capacity back into its own box and the breadth-first trees
        // enter every box through many NICs; between parts with Prim's trees each box is entered
        // once, as its cut (the bound) requires.
        // (At 4 boxes the proportional split is not whole in 1/4 units; the exact path runs.)
        let fabric = try FabricGenerator.mi250(boxes: 8)
        let s = try Synthesizer.synthesize(fabric, collective: .allgather)
        #expect(s.achievedAlgbw == s.boundAlgbw)
        let (greedy, order) = (s.forests.first?.builtGreedily, s.forests.first?.rotationOrder)
        #expect(greedy == true)
        #expect(order == 8)
    }

    @Test func cloudHostsPackGreedilyAndShallow() throws {
        // Hosts of 1–8 ranks behind ToRs and spines, some one-rank hosts with a NIC faster than
        // their PCIe link (dead capacity the split must drop). Without the part split this
        // packs only as a ring: trees as deep as the rank count.
        let fabric = try FabricGenerator.cloudCluster(hosts: 32, ranksPerHost: [1, 2, 4, 8], nics: [Rational(25, 2), Rational(25), Rational(50)],
                                                      local: Rational(32), hostsPerTor: 16, spines: 4, oversubscription: Rational(3))
        let s = try Synthesizer.synthesize(fabric, collective: .allgather)
        #expect(s.achievedAlgbw == s.boundAlgbw)
        let (greedy, depth) = (s.forests.first?.builtGreedily, s.forests.first?.maxDepth ?? 0)
        #expect(greedy == true)
        #expect(depth < fabric.rankCount / 2, "depth \(depth) of \(fabric.rankCount) ranks")
    }

    @Test func deadCapacityIsTrimmed() throws {
        // A one-rank host: 32 GB/s PCIe, 50 GB/s NIC. Only 32 of the NIC can carry anything.
        let fabric = try Fabric(name: "dead", ranks: ["a", "b"], switches: ["pa", "pb", "tor"], links: [
            ("a", "pa", Bandwidth(gigabytesPerSecond: Rational(32)), nil), ("pa", "a", Bandwidth(gigabytesPerSecond: Rational(32)), nil),
            ("pa", "tor", Bandwidth(gigabytesPerSecond: Rational(50)), nil), ("tor", "pa", Bandwidth(gigabytesPerSecond: Rational(50)), nil),
            ("b", "pb", Bandwidth(gigabytesPerSecond: Rational(64)), nil), ("pb", "b", Bandwidth(gigabytesPerSecond: Rational(64)), nil),
            ("pb", "tor", Bandwidth(gigabytesPerSecond: Rational(50)), nil), ("tor", "pb", Bandwidth(gigabytesPerSecond: Rational(50)), nil),
        ])
        var graph = RoutedGraph(vertexCount: fabric.vertexCount)
        for l in fabric.links { graph.add(l.from.rawValue, l.to.rawValue, [Route(switches: [], amount: l.bandwidth.gigabytesPerSecond.numerator)]) }
        FastPath.trimDeadCapacity(&graph, fabric: fabric)
        let (pa, pb, tor) = (2, 3, 4)
        #expect(graph.capacity[.init(from: pa, to: tor)] == 32)
        #expect(graph.capacity[.init(from: tor, to: pa)] == 32)
        #expect(graph.capacity[.init(from: pb, to: tor)] == 32) // tor can forward only 32 to anyone but pb
        #expect(graph.capacity[.init(from: 0, to: pa)] == 32)
    }
}
