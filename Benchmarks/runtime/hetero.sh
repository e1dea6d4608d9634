#!/usr/bin/env bash
# Benchmark (b): the emulated heterogeneous fabric of Topologies/netns-mesh-4.json. Four hosts
# (network namespaces) joined pairwise by veth links shaped with tc tbf on each sending side:
# h0-h1 and h2-h3 at 400 Mbit/s, h0-h2 and h1-h3 at 200 Mbit/s, h0-h3 and h1-h2 at 100 Mbit/s.
# Each host has one address (10.214.9.N on lo) and a /32 route to every other host over their
# direct link, so rank-to-rank traffic takes exactly the fabric's links. First a plain TCP stream
# checks that the shaper, not the CPU, sets each link's rate; then allreduce busbw of the forest,
# of the ring on the fabric, and of the ring in rank order, against the synthesized bound.
# Writes Benchmarks/runtime/results/hetero.csv. Needs root (namespaces, tc). Cleans up on exit.
# Usage: [EXTRA_SLICES="8 16"] Benchmarks/runtime/hetero.sh [MAXBYTES] [ITERS]
# (EXTRA_SLICES adds forest runs lowered with those slice counts instead of the default 4;
# PROFILE_ONLY=1 skips the table and runs only the per-link profile.)
set -euo pipefail
cd "$(dirname "$0")/../.."
maxbytes=${1:-67108864}
iters=${2:-5}
source scripts/setup.sh release >/dev/null
grove=$(realpath .build/release/grove)
topology=Topologies/netns-mesh-4.json
out=Benchmarks/runtime/results
mkdir -p "$out"
tag="gh$$"
work=$(mktemp -d)
cleanup() {
    for h in 0 1 2 3; do ip netns del "$tag$h" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
addr() { echo "10.214.9.$(( $1 + 1 ))"; }
for h in 0 1 2 3; do
    ip netns add "$tag$h"
    ip -n "$tag$h" link set lo up
    ip -n "$tag$h" addr add "$(addr $h)/32" dev lo
done
link() {  # link I J MBIT
    local i=$1 j=$2 rate=$3
    ip link add "$tag-$i$j" type veth peer name "$tag-$j$i"
    ip link set "$tag-$i$j" netns "$tag$i"
    ip link set "$tag-$j$i" netns "$tag$j"
    for side in "$i $j" "$j $i"; do
        set -- $side
        ip -n "$tag$1" link set "$tag-$1$2" up
        ip -n "$tag$1" route add "$(addr $2)/32" dev "$tag-$1$2" src "$(addr $1)"
        tc -n "$tag$1" qdisc add dev "$tag-$1$2" root tbf rate "${rate}mbit" burst 256kb latency 50ms
    done
}
link 0 1 400; link 2 3 400
link 0 2 200; link 1 3 200
link 0 3 100; link 1 2 100

# A plain stream over a fast and a slow link: the shaper must be what limits them.
stream() {  # FROM TO -> MB/s
    local port=$(( 30000 + RANDOM % 20000 ))
    ip netns exec "$tag$2" python3 -c "
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('$(addr $2)',$port)); s.listen(1)
c,_=s.accept(); n=0
while True:
    b=c.recv(1<<20)
    if not b: break
    n+=len(b)
" &
    local sink=$!
    sleep 0.3
    ip netns exec "$tag$1" python3 -c "
import socket,time
s=socket.create_connection(('$(addr $2)',$port)); b=b'x'*(1<<20); t=time.time(); n=0
while time.time()-t<3: s.sendall(b); n+=len(b)
s.close(); print('%.1f' % (n/(time.time()-t)/1e6))
"
    wait $sink
}
echo "plain TCP stream h0->h1 (400 Mbit/s = 50 MB/s): $(stream 0 1) MB/s"
echo "plain TCP stream h0->h3 (100 Mbit/s = 12.5 MB/s): $(stream 0 3) MB/s"

