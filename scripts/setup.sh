#!/usr/bin/env bash
# Installs what Grove needs to build (Debian packages) and builds it.
# Usage: scripts/setup.sh [debug|release] [peers]   (default: debug)
# "peers" adds what the launcher tests run Grove under: Open MPI, MPICH, Slurm (Debian) and torchrun
# (torch's CPU wheel, pinned, in a virtualenv cached at ${GROVE_CACHE:-~/.cache/grove}/venv).
# As root it runs apt-get itself; otherwise it prints the exact line to run and stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
configuration=${1:-debug}
# libxml2: FoundationXML (the MSCCL XML reader) loads it at run time; libxml2-dev, pkg-config
# and g++: libgrove.so links libxml2, and its C/C++ examples build with pkg-config.
packages=(libglpk-dev libxml2 libxml2-dev pkg-config g++)
if [[ ${2:-} == peers ]]; then packages+=(openmpi-bin mpich python3-venv slurm-wlm munge); fi

missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing Debian packages; run this line, then try again:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH=/opt/swift/usr/bin:$PATH
    else
        echo "setup: no Swift toolchain on PATH; install Swift 6 (swift.org) and try again" >&2
        exit 1
    fi
fi

if [[ ${2:-} == peers ]]; then
    venv=${GROVE_CACHE:-$HOME/.cache/grove}/venv
    # torch 2.13's CPU build: unpinned, pip would pick a CUDA build of several GB.
    if ! "$venv/bin/python" -c 'import torch; assert torch.__version__ == "2.13.0+cpu"' 2>/dev/null; then
        echo "setup: installing torch==2.13.0+cpu into $venv (about 90 s, once)" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q torch==2.13.0+cpu >&2
    fi
    # NumPy: the Python binding's arrays (and torch's NumPy bridge).
    "$venv/bin/python" -c 'import numpy' 2>/dev/null || "$venv/bin/pip" install -q numpy >&2
    export PATH=$venv/bin:$PATH
fi

echo "setup: building ($configuration)" >&2
swift build -c "$configuration" 2>&1 | grep -Ev '^(\[[0-9]+/[0-9]+\]|Building for|Compiling|Write|Emitting)' >&2 || true
swift build -c "$configuration" >/dev/null
