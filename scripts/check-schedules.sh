#!/usr/bin/env bash
# Regenerates every schedule in Schedules/ from Topologies/ with the release build and fails if
# any differs from the checked-in file, so a change in synthesis or lowering cannot silently
# change shipped schedules. Then verifies every shipped schedule and simulates it.
# To accept intended changes: .build/release/grove synth --all Topologies -o Schedules
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh release
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
# One synthesis per topology and collective, as many at a time as the machine has cores: the
# same files `grove synth --all Topologies -o DIR` writes.
jobs=${GROVE_CHECK_JOBS:-$(nproc)}
for f in Topologies/*.json; do for c in allgather reduce-scatter allreduce; do echo "$f $c"; done; done |
    xargs -P "$jobs" -n 2 sh -c '.build/release/grove synth "$1" -c "$2" -o "$0/$(basename "$1" .json).$2.json" >/dev/null 2>&1 ||
        echo "check-schedules: synthesis of $1 $2 failed" >&2' "$fresh"
status=0
for f in Schedules/*.json "$fresh"/*.json; do
    name=$(basename "$f")
    if ! cmp -s "Schedules/$name" "$fresh/$name"; then
        echo "check-schedules: Schedules/$name differs from a fresh synthesis (or is missing on one side)" >&2
        status=1
    fi
done
.build/release/grove verify Schedules/*.json > "$fresh/verify.log" || status=1
grep -v '^ok' "$fresh/verify.log" || true
# Issue 10's targets, with the plan the size windows pick and the slices the runtime picks:
# at 256 MiB at least 85% and at 1 GiB at least 92% of the synthesized rate (override with
# GROVE_SIM_MIN_256M / GROVE_SIM_MIN_1G), and from 64 KiB to 1 GiB never predicted slower than a
# baseline Grove can lower on the fabric (`grove simulate --sweep`).
# Fabrics that miss the targets today, each with the floor it must not fall below and the reason
# in Benchmarks/README.md: they are reported as missed, and fail only below their floor.
min256=${GROVE_SIM_MIN_256M:-85}
min1g=${GROVE_SIM_MIN_1G:-92}
declare -A known=()
worst=100
missed=0
# Simulations and sweeps, in parallel too: each writes its figure or its failure to a file.
mkdir -p "$fresh/sim"
for f in Schedules/*.json; do for size in 256M 1G sweep; do echo "$f $size"; done; done |
    xargs -P "$jobs" -n 2 sh -c '
        name=$(basename "$1"); fabric=${name%%.*}
        if [ "$2" = sweep ]; then
            .build/release/grove simulate "$1" --topology "Topologies/$fabric.json" --size 64K --sweep > "$0/sim/$name.sweep" 2>&1 ||
                echo failed >> "$0/sim/$name.sweep"
        else
            .build/release/grove simulate "$1" --topology "Topologies/$fabric.json" --size "$2" 2>&1 |
                sed -n "s/.*GB\/s, \([0-9.]*\)%).*/\1/p" > "$0/sim/$name.$2"
        fi' "$fresh"
for f in Schedules/*.json; do
    name=$(basename "$f"); fabric=${name%%.*}
    for size in 256M 1G; do
        pct=$(cat "$fresh/sim/$name.$size")
        [[ -n $pct ]] || { echo "check-schedules: $name at $size: no simulation result" >&2; status=1; continue; }
        target=$([[ $size == 1G ]] && echo "$min1g" || echo "$min256")
        floor=${known[$fabric:$size]:-$target}
        echo "simulate: $name at $size reaches $pct% of its synthesized rate"
        if awk -v p="$pct" -v t="$floor" 'BEGIN { exit !(p < t) }'; then
            echo "check-schedules: $name at $size is below $floor% of its synthesized rate" >&2; status=1
        elif awk -v p="$pct" -v t="$target" 'BEGIN { exit !(p < t) }'; then
            echo "check-schedules: $name at $size misses the $target% target (known, floor $floor%; see Benchmarks/README.md)"
            missed=$((missed + 1))
        fi
        worst=$(awk -v p="$pct" -v w="$worst" 'BEGIN { print (p < w ? p : w) }')
    done
    if grep -q '^failed$' "$fresh/sim/$name.sweep"; then cat "$fresh/sim/$name.sweep"; status=1; fi
done
echo "simulate: lowest prediction at 256 MiB or 1 GiB: $worst% of the synthesized rate; $missed known misses of the 85%/92% targets"
if [[ $status == 0 ]]; then
    echo "check-schedules: $(ls Schedules/*.json | wc -l) schedules match a fresh synthesis and verify"
fi
exit $status
