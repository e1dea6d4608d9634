#!/usr/bin/env bash
# Times `grove synth` (release build) on DGX A100 fabrics of 1..128 boxes (8..1024 ranks), with
# the default construction (greedy fast path, exact fallback) and with --exact (exact edge
# splitting and tree packing only, up to MAX_EXACT_BOXES).
# Writes Benchmarks/synthesis/results.csv and synthesis.png, and prints the table.
# Usage: Benchmarks/synthesis/run.sh [MAX_BOXES] [TIMEOUT_SECONDS] [MAX_EXACT_BOXES]  (128, 900, 16)
# A size that exceeds the timeout is recorded as "timeout" and larger sizes are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
max_boxes=${1:-128}
limit=${2:-900}
max_exact=${3:-16}
source scripts/setup.sh release
grove=.build/release/grove
dir=Benchmarks/synthesis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
csv=$dir/results.csv
echo "construction,boxes,ranks,collective,seconds,max_rss_kb,algbw_gbps,bound_gbps,trees,status" > "$csv"
printf "%-9s %6s %6s %-10s %9s %8s %10s %10s %7s\n" method boxes ranks collective seconds "rss MB" algbw bound trees
for method in automatic exact; do
  flags=(); [[ $method == exact ]] && flags=(--exact)
  for boxes in 1 2 4 8 16 32 64 128; do
    (( boxes > max_boxes )) && break
    [[ $method == exact ]] && (( boxes > max_exact )) && break
    $grove topo generate dgx-a100 --boxes "$boxes" -o "$work/f.json"
    status=ok
    if ! /usr/bin/time -f "%e %M" -o "$work/time" timeout "$limit" \
            $grove synth "$work/f.json" -c allgather "${flags[@]}" --json > "$work/out.json" 2> "$work/err"; then
        status=timeout
    fi
    read -r secs rss < <(tail -1 "$work/time" | awk '{print $(NF-1), $NF}')
    if [[ $status == ok ]]; then
        read -r algbw bound trees < <(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.3f %.3f %d" % (d["algbw"], d["bound_algbw"], d["trees"]))' "$work/out.json")
    else
        secs=$limit; algbw=; bound=; trees=
    fi
    echo "$method,$boxes,$((boxes * 8)),allgather,$secs,$rss,$algbw,$bound,$trees,$status" >> "$csv"
    printf "%-9s %6s %6s %-10s %9s %8s %10s %10s %7s %s\n" "$method" "$boxes" $((boxes * 8)) allgather "$secs" $((rss / 1024)) "$algbw" "$bound" "$trees" "$status"
    [[ $status == ok ]] || break
  done
done
/usr/bin/python3 "$dir/plot.py" "$csv" "$dir/synthesis.png" && echo "plot: $dir/synthesis.png"
