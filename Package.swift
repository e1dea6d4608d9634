// swift-tools-version:6.0
import PackageDescription
import Foundation

let packageDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "Grove",
    products: [
        .executable(name: "grove", targets: ["grove"]),
        .library(name: "GroveTopology", targets: ["GroveTopology"]),
        .library(name: "GroveSynthesis", targets: ["GroveSynthesis"]),
        .library(name: "GroveSchedule", targets: ["GroveSchedule"]),
        .library(name: "GroveRuntime", targets: ["GroveRuntime"]),
        // The C ABI of include/grove.h with the Swift runtime linked in: built as libGroveC.so
        // (the name `grove` is the CLI's) with the soname libgrove.so.0, and installed as
        // libgrove.so by scripts/install.sh.
        .library(name: "GroveC", type: .dynamic, targets: ["GroveC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // GLPK ships no pkg-config file on Debian, so the module map links it by name.
        .systemLibrary(name: "CGLPK", path: "Sources/CGLPK"),
        .target(name: "CGroveSys"),
        // Optimized in debug builds too, as GroveRuntime below: the suite reads, synthesizes, lowers
        // and verifies multi-megabyte fabrics and schedules, 3–5× slower unoptimized.
        .target(name: "GroveTopology", swiftSettings: optimizedInDebug),
        .target(name: "GroveSynthesis", dependencies: ["GroveTopology"], swiftSettings: optimizedInDebug),
        .target(name: "GroveLP", dependencies: ["GroveSynthesis", "CGLPK"]),
        .target(name: "GroveSchedule", dependencies: ["GroveSynthesis"], swiftSettings: optimizedInDebug),
        // The library applications link: no GLPK (GPL-3) below it, only the combinatorial engine.
        // Optimized in debug builds too: the end-to-end tests move up to 16 MiB per call through it,
        // and unoptimized SIMD reductions and data checks are 20× slower.
        .target(name: "GroveRuntime", dependencies: ["GroveSchedule", "GroveTopology", .product(name: "Logging", package: "swift-log")],
                swiftSettings: optimizedInDebug),
        // The C ABI. Exports only the grove* functions (grove.exports, checked by
        // Tests/capi/symbols.sh) and links the Swift runtime statically, so the library needs
        // nothing but the C library. No GLPK below it.
        .target(name: "GroveC", dependencies: ["GroveRuntime"], exclude: ["grove.exports"],
                swiftSettings: optimizedInDebug,
                linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "--start-group", "-lFoundation", "-lFoundationEssentials",
                                                 "-lFoundationInternationalization", "-lCoreFoundation", "-l_FoundationICU",
                                                 "-l_FoundationCollections", "-l_FoundationCShims", "-lswiftSynchronization",
                                                 "-lswiftDispatch", "-ldispatch", "-lBlocksRuntime", "-lFoundationXML", "-l_CFXMLInterface", "-lxml2",
                                                 "-Xlinker", "--end-group",
                                                 "-Xlinker", "--no-undefined", "-Xlinker", "--version-script=\(packageDirectory)/Sources/GroveC/grove.exports",
                                                 "-Xlinker", "-soname=libgrove.so.0"])]),
        .executableTarget(
            name: "grove",
            dependencies: [
                "GroveTopology", "GroveSynthesis", "GroveLP", "GroveSchedule", "GroveRuntime", "CGroveSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "grove-allreduce-example", dependencies: ["GroveRuntime"], path: "Examples/AllreduceExample"),
        .testTarget(name: "GroveTopologyTests", dependencies: ["GroveTopology"]),
        .testTarget(name: "GroveSynthesisTests", dependencies: ["GroveSynthesis"]),
        .testTarget(name: "GroveLPTests", dependencies: ["GroveLP", "GroveSynthesis"]),
        .testTarget(name: "GroveScheduleTests", dependencies: ["GroveSchedule"]),
        .testTarget(name: "GroveRuntimeTests", dependencies: ["GroveRuntime"]),
        .testTarget(name: "GroveCLITests", dependencies: ["grove"]),
    ]
)
