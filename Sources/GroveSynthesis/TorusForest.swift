import GroveTopology

/// Optimal broadcast forests for a 2D torus, by construction.
///
/// A torus is the one fabric here where greedy packing has no slack at all: the bound is each
/// rank's in-degree (4 links), so every tree unit must fill every link exactly, and the greedy
/// trees strand capacity in one direction. The translations of the torus act transitively, so
/// one tree shape per root, translated to every root, loads every link of one direction class
/// (axis 1 or 2, + or −) by the number of arcs of that class in the shape. Four shapes do it:
/// P walks axis 1 from the root, ⌈(R−1)/2⌉ steps up and the rest down, then axis 2 from every
/// rank of that line (⌈(C−1)/2⌉ up, the rest down); P′ is P mirrored (up and down swapped); Q and
/// Q′ are the same with the axes exchanged. P and P′ together cross each axis-1 direction R − 1
/// times and each axis-2 direction R(C − 1) times; Q and Q′ C(R − 1) and C − 1. Weights w_P (for
/// P and P′) and w_Q with (R−1)(w_P + C·w_Q) = (C−1)(R·w_P + w_Q) = c (a link's capacity in tree
/// units) load every link exactly to c, and 2(w_P + w_Q) = 4c/(N − 1) = k is then the bound.
/// Depth ⌈(R−1)/2⌉ + ⌈(C−1)/2⌉. Cost O(N²) to write the N·4 trees.
enum TorusForest {
    /// A torus found in a fabric: the rank at (a, b) for a < R, b < C.
    struct Torus {
        var rows: Int
        var cols: Int
        var rank: [[Int]]
    }

    /// Recognizes a fabric of ranks only, every rank linked to exactly four others by links of
    /// one capacity, as an R × C torus (R, C ≥ 3) whose first axis is the rotation σ: (a, b) is
    /// σ^a of the b-th rank on the straight line through rank 0 across σ's axis. Every link is
    /// checked against the coordinates. O(N + E).
    static func recognize(_ fabric: IntegerFabric, rotation: FabricRotation) -> Torus? {
        let f = fabric.fabric
        let n = f.rankCount
        guard f.switches.isEmpty, n >= 9, Set(fabric.capacities).count == 1, f.links.count == 4 * n else { return nil }
        var outs = Array(repeating: Set<Int>(), count: n)
        for l in f.links { outs[l.from.rawValue].insert(l.to.rawValue) }
        guard outs.allSatisfy({ $0.count == 4 }) else { return nil }
        let sigma = rotation.permutation
        var inverse = Array(repeating: 0, count: n)
        for x in 0..<n { inverse[sigma[x]] = x }
        let rows = rotation.length
        guard rows >= 3, n % rows == 0, outs[0].contains(sigma[0]), outs[0].contains(inverse[0]) else { return nil }
        // The line across σ through rank 0: each next rank is the neighbour that is neither
        // the previous one nor σ^±1 of the current one.
        var line = [0]
        guard var next = outs[0].subtracting([sigma[0], inverse[0]]).min() else { return nil }
        while next != 0 {
            guard line.count < n / rows else { return nil }
            let here = next, previous = line.last!
            line.append(here)
            let onward = outs[here].subtracting([previous, sigma[here], inverse[here]])
            guard onward.count == 1 else { return nil }
            next = onward.first!
        }
        let cols = line.count
        guard cols >= 3, rows * cols == n else { return nil }
        var rank = Array(repeating: Array(repeating: -1, count: cols), count: rows)
        var seen = Array(repeating: false, count: n)
        for b in 0..<cols {
            var x = line[b]
            for a in 0..<rows {
                guard !seen[x] else { return nil }
                seen[x] = true
                rank[a][b] = x
                x = sigma[x]
            }
        }
        for a in 0..<rows {
            for b in 0..<cols {
                let expected: Set<Int> = [rank[(a + 1) % rows][b], rank[(a + rows - 1) % rows][b],
                                          rank[a][(b + 1) % cols], rank[a][(b + cols - 1) % cols]]
                guard outs[rank[a][b]] == expected else { return nil }
            }
        }
        return Torus(rows: rows, cols: cols, rank: rank)
    }

