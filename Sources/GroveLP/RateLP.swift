import CGLPK
import GroveSynthesis
import GroveTopology

public enum LPError: Error, Sendable, CustomStringConvertible {
    case solverFailed(String)
    case notRecoverable(Double)

    public var description: String {
        switch self {
        case .solverFailed(let m): return "GLPK could not solve the rate LP: \(m)"
        case .notRecoverable(let v): return "GLPK's optimum \(v) is not a cut ratio with a small denominator; the LP and the fabric disagree"
        }
    }
}

/// The optimal broadcast rate as a linear program, solved by GLPK: an engine independent of the
/// max-flow search in `GroveSynthesis`, which it must agree with exactly.
///
/// Variables: the rate x per root, and one flow f_t per sink rank t on every link and on every
/// source arc s→r. Each f_t obeys conservation, link capacities and `f_t(s→r) ≤ x`, and delivers
/// `|roots|·x` into t. Commodities do not add up on a link: broadcast data is copied, not split,
/// so each sink's flow alone must fit (this is exactly the max-flow condition of Edmonds' theorem).
/// Maximize x. Size: N·(E + N) columns, N·(V + N) rows.
///
/// Exactness: `glp_simplex` finds the optimal basis in floating point, then `glp_exact` re-solves
/// from it in rational arithmetic. By LP duality the optimum is c⁺(S)/w for a cut S with
/// w = |S ∩ roots| ≤ |roots| (integer capacity units), so it is the unique fraction with
/// denominator ≤ |roots| within 1/(2·|roots|²) of the reported value; it is recovered by a scan
/// of denominators and refused if the reported value is not that close.
public enum RateLP {
    public static func optimalRate(_ fabric: IntegerFabric, roots: [Rank]) throws(LPError) -> OptimalRate {
        let f = fabric.fabric
        let sinks = f.ranks.filter { !(roots.count == 1 && roots[0] == $0) }
        let vCount = f.vertexCount
        let lp = glp_create_prob()!
        defer { glp_delete_prob(lp) }
        glp_term_out(GLP_OFF)
        glp_set_obj_dir(lp, GLP_MAX)

        let arcsPerSink = f.links.count + roots.count
        let columns = 1 + sinks.count * arcsPerSink
        glp_add_cols(lp, Int32(columns))
        // Column 1 is x.
        glp_set_col_bnds(lp, 1, GLP_LO, 0, 0)
        glp_set_obj_coef(lp, 1, 1)
        func column(_ sink: Int, _ arc: Int) -> Int32 { Int32(2 + sink * arcsPerSink + arc) }
        for si in 0..<sinks.count {
            for (i, _) in f.links.enumerated() {
                glp_set_col_bnds(lp, column(si, i), GLP_DB, 0, Double(fabric.capacities[i]))
            }
            for j in 0..<roots.count { glp_set_col_bnds(lp, column(si, f.links.count + j), GLP_LO, 0, 0) }
        }

        var m = LPMatrix(lp)
        func newRow(_ type: Int32, _ lo: Double, _ hi: Double) -> Int32 { m.row(type, lo, hi) }
        for (si, t) in sinks.enumerated() {
            // Conservation at every vertex but t: in − out = 0 (source arcs enter roots).
            var rows = Array(repeating: Int32(0), count: vCount)
            for v in 0..<vCount {
                let r = v == t.rawValue ? newRow(GLP_LO, 0, 0) : newRow(GLP_FX, 0, 0)
                rows[v] = r
            }
            for (i, l) in f.links.enumerated() {
                m.ia.append(rows[l.to.rawValue]); m.ja.append(column(si, i)); m.ar.append(1)
                m.ia.append(rows[l.from.rawValue]); m.ja.append(column(si, i)); m.ar.append(-1)
            }
            for (j, r) in roots.enumerated() {
                m.ia.append(rows[r.rawValue]); m.ja.append(column(si, f.links.count + j)); m.ar.append(1)
                // f_t(s→r) − x ≤ 0
                let cap = newRow(GLP_UP, 0, 0)
                m.ia.append(cap); m.ja.append(column(si, f.links.count + j)); m.ar.append(1)
                m.ia.append(cap); m.ja.append(1); m.ar.append(-1)
            }
            // Net inflow at t ≥ |roots|·x
            m.ia.append(rows[t.rawValue]); m.ja.append(1); m.ar.append(-Double(roots.count))
        }
        try m.solveExactly()
        let value = glp_get_obj_val(lp)
        guard let units = closestFraction(to: value, maxDenominator: roots.count),
              abs(units.doubleValue - value) <= min(0.5 / Double(roots.count * roots.count), 1e-9 * max(1, value)) else {
            throw .notRecoverable(value)
        }
        return OptimalRate(perRoot: units / Rational(fabric.scale), perRootUnits: units, bottleneck: [],
                           roots: roots, maxFlowRuns: 0)
    }

    /// The fraction with denominator ≤ `maxDenominator` nearest to `value`, O(maxDenominator).
    /// Two distinct such fractions differ by at least 1/maxDenominator², so the nearest one is the
    /// exact optimum whenever `value` is within half that distance, which the caller checks.
    static func closestFraction(to value: Double, maxDenominator: Int) -> Rational? {
        guard value.isFinite, value >= 0, value < Double(Int.max / 4) / Double(maxDenominator) else { return nil }
        var best: Rational?
        for d in 1...max(1, maxDenominator) {
            let r = Rational(Int((value * Double(d)).rounded()), d)
            if best == nil || abs(r.doubleValue - value) < abs(best!.doubleValue - value) { best = r }
        }
        return best
    }
}

/// A GLPK problem's constraint matrix as 1-based triplets (element 0 unused), its rows added
/// one at a time, and the exact solve: `glp_simplex` without presolve, then `glp_exact` from
/// its basis in rational arithmetic.
struct LPMatrix {
    let lp: OpaquePointer
    var ia: [Int32] = [0], ja: [Int32] = [0], ar: [Double] = [0]
    private var rows: Int32 = 0

    init(_ lp: OpaquePointer) { self.lp = lp }

    mutating func row(_ type: Int32, _ lo: Double, _ hi: Double) -> Int32 {
        rows += 1
        glp_add_rows(lp, 1)
        glp_set_row_bnds(lp, rows, type, lo, hi)
        return rows
    }

    /// Throws unless both solvers report an optimum.
    mutating func solveExactly() throws(LPError) {
        glp_load_matrix(lp, Int32(ia.count - 1), &ia, &ja, &ar)
        var parm = glp_smcp()
        glp_init_smcp(&parm)
        parm.msg_lev = GLP_MSG_OFF
        parm.presolve = GLP_OFF
        let rc = glp_simplex(lp, &parm)
        guard rc == 0, glp_get_status(lp) == GLP_OPT else {
            throw .solverFailed("glp_simplex returned \(rc), status \(glp_get_status(lp))")
        }
        let rcExact = glp_exact(lp, &parm)
        guard rcExact == 0, glp_get_status(lp) == GLP_OPT else {
            throw .solverFailed("glp_exact returned \(rcExact), status \(glp_get_status(lp))")
        }
    }
}
