import Foundation
import Testing
import GroveSynthesis
import GroveTopology
@testable import GroveRuntime
#if canImport(Glibc)
import Glibc
#endif

/// A port the kernel just handed out on loopback.
func freeLoopbackPort() -> Int {
    let s = try! Socket.listen(on: SocketAddress(address: inet_addr("127.0.0.1"), port: 0), what: "a test port")
    return Int(s.localAddress.port)
}

/// Runs ranks `ranks` of a TCP world on loopback, one thread each; returns each rank's error.
func withTCPWorld(_ n: Int, ranks: [Int]? = nil, timeout: Duration = .seconds(20), port: Int = freeLoopbackPort(),
                  masterAddress: String = "127.0.0.1", connections: Int? = nil, library: @escaping @Sendable (Int) throws -> PlanLibrary,
                  abandonOnFailure: Bool = false,
                  _ body: @escaping @Sendable (Communicator) throws -> Void = { _ in }) -> [Int: String] {
    let results = Results(n)
    let group = DispatchGroup()
    for r in ranks ?? Array(0..<n) {
        group.enter()
        Thread {
            do {
                let env = LaunchEnvironment(rank: r, worldSize: n, masterAddress: masterAddress, masterPort: port, connectionsPerPeer: connections)
                let plans: PlanLibrary
                do { plans = try library(r) } catch {
                    if abandonOnFailure { Communicator.abandon(env, reason: "\(error)", timeout: timeout) }
                    throw error
                }
                let c = try Communicator(env, plans: plans, timeout: timeout)
                try body(c)
            } catch let e as CommunicatorError { results.set(r, e) } catch { results.set(r, .system("\(error)")) }
            group.leave()
        }.start()
    }
    group.wait()
    var out: [Int: String] = [:]
    for (r, e) in results.all.enumerated() { if let e { out[r] = "\(e)" } }
    return out
}

@Suite(.serialized) struct TCPRuntime {
    /// Three connections per peer, so that frames of one message are striped and reassembled.
    @Test func everyCollectiveOverLoopback() throws {
        let fabric = try FabricGenerator.ring(ranks: 4, bandwidth: Rational(10), bidirectional: true)
        let library = try PlanLibrary(.topology(fabric), worldSize: 4)
        let wrong = WrongCounter()
        let errors = withTCPWorld(4, connections: 3, library: { _ in library }) { c in
            for (coll, root) in collectivesWithRoot {
                for count in [1, 97, 65537, 1 << 20] {
                    for inPlace in [false, true] {
                        wrong.add(try runChecked(c, coll, type: .float32, op: .sum, count: count, inPlace: inPlace, root: root), "\(coll) \(count) \(inPlace)")
                    }
                }
            }
            try c.barrier()
        }
        #expect(errors.isEmpty, "\(errors)")
        #expect(wrong.total == 0, "\(wrong.notes)")
    }

    @Test func differentSchedulesFailEveryRank() {
        let errors = withTCPWorld(3, library: { r in try PlanLibrary(.baseline(r == 2 ? .doubleBinaryTree : .ring), worldSize: 3) })
        #expect(errors.count == 3)
        for (r, e) in errors {
            #expect(e.contains("different schedules") && e.contains("rank 2") && e.contains("double_binary_tree"), "rank \(r): \(e)")
        }
    }

