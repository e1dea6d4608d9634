import CGLPK
import GroveSynthesis
import GroveTopology

/// The best rate at which a set of transfers can run together on a fabric, whatever their routing:
/// a maximum concurrent multicommodity flow, solved by GLPK.
///
/// Variables: λ, and a flow f_c on every link for each commodity c (a distinct ordered rank pair,
/// demand d_c = sum of its transfers' shares). Each f_c carries λ·d_c from its source to its sink;
/// on every link the commodities add up to at most its bandwidth. Maximize λ, which is the algbw
/// (GB/s) of the baseline under ideal routing — what NCCL's many channels approach. Reporting only,
/// so the value is a Double. Size: C·E columns, C·V + E rows.
public enum ConcurrentFlowLP {
    /// Largest problem this solves (columns); larger ones return nil.
    public static let maxColumns = 400_000

    public static func algbw(_ fabric: Fabric, transfers: [Transfer]) throws(LPError) -> Double? {
        var demand: [Int: Double] = [:]
        let n = fabric.rankCount
        for t in transfers where t.from != t.to { demand[t.from.rawValue * n + t.to.rawValue, default: 0] += t.share.doubleValue }
        let commodities = demand.keys.sorted()
        let e = fabric.links.count, v = fabric.vertexCount
        guard !commodities.isEmpty else { return nil }
        guard commodities.count * e <= maxColumns else { return nil }

        let lp = glp_create_prob()!
        defer { glp_delete_prob(lp) }
        glp_term_out(GLP_OFF)
        glp_set_obj_dir(lp, GLP_MAX)
        glp_add_cols(lp, Int32(1 + commodities.count * e))
        glp_set_col_bnds(lp, 1, GLP_LO, 0, 0)
        glp_set_obj_coef(lp, 1, 1)
        for c in 0..<commodities.count {
            for i in 0..<e { glp_set_col_bnds(lp, Int32(2 + c * e + i), GLP_LO, 0, 0) }
        }
        var ia: [Int32] = [0], ja: [Int32] = [0], ar: [Double] = [0]
        // Link capacities.
        glp_add_rows(lp, Int32(e))
        for (i, l) in fabric.links.enumerated() {
            glp_set_row_bnds(lp, Int32(1 + i), GLP_UP, 0, l.bandwidth.gigabytesPerSecond.doubleValue)
            for c in 0..<commodities.count { ia.append(Int32(1 + i)); ja.append(Int32(2 + c * e + i)); ar.append(1) }
        }
        // Conservation: out − in − λ·(d at source, −d at sink) = 0.
        for (c, key) in commodities.enumerated() {
            let base = Int32(e + c * v)
            glp_add_rows(lp, Int32(v))
            for x in 0..<v { glp_set_row_bnds(lp, base + Int32(1 + x), GLP_FX, 0, 0) }
            for (i, l) in fabric.links.enumerated() {
                ia.append(base + Int32(1 + l.from.rawValue)); ja.append(Int32(2 + c * e + i)); ar.append(1)
                ia.append(base + Int32(1 + l.to.rawValue)); ja.append(Int32(2 + c * e + i)); ar.append(-1)
            }
            let d = demand[key]!
            ia.append(base + Int32(1 + key / n)); ja.append(1); ar.append(-d)
            ia.append(base + Int32(1 + key % n)); ja.append(1); ar.append(d)
        }
        glp_load_matrix(lp, Int32(ia.count - 1), &ia, &ja, &ar)
        var parm = glp_smcp()
        glp_init_smcp(&parm)
        parm.msg_lev = GLP_MSG_OFF
        let rc = glp_simplex(lp, &parm)
        guard rc == 0, glp_get_status(lp) == GLP_OPT else {
            throw .solverFailed("glp_simplex returned \(rc), status \(glp_get_status(lp)) on the baseline routing LP")
        }
        return glp_get_obj_val(lp)
    }
}
