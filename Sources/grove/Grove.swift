import ArgumentParser

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
        subcommands: [Topo.self, Synth.self, Verify.self, Simulate.self, Export.self, Launch.self, Bench.self]
    )
}