    /// Ranks told different broadcast roots each think they are the root: without the call
    /// check every rank would only send and finish with nothing delivered. Every rank fails.
    @Test func differentRootsFailEveryRank() {
        let errors = withTCPWorld(3, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 3) }) { c in
            var data = [Float](repeating: Float(c.rank), count: 16)
            try data.withUnsafeMutableBufferPointer { try c.broadcast($0, root: c.rank) }
        }
        #expect(errors.count == 3, "\(errors)")
        for (r, e) in errors { #expect(e.contains("root") && e.contains("same calls with the same arguments"), "rank \(r): \(e)") }
    }

    /// A stranger on a rank's data port, silent or sending garbage, is dropped; the job runs.
    @Test func strangersOnTheDataPortAreDropped() {
        let errors = withTCPWorld(3, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 3) }) { c in
            var strangers: [Socket] = []
            if c.rank == 1, let t = c.transport as? TCPTransport {
                let deadline = ContinuousClock.now + .seconds(5)
                let noisy = try Socket.connect(to: t.addresses[1], deadline: deadline, what: "rank 1")
                try noisy.writeBytes(Array(repeating: 0xAB, count: 100), deadline: deadline, what: "rank 1")
                strangers = [noisy, try Socket.connect(to: t.addresses[1], deadline: deadline, what: "rank 1")]
            }
            var data = [Float](repeating: 1, count: 1000)
            try data.withUnsafeMutableBufferPointer { try c.allreduce($0) }
            #expect(data.allSatisfy { $0 == 3 })
            _ = strangers
        }
        #expect(errors.isEmpty, "\(errors)")
    }

    /// A rank that cannot start says so through the rendezvous: the others fail at once with
    /// its reason instead of waiting out the timeout (here 30 s; the test allows 10).
    @Test func rankThatCannotStartIsNamedAtOnce() {
        let start = ContinuousClock.now
        let errors = withTCPWorld(3, timeout: .seconds(30), library: { r in
            if r == 1 { throw CommunicatorError.schedule("broken.json:1:6: not a schedule") }
            return try PlanLibrary(.baseline(.ring), worldSize: 3)
        }, abandonOnFailure: true)
        #expect(ContinuousClock.now - start < .seconds(10))
        for r in [0, 2] { #expect(errors[r]?.contains("rank 1 could not start: broken.json:1:6: not a schedule") == true, "\(errors)") }
    }

    @Test func missingRankIsNamed() {
        let errors = withTCPWorld(4, ranks: [0, 2], timeout: .seconds(2), library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 4) })
        #expect(errors.count == 2)
        for (r, e) in errors { #expect(e.contains("ranks 1, 3 of 4 never arrived"), "rank \(r): \(e)") }
    }

    @Test func portInUseIsReported() throws {
        let taken = try Socket.listen(on: SocketAddress(address: inet_addr("127.0.0.1"), port: 0), what: "a test port")
        let errors = withTCPWorld(2, ranks: [0], timeout: .seconds(2), port: Int(taken.localAddress.port),
                                  library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 2) })
        #expect(errors[0]?.contains("already in use") ?? false, "\(errors)")
    }

    @Test func unresolvableMasterAddress() {
        let errors = withTCPWorld(2, ranks: [1], timeout: .seconds(2), masterAddress: "no-such-host.invalid",
                                  library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 2) })
        #expect(errors[1]?.contains("cannot resolve 'no-such-host.invalid'") ?? false, "\(errors)")
    }

    @Test func environmentErrors() {
        func message(_ env: [String: String]) -> String {
            do { _ = try LaunchEnvironment.from(env); return "accepted" } catch { return error.description }
        }
        #expect(message(["RANK": "4", "WORLD_SIZE": "4", "MASTER_ADDR": "h"]).contains("RANK 4 is not below WORLD_SIZE 4"))
        #expect(message(["RANK": "x", "WORLD_SIZE": "4"]).contains("RANK=x is not a whole number"))
        #expect(message(["WORLD_SIZE": "2"]).contains("set RANK"))
        #expect(message(["RANK": "0", "WORLD_SIZE": "2"]).contains("MASTER_ADDR is not set"))
        #expect(message(["RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "70000"]).contains("not a TCP port"))
        let slurm = try? LaunchEnvironment.from(["SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "MASTER_ADDR": "n0"])
        #expect(slurm == LaunchEnvironment(rank: 3, worldSize: 8, localRank: 1, masterAddress: "n0"))
        let ompi = try? LaunchEnvironment.from(["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "MASTER_ADDR": "n0", "MASTER_PORT": "1234"])
        #expect(ompi == LaunchEnvironment(rank: 1, worldSize: 2, masterAddress: "n0", masterPort: 1234))
        let pmi = try? LaunchEnvironment.from(["PMI_RANK": "0", "PMI_SIZE": "1"])
        #expect(pmi?.worldSize == 1)
    }

    /// Without MASTER_ADDR, the launcher's own variables say where rank 0 is.
    @Test func rankZeroFoundFromTheLauncher() {
        func master(_ env: [String: String]) -> String {
            do { return try LaunchEnvironment.from(env).masterAddress } catch { return error.description }
        }
        #expect(master(["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "4"]) == "127.0.0.1")
        #expect(master(["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_LOCAL_SIZE": "4"]).contains("mpirun -x MASTER_ADDR="))
        #expect(master(["PMI_RANK": "2", "PMI_SIZE": "4", "MPI_LOCALNRANKS": "4"]) == "127.0.0.1")
        #expect(master(["PMI_RANK": "2", "PMI_SIZE": "4", "MPI_LOCALNRANKS": "2"]).contains("mpiexec -genv MASTER_ADDR"))
        #expect(master(["SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_STEP_NUM_NODES": "2", "SLURM_STEP_NODELIST": "gpu[007-008]"]) == "gpu007")
        #expect(master(["SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NODELIST": "gpu007"]) == "127.0.0.1")
        #expect(master(["RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "n3", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"]) == "n3")
        #expect(SlurmNodeList.first("node[01-04,07],gpu5") == "node01")
        #expect(SlurmNodeList.first("rack[2-3]-n[10,12]") == "rack2-n10")
        #expect(SlurmNodeList.first("login1,login2") == "login1")
        #expect(SlurmNodeList.first("node[1-2") == nil)
        #expect(SlurmNodeList.first("node[a-b]") == nil)
        #expect(SlurmNodeList.first("") == nil)
    }

    /// Under torchrun the agent's store is used, with keys per run and restart.
    @Test func torchrunAgentStoreIsUsed() throws {
        let env = try LaunchEnvironment.from(["RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "localhost", "MASTER_PORT": "4242",
                                              "TORCHELASTIC_USE_AGENT_STORE": "True", "TORCHELASTIC_RUN_ID": "job7",
                                              "TORCHELASTIC_RESTART_COUNT": "2"])
        #expect(env.launcherStore)
        #expect(env.storeNamespace == "grove/job7/2/")
        let own = try LaunchEnvironment.from(["RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "localhost", "TORCHELASTIC_USE_AGENT_STORE": "False"])
        #expect(!own.launcherStore)
    }

    /// The store speaks torch's TCPStore protocol: a raw client's bytes get torch's answers, and a
    /// stranger that skips the handshake is dropped while a real client carries on.
    @Test func storeSpeaksTheTCPStoreProtocol() throws {
        let port = freeLoopbackPort()
        let server = try StoreServer(port: UInt16(port))
        defer { server.stop() }
        let address = SocketAddress(address: inet_addr("127.0.0.1"), port: UInt16(port))
        let deadline = ContinuousClock.now + .seconds(20)
        let stranger = try Socket.connect(to: address, deadline: deadline, what: "store")
        try stranger.writeBytes(Array("GET / HTTP/1.0\r\n\r\n".utf8), deadline: deadline, what: "store")
        #expect(try stranger.readBytes(1, deadline: deadline, what: "store") == nil, "a stranger is disconnected")
        let client = try StoreClient(address, namespace: "grove/", describedAs: "store", servedByRankZero: true, deadline: deadline)
        #expect(try client.insert("rank/0", "a", deadline: deadline))
        #expect(try !client.insert("rank/0", "b", deadline: deadline))
        #expect(try client.get("rank/0", deadline: deadline) == "a")
        #expect(try client.get("rank/1", deadline: .now + .milliseconds(200)) == nil, "a wait that times out is cancelled")
        try client.set("rank/1", "c", deadline: deadline)
        #expect(try client.get("rank/1", deadline: deadline) == "c", "the connection is usable after a cancelled wait")
        // Raw bytes as torch's client sends them: VALIDATE, PING, then GET of "/grove/rank/0".
        let raw = try Socket.connect(to: address, deadline: deadline, what: "store")
        let key = Array("/grove/rank/0".utf8)
        try raw.writeBytes([0, 0xce, 0xf7, 0x85, 0x3c, 13, 1, 2, 3, 4, 3] + withUnsafeBytes(of: UInt64(key.count).littleEndian, Array.init) + key,
                          deadline: deadline, what: "store")
        #expect(try raw.readBytes(4, deadline: deadline, what: "store") == [1, 2, 3, 4])
        #expect(try raw.readBytes(9, deadline: deadline, what: "store") == [1, 0, 0, 0, 0, 0, 0, 0, UInt8(ascii: "a")])
    }

    @Test func differentCountsFailEveryRankOverTCP() {
        let errors = withTCPWorld(3, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 3) }) { c in
            var a = [Int32](repeating: 1, count: c.rank == 0 ? 64 : 32)
            try c.allreduce(&a)
        }
        #expect(errors.count == 3, "\(errors)")
        for (r, e) in errors { #expect(e.contains("count 64") && e.contains("count 32"), "rank \(r): \(e)") }
    }

    /// A peer that speaks garbage after a valid hello: the receiving rank names it, and neither
    /// crashes nor hangs.
    @Test func malformedFrameFromPeer() throws {
        let listener = try Socket.listen(on: SocketAddress(address: inet_addr("127.0.0.1"), port: 0), what: "test")
        let addresses = [SocketAddress(address: inet_addr("127.0.0.1"), port: 9), listener.localAddress]
        let t = TCPTransport(rank: 1, worldSize: 2, listener: listener, addresses: addresses, session: 42, options: .standard)
        let deadline = ContinuousClock.now + .seconds(5)
        var peers: [Socket] = []
        for i in 0..<TCPTransport.Options.standard.connectionsPerPeer {
            let s = try Socket.connect(to: listener.localAddress, deadline: deadline, what: "rank 1")
            var hello = [UInt8](repeating: 0, count: FrameHeader.size)
            hello.withUnsafeMutableBytes { FrameHeader.hello(rank: 0, connection: i, connections: TCPTransport.Options.standard.connectionsPerPeer, session: 42).encode(into: $0.baseAddress!) }
            try s.writeBytes(hello, deadline: deadline, what: "rank 1")
            peers.append(s)
        }
        try t.connect(to: [0], deadline: deadline)
        try peers[0].writeBytes(Array("this is not a Grove frame at all, really".utf8), deadline: deadline, what: "rank 1")
        let call = CallDescriptor(number: 1, collective: .allreduce, dataType: .float32, op: .sum, count: 4, root: 0)
        t.begin(call)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 16)
        defer { buffer.deallocate() }
        try t.postReceive(buffer, from: 0, tag: MessageTag(call: 1, channel: 0, sequence: 0), context: 0)
        var events: [TransportEvent] = []
        #expect { try t.poll(into: &events, until: deadline) } throws: { e in
            guard let e = e as? CommunicatorError, case .protocolViolation(let peer, let m) = e else { return false }
            return peer == 0 && m.contains("magic")
        }
    }
}

@Suite struct StoreLifetime {
    /// A communicator that ends gives its MASTER_PORT back: a second job can use the same port.
    @Test func portIsFreeAgainAfterTheCommunicatorEnds() {
        let port = freeLoopbackPort()
        for round in 0..<2 {
            let errors = withTCPWorld(2, port: port, library: { _ in try PlanLibrary(.baseline(.ring), worldSize: 2) }) { c in
                var a = [Float](repeating: 1, count: 10)
                try c.allreduce(&a)
            }
            #expect(errors.isEmpty, "round \(round): \(errors)")
        }
    }
}
