import GroveSynthesis
import GroveTopology

public struct SimulationError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

public struct SimulationResult: Sendable {
    public var bytes: Int
    public var seconds: Double
    /// GB/s, nccl-tests definition (bytes of the collective's buffer / time).
    public var algbw: Double
    public var busbw: Double
    /// Links by the fraction of the run they were busy (bytes carried / (bandwidth · time)).
    public var busiestLinks: [(link: Link, utilization: Double)]
    public var messages: Int
}

extension Fabric {
    /// A path with the fewest links (breadth-first search; ties to the lower vertex). O(V + E).
    /// Fabrics are validated to connect every pair of ranks, so rank pairs always have one.
    func shortestPath(from a: VertexID, to b: VertexID) -> [VertexID] {
        var adjacency = [[Int]](repeating: [], count: vertexCount)
        for l in links { adjacency[l.from.rawValue].append(l.to.rawValue) }
        var previous = [Int](repeating: -1, count: vertexCount)
        var queue = [a.rawValue]
        previous[a.rawValue] = a.rawValue
        var head = 0
        while head < queue.count, previous[b.rawValue] < 0 {
            let v = queue[head]
            head += 1
            for w in adjacency[v] where previous[w] < 0 {
                previous[w] = v
                queue.append(w)
            }
        }
        var path = [b.rawValue]
        while path.last! != a.rawValue { path.append(previous[path.last!]) }
        return path.reversed().map { VertexID($0) }
    }
}

