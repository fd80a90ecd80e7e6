#!/bin/sh
# make bench-syscont: see tests/bench/syscont.py (system container boot: isola vs lxc-start vs nspawn).
set -eu
[ "$(id -u)" = 0 ] || { echo "bench-syscont: needs root (namespaces, lxc, nspawn)" >&2; exit 1; }
exec /usr/bin/python3 "$(dirname "$0")/syscont.py" "${1:-build/bin/isola-runtime}" "${2:-build/images}"
