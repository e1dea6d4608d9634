#!/usr/bin/env bash
# What the torch binding costs: torch.distributed.all_reduce through Grove's backend ("grove",
# Python, ctypes) against `grove bench` running the same plans, and against the gloo backend,
# 4 ranks on this host, float32 sum, out of place, 1 MiB to MAXBYTES, in one run (REPEAT rounds
# interleaved; the summary takes the median per size). Grove's plans are the same in both: the
# size windows of a uniform star of 4 ranks at 2 GB/s (the library's default, and star4.json).
# As root, in a private network namespace under TCP_CC (default cubic), as loopback.sh.
# Writes Benchmarks/runtime/results/torch-backend.csv.
# Usage: [REPEAT=3] [TCP_CC=cubic] Benchmarks/runtime/torch_backend.sh [MAXBYTES] [ITERS] [WARMUP]
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
if [[ -z ${GROVE_LIBRARY:-} ]]; then
    scripts/install.sh "$work/prefix" >/dev/null 2>&1
    export GROVE_LIBRARY=$work/prefix/lib/libgrove.so
fi
python -m pip install -q --force-reinstall --no-deps ./python >/dev/null
inns=()
if [ "$(id -u)" = 0 ]; then
    ns=grove-torch-$$
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    [ -z "${TCP_CC-cubic}" ] || ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="${TCP_CC-cubic}"
    inns=(ip netns exec "$ns")
fi
"$grove" topo generate star --ranks 4 --bandwidth 2 -o "$work/star4.json" >/dev/null
echo "program,round,size_bytes,time_us,busbw_gbps,wrong" > "$out/torch-backend.csv"
for round in $(seq 1 "${REPEAT:-3}"); do
    echo "round $round: grove bench ..." >&2
    "${inns[@]}" "$grove" launch -n 4 --no-prefix -- "$grove" bench allreduce --topology "$work/star4.json" \
        -b 1M -e "$maxbytes" -f 2 -n "$iters" -w "$warmup" --out-of-place-only --csv "$work/bench.csv" >/dev/null
    tail -n +2 "$work/bench.csv" | awk -F, -v r="$round" '{ print "grove-bench," r "," $6 "," $11 "," $15 "," $16 }' >> "$out/torch-backend.csv"
    for backend in grove gloo; do
        echo "round $round: torch $backend ..." >&2
        BACKEND=$backend "${inns[@]}" torchrun --standalone --nproc-per-node 4 $here/gloo_allreduce.py 1048576 "$maxbytes" 2 "$iters" "$warmup" 2>"$work/err" \
            | awk -F, -v p="torch-$backend" -v r="$round" '{ print p "," r "," $1 "," $3 "," $6 "," $7 }' >> "$out/torch-backend.csv" \
            || { cat "$work/err" >&2; exit 1; }
    done
done
python3 - "$out/torch-backend.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for p in ("grove-bench", "torch-grove", "torch-gloo"):
    for size in sorted({int(r["size_bytes"]) for r in rows}):
        v = [float(r["busbw_gbps"]) for r in rows if r["program"] == p and int(r["size_bytes"]) == size]
        if v: med[p, size] = statistics.median(v)
wrong = sum(int(r["wrong"]) for r in rows)
print(f"busbw GB/s, median of {max(int(r['round']) for r in rows)} rounds; #wrong over all rows: {wrong}")
print(f"{'size':>10} {'grove bench':>12} {'torch+grove':>12} {'torch+gloo':>11} {'grove/bench':>12} {'grove/gloo':>11}")
for size in sorted({s for _, s in med}):
    b, g, l = med.get(("grove-bench", size)), med.get(("torch-grove", size)), med.get(("torch-gloo", size))
    print(f"{size:>10} {b:>12.3f} {g:>12.3f} {l:>11.3f} {g / b:>12.2f} {g / l:>11.2f}")
PY
