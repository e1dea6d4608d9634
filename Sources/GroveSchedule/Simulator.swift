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

/// What a message costs besides its bytes, as the simulator charges it.
public struct MessageCosts: Sendable, Equatable {
    /// α: from a send's last byte leaving to its data landing (software and NIC latency), on top
    /// of the links' own `latencyMicroseconds`.
    public var latencyMicroseconds: Double
    /// o: the time a rank's progress thread spends posting each send (LogP's overhead); a rank's
    /// sends begin streaming one o apart, so a plan of many small messages pays for them even
    /// where the wire is idle.
    public var postingMicroseconds: Double
    /// The smallest average slice the runtime cuts a tree's share into (`Pipelining`): below it,
    /// a message's fixed cost outweighs what a deeper pipeline gains. A slice is also at least
    /// what a tree moves in `minimumSliceMicroseconds` at the schedule's rate, so that on a fast
    /// fabric each message still carries many times its fixed cost.
    public var minimumSliceBytes: Int
    public var minimumSliceMicroseconds: Double
    /// Slices wanted per level of the plan's depth (`Pipelining`): the pipeline's fill is about
    /// 1/this of the call. More slices are more messages; where each costs posting time (o > 0)
    /// that buys little, where it costs only latency, which the pipeline hides, the floor alone
    /// limits them.
    public var slicesPerLevel: Int

    public init(latencyMicroseconds: Double, postingMicroseconds: Double, minimumSliceBytes: Int = 64 << 10,
                minimumSliceMicroseconds: Double = 0, slicesPerLevel: Int = 16) {
        self.latencyMicroseconds = latencyMicroseconds
        self.postingMicroseconds = postingMicroseconds
        self.minimumSliceBytes = minimumSliceBytes
        self.minimumSliceMicroseconds = minimumSliceMicroseconds
        self.slicesPerLevel = slicesPerLevel
    }

    /// The floor on a tree's slice, in bytes, for a plan of `trees` trees at `rate` bytes/s.
    public func sliceFloor(rate: Double, trees: Int) -> Int {
        let timed = rate / Double(max(trees, 1)) * minimumSliceMicroseconds * 1e-6
        return max(minimumSliceBytes, timed.isFinite ? Int(min(timed, 1e12)) : 0)
    }

    /// For fabrics whose runtime posts from many engines at once (a GPU's thread blocks, one per
    /// tree or channel): no serial posting cost, so 32 slices per level (fill ≈ 3%), the 64 KiB
    /// floor and the 128-slice cap decide the slicing. The default of `grove synth` and
    /// `grove simulate`.
    public static let parallelEngines = MessageCosts(latencyMicroseconds: 5, postingMicroseconds: 0, slicesPerLevel: 32)
    /// Grove's TCP runtime, one progress thread per rank: o fitted on 4 local ranks
    /// (Benchmarks/README.md, "Small messages"): a forest that sends 3 messages per phase took
    /// 53–59 µs longer per 1–4 KiB allreduce than recursive doubling, which sends 1. The slice
    /// floor (500 µs of a tree's rate, at least 16 KiB) is fitted in `Pipelining`.
    public static let tcp = MessageCosts(latencyMicroseconds: 5, postingMicroseconds: 15, minimumSliceBytes: 16 << 10,
                                         minimumSliceMicroseconds: 500)
}

