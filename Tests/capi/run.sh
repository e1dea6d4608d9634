#!/usr/bin/env bash
# The C ABI end to end, as a user meets it: scripts/install.sh into a fresh prefix, then programs
# built with `pkg-config --cflags --libs grove` only:
#   1. the exported symbols are exactly Tests/capi/symbols.txt (one missing fails: ABI break;
#      one new fails until it is listed), and the library does not link GLPK;
#   2. every function given bad arguments (Tests/capi/badargs.c) returns its documented code;
#   3. Examples/c/allreduce.c and Examples/cpp/allreduce.cpp on 4 ranks (and 3), 0 wrong, and a
#      rank that leaves named in the others' errors (Tests/capi/lostrank.c);
#   4. the Python package (pip install ./python) with NumPy on 4 ranks, and the torch backend
#      (Tests/capi/torch_backend.py, Examples/ddp.py against Gloo, bit-identical in Gloo's order:
#      Tests/capi/gloo_order.py) when torch is present.
# Usage: Tests/capi/run.sh [PREFIX]   (default: a temporary directory, removed after)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=${1:-$work/prefix}
scripts/install.sh "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
tail -n 1 "$work/install.log"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
grove=$(swift build -c release --show-bin-path)/grove
failed=0
step() { echo "== $*"; }
fail() { echo "FAIL: $*"; failed=1; }

step "exported symbols against Tests/capi/symbols.txt"
nm -D --defined-only "$prefix/lib/libgrove.so" | awk '$2 ~ /^[A-Z]$/ && $3 != "GROVE_1" { sub(/@.*/, "", $3); print $3 }' | sort > "$work/symbols"
if ! diff -u Tests/capi/symbols.txt "$work/symbols"; then
    fail "libgrove.so's exports differ from Tests/capi/symbols.txt ('-' lines disappeared: an ABI break)"
fi
echo "$(wc -l < "$work/symbols") symbols, all versioned GROVE_1: $(nm -D --defined-only "$prefix/lib/libgrove.so" | grep -c '@@GROVE_1')"
if readelf -d "$prefix/lib/libgrove.so" | grep -qi glpk; then fail "libgrove.so links GLPK"; else echo "no GLPK: $(readelf -d "$prefix/lib/libgrove.so" | awk '/NEEDED/ { gsub(/[][]/, "", $5); printf "%s ", $5 }')"; fi

step "bad arguments to every function"
cc -Wall -Wextra -Werror Tests/capi/badargs.c $(pkg-config --cflags --libs grove) -o "$work/badargs"
"$work/badargs" || fail "bad-argument checks"

step "C example, 4 and 3 ranks"
cc -Wall -Wextra -Werror Examples/c/allreduce.c $(pkg-config --cflags --libs grove) -o "$work/allreduce-c"
"$grove" launch -n 4 -- "$work/allreduce-c" 1000003 || fail "C example on 4 ranks"
"$grove" launch -n 3 -- "$work/allreduce-c" 4099 || fail "C example on 3 ranks"

step "a rank that leaves: the others' calls fail naming it"
cc -Wall -Wextra -Werror Tests/capi/lostrank.c $(pkg-config --cflags --libs grove) -o "$work/lostrank"
GROVE_TIMEOUT=20 timeout 60 "$grove" launch -n 4 -- "$work/lostrank" 2 || fail "lost rank not named"

step "C++ example, 4 ranks"
c++ -std=c++17 -Wall -Wextra -Werror Examples/cpp/allreduce.cpp $(pkg-config --cflags --libs grove) -o "$work/allreduce-cpp"
"$grove" launch -n 4 -- "$work/allreduce-cpp" || fail "C++ example"

step "Python package with NumPy, 4 ranks"
venv=${GROVE_CACHE:-$HOME/.cache/grove}/venv
if [[ -x $venv/bin/python ]]; then
    python=$venv/bin/python
    export PATH=$venv/bin:$PATH
else
    python3 -m venv "$work/venv"
    python=$work/venv/bin/python
fi
{ "$python" -c "import numpy" 2>/dev/null || "$python" -m pip install -q numpy; "$python" -m pip install -q --force-reinstall --no-deps ./python; } >"$work/pip.log" 2>&1 || { cat "$work/pip.log"; fail "pip install ./python"; }
export GROVE_LIBRARY=$prefix/lib/libgrove.so
"$grove" launch -n 4 -- "$python" Examples/python/allreduce.py || fail "Python example"

if "$python" -c 'import torch' 2>/dev/null; then
    torchrun=$(dirname "$python")/torchrun
    step "torch.distributed backend grove: every collective and dtype, 4 ranks"
    "$torchrun" --standalone --nproc-per-node 4 Tests/capi/torch_backend.py 2>"$work/torch.err" || { tail -n 30 "$work/torch.err"; fail "torch backend"; }
    step "DistributedDataParallel, 20 steps: grove against gloo"
    for backend in gloo grove; do
        "$torchrun" --standalone --nproc-per-node 4 Examples/ddp.py --backend "$backend" --steps 20 --save "$work/$backend.pt" \
            2>"$work/ddp-$backend.err" | tail -n 1 || { tail -n 30 "$work/ddp-$backend.err"; fail "DDP with $backend"; }
    done
    # With Gloo's order (GROVE_GLOO_ORDER=1 on the ring) every sum is Gloo's: bit-identical.
    GROVE_GLOO_ORDER=1 GROVE_ALGO=ring "$torchrun" --standalone --nproc-per-node 4 Examples/ddp.py --backend grove --steps 20 \
        --save "$work/grove-ring.pt" 2>"$work/ddp-ring.err" | tail -n 1 || { tail -n 30 "$work/ddp-ring.err"; fail "DDP with grove in Gloo's order"; }
    # Grove's own plans cut the buffer elsewhere (and the forest and butterflies sum in other
    # orders), so float sums differ in the last bits: equal within 1e-6 (relative 1e-5).
    "$python" - "$work/grove.pt" "$work/gloo.pt" "$work/grove-ring.pt" <<'PY' || fail "DDP parameters differ between grove and gloo"
import sys, torch
a, b, ring = (torch.load(p) for p in sys.argv[1:4])
worst = max((a[k] - b[k]).abs().max().item() for k in a)
same = sum(torch.equal(a[k], b[k]) for k in a)
ok = a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6) for k in a)
identical = ring.keys() == b.keys() and all(torch.equal(ring[k], b[k]) for k in b)
print(f"final parameters against gloo's: default plans {same} of {len(a)} tensors bit-identical, largest difference {worst:.3g} "
      f"({'equal within 1e-6' if ok else 'DIFFERENT'}); GROVE_GLOO_ORDER=1 GROVE_ALGO=ring: "
      f"{'all bit-identical' if identical else 'NOT bit-identical'}")
sys.exit(0 if ok and identical else 1)
PY
    step "GROVE_GLOO_ORDER=1: all_reduce bit-identical to gloo's, 4 ranks"
    GROVE_GLOO_ORDER=1 GROVE_ALGO=ring "$torchrun" --standalone --nproc-per-node 4 Tests/capi/gloo_order.py 2>"$work/order.err" \
        || { tail -n 30 "$work/order.err"; fail "Gloo's order"; }
else
    echo "torch is not installed next to $python: the torch backend and DDP checks did not run (scripts/setup.sh debug peers installs it)"
    [[ ${CI:-} == true ]] && fail "torch missing under CI"
fi

exit $failed
