#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh debug
swift test --parallel 2>&1
# Shipped schedules: regenerated and compared, verified, simulated (release build).
bash scripts/check-schedules.sh
