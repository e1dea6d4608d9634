#!/usr/bin/env bash
# Grove's main job on a bundled fabric: synthesize the optimal allreduce schedule for two
# DGX A100 boxes, compare it with ring and double binary tree, write the schedule (per-rank
# programs), verify it, and predict its time at 1 GiB.
# Usage: scripts/demo.sh [TOPOLOGY] [COLLECTIVE]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh release
topology=${1:-Topologies/dgx-a100-2.json}
collective=${2:-allreduce}
mkdir -p .build/demo
out=.build/demo/$(basename "$topology" .json).$collective.schedule.json
.build/release/grove topo show "$topology"
echo
.build/release/grove synth "$topology" -c "$collective" --compare -o "$out"
echo
.build/release/grove verify "$out"
echo
.build/release/grove simulate "$out" --topology "$topology" --size 1G --algorithm forest
echo
echo "schedule written to $out"
