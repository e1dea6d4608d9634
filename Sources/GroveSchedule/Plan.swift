import GroveSynthesis
import GroveTopology

/// The buffers a rank program touches. `input` is the user's send buffer (read only unless the
/// call is in place), `output` the receive buffer, `scratch` a private buffer the size of `input`.
public enum BufferKind: String, Sendable, CaseIterable {
    case input, output, scratch
}

/// A range of a buffer as exact fractions of its element count, so one plan serves every size:
/// at run time `[lo, hi)` covers elements `floor(lo·count) ..< floor(hi·count)`. Floors of adjacent
/// fractions meet, so slices tile a buffer with no gap or overlap at any count.
public struct BufferRange: Hashable, Sendable, CustomStringConvertible {
    public var buffer: BufferKind
    public var lo: Rational
    public var hi: Rational

    public init(_ buffer: BufferKind, _ lo: Rational, _ hi: Rational) {
        self.buffer = buffer
        self.lo = lo
        self.hi = hi
    }

    public func elements(count: Int) -> Range<Int> {
        BufferRange.floor(lo, count) ..< BufferRange.floor(hi, count)
    }

    /// floor(r·count) for 0 ≤ r ≤ 1, exact (128-bit intermediate).
    static func floor(_ r: Rational, _ count: Int) -> Int {
        r.denominator.dividingFullWidth(r.numerator.multipliedFullWidth(by: count)).quotient
    }

    public var description: String { "\(buffer.rawValue)[\(lo), \(hi))" }
}

/// One step of a rank program.
public enum Operation: Hashable, Sendable {
    /// Send the range to `peer` on `channel`.
    case send(peer: Rank, channel: Int)
    /// Receive into the range from `peer` on `channel`, overwriting it.
    case recv(peer: Rank, channel: Int)
    /// Receive from `peer` on `channel` and combine into the range with the collective's reduction.
    case recvReduce(peer: Rank, channel: Int)
    /// Copy `source` into the range (same element count).
    case copy(source: BufferRange)
}

extension Operation {
    /// Peer and channel of a send or receive; nil for a local copy.
    public var transfer: (peer: Rank, channel: Int)? {
        switch self {
        case .send(let p, let c), .recv(let p, let c), .recvReduce(let p, let c): return (p, c)
        case .copy: return nil
        }
    }
}

/// An operation on a range, with the operations of the same rank that must finish first.
/// Sends and receives between two ranks on one channel match in program order (FIFO).
public struct Step: Hashable, Sendable {
    public var operation: Operation
    public var range: BufferRange
    /// Indices of earlier steps of the same program that must complete first.
    public var dependencies: [Int]
    /// Steps of one stream run in order; streams run concurrently.
    public var stream: Int

    public init(_ operation: Operation, _ range: BufferRange, dependencies: [Int], stream: Int) {
        self.operation = operation
        self.range = range
        self.dependencies = dependencies
        self.stream = stream
    }
}

public struct RankProgram: Sendable, Equatable {
    public var rank: Rank
    public var steps: [Step]
}

/// One program per rank for one collective, valid for every message size.
public struct Plan: Sendable, Equatable {
    public var collective: Collective
    public var rankCount: Int
    public var root: Rank?
    public var programs: [RankProgram]
    /// Slices each tree's share is cut into.
    public var slices: Int
    /// Where the plan came from: "forest", "ring" or "double_binary_tree".
    public var algorithm: String
    /// How each tree arc's bytes cross the fabric, for the simulator: (channel, from, to) →
    /// paths of vertices with the fraction of the bytes each carries.
    public var routing: [ArcKey: [WeightedPath]]
    /// The trees the programs were lowered from, so the plan can be lowered again with another
    /// slice count (`lowered(slices:)`); empty for a plan from elsewhere (MSCCL XML), whose
    /// slicing is fixed.
    public var phases: [PipelinePhase]

    public init(collective: Collective, rankCount: Int, root: Rank?, programs: [RankProgram], slices: Int,
                algorithm: String, routing: [ArcKey: [WeightedPath]] = [:], phases: [PipelinePhase] = []) {
        self.collective = collective
        self.rankCount = rankCount
        self.root = root
        self.programs = programs
        self.slices = slices
        self.algorithm = algorithm
        self.routing = routing
        self.phases = phases
    }

    /// The deepest tree over all phases (arcs from root to the farthest rank); 0 without trees.
    public var maxDepth: Int { phases.map(\.depth).max() ?? 0 }

    /// The same trees lowered with `slices` slices per tree (this plan if it already has that
    /// many, or has no trees to lower again). Channels and routing stay the same.
    public func lowered(slices: Int) -> Plan {
        guard slices != self.slices, !phases.isEmpty else { return self }
        var p = Lowering.lower(phases: phases, collective: collective, rankCount: rankCount, root: root,
                               slices: slices, algorithm: algorithm)
        p.routing = routing
        return p
    }

    /// Element counts of the buffers for nccl-tests' `count` (elements per rank for allgather's
    /// input and reduce-scatter's output; the whole buffer otherwise).
    public func bufferCounts(count: Int) -> [BufferKind: Int] {
        let n = rankCount
        switch collective {
        case .allgather: return [.input: count, .output: n * count, .scratch: count]
        case .reduceScatter: return [.input: n * count, .output: count, .scratch: n * count]
        case .allreduce, .broadcast, .reduce: return [.input: count, .output: count, .scratch: count]
        }
    }

    public var stepCount: Int { programs.reduce(0) { $0 + $1.steps.count } }
}

/// One phase of a tree plan: its trees (arcs only; routes live in `Plan.routing`), which way data
/// moves along them, and how they cover the buffer.
public struct PipelinePhase: Sendable, Equatable {
    public var direction: TreeDirection
    /// True: all trees share the whole buffer (broadcast, reduce, tree allreduce); false: root r's
    /// trees share segment r of N.
    public var wholeBuffer: Bool
    /// Every root's trees have multiplicities summing to this.
    public var treesPerRoot: Int
    public var roots: [Rank]
    public let trees: [Arborescence]
    /// The deepest tree's depth, computed once: the runtime's slice choice reads it on every call.
    public let depth: Int

    public init(direction: TreeDirection, wholeBuffer: Bool, treesPerRoot: Int, roots: [Rank], trees: [Arborescence]) {
        self.direction = direction
        self.wholeBuffer = wholeBuffer
        self.treesPerRoot = treesPerRoot
        self.roots = roots
        self.trees = trees
        self.depth = trees.map(\.depth).max() ?? 0
    }
}

public struct ArcKey: Hashable, Sendable {
    public var channel: Int
    public var from: Rank
    public var to: Rank
    public init(channel: Int, from: Rank, to: Rank) { self.channel = channel; self.from = from; self.to = to }
}

public struct WeightedPath: Hashable, Sendable {
    /// Vertices from sender to receiver, switches (and forwarding ranks) between.
    public var vertices: [VertexID]
    public var weight: Rational
    public init(vertices: [VertexID], weight: Rational) { self.vertices = vertices; self.weight = weight }
}
