/// Everything a communicator call can fail with. Each case reads as one sentence that says what
/// went wrong, where, and (when there is something to do) what to do.
public enum CommunicatorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The environment or arguments that say who this rank is, or where rank 0 is, are wrong.
    case configuration(String)
    /// Ranks could not meet: rank 0 unreachable, its port taken, ranks missing.
    case rendezvous(String)
    /// Ranks disagree: world size, schedule, or the arguments of a call.
    case mismatch(String)
    /// A peer's connection closed or failed while this rank still needed it.
    case peerLost(rank: Int, String)
    /// A call or connection did not finish in time.
    case timeout(String)
    /// A peer sent bytes that are not a valid frame.
    case protocolViolation(peer: Int, String)
    /// A peer gave up and said why (its own error, forwarded).
    case aborted(by: Int, reason: String)
    /// A buffer, count or root that does not fit the call.
    case invalidArgument(String)
    /// The schedule or topology could not be loaded or planned.
    case schedule(String)
    /// A system call failed where no peer is to blame.
    case system(String)

    public var description: String {
        switch self {
        case .configuration(let m), .rendezvous(let m), .mismatch(let m), .timeout(let m),
             .invalidArgument(let m), .schedule(let m), .system(let m):
            return m
        case .peerLost(_, let m): return m
        case .protocolViolation(let peer, let m): return "rank \(peer) sent a malformed frame: \(m)"
        case .aborted(let by, let reason): return "rank \(by) gave up: \(reason)"
        }
    }
}
