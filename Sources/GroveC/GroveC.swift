// The C ABI of include/grove.h: every exported function is here, named as in the header. Each
// checks its arguments, never traps on them, and returns a groveResult_t; the message of a
// failure goes to the calling thread's last error. Handles are numbers (Handles.swift).
import Foundation
import GroveRuntime
import GroveSynthesis

/// GROVE_VERSION_CODE of the header this library was built with.
let versionCode: Int32 = 0 * 10000 + 12 * 100 + 0
let configMagic: UInt32 = 0x6772_6f76

/// Records the outcome as the calling thread's last error (when it is one) and returns its code.
private func report(_ o: Outcome) -> Int32 {
    if o.code != Code.success && o.code != Code.inProgress { LastError.set(o.message) }
    return o.code
}

private func invalid(_ message: String) -> Int32 { report(.invalid(message)) }

/// C layout of groveConfig_t; read field by field after checking `size` and `magic`.
private struct CConfig {
    var size: Int
    var magic: UInt32
    var version: UInt32
    var schedules: UnsafePointer<CChar>?
    var topology: UnsafePointer<CChar>?
    var algorithm: UnsafePointer<CChar>?
    var timeoutSeconds: Double
    var connections: Int32
}

private let dataTypes: [Int32: DataType] = [1: .uint8, 2: .int32, 4: .int64, 6: .float16, 7: .float32, 8: .float64, 9: .bfloat16]
private let typeNames = "groveUint8 (1), groveInt32 (2), groveInt64 (4), groveFloat16 (6), groveFloat32 (7), groveFloat64 (8), groveBfloat16 (9)"
private let reduceOps: [Int32: ReduceOp] = [0: .sum, 1: .prod, 2: .max, 3: .min, 4: .avg]

// MARK: Version and errors

@_cdecl("groveGetVersion")
public func groveGetVersion(_ version: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let version else { return invalid("groveGetVersion: version is NULL") }
    version.pointee = versionCode
    return Code.success
}

private let resultNames: [StaticString] = [
    "success", "unhandled error", "system error", "internal error", "invalid argument", "invalid usage",
    "remote error", "in progress", "timeout",
]

@_cdecl("groveGetErrorString")
public func groveGetErrorString(_ result: Int32) -> UnsafePointer<CChar> {
    let name: StaticString = resultNames.indices.contains(Int(result)) && result != 1 ? resultNames[Int(result)] : "unknown result code"
    return name.utf8Start.withMemoryRebound(to: CChar.self, capacity: 1) { $0 }
}

@_cdecl("groveGetLastError")
public func groveGetLastError() -> UnsafePointer<CChar> { LastError.current }

@_cdecl("groveConfigInit")
public func groveConfigInit(_ config: UnsafeMutableRawPointer?) -> Int32 {
    guard let config else { return invalid("groveConfigInit: config is NULL") }
    config.storeBytes(of: CConfig(size: MemoryLayout<CConfig>.stride, magic: configMagic, version: UInt32(versionCode), schedules: nil,
                                  topology: nil, algorithm: nil, timeoutSeconds: 0, connections: 0), as: CConfig.self)
    return Code.success
}

// MARK: Communicators

@_cdecl("groveCommInitFromEnv")
public func groveCommInitFromEnv(_ comm: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let comm else { return invalid("groveCommInitFromEnv: comm is NULL") }
    comm.pointee = nil
    return join(ProcessInfo.processInfo.environment, config: nil, into: comm)
}