    /// The weights: with k and the link capacity c (tree units, uniform) of the caller, the
    /// multiplier m that makes them whole and the multiplicities of P (and P′) and Q (and Q′),
    /// summing to k·m per root. Nil if they are not those of an exact packing (then the torus
    /// bound is not the degree bound, and the caller packs as usual).
    static func weights(_ torus: Torus, k: Int, capacity c: Int) -> (multiplier: Int, p: Int, q: Int)? {
        let (r, cl) = (torus.rows, torus.cols)
        // (R−1)·w_P + (R−1)C·w_Q = c and (C−1)R·w_P + (C−1)·w_Q = c, by Cramer's rule.
        let (a11, a12, a21, a22) = (Rational(r - 1), Rational((r - 1) * cl), Rational((cl - 1) * r), Rational(cl - 1))
        let det = a11 * a22 - a12 * a21
        guard det != .zero else { return nil }
        let wP = (Rational(c) * a22 - a12 * Rational(c)) / det
        let wQ = (a11 * Rational(c) - Rational(c) * a21) / det
        guard wP >= .zero, wQ >= .zero, (wP + wQ) * Rational(2) == Rational(k) else { return nil }
        let m = Rational.lcm(wP.denominator, wQ.denominator)
        return (m, (wP * Rational(m)).numerator, (wQ * Rational(m)).numerator)
    }

    /// The four shapes' translates for every root, P and P′ of multiplicity `p`, Q and Q′ of `q`.
    static func trees(_ torus: Torus, p mP: Int, q mQ: Int) -> [TreePacker.Partial] {
        let (r, cl) = (torus.rows, torus.cols)
        // A shape as (Δa, Δb) arcs, parents first: `first` is the axis walked from the root.
        func shape(firstAxis: Int, mirrored: Bool) -> [((Int, Int), (Int, Int))] {
            let (l1, l2) = firstAxis == 0 ? (r, cl) : (cl, r)
            func steps(_ length: Int) -> [(from: Int, to: Int)] {
                let up = mirrored ? (length - 1) / 2 : length / 2
                let down = length - 1 - up
                return (0..<up).map { ($0, $0 + 1) } + (0..<down).map { (-$0, -$0 - 1) }
            }
            func point(_ p: Int, _ q: Int) -> (Int, Int) { firstAxis == 0 ? (p, q) : (q, p) }
            var arcs = steps(l1).map { (point($0.from, 0), point($0.to, 0)) }
            for p in [0] + steps(l1).map(\.to) {
                arcs += steps(l2).map { (point(p, $0.from), point(p, $0.to)) }
            }
            return arcs
        }
        let shapes = [(shape(firstAxis: 0, mirrored: false), mP), (shape(firstAxis: 0, mirrored: true), mP),
                      (shape(firstAxis: 1, mirrored: false), mQ), (shape(firstAxis: 1, mirrored: true), mQ)]
        let n = r * cl
        var trees: [TreePacker.Partial] = []
        trees.reserveCapacity(4 * n)
        for a0 in 0..<r {
            for b0 in 0..<cl {
                for (arcs, multiplicity) in shapes where multiplicity > 0 {
                    func at(_ d: (Int, Int)) -> Int { torus.rank[((a0 + d.0) % r + r) % r][((b0 + d.1) % cl + cl) % cl] }
                    let mapped = arcs.map { (from: at($0.0), to: at($0.1)) }
                    let root = torus.rank[a0][b0]
                    trees.append(TreePacker.Partial(root: root, multiplicity: multiplicity, inTree: [],
                                                    order: [root] + mapped.map(\.to), arcs: mapped))
                }
            }
        }
        return trees
    }
}
