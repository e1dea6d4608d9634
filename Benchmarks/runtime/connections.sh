#!/usr/bin/env bash
# Chooses TCPTransport's default connections per peer: allreduce busbw of the forest (4-rank
# star) on loopback, 1 MiB to 64 MiB, with GROVE_CONNECTIONS = 1, 2, 4, 8.
# Writes Benchmarks/runtime/results/connections.csv.
# Usage: Benchmarks/runtime/connections.sh [ITERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
iters=${1:-10}
source scripts/setup.sh release >/dev/null
grove=.build/release/grove
out=Benchmarks/runtime/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$grove" topo generate star --ranks 4 --bandwidth 25 -o "$work/star4.json"
echo "connections,size_bytes,time_us,busbw_gbps,wrong" > "$out/connections.csv"
for k in 1 2 4 8; do
    GROVE_CONNECTIONS=$k "$grove" launch -n 4 --no-prefix -- "$grove" bench allreduce --topology "$work/star4.json" \
        --algo forest -b 1M -e 64M -f 4 -n "$iters" -w 2 --out-of-place-only --csv "$work/k$k.csv" >/dev/null
    tail -n +2 "$work/k$k.csv" | awk -F, -v k=$k '{ print k "," $6 "," $11 "," $15 "," $16 }' >> "$out/connections.csv"
done
python3 - "$out/connections.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
sizes = sorted({int(r["size_bytes"]) for r in rows})
ks = sorted({int(r["connections"]) for r in rows})
t = {(int(r["connections"]), int(r["size_bytes"])): float(r["busbw_gbps"]) for r in rows}
print("busbw GB/s by connections per peer")
print(f"{'size':>10} " + " ".join(f"{k:>7}" for k in ks))
for s in sizes:
    print(f"{s:>10} " + " ".join(f"{t[(k, s)]:>7.3f}" for k in ks))
PY
