#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh debug peers
swift build 2>&1
# The example links GroveRuntime as an application would; the runtime must not pull in GLPK (GPL-3).
if ldd .build/debug/grove-allreduce-example | grep -q glpk; then
    echo "test.sh: the runtime links GLPK (GPL-3): grove-allreduce-example must not" >&2
    exit 1
fi
.build/debug/grove launch -n 4 -- .build/debug/grove-allreduce-example --topology Topologies/netns-mesh-4.json
swift test --parallel 2>&1
# Every launcher people use (grove launch, torchrun three ways, Open MPI, MPICH), end to end.
bash Tests/launchers.sh .build/debug/grove
# Four emulated hosts (network namespaces behind a bridge) running an allreduce.
bash Tests/netns/multihost.sh .build/debug/grove
# Shipped schedules: regenerated and compared, verified, simulated (release build).
bash scripts/check-schedules.sh
# The C ABI as users meet it: install.sh into a fresh prefix, exported symbols, bad arguments to
# every function, C, C++ and Python (NumPy) examples, the torch backend and DDP against Gloo.
bash Tests/capi/run.sh
# Bandwidths written by scripts (Python floats): exact bound on the rounded fabric, both engines, a run.
bash Tests/float-fabrics.sh .build/release/grove
# 182 hostile inputs and faults: one clear line, exit 2, no crash, no hang, bounded memory (release build).
bash Tests/badinput/catalogue.sh .build/release/grove
