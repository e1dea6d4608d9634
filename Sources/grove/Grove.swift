import ArgumentParser
import Foundation

@main
struct Grove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grove",
        abstract: "Throughput-optimal collective schedules for heterogeneous fabrics.",
        discussion: """
        Start with a topology file (Grove JSON; see `grove topo --help`), then synthesize:

          grove topo generate dgx-a100 --boxes 2 -o a100x2.json
          grove synth a100x2.json -c allreduce --compare

        Bundled fabrics live in Topologies/.
        """,
        version: groveVersion,
        subcommands: [Topo.self, Synth.self, Verify.self, Simulate.self, Export.self, Launch.self, Bench.self]
    )

    /// As ArgumentParser's `main`, except that a command line it cannot parse is one line on
    /// stderr and exit status 2, as every other bad input: `grove: <what> (see 'grove X --help')`.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == RankExec.marker { RankExec.run(Array(arguments.dropFirst())) }
        let command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }
            let first = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            Console.error(first.replacingOccurrences(of: "Error: ", with: "") + " (see '\(commandPath(arguments)) --help')")
            Foundation.exit(2)
        }
        var runnable = command
        do { try runnable.run() } catch { exit(withError: error) }
    }
}

extension Grove {
    /// `grove` followed by the subcommand names at the start of `arguments`.
    static func commandPath(_ arguments: [String]) -> String {
        var path = ["grove"]
        var command: ParsableCommand.Type = Grove.self
        for a in arguments {
            guard let sub = command.configuration.subcommands.first(where: { $0._commandName == a }) else { break }
            path.append(a)
            command = sub
        }
        return path.joined(separator: " ")
    }
}

/// `grove --version`.
let groveVersion = "0.9.0"
