#!/usr/bin/env bash
# Synthesis time and peak memory against rank count, per fabric family (issue 11): DGX H100,
# MI250, a mixed DGX A100 + H100 cluster, 2D tori, bidirectional rings and two-tier cloud
# clusters, allgather, release build, each size doubling the last. Default construction (greedy
# first, with symmetry from 128 ranks; exact fallback) at every size, and --exact (exact
# splitting and packing only) up to EXACT_MAX ranks. A run over the time limit ends its family.
# Writes Benchmarks/synthesis/scaling.csv and scaling.png and prints each row, then the growth
# per doubling of the rank count (time ratio between consecutive sizes).
# Usage: Benchmarks/synthesis/scaling.sh [LIMIT_SECONDS] [EXACT_MAX]   (120, 128)
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=${1:-120}
exact_max=${2:-128}
source scripts/setup.sh release >/dev/null
grove=$PWD/.build/release/grove
dir=Benchmarks/synthesis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
csv=$dir/scaling.csv
echo "family,method,ranks,seconds,max_rss_kb,algbw_gbps,bound_gbps,rotation_order,status" > "$csv"
printf "%-8s %-8s %6s %9s %8s %10s %10s %8s %s\n" family method ranks seconds "rss MB" algbw bound rotation status

# family → "generate arguments" per size, smallest first.
sizes() {
    case $1 in
        dgx-h100) for b in 4 8 16 32 64 128 256 512; do echo "dgx-h100 --boxes $b"; done ;;
        mi250) for b in 2 4 8 16 32 64; do echo "mi250 --boxes $b"; done ;;
        mixed) for b in 2 4 8 16 32 64; do echo "dgx-mixed --a100-boxes $b --boxes $b"; done ;;
        torus) for rc in "4 4" "4 8" "8 8" "8 16" "16 16" "16 32" "32 32" "32 64" "64 64"; do set -- $rc; echo "torus --rows $1 --cols $2"; done ;;
        biring) for n in 16 32 64 128 256 512 1024 2048 4096; do echo "biring --ranks $n"; done ;;
        cloud) for h in 16 32 64 128 256 512; do echo "cloud --hosts $h --ranks-per-host 1,2,4,8 --nics 12.5,25,50 --hosts-per-tor 16 --spines 4 --oversubscription 3"; done ;;
    esac
}

for family in dgx-h100 mi250 mixed torus biring cloud; do
  for method in default exact; do
    while read -r args; do
        # shellcheck disable=SC2086
        $grove topo generate $args -o "$work/f.json"
        ranks=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["ranks"]))' "$work/f.json")
        [[ $method == exact ]] && (( ranks > exact_max )) && break
        flags=(); [[ $method == exact ]] && flags=(--exact)
        status=ok
        if ! /usr/bin/time -f "%e %M" -o "$work/time" timeout "$limit" \
                "$grove" synth "$work/f.json" -c allgather "${flags[@]}" --json > "$work/out.json" 2> "$work/err"; then
            status=timeout
        fi
        read -r secs rss < <(tail -1 "$work/time" | awk '{print $(NF-1), $NF}')
        if [[ $status == ok ]]; then
            read -r algbw bound rot < <(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.3f %.3f %s" % (d["algbw"], d["bound_algbw"], d["rotation_order"] or "-"))' "$work/out.json")
            [[ $algbw == "$bound" ]] || status=below-bound
        else
            secs=$limit; algbw=; bound=; rot=
        fi
        echo "$family,$method,$ranks,$secs,$rss,$algbw,$bound,$rot,$status" >> "$csv"
        printf "%-8s %-8s %6s %9s %8s %10s %10s %8s %s\n" "$family" "$method" "$ranks" "$secs" $((rss / 1024)) "$algbw" "$bound" "$rot" "$status"
        [[ $status == ok ]] || break
    done < <(sizes "$family")
  done
done
/usr/bin/python3 - "$csv" <<'PY'
import csv, sys, collections
rows = collections.defaultdict(list)
for r in csv.DictReader(open(sys.argv[1])):
    if r["status"] == "ok": rows[(r["family"], r["method"])].append((int(r["ranks"]), float(r["seconds"])))
print("\ngrowth of the time per doubling of the ranks (consecutive sizes ≥ 0.2 s):")
for (family, method), pts in rows.items():
    ratios = []
    for (n0, t0), (n1, t1) in zip(pts, pts[1:]):
        if t0 >= 0.2 and n1 == 2 * n0: ratios.append("%d→%d: %.1f×" % (n0, n1, t1 / t0))
    print("  %-8s %-8s %s" % (family, method, ", ".join(ratios) or "(all under 0.2 s)"))
PY
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y python3-matplotlib >/dev/null; else echo "for the plot: apt-get install -y python3-matplotlib"; exit 0; fi
fi
/usr/bin/python3 "$dir/plot_scaling.py" "$csv" "$dir/scaling.png" && echo "plot: $dir/scaling.png"
