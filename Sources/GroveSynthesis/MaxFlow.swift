/// A flow network on integer capacities with Dinic's algorithm.
///
/// Dinic: O(V²E) in general, far less on the shallow fabrics Grove sees (a few BFS phases).
/// Max-flow/min-cut theorem (Ford–Fulkerson): the returned value equals the minimum capacity of
/// an s–t cut, and `sourceSide()` after a run returns one minimum cut.
///
/// Arcs are stored in pairs (`2i` forward, `2i+1` residual) so `arc ^ 1` is the reverse arc.
/// Capacities are kept separately from residuals so the network can be rerun cheaply with
/// `reset()` after capacity edits.
public struct FlowNetwork {
    public static let infinity = Int.max / 4

    public private(set) var vertexCount: Int
    private var head: [Int32]
    private var next: [Int32] = []
    private var target: [Int32] = []
    private(set) var capacity: [Int] = []
    private var residual: [Int] = []
    private var level: [Int32]
    private var cursor: [Int32]
    private var queue: [Int32]

    public init(vertexCount: Int) {
        self.vertexCount = vertexCount
        head = Array(repeating: -1, count: vertexCount)
        level = Array(repeating: -1, count: vertexCount)
        cursor = Array(repeating: -1, count: vertexCount)
        queue = Array(repeating: 0, count: vertexCount)
    }

    public mutating func addVertex() -> Int {
        head.append(-1); level.append(-1); cursor.append(-1); queue.append(0)
        vertexCount += 1
        return vertexCount - 1
    }

    /// Adds arc u→v and returns its index (use it with `setCapacity` and `flow`).
    @discardableResult
    public mutating func addArc(_ u: Int, _ v: Int, capacity c: Int) -> Int {
        let a = target.count
        target.append(Int32(v)); next.append(head[u]); head[u] = Int32(a)
        target.append(Int32(u)); next.append(head[v]); head[v] = Int32(a + 1)
        capacity.append(c); capacity.append(0)
        residual.append(c); residual.append(0)
        return a
    }

    public var arcCount: Int { target.count / 2 }
    public func capacity(ofArc a: Int) -> Int { capacity[a] }
    public mutating func setCapacity(ofArc a: Int, _ c: Int) { capacity[a] = c }
    /// Flow on arc `a` after the last run.
    public func flow(onArc a: Int) -> Int { capacity[a] - residual[a] }
    public func head(ofArc a: Int) -> Int { Int(target[a]) }
    public func tail(ofArc a: Int) -> Int { Int(target[a ^ 1]) }

    /// Computes a maximum s–t flow, stopping early once `limit` units flow.
    public mutating func maxFlow(from s: Int, to t: Int, limit: Int = FlowNetwork.infinity) -> Int {
        precondition(s != t)
        residual = capacity
        var total = 0
        while total < limit, buildLevels(s, t) {
            for v in 0..<vertexCount { cursor[v] = head[v] }
            while total < limit {
                let pushed = push(s, t, limit - total)
                if pushed == 0 { break }
                total += pushed
            }
        }
        return total
    }

    /// Vertices reachable from `s` in the residual network of the last run: the source side of a
    /// minimum cut when the last run was not stopped by its limit.
    public func sourceSide(of s: Int) -> [Bool] {
        var seen = Array(repeating: false, count: vertexCount)
        var stack = [s]
        seen[s] = true
        while let v = stack.popLast() {
            var a = Int(head[v])
            while a >= 0 {
                let w = Int(target[a])
                if residual[a] > 0 && !seen[w] { seen[w] = true; stack.append(w) }
                a = Int(next[a])
            }
        }
        return seen
    }

    private mutating func buildLevels(_ s: Int, _ t: Int) -> Bool {
        for v in 0..<vertexCount { level[v] = -1 }
        level[s] = 0
        var qh = 0, qt = 1
        queue[0] = Int32(s)
        while qh < qt {
            let v = Int(queue[qh]); qh += 1
            var a = Int(head[v])
            while a >= 0 {
                let w = Int(target[a])
                if residual[a] > 0 && level[w] < 0 {
                    level[w] = level[v] + 1
                    queue[qt] = Int32(w); qt += 1
                }
                a = Int(next[a])
            }
        }
        return level[t] >= 0
    }

    /// One augmenting path in the level graph, iteratively (no recursion depth limit).
    private mutating func push(_ s: Int, _ t: Int, _ limit: Int) -> Int {
        var pathArcs: [Int] = []
        var v = s
        while true {
            if v == t {
                var amount = limit
                for a in pathArcs { amount = min(amount, residual[a]) }
                for a in pathArcs { residual[a] -= amount; residual[a ^ 1] += amount }
                return amount
            }
            var advanced = false
            while cursor[v] >= 0 {
                let a = Int(cursor[v])
                let w = Int(target[a])
                if residual[a] > 0 && level[w] == level[v] + 1 {
                    pathArcs.append(a)
                    v = w
                    advanced = true
                    break
                }
                cursor[v] = next[a]
            }
            if !advanced {
                if v == s { return 0 }
                level[v] = -1
                let a = pathArcs.removeLast()
                v = Int(target[a ^ 1])
                cursor[v] = next[Int(cursor[v])]
            }
        }
    }
}
