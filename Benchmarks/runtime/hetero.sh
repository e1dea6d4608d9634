#!/usr/bin/env bash
# Benchmark (b): the emulated heterogeneous fabric of Topologies/netns-mesh-4.json. Four hosts
# (network namespaces) joined pairwise by veth links shaped with tc tbf on each sending side:
# h0-h1 and h2-h3 at 400 Mbit/s, h0-h2 and h1-h3 at 200 Mbit/s, h0-h3 and h1-h2 at 100 Mbit/s.
# Each host has one address (10.214.9.N on lo) and a /32 route to every other host over their
# direct link, so rank-to-rank traffic takes exactly the fabric's links. First a plain TCP stream
# checks that the shaper, not the CPU, sets each link's rate (and gives the wire efficiency the
# simulator is run with); then allreduce busbw, all in the same run, against the synthesized
# bound and against `grove simulate`'s prediction: Grove's automatic choice, the forest, the ring
# on the fabric and the ring in rank order; Open MPI (`mpirun --mca btl tcp,self`, one rank per
# namespace, its daemons started in the namespaces by a launch agent instead of ssh); Gloo
# (torch.distributed, one rank per namespace). Last, a per-link time series (tx bytes of every
# shaped direction every 10 ms) during forest calls of MAXBYTES: where links idle together.
# Writes Benchmarks/runtime/results/hetero.csv and hetero-timeline.csv. Needs root (namespaces,
# tc). Cleans up on exit.
# Usage: [REPEAT=3] [EXTRA_SLICES="8 16"] [BURST=256kb] [TBF_LATENCY=50ms] [TCP_CC=cubic|bbr|""] Benchmarks/runtime/hetero.sh [MAXBYTES] [ITERS]
# (REPEAT runs every program R times, interleaved; the summary takes the median per size.
# EXTRA_SLICES adds forest runs with those slice counts pinned; PROFILE_ONLY=1 runs only the
# time series; PEERS=0 leaves out Open MPI and Gloo; GROVE_BIN=path runs another grove binary,
# for comparing two builds.)
set -euo pipefail
cd "$(dirname "$0")/../.."
maxbytes=${1:-67108864}
cc=${TCP_CC-cubic}
iters=${2:-5}
source scripts/setup.sh release peers >/dev/null
grove=$(realpath "${GROVE_BIN:-.build/release/grove}")
here=Benchmarks/runtime
topology=Topologies/netns-mesh-4.json
out=Benchmarks/runtime/results
mkdir -p "$out"
tag="gh$$"
work=$(mktemp -d)
keepers=()
cleanup() {
    for k in "${keepers[@]}"; do kill "$k" 2>/dev/null || true; done
    for h in 0 1 2 3; do ip netns del "$tag$h" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
addr() { echo "10.214.9.$(( $1 + 1 ))"; }
# Each host's address sits on a device of its own (gd0, one end of a veth pair kept inside the
# namespace: this kernel has no dummy devices), which Gloo and Open MPI can be told to use by
# name; the links' veths carry no address, only the /32 routes below.
for h in 0 1 2 3; do
    ip netns add "$tag$h"
    ip -n "$tag$h" link set lo up
    ip -n "$tag$h" link add gd0 type veth peer name gd0p
    ip -n "$tag$h" link set gd0p up
    ip -n "$tag$h" link set gd0 up
    ip -n "$tag$h" addr add "$(addr $h)/32" dev gd0
done
link() {  # link I J MBIT
    local i=$1 j=$2 rate=$3
    ip link add "$tag-$i$j" type veth peer name "$tag-$j$i"
    ip link set "$tag-$i$j" netns "$tag$i"
    ip link set "$tag-$j$i" netns "$tag$j"
    for side in "$i $j" "$j $i"; do
        set -- $side
        ip -n "$tag$1" link set "$tag-$1$2" up
        # Every route's congestion control, for Grove and the peers alike: CUBIC, Linux's default,
        # unless TCP_CC names another ("" keeps the namespace's, BBR on this VM). Under BBR the
        # shaped links stall now and then (its RTT probes on a 50 ms tbf queue) and the forest
        # measured 73-96% of the bound, varying run to run; under CUBIC 93-95% (Benchmarks/README.md).
        ip -n "$tag$1" route add "$(addr $2)/32" dev "$tag-$1$2" src "$(addr $1)" ${cc:+congctl "$cc"}
        tc -n "$tag$1" qdisc add dev "$tag-$1$2" root tbf rate "${rate}mbit" burst "${BURST:-256kb}" latency "${TBF_LATENCY:-50ms}"
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
fast=$(stream 0 1)
echo "plain TCP stream h0->h1 (400 Mbit/s = 50 MB/s): $fast MB/s"
echo "plain TCP stream h0->h3 (100 Mbit/s = 12.5 MB/s): $(stream 0 3) MB/s"
efficiency=$(python3 -c "print(round(min(1.0, $fast / 50), 4))")
echo "wire efficiency for the simulator (fast stream / shaped rate): $efficiency"

bound=$("$grove" synth "$topology" -c allreduce --json | sed 's/.*"busbw": \([0-9.e-]*\).*/\1/')
echo "synthesized bound: allreduce busbw $bound GB/s"
echo "program,size_bytes,time_us,p50_us,busbw_gbps,wrong" > "$out/hetero.csv"
run() {  # NAME ARGS...
    local name=$1; shift
    local port=$(( 20000 + RANDOM % 10000 ))
    [ -n "${SAMPLE:-}" ] && start_sampler
    local pids=()
    for h in 0 1 2 3; do
        ip netns exec "$tag$h" env RANK=$h WORLD_SIZE=4 MASTER_ADDR="$(addr 0)" MASTER_PORT=$port GROVE_TIMEOUT=300 GROVE_CONNECTIONS=${GROVE_CONNECTIONS:-1} \
            "$grove" bench allreduce "$@" -n "$iters" -w 1 --out-of-place-only \
            --csv "$work/$name.csv" >"$work/$name-$h.out" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    [ -n "${SAMPLE:-}" ] && stop_sampler
    cat "$work/$name-0.out" >&2
}
record() {  # NAME ARGS...: a run over the sizes, added to the results
    run "$@" -b 1M -e "$maxbytes" -f 4
    tail -n +2 "$work/$1.csv" | awk -F, -v p="$1" '{ print p "," $6 "," $11 "," $12 "," $15 "," $16 }' >> "$out/hetero.csv"
}
# Open MPI with one rank per namespace: mpirun runs in h0 and starts its daemons in the other
# namespaces through this agent where it would use ssh ("AGENT HOST COMMAND..."); hosts are
# the namespaces' names. Control and data use only gd0's addresses.
agent="$work/netns-agent"
cat > "$agent" <<'AGENT'
#!/bin/sh
host=$1; shift
exec ip netns exec "$host" /bin/sh -c "$*"
AGENT
chmod +x "$agent"
mpicc.openmpi -O2 -o "$work/mpi-openmpi" $here/mpi_allreduce.c
record_openmpi() {
    ip netns exec "${tag}0" mpirun.openmpi --allow-run-as-root -np 4 --host "${tag}0,${tag}1,${tag}2,${tag}3" \
        --mca plm_rsh_agent "$agent" --mca btl tcp,self --mca btl_tcp_if_include gd0 --mca oob_tcp_if_include gd0 \
        "$work/mpi-openmpi" 1048576 "$maxbytes" 4 "$iters" 1 \
        | awk -F, '{ print "openmpi-tcp," $1 "," $3 "," $4 "," $6 "," $7 }' | tee -a "$out/hetero.csv" >&2
}
record_gloo() {
    local port=$(( 20000 + RANDOM % 10000 )) pids=()
    for h in 0 1 2 3; do
        ip netns exec "$tag$h" env RANK=$h WORLD_SIZE=4 MASTER_ADDR="$(addr 0)" MASTER_PORT=$port GLOO_SOCKET_IFNAME=gd0 \
            python "$here/gloo_allreduce.py" 1048576 "$maxbytes" 4 "$iters" 1 >"$work/gloo-$h.out" 2>"$work/gloo-$h.err" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    awk -F, '{ print "gloo," $1 "," $3 "," $4 "," $6 "," $7 }' "$work/gloo-0.out" | tee -a "$out/hetero.csv" >&2
}
if [ -z "${PROFILE_ONLY:-}" ]; then
for round in $(seq 1 "${REPEAT:-1}"); do
record grove-auto --topology "$topology"
record grove-forest --topology "$topology" --algo forest
for s in ${EXTRA_SLICES:-}; do record "grove-forest-slices$s" --topology "$topology" --algo forest --slices "$s"; done
record grove-ring-fabric --topology "$topology" --algo ring
record grove-ring-rank-order --algo ring
if [ "${PEERS:-1}" = 1 ]; then
    echo "open mpi ..." >&2; record_openmpi
    echo "gloo ..." >&2; record_gloo
fi
done
fi
# Time series: every 10 ms (SAMPLE_MS), the bytes each shaped direction has sent (its veth's tx counter, read
# from /proc/PID/net/dev of a process parked in the sending namespace), during forest calls of
# MAXBYTES. Written to results/hetero-timeline.csv (seconds, link, busy share of the interval)
# and summarized: each link's busy share while the calls run, and the share of time every link
# is nearly idle at once (below 20% of its rate), which is what a better overlap would remove.
for h in 0 1 2 3; do ip netns exec "$tag$h" sleep 100000 & keepers+=($!); done
start_sampler() {
    python3 - "$tag" "$work/samples.csv" "${SAMPLE_MS:-10}" "${keepers[@]}" <<'SAMPLER' &
import sys, time
tag, out, period, pids = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000, sys.argv[4:]
f = open(out, "w")
t0 = time.monotonic()
while True:
    now = time.monotonic() - t0
    for pid in pids:
        try:
            lines = open(f"/proc/{pid}/net/dev").read().splitlines()[2:]
        except OSError:
            sys.exit(0)
        for line in lines:
            name, rest = line.split(":", 1)
            name = name.strip()
            if name.startswith(tag + "-"):
                f.write(f"{now:.4f},{name[len(tag) + 1:]},{rest.split()[8]}\n")
    f.flush()
    time.sleep(max(0.0, period - (time.monotonic() - t0 - now)))
SAMPLER
    sampler=$!
}
stop_sampler() { kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; }
SAMPLE=1 run profile --topology "$topology" --algo forest -b "$maxbytes" -e "$maxbytes"
for k in "${keepers[@]}"; do kill "$k" 2>/dev/null || true; done
python3 - "$work/samples.csv" "$out/hetero-timeline.csv" "$work/profile.csv" "${SAMPLE_MS:-10}" <<'PY'
import csv, sys
from collections import defaultdict
rate = {"01": 50e6, "10": 50e6, "23": 50e6, "32": 50e6, "02": 25e6, "20": 25e6, "13": 25e6, "31": 25e6,
        "03": 12.5e6, "30": 12.5e6, "12": 12.5e6, "21": 12.5e6}
series = defaultdict(list)
for t, link, b in csv.reader(open(sys.argv[1])):
    series[link].append((float(t), int(b)))
links = sorted(series)
steps = min(len(series[l]) for l in links)
busy = {l: [] for l in links}
times = []
for i in range(1, steps):
    times.append(series[links[0]][i][0])
    for l in links:
        (t0, b0), (t1, b1) = series[l][i - 1], series[l][i]
        busy[l].append((b1 - b0) / (rate[l] * max(t1 - t0, 1e-4)))
with open(sys.argv[2], "w") as f:
    f.write("seconds,link,busy\n")
    for i, t in enumerate(times):
        for l in links:
            f.write(f"{t:.3f},h{l[0]}->h{l[1]},{busy[l][i]:.3f}\n")
# The calls: from the first interval with traffic to the last.
active = [i for i in range(len(times)) if max(busy[l][i] for l in links) > 0.2]
lo, hi = active[0], active[-1] + 1
row = list(csv.DictReader(open(sys.argv[3])))[-1]
span = times[hi - 1] - times[lo]
idle = sum(1 for i in range(lo, hi) if max(busy[l][i] for l in links) < 0.2)
print(f"per-link time series, {sys.argv[4]} ms intervals, {span:.1f} s of forest calls of {int(row['size_bytes']) >> 20} MiB "
      f"({float(row['time_us']) / 1e3:.0f} ms each):")
for l in links:
    b = busy[l][lo:hi]
    print(f"  h{l[0]} -> h{l[1]} at {rate[l] * 8 / 1e6:3.0f} Mbit/s: busy {100 * sum(b) / len(b):5.1f}% of the time")
print(f"  every link below 20% at once: {100 * idle / (hi - lo):.1f}% of the intervals (raw: {sys.argv[2]})")
PY
# What the simulator predicts for the same plans (the schedule the runtime synthesizes from the
# topology, with Grove's TCP message costs and the wire efficiency measured above).
"$grove" synth "$topology" -c allreduce --runtime tcp -o "$work/schedule.json" >/dev/null
echo "program,size_bytes,busbw_gbps" > "$work/predicted.csv"
for size in $(awk -F, 'NR > 1 { print $2 }' "$out/hetero.csv" | sort -un); do
    for p in auto:"" forest:"--algorithm forest" ring-fabric:"--algorithm ring"; do
        b=$("$grove" simulate "$work/schedule.json" --topology "$topology" --size "$size" --wire-efficiency "$efficiency" ${p#*:} \
            | awk '/^busbw/ { print $2 }')
        echo "grove-${p%%:*},$size,$b" >> "$work/predicted.csv"
    done
done
python3 - "$out/hetero.csv" "$bound" "$work/predicted.csv" <<'PY'
import csv, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1])))
bound = float(sys.argv[2])
predicted = {(r["program"], int(r["size_bytes"])): float(r["busbw_gbps"]) for r in csv.DictReader(open(sys.argv[3]))}
runs = defaultdict(list)
for r in rows:
    runs[(r["program"], int(r["size_bytes"]))].append(r)
