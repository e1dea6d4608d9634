#!/usr/bin/env bash
# Times `grove synth` (release build) on DGX A100 fabrics of 1..128 boxes (8..1024 ranks).
# Writes Benchmarks/synthesis/results.csv and synthesis.png, and prints the table.
# Usage: Benchmarks/synthesis/run.sh [MAX_BOXES] [TIMEOUT_SECONDS]   (defaults 128, 900)
# A size that exceeds the timeout is recorded as "timeout" and larger sizes are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
max_boxes=${1:-128}
limit=${2:-900}
source scripts/setup.sh release
grove=.build/release/grove
dir=Benchmarks/synthesis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
csv=$dir/results.csv
echo "boxes,ranks,collective,seconds,max_rss_kb,algbw_gbps,bound_gbps,trees,status" > "$csv"
printf "%6s %6s %-10s %9s %10s %10s %10s %7s\n" boxes ranks collective seconds "rss MB" algbw bound trees
for boxes in 1 2 4 8 16 32 64 128; do
    (( boxes > max_boxes )) && break
    $grove topo generate dgx-a100 --boxes "$boxes" -o "$work/f.json"
    status=ok
    if ! /usr/bin/time -f "%e %M" -o "$work/time" timeout "$limit" \
            $grove synth "$work/f.json" -c allgather --json > "$work/out.json" 2> "$work/err"; then
        status=timeout
    fi
    read -r secs rss < <(tail -1 "$work/time" | awk '{print $(NF-1), $NF}')
    if [[ $status == ok ]]; then
        read -r algbw bound trees < <(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["algbw"], d["bound_algbw"], d["trees"])' "$work/out.json")
    else
        secs=$limit; algbw=; bound=; trees=
    fi
    echo "$boxes,$((boxes * 8)),allgather,$secs,$rss,$algbw,$bound,$trees,$status" >> "$csv"
    printf "%6s %6s %-10s %9s %10s %10s %10s %7s %s\n" "$boxes" $((boxes * 8)) allgather "$secs" $((rss / 1024)) "$algbw" "$bound" "$trees" "$status"
    [[ $status == ok ]] || break
done
/usr/bin/python3 "$dir/plot.py" "$csv" "$dir/synthesis.png" && echo "plot: $dir/synthesis.png"
