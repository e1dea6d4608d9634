#!/usr/bin/env bash
# Fabrics whose bandwidths are Python floats (issue 9): every collective synthesizes at exit 0
# with algbw equal to the bound, the flow and LP engines agree, and the small fabric runs a
# 4-rank allreduce benchmark with 0 wrong. Usage: Tests/float-fabrics.sh [path-to-release-grove]
set -euo pipefail
cd "$(dirname "$0")/.."
grove=${1:-.build/release/grove}
status=0
for fabric in Tests/Fixtures/float-artifact-4.json Tests/Fixtures/random-floats-64.json; do
    for c in allgather reduce-scatter allreduce broadcast reduce; do
        declare -A bound=()
        for engine in flow lp; do
            out=$("$grove" synth "$fabric" -c "$c" --engine "$engine" --json 2>/dev/null) || {
                echo "float-fabrics: $fabric $c ($engine) failed" >&2; status=1; continue; }
            achieved=$(sed -n 's/.*"algbw_exact": "\([^"]*\)".*/\1/p' <<<"$out")
            proven=$(sed -n 's/.*"bound_algbw_exact": "\([^"]*\)".*/\1/p' <<<"$out")
            rounded=$(sed -n 's/.*"bandwidths_rounded": \([0-9]*\).*/\1/p' <<<"$out")
            if [[ -z "$achieved" || "$achieved" != "$proven" ]]; then
                echo "float-fabrics: $fabric $c ($engine): algbw $achieved differs from the bound $proven" >&2; status=1
            fi
            if [[ -z "$rounded" ]]; then
                echo "float-fabrics: $fabric $c ($engine): --json does not report the rounded bandwidths" >&2; status=1
            fi
            bound[$engine]=$proven
        done
        if [[ "${bound[flow]:-}" != "${bound[lp]:-}" ]]; then
            echo "float-fabrics: $fabric $c: flow bound ${bound[flow]:-} and LP bound ${bound[lp]:-} disagree" >&2; status=1
        fi
        echo "float-fabrics: $(basename "$fabric") $c: algbw = bound = ${bound[flow]:-?} GB/s (flow and LP)"
    done
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! timeout 300 "$grove" launch -n 4 -- "$grove" bench --topology Tests/Fixtures/float-artifact-4.json --algo forest \
        -b 8 -e 4M -f 8 -n 3 -w 1 >"$log" 2>&1; then
    echo "float-fabrics: grove bench --topology float-artifact-4.json failed:" >&2; cat "$log" >&2; status=1
fi
wrong=$(awk '$1 == "0:" && $2 ~ /^[0-9]+$/ { w += $10 + $14 } END { print w + 0 }' "$log")
rows=$(awk '$1 == "0:" && $2 ~ /^[0-9]+$/' "$log" | wc -l)
if [[ $rows -lt 7 || $wrong != 0 ]]; then
    echo "float-fabrics: bench on float-artifact-4 printed $rows rows with $wrong wrong elements" >&2; cat "$log" >&2; status=1
else
    echo "float-fabrics: grove bench --topology float-artifact-4.json: $rows sizes, 0 wrong"
fi
exit $status
