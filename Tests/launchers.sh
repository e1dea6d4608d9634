#!/usr/bin/env bash
# A 4-rank allreduce benchmark under every launcher people use, end to end: grove launch,
# torchrun (standalone, static and c10d rendezvous), mpirun (Open MPI) and mpiexec (MPICH),
# none given MASTER_ADDR by hand. Each must print nccl-tests rows with 0 wrong.
# Usage: Tests/launchers.sh [path-to-grove]   (scripts/setup.sh debug peers installs the launchers)
set -euo pipefail
cd "$(dirname "$0")/.."
grove=$(realpath "${1:-.build/debug/grove}")
venv=${GROVE_CACHE:-$HOME/.cache/grove}/venv
export PATH=$venv/bin:$PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench=("$grove" bench allreduce -b 8 -e 4M -f 8 -n 3 -w 1)
status=0
port() { echo $(( 20000 + RANDOM % 20000 )); }

# Runs one launcher; rank 0's table may carry a "0: " prefix (grove launch) or none.
check() {
    local name=$1; shift
    if ! GROVE_TIMEOUT=60 timeout 240 "$@" >"$work/out" 2>"$work/err"; then
        echo "launchers: FAILED: $name exited non-zero:" >&2; tail -n 20 "$work/err" "$work/out" >&2; status=1; return
    fi
    # nccl-tests' columns: #wrong is the 9th and 13th of each row.
    read -r rows wrong < <(sed 's/^0: //' "$work/out" | awk '$1 ~ /^[0-9]+$/ && NF >= 13 { n++; w += $9 + $13 } END { print n + 0, w + 0 }')
    if [[ $rows -lt 7 || $wrong != 0 ]]; then
        echo "launchers: FAILED: $name: $rows rows, $wrong wrong" >&2; cat "$work/out" >&2; status=1; return
    fi
    echo "launchers: $name: 4-rank allreduce, $rows sizes, 0 wrong"
}

check "grove launch" "$grove" launch -n 4 -- "${bench[@]}"
check "torchrun --standalone" torchrun --standalone --nproc-per-node 4 --no-python "${bench[@]}"
check "torchrun static rendezvous" torchrun --rdzv-backend=static --master-addr=127.0.0.1 --master-port="$(port)" \
    --nnodes 1 --nproc-per-node 4 --no-python "${bench[@]}"
check "torchrun c10d rendezvous" torchrun --rdzv-backend=c10d --rdzv-endpoint="127.0.0.1:$(port)" --rdzv-id=grove-test \
    --nnodes 1 --nproc-per-node 4 --no-python "${bench[@]}"
check "mpirun (Open MPI)" env MASTER_PORT="$(port)" mpirun.openmpi --allow-run-as-root --oversubscribe -n 4 "${bench[@]}"
check "mpiexec (MPICH)" env MASTER_PORT="$(port)" mpiexec.mpich -n 4 "${bench[@]}"
exit $status