@_cdecl("groveCommInitRank")
public func groveCommInitRank(_ comm: UnsafeMutablePointer<OpaquePointer?>?, _ nranks: Int32, _ rank: Int32,
                              _ master: UnsafePointer<CChar>?, _ config: UnsafeRawPointer?) -> Int32 {
    guard let comm else { return invalid("groveCommInitRank: comm is NULL") }
    comm.pointee = nil
    guard nranks >= 1 else { return invalid("groveCommInitRank: nranks \(nranks): a communicator needs at least 1 rank") }
    guard (0..<nranks).contains(rank) else { return invalid("groveCommInitRank: rank \(rank) is not below nranks \(nranks) (ranks are 0…\(nranks - 1))") }
    guard let master else { return invalid("groveCommInitRank: master is NULL: give \"host:port\" of the store rank 0 serves") }
    let text = String(cString: master)
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port),
          colon != text.startIndex else {
        return invalid("groveCommInitRank: master \"\(text)\" is not \"host:port\" with a port 1…65535")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    var c: CConfig?
    if let config {
        let size = config.load(as: Int.self)
        let magic = config.load(fromByteOffset: MemoryLayout<Int>.size, as: UInt32.self)
        guard magic == configMagic, size == MemoryLayout<CConfig>.stride else {
            return invalid("groveCommInitRank: config was not initialized with GROVE_CONFIG_INITIALIZER or groveConfigInit (size \(size), magic 0x\(String(magic, radix: 16)))")
        }
        c = config.load(as: CConfig.self)
    }
    var env = ProcessInfo.processInfo.environment
    // This job's rendezvous is rank 0's own store at `master`, whatever a launcher set.
    for k in ["TORCHELASTIC_USE_AGENT_STORE", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
              "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] { env[k] = nil }
    env["RANK"] = "\(rank)"
    env["WORLD_SIZE"] = "\(nranks)"
    env["MASTER_ADDR"] = host
    env["MASTER_PORT"] = "\(port)"
    return join(env, config: c, into: comm)
}

/// Joins the job `env` describes with the plans `config` (else GROVE_SCHEDULE / GROVE_TOPOLOGY /
/// GROVE_ALGO) names.
private func join(_ environment: [String: String], config: CConfig?, into comm: UnsafeMutablePointer<OpaquePointer?>) -> Int32 {
    var env = environment
    if let c = config {
        if c.timeoutSeconds != 0 {
            guard LaunchEnvironment.timeout(seconds: c.timeoutSeconds) != nil else {
                return invalid("config.timeoutSeconds \(c.timeoutSeconds): give seconds above 0 and at most 86400, or 0 for GROVE_TIMEOUT")
            }
            env["GROVE_TIMEOUT"] = "\(c.timeoutSeconds)"
        }
        if c.connections != 0 {
            guard (1...64).contains(c.connections) else { return invalid("config.connections \(c.connections): give 1…64, or 0 for GROVE_CONNECTIONS") }
            env["GROVE_CONNECTIONS"] = "\(c.connections)"
        }
        if let p = c.schedules { env["GROVE_SCHEDULE"] = String(cString: p) }
        if let p = c.topology { env["GROVE_TOPOLOGY"] = String(cString: p) }
        if let p = c.algorithm { env["GROVE_ALGO"] = String(cString: p) }
    }
    let schedules = (env["GROVE_SCHEDULE"] ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    let topology = env["GROVE_TOPOLOGY"].flatMap { $0.isEmpty ? nil : $0 }
    let algorithm = env["GROVE_ALGO"].flatMap { $0.isEmpty ? nil : $0 }
    do throws(CommunicatorError) {
        let launch = try LaunchEnvironment.from(env)
        let plans: PlanLibrary
        do throws(CommunicatorError) {
            plans = try PlanLibrary.configured(schedules: schedules, topology: topology, algorithm: algorithm, worldSize: launch.worldSize)
        } catch {
            // The others would wait for this rank until the timeout; tell them why it will not come.
            Communicator.abandon(launch, reason: error.description)
            throw error
        }
        let handle = CommHandle(try Communicator(launch, plans: plans))
        comm.pointee = registry.withLock { $0.add(handle) }
        return Code.success
    } catch {
        return report(Outcome(error))
    }
}

@_cdecl("groveCommDestroy")
public func groveCommDestroy(_ comm: OpaquePointer?) -> Int32 {
    guard let h = registry.withLock({ $0.removeComm(comm) }) else { return notLive("groveCommDestroy", comm) }
    h.close(abort: false)
    return Code.success
}

@_cdecl("groveCommAbort")
public func groveCommAbort(_ comm: OpaquePointer?) -> Int32 {
    guard let h = registry.withLock({ $0.removeComm(comm) }) else { return notLive("groveCommAbort", comm) }
    h.close(abort: true)
    return Code.success
}

@_cdecl("groveCommCount")
public func groveCommCount(_ comm: OpaquePointer?, _ count: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let h = registry.withLock({ $0.comm(comm) }) else { return notLive("groveCommCount", comm) }
    guard let count else { return invalid("groveCommCount: count is NULL") }
    count.pointee = Int32(h.size)
    return Code.success
}

@_cdecl("groveCommUserRank")
public func groveCommUserRank(_ comm: OpaquePointer?, _ rank: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let h = registry.withLock({ $0.comm(comm) }) else { return notLive("groveCommUserRank", comm) }
    guard let rank else { return invalid("groveCommUserRank: rank is NULL") }
    rank.pointee = Int32(h.rank)
    return Code.success
}

private func notLive(_ function: String, _ comm: OpaquePointer?) -> Int32 { invalid(notLiveMessage(function, comm)) }

private func notLiveMessage(_ function: String, _ comm: OpaquePointer?) -> String {
    guard let comm else { return "\(function): comm is NULL" }
    return "\(function): comm \(comm) is not a live communicator (destroyed, aborted, or never initialized)"
}

// MARK: Collectives

/// Checks a collective's arguments and queues it; returns the job, or the code of what is wrong.
/// A wrong argument on a live communicator fails that communicator (the peers are told), since
/// the other ranks cannot finish the collective without this one.
private func enqueue(_ function: String, _ collective: Collective?, send: UnsafeRawPointer?, receive: UnsafeMutableRawPointer?,
                     count: UInt, type rawType: Int32, op rawOp: Int32?, root: Int32, comm: OpaquePointer?) -> Result<Job, Outcome> {
    guard let h = registry.withLock({ $0.comm(comm) }) else {
        return .failure(.invalid(notLiveMessage(function, comm)))
    }
    guard let collective else { return .success(h.submit(Call(kind: .barrier))) }
    func reject(_ m: String) -> Result<Job, Outcome> {
        let error = CommunicatorError.invalidArgument("rank \(h.rank): \(function): \(m)")
        _ = h.submit(Call(kind: .reject(error)))
        return .failure(Outcome(error))
    }
    guard let type = dataTypes[rawType] else { return reject("datatype \(rawType) is not one Grove supports: give \(typeNames)") }
    var op = ReduceOp.sum
    if let rawOp {
        guard let o = reduceOps[rawOp] else { return reject("op \(rawOp) is not a reduction: give groveSum (0), groveProd (1), groveMax (2), groveMin (3) or groveAvg (4)") }
        op = o
    }
    // Bytes the larger buffer spans, which must fit in memory's addresses.
    let spread = [.allgather, .reduceScatter].contains(collective) ? UInt(h.size) : 1
    let (total, overflow) = count.multipliedReportingOverflow(by: UInt(type.size) * spread)
    guard !overflow, total <= UInt(Int.max) >> 1 else {
        return reject("count \(count) of \(type) is too large to address\(count > UInt(Int.max) ? " (a negative count passed as size_t?)" : "")")
    }
    if collective.needsRoot && !(0..<Int32(h.size)).contains(root) {
        return reject("root \(root) is not a rank of this communicator (0…\(h.size - 1))")
    }
    let readsInput = collective != .broadcast || Int(root) == h.rank
    let writesOutput = collective != .reduce || Int(root) == h.rank
    if count > 0 {
        if readsInput && send == nil { return reject("sendbuff is NULL for \(count) elements") }
        if writesOutput && receive == nil { return reject("recvbuff is NULL for \(count) elements") }
    }
    // A broadcast's non-root rank receives in place. A reduce's non-root rank may pass NULL for
    // its output: Grove's plans leave it untouched, but a schedule file could name it, so it
    // gets memory of the call's size, freed with the call.
    let input = readsInput ? send : UnsafeRawPointer(receive)
    var call = Call(kind: .collective(collective, root: Int(root)), input: input, output: receive,
                    count: Int(count), type: type, op: op)
    if call.output == nil && count > 0 {
        call.ownedOutput = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(total), alignment: 64)
        call.output = call.ownedOutput!.baseAddress
    }
    return .success(h.submit(call))
}

private func blocking(_ r: Result<Job, Outcome>) -> Int32 {
    switch r {
    case .success(let job): return report(job.wait())
    case .failure(let o): return report(o)
    }
}

/// Queues a non-blocking call: `make` checks and queues it under `function`'s name.
private func asynchronous(_ function: String, _ request: UnsafeMutablePointer<OpaquePointer?>?,
                          _ make: (String) -> Result<Job, Outcome>) -> Int32 {
    guard let request else { return invalid("\(function): request is NULL") }
    request.pointee = nil
    switch make(function) {
    case .success(let job):
        request.pointee = registry.withLock { $0.add(job) }
        return Code.success
    case .failure(let o): return report(o)
    }
}

@_cdecl("groveAllReduce")
public func groveAllReduce(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ op: Int32,
                           _ comm: OpaquePointer?) -> Int32 {
    blocking(enqueue("groveAllReduce", .allreduce, send: send, receive: recv, count: count, type: type, op: op, root: 0, comm: comm))
}

@_cdecl("groveAllGather")
public func groveAllGather(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32,
                           _ comm: OpaquePointer?) -> Int32 {
    blocking(enqueue("groveAllGather", .allgather, send: send, receive: recv, count: count, type: type, op: nil, root: 0, comm: comm))
}

@_cdecl("groveReduceScatter")
public func groveReduceScatter(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ op: Int32,
                               _ comm: OpaquePointer?) -> Int32 {
    blocking(enqueue("groveReduceScatter", .reduceScatter, send: send, receive: recv, count: count, type: type, op: op, root: 0, comm: comm))
}

@_cdecl("groveBroadcast")
public func groveBroadcast(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ root: Int32,
                           _ comm: OpaquePointer?) -> Int32 {
    blocking(enqueue("groveBroadcast", .broadcast, send: send, receive: recv, count: count, type: type, op: nil, root: root, comm: comm))
}

@_cdecl("groveReduce")
public func groveReduce(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ op: Int32,
                        _ root: Int32, _ comm: OpaquePointer?) -> Int32 {
    blocking(enqueue("groveReduce", .reduce, send: send, receive: recv, count: count, type: type, op: op, root: root, comm: comm))
}

@_cdecl("groveBarrier")
public func groveBarrier(_ comm: OpaquePointer?) -> Int32 {
    blocking(enqueue("groveBarrier", nil, send: nil, receive: nil, count: 0, type: 0, op: nil, root: 0, comm: comm))
}

// MARK: Non-blocking collectives

@_cdecl("groveAllReduceAsync")
public func groveAllReduceAsync(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ op: Int32,
                                _ comm: OpaquePointer?, _ request: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    asynchronous("groveAllReduceAsync", request) { enqueue($0, .allreduce, send: send, receive: recv, count: count, type: type, op: op, root: 0, comm: comm) }
}

@_cdecl("groveAllGatherAsync")
public func groveAllGatherAsync(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32,
                                _ comm: OpaquePointer?, _ request: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    asynchronous("groveAllGatherAsync", request) { enqueue($0, .allgather, send: send, receive: recv, count: count, type: type, op: nil, root: 0, comm: comm) }
}

@_cdecl("groveReduceScatterAsync")
public func groveReduceScatterAsync(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ op: Int32,
                                    _ comm: OpaquePointer?, _ request: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    asynchronous("groveReduceScatterAsync", request) { enqueue($0, .reduceScatter, send: send, receive: recv, count: count, type: type, op: op, root: 0, comm: comm) }
}

@_cdecl("groveBroadcastAsync")
public func groveBroadcastAsync(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ root: Int32,
                                _ comm: OpaquePointer?, _ request: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    asynchronous("groveBroadcastAsync", request) { enqueue($0, .broadcast, send: send, receive: recv, count: count, type: type, op: nil, root: root, comm: comm) }
}

@_cdecl("groveReduceAsync")
public func groveReduceAsync(_ send: UnsafeRawPointer?, _ recv: UnsafeMutableRawPointer?, _ count: UInt, _ type: Int32, _ op: Int32,
                             _ root: Int32, _ comm: OpaquePointer?, _ request: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    asynchronous("groveReduceAsync", request) { enqueue($0, .reduce, send: send, receive: recv, count: count, type: type, op: op, root: root, comm: comm) }
}

@_cdecl("groveBarrierAsync")
public func groveBarrierAsync(_ comm: OpaquePointer?, _ request: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    asynchronous("groveBarrierAsync", request) { enqueue($0, nil, send: nil, receive: nil, count: 0, type: 0, op: nil, root: 0, comm: comm) }
}

// MARK: Requests

private func notLiveRequest(_ function: String, _ request: OpaquePointer?) -> Int32 {
    guard let request else { return invalid("\(function): request is NULL") }
    return invalid("\(function): request \(request) is not a live request (freed, or never returned by a grove*Async call)")
}

@_cdecl("groveTest")
public func groveTest(_ request: OpaquePointer?, _ done: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let job = registry.withLock({ $0.request(request) }) else { return notLiveRequest("groveTest", request) }
    guard let done else { return invalid("groveTest: done is NULL") }
    guard let o = job.result else {
        done.pointee = 0
        return Code.success
    }
    done.pointee = 1
    return report(o)
}

@_cdecl("groveWait")
public func groveWait(_ request: OpaquePointer?) -> Int32 {
    guard let job = registry.withLock({ $0.request(request) }) else { return notLiveRequest("groveWait", request) }
    return report(job.wait())
}

@_cdecl("groveRequestFree")
public func groveRequestFree(_ request: OpaquePointer?) -> Int32 {
    guard let job = registry.withLock({ $0.removeRequest(request) }) else { return notLiveRequest("groveRequestFree", request) }
    _ = job.wait()
    return Code.success
}