bound=$("$grove" synth "$topology" -c allreduce --json | sed 's/.*"busbw": \([0-9.e-]*\).*/\1/')
echo "synthesized bound: allreduce busbw $bound GB/s"
echo "program,size_bytes,time_us,p50_us,busbw_gbps,wrong" > "$out/hetero.csv"
run() {  # NAME ARGS...
    local name=$1; shift
    local port=$(( 20000 + RANDOM % 10000 ))
    local pids=()
    for h in 0 1 2 3; do
        ip netns exec "$tag$h" env RANK=$h WORLD_SIZE=4 MASTER_ADDR="$(addr 0)" MASTER_PORT=$port GROVE_TIMEOUT=300 GROVE_CONNECTIONS=${GROVE_CONNECTIONS:-1} \
            "$grove" bench allreduce "$@" -n "$iters" -w 1 --out-of-place-only \
            --csv "$work/$name.csv" >"$work/$name-$h.out" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    cat "$work/$name-0.out" >&2
}
record() {  # NAME ARGS...: a run over the sizes, added to the results
    run "$@" -b 1M -e "$maxbytes" -f 4
    tail -n +2 "$work/$1.csv" | awk -F, -v p="$1" '{ print p "," $6 "," $11 "," $12 "," $15 "," $16 }' >> "$out/hetero.csv"
}
if [ -z "${PROFILE_ONLY:-}" ]; then
record grove-forest --topology "$topology" --algo forest
for s in ${EXTRA_SLICES:-}; do record "grove-forest-slices$s" --topology "$topology" --algo forest --slices "$s"; done
record grove-ring-fabric --topology "$topology" --algo ring
record grove-ring-rank-order --algo ring
fi
# Profile: how busy each shaped link is during a forest call of MAXBYTES. tc counts the bytes each
# link sent (TCP/IP headers included) over the run; divided by the calls made (1 warm-up, ITERS
# timed, 1 checked) and by a call's measured time, it gives the link's busy share per call.
snapshot() { for h in 0 1 2 3; do tc -n "$tag$h" -s -j qdisc show | python3 -c "
import json,sys
for q in json.load(sys.stdin):
    if q['kind'] == 'tbf': print(q['dev'], q['options']['rate'], q['bytes'])
"; done; }
snapshot > "$work/before"
run profile --topology "$topology" --algo forest -b "$maxbytes" -e "$maxbytes"
snapshot > "$work/after"
python3 - "$work/before" "$work/after" "$work/profile.csv" "$iters" <<'PY'
import csv, sys
before = [l.split() for l in open(sys.argv[1])]
after = [l.split() for l in open(sys.argv[2])]
row = list(csv.DictReader(open(sys.argv[3])))[-1]
calls = int(sys.argv[4]) + 2
seconds = float(row["time_us"]) * 1e-6
print(f"link busy share during a {int(row['size_bytes']) >> 20} MiB forest allreduce ({seconds * 1e3:.0f} ms per call, {calls} calls):")
for (dev, rate, b0), (_, _, b1) in zip(before, after):
    rate = int(rate)
    per_call = (int(b1) - int(b0)) / calls
    link = dev.split("-")[-1]
    print(f"  h{link[0]} -> h{link[1]} at {rate * 8 / 1e6:3.0f} Mbit/s: {per_call / 1e6:6.2f} MB per call, busy {100 * per_call / (rate * seconds):5.1f}%")
PY
python3 - "$out/hetero.csv" "$bound" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
bound = float(sys.argv[2])
print(f"bound busbw {bound:.4f} GB/s")
print(f"{'program':>22} {'size':>10} {'busbw':>8} {'of bound':>9} {'wrong':>6}")
for r in rows:
    b = float(r['busbw_gbps'])
    print(f"{r['program']:>22} {r['size_bytes']:>10} {b:>8.4f} {100 * b / bound:>8.1f}% {r['wrong']:>6}")
PY