/// Predicts a plan's time on a fabric.
///
/// Each send becomes a transfer split over its arc's routes (`Plan.routing`) that streams at once.
/// Concurrent transfers share links in proportion to their message sizes (weighted fair sharing,
/// what a runtime gets by sending each tree's slices at the tree's weight): a transfer's rate is
/// the least, over the links of its path, of bandwidth · size / (sizes active on that link),
/// recomputed at every start and finish (a fluid model). Even per-transfer sharing was tried
/// first; it starves heavy trees and held forests to 55–78% of their rate.
///
/// Latency is a delay, not idle wire: when a send's last byte has left, the sender's stream goes
/// on (as a TCP write returns once the kernel holds the bytes, or an RDMA write once posted), and
/// the data lands α later (`costs.latencyMicroseconds` plus the links' own latencies). So a pipeline pays α
/// per hop to fill, not per slice. An earlier model made each send wait α before streaming and
/// the next send wait for arrival; slices then cost α each on every link at once, and that idle
/// time, not the trees, held large sizes to 60–90%. A receive completes when its data has
/// arrived and its own dependencies are met; copies and reductions are free (they run at memory
/// speed, far above the links). Cost: O(events · active transfers · path length).
///
/// `wireEfficiency` scales every link: the share of a link's rate that carries payload (TCP over
/// Ethernet at MTU 1500: 1448 of 1514 bytes, less the ACKs sharing the shaper), measured as a
/// plain stream's rate over the link's.
public enum Simulator {
    public static func simulate(_ plan: Plan, fabric: Fabric, bytes: Int, elementSize: Int = 4,
                                costs: MessageCosts = .parallelEngines, wireEfficiency: Double = 1) throws(SimulationError) -> SimulationResult {
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
        let bandwidth = fabric.links.map { $0.bandwidth.gigabytesPerSecond.doubleValue * 1e9 * wireEfficiency }
        let latency = fabric.links.map { ($0.latencyMicroseconds ?? 0) * 1e-6 }

        // Per-step state. Step (v, i) has id v·width + i. A step runs once its dependencies and
        // its stream predecessor are done: `waiting` counts those not done yet, `successors`
        // lists whom a step releases, so each step is looked at O(1 + out-degree) times.
        let total = n * width
        var done = [Bool](repeating: false, count: total)
        var waiting = [Int32](repeating: 0, count: total)
        var successors = [[Int32]](repeating: [], count: total)
        for (v, p) in plan.programs.enumerated() {
            var last: [Int: Int] = [:]
            for (i, step) in p.steps.enumerated() {
                var before = Set(step.dependencies)
                if let prev = last[step.stream] { before.insert(prev) }
                last[step.stream] = i
                waiting[v * width + i] = Int32(before.count)
                for b in before { successors[v * width + b].append(Int32(v * width + i)) }
            }
        }
        var arrived = Set<Int>()        // sends whose data has fully arrived
        var waitingReceive = Set<Int>() // receives ready but without data
        var ready: [Int] = (0..<total).filter { $0 % width < plan.programs[$0 / width].steps.count && waiting[$0] == 0 }

        // Flows live in slots; a flow's links in `linkPool[first ..< first + count]`. Rates change
        // only for flows that share a link with one that started or finished, so each event
        // settles and re-rates just those (`touched`); each live slot's finish time sits in an
        // indexed heap, updated in place.
        struct Flow {
            var send: Int; var first: Int; var count: Int
            var remaining: Double; var since: Double; var rate: Double; var weight: Double
        }
        var linkPool: [Int] = []
        var slots: [Flow] = []
        var free: [Int] = []
        var onLink = [[Int]](repeating: [], count: fabric.links.count)
        var load = [Double](repeating: 0, count: fabric.links.count)
        var finishes = SlotHeap()
        var arrivals = MinHeap<(time: Double, send: Int)> { $0.time < $1.time } // in flight after the last byte left
        var flight: [Int: Double] = [:] // send id → its latency (the slowest route's)
        var openParts: [Int: Int] = [:] // send id → sub-flows not finished
        var touched: [Int] = []       // slots to settle and re-rate, each once (`isTouched`)
        var isTouched: [Bool] = []
        var carried = Array(repeating: 0.0, count: fabric.links.count)
        var now = 0.0
        var messages = 0
        // Posting a send occupies its rank's progress thread for `costs.postingMicroseconds`.
        let (alpha, posting) = (costs.latencyMicroseconds * 1e-6, costs.postingMicroseconds * 1e-6)
        var postedUntil = [Double](repeating: 0, count: n)
        var deferred = MinHeap<(time: Double, send: Int)> { $0.time < $1.time }
        var remainingSteps = plan.stepCount

        func complete(_ id: Int) {
            done[id] = true
            remainingSteps -= 1
            for s in successors[id] {
                waiting[Int(s)] -= 1
                if waiting[Int(s)] == 0 { ready.append(Int(s)) }
            }
        }

        // Brings a flow's bytes up to `now` at its current rate.
        func settle(_ k: Int) {
            let f = slots[k]
            let moved = min(f.remaining, f.rate * (now - f.since))
            if moved > 0 { for j in f.first ..< f.first + f.count { carried[linkPool[j]] += moved } }
            slots[k].remaining -= moved
            slots[k].since = now
        }

        func touch(_ k: Int) {
            while isTouched.count <= k { isTouched.append(false) }
            if !isTouched[k] { isTouched[k] = true; touched.append(k) }
        }

        func touchLinks(of k: Int) {
            let f = slots[k]
            for j in f.first ..< f.first + f.count { for other in onLink[linkPool[j]] { touch(other) } }
        }

        func startFlow(send: Int, first: Int, bytes: Double) {
            let k = free.popLast() ?? { slots.append(Flow(send: 0, first: 0, count: 0, remaining: 0, since: 0, rate: 0, weight: 0)); return slots.count - 1 }()
            slots[k] = Flow(send: send, first: first, count: linkPool.count - first, remaining: bytes, since: now, rate: 0,
                            weight: max(bytes, 1))
            touchLinks(of: k)
            for j in first ..< linkPool.count { onLink[linkPool[j]].append(k); load[linkPool[j]] += slots[k].weight }
            touch(k)
        }

        func endFlow(_ k: Int) {
            let f = slots[k]
            for j in f.first ..< f.first + f.count {
                let l = linkPool[j]
                carried[l] += f.remaining
                load[l] -= f.weight
                if let at = onLink[l].firstIndex(of: k) { onLink[l].swapAt(at, onLink[l].count - 1); onLink[l].removeLast() }
            }
            slots[k].remaining = 0
            finishes.remove(k)
            free.append(k)
            touchLinks(of: k)
            slots[k].count = 0 // free: no links
        }

        // Starts every step that became ready; completing one may make more ready.
        func startReady() throws(SimulationError) {
            while let id = ready.popLast() {
                let v = id / width, i = id % width
                let step = plan.programs[v].steps[i]
                switch step.operation {
                case .copy:
                    complete(id)
                case .recv, .recvReduce:
                    if let s = match[id], arrived.contains(s) { complete(id) } else { waitingReceive.insert(id) }
                case .send:
                    guard posting > 0 else { try beginSend(id); continue }
                    let begin = max(now, postedUntil[v]) + posting
                    postedUntil[v] = begin
                    deferred.push((begin, id))
                }
            }
        }

        // A send's bytes start streaming over its routes.
        func beginSend(_ id: Int) throws(SimulationError) {
            let v = id / width, i = id % width
            let step = plan.programs[v].steps[i]
            guard case .send(let peer, let channel) = step.operation else { return }
            let e = step.range.elements(count: counts[step.range.buffer]!)
            let size = Double(e.count * elementSize)
            messages += 1
            // A plan from elsewhere (MSCCL XML) carries no routing: its transfers take a
            // shortest path, as a runtime's default routing would.
            let routes = plan.routing[ArcKey(channel: channel, from: Rank(v), to: peer)].flatMap { $0.isEmpty ? nil : $0 }
                ?? [WeightedPath(vertices: fabric.shortestPath(from: VertexID(v), to: peer.vertex), weight: .one)]
            openParts[id] = routes.count
            flight[id] = 0
            var empty = 0
            for r in routes {
                let first = linkPool.count
                guard r.vertices.allSatisfy({ (0..<fabric.vertexCount).contains($0.rawValue) }) else {
                    throw SimulationError(description: "a route of rank \(v) → \(peer) names a vertex that fabric \(fabric.name) does not have")
                }
                for (a, b) in zip(r.vertices, r.vertices.dropFirst()) {
                    guard let li = linkIndex[a.rawValue * fabric.vertexCount + b.rawValue] else {
                        throw SimulationError(description: "route \(r.vertices.map { fabric.name(of: $0) }.joined(separator: "→")) uses a link fabric \(fabric.name) does not have")
                    }
                    linkPool.append(li)
                }
                flight[id] = max(flight[id]!, alpha + linkPool[first...].reduce(0) { $0 + latency[$1] })
                let bytes = size * r.weight.doubleValue
                if bytes <= 0 || linkPool.count == first { empty += 1; continue }
                startFlow(send: id, first: first, bytes: bytes)
            }
            openParts[id]! -= empty
            if openParts[id] == 0 { sent(id) }
        }

        // The last byte has left: the sender's stream goes on, the data lands after the latency.
        func sent(_ id: Int) {
            complete(id)
            arrivals.push((now + flight.removeValue(forKey: id)!, id))
        }

        func arrive(_ id: Int) {
            arrived.insert(id)
            if let r = match[id], waitingReceive.remove(r) != nil { complete(r) }
        }

        // Settles and re-rates the touched flows: each link split among the transfers crossing it
        // in proportion to their sizes.
        func rerate() {
            // A slot that ended after it was touched is free now: skip it.
            touched.removeAll { k in
                isTouched[k] = false
                return slots[k].count == 0
            }
            for k in touched { settle(k) }
            for k in touched {
                let f = slots[k]
                var rate = Double.infinity
                for j in f.first ..< f.first + f.count { rate = min(rate, bandwidth[linkPool[j]] * f.weight / load[linkPool[j]]) }
                slots[k].rate = rate
                finishes.set(k, now + f.remaining / rate)
            }
            touched.removeAll(keepingCapacity: true)
        }

        try startReady()
        rerate()
        while remainingSteps > 0 {
            let nextTime = min(finishes.peek?.time ?? .infinity, arrivals.peek?.time ?? .infinity, deferred.peek?.time ?? .infinity)
            guard nextTime.isFinite else {
                throw SimulationError(description: "the plan stalls: \(remainingSteps) steps can never run (verify it with `grove verify`)")
            }
            now = max(now, nextTime)
            // Everything due now: flows whose last byte leaves, then data that lands.
            while let top = finishes.peek, top.time <= now {
                let send = slots[top.slot].send
                endFlow(top.slot)
                openParts[send]! -= 1
                if openParts[send] == 0 { sent(send) }
            }
            while let top = arrivals.peek, top.time <= now {
                _ = arrivals.pop()
                arrive(top.send)
            }
            while let top = deferred.peek, top.time <= now {
                _ = deferred.pop()
                try beginSend(top.send)
            }
            try startReady()
            rerate()
        }
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

/// A binary min-heap ordered by `less`. push and pop O(log n).
struct MinHeap<Element> {
    private var items: [Element] = []
    private let less: (Element, Element) -> Bool

    init(_ less: @escaping (Element, Element) -> Bool) { self.less = less }

    var peek: Element? { items.first }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && less(items[l], items[m]) { m = l }
            if r < items.count && less(items[r], items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// A min-heap of slots keyed by time, with each slot's position kept so a key can change or a
/// slot leave in O(log n).
struct SlotHeap {
    private var heap: [Int] = []
    private var time: [Double] = []
    private var position: [Int] = [] // −1: not in the heap

    var peek: (time: Double, slot: Int)? { heap.first.map { (time[$0], $0) } }

    mutating func set(_ slot: Int, _ t: Double) {
        while position.count <= slot { position.append(-1); time.append(0) }
        time[slot] = t
        if position[slot] < 0 {
            heap.append(slot)
            position[slot] = heap.count - 1
        }
        up(position[slot])
        down(position[slot])
    }

    mutating func remove(_ slot: Int) {
        guard slot < position.count, position[slot] >= 0 else { return }
        let i = position[slot]
        swap(i, heap.count - 1)
        heap.removeLast()
        position[slot] = -1
        if i < heap.count { up(i); down(i) }
    }

    private mutating func swap(_ i: Int, _ j: Int) {
        heap.swapAt(i, j)
        position[heap[i]] = i
        position[heap[j]] = j
    }

    private mutating func up(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard time[heap[i]] < time[heap[parent]] else { return }
            swap(i, parent)
            i = parent
        }
    }

    private mutating func down(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && time[heap[l]] < time[heap[m]] { m = l }
            if r < heap.count && time[heap[r]] < time[heap[m]] { m = r }
            if m == i { return }
            swap(i, m)
            i = m
        }
    }
}