median = {k: sorted(v, key=lambda r: float(r["busbw_gbps"]))[len(v) // 2] for k, v in runs.items()}
programs = list(dict.fromkeys(r["program"] for r in rows))
print(f"bound busbw {bound:.4f} GB/s; {max(len(v) for v in runs.values())} run(s) per program and size, median shown")
print(f"{'program':>22} {'size':>10} {'busbw':>8} {'of bound':>9} {'predicted':>10} {'meas/pred':>10} {'wrong':>6}")
for p in programs:
    for s in sorted({k[1] for k in median if k[0] == p}):
        r = median[(p, s)]
        b = float(r["busbw_gbps"])
        pred = predicted.get((p, s))
        extra = f"{pred:>10.4f} {b / pred:>10.2f}" if pred else f"{'':>10} {'':>10}"
        print(f"{p:>22} {s:>10} {b:>8.4f} {100 * b / bound:>8.1f}% {extra} {r['wrong']:>6}")
peers = [p for p in ("openmpi-tcp", "gloo") if p in programs]
if peers:
    print("forest / better of " + " and ".join(peers) + ":")
    for s in sorted({k[1] for k in median if k[0] == "grove-forest"}):
        best = max((float(median[(p, s)]["busbw_gbps"]) for p in peers if (p, s) in median), default=0)
        if best > 0:
            print(f"  {s:>10}: {float(median[('grove-forest', s)]['busbw_gbps']) / best:.2f}x")
PY
