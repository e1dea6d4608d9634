#!/usr/bin/env bash
# Grove's main job on a bundled fabric: synthesize the optimal allreduce schedule for a
# heterogeneous 4-host fabric, with size windows for Grove's TCP runtime (and compare it with
# ring and double binary tree), verify the per-rank programs, then run them: 4 processes on
# this host exchange real bytes over TCP (`grove launch -n 4 -- grove bench`), and rank 0
# prints the nccl-tests table.
# Usage: scripts/demo.sh [TOPOLOGY] [COLLECTIVE]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh release
topology=${1:-Topologies/netns-mesh-4.json}
collective=${2:-allreduce}
grove=.build/release/grove
mkdir -p .build/demo
out=.build/demo/$(basename "$topology" .json).$collective.schedule.json
"$grove" synth "$topology" -c "$collective" --compare --runtime tcp -o "$out"
echo
"$grove" verify "$out"
echo
ranks=$("$grove" synth "$topology" -c "$collective" --json | sed 's/.*"ranks": \([0-9]*\).*/\1/')
echo "\$ grove launch -n $ranks -- grove bench $collective --schedule $out -b 8 -e 64M -f 4"
"$grove" launch -n "$ranks" --no-prefix -- "$grove" bench "$collective" --schedule "$out" -b 8 -e 64M -f 4
echo
echo "schedule written to $out"
