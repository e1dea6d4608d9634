#!/usr/bin/env bash
# Regenerates every file in Topologies/ with `grove topo generate`. Each file's "description"
# says where its numbers come from. Usage: scripts/generate-topologies.sh [path-to-grove]
set -euo pipefail
cd "$(dirname "$0")/.."
grove=${1:-.build/debug/grove}
out=Topologies
gen() { local file=$1; shift; "$grove" topo generate "$@" -o "$out/$file.json"; }
gen ring-uni-4 ring --ranks 4 --bandwidth 25
gen ring-uni-8 ring --ranks 8 --bandwidth 25
gen ring-bi-8 biring --ranks 8 --bandwidth 50
gen star-16 star --ranks 16 --bandwidth 25
gen torus-4x4 torus --rows 4 --cols 4 --bandwidth 50
gen dgx-a100-1 dgx-a100 --boxes 1
gen dgx-a100-2 dgx-a100 --boxes 2
gen dgx-a100-4 dgx-a100 --boxes 4
gen dgx-a100-8 dgx-a100 --boxes 8
gen dgx-h100-2 dgx-h100 --boxes 2
gen dgx-h100-4 dgx-h100 --boxes 4
gen mi250-1 mi250 --boxes 1
gen mi250-2 mi250 --boxes 2
gen leaf-spine-4x4 leaf-spine --leaves 4 --hosts-per-leaf 4 --spines 2 --bandwidth 25 --uplink 25
gen cloud-hetero-6x2 cloud --nics 12.5,25,25,50,12.5,50 --gpus-per-host 2 --local 32
