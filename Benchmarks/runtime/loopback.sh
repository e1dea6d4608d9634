#!/usr/bin/env bash
# Benchmark (a): allreduce of float32, 8 B to 256 MiB, 4 ranks on this host over loopback TCP.
# Grove (its size windows, the forest synthesized for a 4-rank star, recursive doubling and the
# ring) against Open MPI (`mpirun --mca btl tcp,self`), MPICH (its default device) and Gloo
# (torch.distributed, CPU wheel, under torchrun), all measured in the same run, each call timed
# alone and an iteration's time taken as the slowest rank's. The star's links are 2 GB/s, of the
# order of what loopback TCP moves per rank here, so the size windows fit this host.
# ALGOS="auto forest" picks Grove's programs (default: auto forest recursive_doubling ring).
# Writes Benchmarks/runtime/results/loopback.csv and prints the busbw table with ratios.
# REPEAT=R runs every program R times, interleaved (the machine is noisy: Open MPI's busbw at
# 1 MiB varied 0.46–0.75 GB/s between runs); the summary takes the median row per size.
# As root, every program runs in a private network namespace (its own loopback, plus a veth
# address for Open MPI, which will not use 127.0.0.1) whose TCP congestion control is
# TCP_CC (default cubic, the kernel's default; "" keeps what the host has: this VM's is BBR,
# under which every program's busbw at 64 MiB dropped by a third and Grove's ring at 256 MiB
# by half). Not root: the host's loopback, as it is.
# Usage: [REPEAT=3] [ALGOS="..."] [TCP_CC=cubic|bbr|""] Benchmarks/runtime/loopback.sh [MAXBYTES] [ITERS] [WARMUP]
set -euo pipefail
cd "$(dirname "$0")/../.."
maxbytes=${1:-268435456}
iters=${2:-10}
warmup=${3:-3}
here=Benchmarks/runtime
out=$here/results
mkdir -p "$out"
work=$(mktemp -d)
ns=""
cleanup() { rm -rf "$work"; [ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
source scripts/setup.sh release peers >/dev/null
grove=.build/release/grove
if [ "$(id -u)" = 0 ] && ! command -v mpicc.openmpi >/dev/null; then
    apt-get install -y openmpi-bin libopenmpi-dev mpich >/dev/null
fi
command -v mpicc.openmpi >/dev/null || { echo "needs Open MPI: apt-get install -y openmpi-bin libopenmpi-dev mpich"; exit 1; }
cc=${TCP_CC-cubic}
inns=()
if [ "$(id -u)" = 0 ]; then
    ns=grove-loopback-$$
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add gl0 type veth peer name gl1
    ip -n "$ns" addr add 10.77.0.1/24 dev gl0
    ip -n "$ns" link set gl0 up
    ip -n "$ns" link set gl1 up
    [ -z "$cc" ] || ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="$cc"
    inns=(ip netns exec "$ns")
    echo "# private network namespace $ns, TCP congestion control $(ip netns exec "$ns" sysctl -n net.ipv4.tcp_congestion_control)"
else
    echo "# not root: the host's loopback, TCP congestion control $(sysctl -n net.ipv4.tcp_congestion_control)"
fi

"$grove" topo generate star --ranks 4 --bandwidth 2 -o "$work/star4.json"
echo "program,size_bytes,time_us,p50_us,busbw_gbps,wrong" > "$out/loopback.csv"
mpicc.openmpi -O2 -o "$work/mpi-openmpi" $here/mpi_allreduce.c
command -v mpicc.mpich >/dev/null && mpicc.mpich -O2 -o "$work/mpi-mpich" $here/mpi_allreduce.c
for round in $(seq 1 "${REPEAT:-1}"); do
for algo in ${ALGOS:-auto forest recursive_doubling ring}; do
    echo "grove $algo ..." >&2
    "${inns[@]}" "$grove" launch -n 4 --no-prefix -- "$grove" bench allreduce --topology "$work/star4.json" --algo "$algo" \
        -b 8 -e "$maxbytes" -f 2 -n "$iters" -w "$warmup" --out-of-place-only --csv "$work/grove-$algo.csv" >&2
    tail -n +2 "$work/grove-$algo.csv" | awk -F, -v p="grove-$algo" '{ print p "," $6 "," $11 "," $12 "," $15 "," $16 }' >> "$out/loopback.csv"
done
echo "open mpi ..." >&2
"${inns[@]}" mpirun.openmpi --allow-run-as-root --oversubscribe -np 4 --mca btl tcp,self "$work/mpi-openmpi" 8 "$maxbytes" 2 "$iters" "$warmup" \
    | awk -F, '{ print "openmpi-tcp," $1 "," $3 "," $4 "," $6 "," $7 }' >> "$out/loopback.csv"
if command -v mpicc.mpich >/dev/null; then
    echo "mpich ..." >&2
    "${inns[@]}" mpirun.mpich -np 4 "$work/mpi-mpich" 8 "$maxbytes" 2 "$iters" "$warmup" \
        | awk -F, '{ print "mpich," $1 "," $3 "," $4 "," $6 "," $7 }' >> "$out/loopback.csv"
fi
echo "gloo ..." >&2
"${inns[@]}" torchrun --standalone --nproc-per-node 4 $here/gloo_allreduce.py 8 "$maxbytes" 2 "$iters" "$warmup" 2>/dev/null \
    | awk -F, '{ print "gloo," $1 "," $3 "," $4 "," $6 "," $7 }' >> "$out/loopback.csv"
done
python3 $here/summarize.py "$out/loopback.csv" openmpi-tcp
