#!/usr/bin/env bash
# Installs Grove's C library: PREFIX/include/grove.h, PREFIX/lib/libgrove.so (-> libgrove.so.0)
# and PREFIX/lib/pkgconfig/grove.pc, so that `cc prog.c $(pkg-config --cflags --libs grove)`
# builds against it. Builds the release library first (scripts/setup.sh installs what it needs).
# Usage: scripts/install.sh PREFIX     (for example /usr/local, or $HOME/.local)
# Then, for a PREFIX outside the loader's path: export LD_LIBRARY_PATH=PREFIX/lib, and for
# pkg-config: export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig.
set -euo pipefail
if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    [[ $# -eq 1 ]] && exit 0 || exit 2
fi
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Builds every product in release, libGroveC.so among them.
source scripts/setup.sh release >/dev/null
bin=$(swift build -c release --show-bin-path)
version=$(awk '/#define GROVE_(MAJOR|MINOR|PATCH)/ { v = v (v == "" ? "" : ".") $3 } END { print v }' include/grove.h)
install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 include/grove.h "$prefix/include/grove.h"
# Debug sections off: the Swift runtime and Foundation are linked in, the symbols are not needed.
strip --strip-debug -o "$prefix/lib/libgrove.so.$version" "$bin/libGroveC.so"
chmod 755 "$prefix/lib/libgrove.so.$version"
ln -sf "libgrove.so.$version" "$prefix/lib/libgrove.so.0"
ln -sf libgrove.so.0 "$prefix/lib/libgrove.so"
cat > "$prefix/lib/pkgconfig/grove.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: grove
Description: Grove collective communication (allreduce, allgather, reduce-scatter, broadcast, reduce) over TCP
Version: $version
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lgrove
Cflags: -I\${includedir}
PC
if [[ $(id -u) -eq 0 && ( $prefix == /usr/local || $prefix == /usr ) ]]; then ldconfig; fi
echo "installed $prefix/include/grove.h, $prefix/lib/libgrove.so ($(du -h "$prefix/lib/libgrove.so.$version" | cut -f1)) and $prefix/lib/pkgconfig/grove.pc (version $version)"
