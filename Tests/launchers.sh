#!/usr/bin/env bash
# A 4-rank allreduce benchmark under every launcher people use, end to end: grove launch,
# torchrun (standalone, static and c10d rendezvous), mpirun (Open MPI), mpiexec (MPICH) and srun
# (a one-node Slurm cluster started here and stopped at the end), none given MASTER_ADDR by hand.
# Each must print nccl-tests rows with 0 wrong.
# Usage: Tests/launchers.sh [path-to-grove]   (scripts/setup.sh debug peers installs the launchers)
set -euo pipefail
cd "$(dirname "$0")/.."
grove=$(realpath "${1:-.build/debug/grove}")
venv=${GROVE_CACHE:-$HOME/.cache/grove}/venv
export PATH=$venv/bin:$PATH
work=$(mktemp -d)
started=()  # pid files of the daemons this script started
stop_daemons() {
    local f
    for f in "${started[@]}"; do [[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null; done
    sleep 0.5
    for f in "${started[@]}"; do [[ -s $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null; done
    rm -rf "$work"
    return 0
}
trap stop_daemons EXIT
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

# Slurm: munged, slurmctld and slurmd for this host only, with state in the work directory.
start_slurm() {
    local d=$work/slurm host
    host=$(hostname)
    mkdir -p "$d/state" "$d/spool" /run/munge /var/log/munge /var/lib/munge
    [[ -s /etc/munge/munge.key ]] || mungekey --create >/dev/null
    chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- munged || return 1
        started+=(/run/munge/munged.pid)
    fi
    cat >"$d/slurm.conf" <<CONF
ClusterName=grove-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdParameters=config_overrides
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=8 State=UNKNOWN
PartitionName=grove Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    export SLURM_CONF=$d/slurm.conf
    started+=("$d/slurmctld.pid" "$d/slurmd.pid")
    slurmctld -f "$SLURM_CONF" || return 1
    slurmd -f "$SLURM_CONF" || return 1
    for _ in $(seq 60); do
        sinfo -h -o %t 2>/dev/null | grep -q idle && return 0
        sleep 0.5
    done
    return 1
}
if start_slurm; then
    check "srun (Slurm)" srun -n 4 --overcommit "${bench[@]}"
else
    echo "launchers: FAILED: the one-node Slurm cluster did not come up (munged, slurmctld, slurmd)" >&2
    status=1
fi
exit $status
