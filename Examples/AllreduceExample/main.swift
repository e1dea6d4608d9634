// A program that links GroveRuntime the way an application would: it joins the job from the
// launcher's environment, averages a "gradient" across ranks with allreduce, gathers every
// rank's id with allgather, and checks both. Compiled by scripts/test.sh, so it cannot rot.
//
//   swift build --product grove-allreduce-example
//   grove launch -n 4 -- .build/debug/grove-allreduce-example [--topology Topologies/netns-mesh-4.json]
import Foundation
import GroveRuntime

let arguments = CommandLine.arguments
do {
    let environment = try LaunchEnvironment.from(ProcessInfo.processInfo.environment)
    let plans: PlanLibrary
    if let i = arguments.firstIndex(of: "--topology"), i + 1 < arguments.count {
        plans = try PlanLibrary.load(topology: arguments[i + 1], worldSize: environment.worldSize)
    } else {
        plans = try PlanLibrary(.baseline(.ring), worldSize: environment.worldSize)
    }
    let comm = try Communicator(environment, plans: plans)

    // Each rank's gradient is rank + 1 everywhere; the average is (n + 1) / 2.
    var gradient = [Float](repeating: Float(comm.rank + 1), count: 1 << 20)
    try comm.allreduce(&gradient, op: .avg)
    let expected = Float(comm.worldSize + 1) / 2
    let bad = gradient.filter { $0 != expected }.count

    let ids = try comm.allgather([Int32(comm.rank)])
    try comm.barrier()
    if comm.rank == 0 {
        print("allreduce(avg) of \(gradient.count) floats on \(comm.worldSize) ranks with \(comm.lastAlgorithm == "local" ? "no peers" : "plans \(plans.identity)"): \(bad) wrong; allgather of ranks: \(ids)")
    }
    exit(bad == 0 && ids == (0..<Int32(comm.worldSize)).map { $0 } ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("grove-allreduce-example: \(error)\n".utf8))
    exit(2)
}
