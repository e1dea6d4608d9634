#!/usr/bin/env bash
# Multi-host test: 4 ranks on 4 emulated hosts (network namespaces) behind a bridge, rendezvous
# by MASTER_ADDR = rank 0's namespace address; allreduce (forest from a topology file, and ring)
# must be correct on every rank. Cleans up on any exit. Skips, saying why, only where
# namespaces cannot be created.
# Usage: Tests/netns/multihost.sh [GROVE-BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
grove=$(realpath "${1:-.build/debug/grove}")
tag="gt$$"
subnet="10.213.$(( $$ % 200 + 20 ))"
hosts=(0 1 2 3)
work=$(mktemp -d)

cleanup() {
    for h in "${hosts[@]}"; do ip netns del "$tag-h$h" 2>/dev/null || true; done
    ip netns del "$tag-sw" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

if ! ip netns add "$tag-sw" 2>"$work/err"; then
    echo "multihost: SKIPPED: cannot create network namespaces here ($(cat "$work/err")); run as root on Linux"
    exit 0
fi
ip -n "$tag-sw" link add br0 type bridge
ip -n "$tag-sw" link set br0 up
for h in "${hosts[@]}"; do
    ns="$tag-h$h"
    ip netns add "$ns"
    ip link add "$tag-v$h" type veth peer name "$tag-p$h"
    ip link set "$tag-v$h" netns "$ns"
    ip link set "$tag-p$h" netns "$tag-sw"
    ip -n "$tag-sw" link set "$tag-p$h" master br0
    ip -n "$tag-sw" link set "$tag-p$h" up
    ip -n "$ns" addr add "$subnet.$((h + 1))/24" dev "$tag-v$h"
    ip -n "$ns" link set "$tag-v$h" up
    ip -n "$ns" link set lo up
done

# Rank r runs in host r's namespace and knows only rank 0's address.
topology="$work/star4.json"
"$grove" topo generate cloud --nics 10,25,25,50 --gpus-per-host 1 -o "$topology"
status=0
for algo in forest ring; do
    port=$(( 20000 + RANDOM % 20000 ))
    pids=()
    for h in "${hosts[@]}"; do
        ip netns exec "$tag-h$h" env RANK="$h" WORLD_SIZE=4 MASTER_ADDR="$subnet.1" MASTER_PORT="$port" GROVE_TIMEOUT=60 \
            "$grove" bench allreduce --topology "$topology" --algo "$algo" -n 2 -w 1 --sizes 4 388 262148 4194304 16777216 \
            >"$work/out-$algo-$h" 2>"$work/err-$algo-$h" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            echo "multihost: FAILED: rank $i ($algo) exited non-zero: $(cat "$work/err-$algo-$i")"
            status=1
        fi
    done
    rows=$(grep -vc '^#' "$work/out-$algo-0" || true)
    wrong=$(grep -v '^#' "$work/out-$algo-0" | awk '{ s += $9 + $13 } END { print s + 0 }')
    if [ "$rows" != 5 ] || [ "$wrong" != 0 ]; then
        echo "multihost: FAILED: $algo: $rows rows, $wrong wrong elements"
        cat "$work/out-$algo-0"
        status=1
    else
        echo "multihost: $algo allreduce on 4 namespaces ($subnet.1-4 behind a bridge): 5 sizes, 0 wrong"
        grep -v '^#' "$work/out-$algo-0" | sed 's/^/  /'
    fi
done
exit $status