/// Predicts a plan's time on a fabric.
///
/// Each send becomes a transfer split over its arc's routes (`Plan.routing`); a transfer first
/// waits its latency α (`messageOverhead` plus the links' own latencies) and then streams.
/// Concurrent transfers share links in proportion to their message sizes (weighted fair sharing,
/// what a runtime gets by sending each tree's slices at the tree's weight): a transfer's rate is
/// the least, over the links of its path, of bandwidth · size / (sizes active on that link),
/// recomputed at every start and finish (a fluid model). Even per-transfer sharing was tried
/// first; it starves heavy trees and held forests to 55–78% of their rate. A receive completes when its data has
/// arrived and its own dependencies are met; copies and reductions are free (they run at memory
/// speed, far above the links). Cost: O(events · active transfers · path length).
public enum Simulator {
    public static func simulate(_ plan: Plan, fabric: Fabric, bytes: Int, elementSize: Int = 4,
                                messageOverhead: Double = 5e-6) throws(SimulationError) -> SimulationResult {
        guard fabric.rankCount == plan.rankCount else {
            throw SimulationError(description: "the plan has \(plan.rankCount) ranks but fabric \(fabric.name) has \(fabric.rankCount)")
        }
        let n = plan.rankCount
        let elements = max(1, bytes / elementSize)
        let perRank = plan.collective == .allgather || plan.collective == .reduceScatter
        let count = perRank ? max(1, elements / n) : elements
        let counts = plan.bufferCounts(count: count)
        let match: [Int: Int]
        do { match = try Verifier.matching(plan) } catch { throw SimulationError(description: error.description) }
        let width = plan.programs.map { $0.steps.count }.max() ?? 0

        var linkIndex: [Int: Int] = [:]
        for (i, l) in fabric.links.enumerated() { linkIndex[l.from.rawValue * fabric.vertexCount + l.to.rawValue] = i }
        let bandwidth = fabric.links.map { $0.bandwidth.gigabytesPerSecond.doubleValue * 1e9 }
        let latency = fabric.links.map { ($0.latencyMicroseconds ?? 0) * 1e-6 }

        // Per-step state.
        var done = plan.programs.map { Array(repeating: false, count: $0.steps.count) }
        var started = done
        var previousInStream = plan.programs.map { p -> [Int] in
            var last: [Int: Int] = [:]
            var out: [Int] = []
            for (i, s) in p.steps.enumerated() { out.append(last[s.stream] ?? -1); last[s.stream] = i }
            return out
        }
        var arrived = Set<Int>()        // sends whose data has fully arrived
        var waitingReceive = Set<Int>() // receives ready but without data

        struct Flow { var send: Int; var links: [Int]; var remaining: Double; var rate: Double; var weight: Double }
        var pending: [(time: Double, flow: Flow)] = []
        var active: [Flow] = []
        var openParts: [Int: Int] = [:] // send id → sub-flows not finished
        var carried = Array(repeating: 0.0, count: fabric.links.count)
        var now = 0.0
        var messages = 0
        var remainingSteps = plan.stepCount
        var frontier: [(Int, Int)] = (0..<n).flatMap { v in (0..<plan.programs[v].steps.count).map { (v, $0) } }

        func complete(_ v: Int, _ i: Int) { done[v][i] = true; remainingSteps -= 1 }

        // Starts every step whose dependencies and stream predecessor are done.
        func startReady() throws(SimulationError) {
            var changed = true
            while changed {
                changed = false
                var next: [(Int, Int)] = []
                for (v, i) in frontier {
                    if done[v][i] { continue }
                    let step = plan.programs[v].steps[i]
                    let prev = previousInStream[v][i]
                    guard !started[v][i], prev < 0 || done[v][prev], step.dependencies.allSatisfy({ done[v][$0] }) else {
                        next.append((v, i)); continue
                    }
                    started[v][i] = true
                    let id = v * width + i
                    switch step.operation {
                    case .copy:
                        complete(v, i); changed = true
                    case .recv, .recvReduce:
                        if let s = match[id], arrived.contains(s) { complete(v, i); changed = true } else { waitingReceive.insert(id); next.append((v, i)) }
                    case .send(let peer, let channel):
                        let e = step.range.elements(count: counts[step.range.buffer]!)
                        let size = Double(e.count * elementSize)
                        messages += 1
                        // A plan from elsewhere (MSCCL XML) carries no routing: its transfers take a
                        // shortest path, as a runtime's default routing would.
                        let routes = plan.routing[ArcKey(channel: channel, from: Rank(v), to: peer)].flatMap { $0.isEmpty ? nil : $0 }
                            ?? [WeightedPath(vertices: fabric.shortestPath(from: VertexID(v), to: peer.vertex), weight: .one)]
                        openParts[id] = routes.count
                        for r in routes {
                            var links: [Int] = []
                            guard r.vertices.allSatisfy({ (0..<fabric.vertexCount).contains($0.rawValue) }) else {
                                throw SimulationError(description: "a route of rank \(v) → \(peer) names a vertex that fabric \(fabric.name) does not have")
                            }
                            for (a, b) in zip(r.vertices, r.vertices.dropFirst()) {
                                guard let li = linkIndex[a.rawValue * fabric.vertexCount + b.rawValue] else {
                                    throw SimulationError(description: "route \(r.vertices.map { fabric.name(of: $0) }.joined(separator: "→")) uses a link fabric \(fabric.name) does not have")
                                }
                                links.append(li)
                            }
                            let alpha = messageOverhead + links.reduce(0) { $0 + latency[$1] }
                            pending.append((now + alpha, Flow(send: id, links: links, remaining: size * r.weight.doubleValue, rate: 0, weight: max(size * r.weight.doubleValue, 1))))
                        }
                        next.append((v, i))
                    }
                }
                frontier = next
            }
        }

        func finishSend(_ id: Int) {
            arrived.insert(id)
            complete(id / width, id % width)
            if let r = match[id], waitingReceive.remove(r) != nil { complete(r / width, r % width) }
        }

        try startReady()
        var load = Array(repeating: 0.0, count: fabric.links.count)
        while remainingSteps > 0 {
            // Rates: each link split among the transfers crossing it in proportion to their sizes.
            for i in load.indices { load[i] = 0 }
            for f in active { for l in f.links { load[l] += f.weight } }
            var nextTime = Double.infinity
            for k in active.indices {
                var rate = Double.infinity
                for l in active[k].links { rate = min(rate, bandwidth[l] * active[k].weight / load[l]) }
                active[k].rate = rate
                nextTime = min(nextTime, now + active[k].remaining / rate)
            }
            if let p = pending.map(\.time).min() { nextTime = min(nextTime, p) }
            guard nextTime.isFinite else {
                throw SimulationError(description: "the plan stalls: \(remainingSteps) steps can never run (verify it with `grove verify`)")
            }
            let dt = nextTime - now
            let before = now
            now = nextTime
            var finished: [Int] = []
            for k in active.indices {
                // Compare finish times, not leftover bytes: at large `now` a tiny remainder can
                // round away to a zero time step and never drain.
                let finishesNow = before + active[k].remaining / active[k].rate <= nextTime
                let moved = finishesNow ? active[k].remaining : min(active[k].remaining, active[k].rate * dt)
                active[k].remaining -= moved
                for l in active[k].links { carried[l] += moved }
                if finishesNow { finished.append(k) }
            }
            for k in finished.reversed() {
                let f = active.remove(at: k)
                openParts[f.send]! -= 1
                if openParts[f.send] == 0 { finishSend(f.send) }
            }
            var still: [(time: Double, flow: Flow)] = []
            for p in pending {
                if p.time <= now {
                    if p.flow.remaining <= 0 || p.flow.links.isEmpty {
                        openParts[p.flow.send]! -= 1
                        if openParts[p.flow.send] == 0 { finishSend(p.flow.send) }
                    } else {
                        active.append(p.flow)
                    }
                } else {
                    still.append(p)
                }
            }
            pending = still
            try startReady()
        }
        previousInStream = []
        let seconds = now
        let algbw = seconds > 0 ? Double(bytes) / seconds / 1e9 : .infinity
        let busiest = fabric.links.indices.filter { carried[$0] > 0 }
            .map { (link: fabric.links[$0], utilization: carried[$0] / (bandwidth[$0] * seconds)) }
            .sorted { $0.utilization > $1.utilization }
        return SimulationResult(bytes: bytes, seconds: seconds, algbw: algbw,
                                busbw: algbw * plan.collective.busFactor(ranks: n).doubleValue,
                                busiestLinks: Array(busiest.prefix(5)), messages: messages)
    }
}
