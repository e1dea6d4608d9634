#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh debug
swift build 2>&1
swift test --parallel 2>&1
# Four emulated hosts (network namespaces behind a bridge) running an allreduce.
bash Tests/netns/multihost.sh .build/debug/grove
# Shipped schedules: regenerated and compared, verified, simulated (release build).
bash scripts/check-schedules.sh
