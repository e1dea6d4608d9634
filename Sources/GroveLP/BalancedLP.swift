import CGLPK
import GroveSynthesis
import GroveTopology

/// The best balanced part of a fabric with unbalanced switches, as a linear program.
///
/// A switch forwards each byte once, so a tree packing uses capacities c′ ≤ c with in = out at
/// every switch, and on such c′ Edmonds' theorem (after edge splitting) packs trees at the cut
/// bound of c′. So the optimum over all schedules whose switches forward without copying is
/// max x over c′ and one flow f_t per sink rank t: RateLP's program with the link bounds
/// f_t(a) ≤ c′(a) in place of c(a), and Σ_in c′ = Σ_out c′ at every switch. Size: N·(E + N) + E
/// columns, N·(V + N + E) + switches rows — for fabrics of up to a few hundred links.
///
/// GLPK solves it exactly (`glp_exact`) but returns floating point, so the capacities come back
/// on a grid finer than the fabric's units (`SwitchBalance.gridCapacities`) and max-flow
/// computes the rate the forest is then built for, exactly; the LP's value says how close that
/// is to the optimum.
public enum BalancedLP {
    public struct Solution: Sendable {
        /// The optimal rate per root, in the fabric's capacity units (floating point).
        public var perRootUnits: Double
        /// c′ per link, in the fabric's capacity units.
        public var capacities: [Double]
    }

    public static func solve(_ fabric: IntegerFabric, roots: [Rank]) throws(LPError) -> Solution {
        let f = fabric.fabric
        let sinks = f.ranks.filter { !(roots.count == 1 && roots[0] == $0) }
        let lp = glp_create_prob()!
        defer { glp_delete_prob(lp) }
        glp_term_out(GLP_OFF)
        glp_set_obj_dir(lp, GLP_MAX)
        let e = f.links.count
        let arcsPerSink = e + roots.count
        glp_add_cols(lp, Int32(1 + e + sinks.count * arcsPerSink))
        glp_set_col_bnds(lp, 1, GLP_LO, 0, 0)
        glp_set_obj_coef(lp, 1, 1)
        func trimmed(_ i: Int) -> Int32 { Int32(2 + i) }
        func column(_ sink: Int, _ arc: Int) -> Int32 { Int32(2 + e + sink * arcsPerSink + arc) }
        for i in 0..<e {
            let c = Double(fabric.capacities[i])
            glp_set_col_bnds(lp, trimmed(i), c > 0 ? GLP_DB : GLP_FX, 0, c)
        }
        for si in 0..<sinks.count { for a in 0..<arcsPerSink { glp_set_col_bnds(lp, column(si, a), GLP_LO, 0, 0) } }

        var m = LPMatrix(lp)
        func newRow(_ type: Int32, _ lo: Double, _ hi: Double) -> Int32 { m.row(type, lo, hi) }
        func put(_ r: Int32, _ c: Int32, _ v: Double) { m.ia.append(r); m.ja.append(c); m.ar.append(v) }
        // Balance: Σ_in c′ − Σ_out c′ = 0 at every switch.
        var balance = [Int32: Int32]()
        for w in f.switches { balance[Int32(w.rawValue)] = newRow(GLP_FX, 0, 0) }
        for (i, l) in f.links.enumerated() {
            if let r = balance[Int32(l.to.rawValue)] { put(r, trimmed(i), 1) }
            if let r = balance[Int32(l.from.rawValue)] { put(r, trimmed(i), -1) }
        }
        for (si, t) in sinks.enumerated() {
            var rows = Array(repeating: Int32(0), count: f.vertexCount)
            for v in 0..<f.vertexCount { rows[v] = v == t.rawValue ? newRow(GLP_LO, 0, 0) : newRow(GLP_FX, 0, 0) }
            for (i, l) in f.links.enumerated() {
                put(rows[l.to.rawValue], column(si, i), 1)
                put(rows[l.from.rawValue], column(si, i), -1)
                // f_t(a) − c′(a) ≤ 0
                let cap = newRow(GLP_UP, 0, 0)
                put(cap, column(si, i), 1)
                put(cap, trimmed(i), -1)
            }
            for (j, r) in roots.enumerated() {
                put(rows[r.rawValue], column(si, e + j), 1)
                let cap = newRow(GLP_UP, 0, 0)
                put(cap, column(si, e + j), 1)
                put(cap, 1, -1)
            }
            put(rows[t.rawValue], 1, -Double(roots.count))
        }
        try m.solveExactly()
        return Solution(perRootUnits: glp_get_obj_val(lp), capacities: (0..<e).map { glp_get_col_prim(lp, trimmed($0)) })
    }
}
