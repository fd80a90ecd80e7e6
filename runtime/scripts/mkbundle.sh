#!/bin/sh
# Build an OCI bundle with a busybox-static rootfs: mkbundle.sh DIR [--terminal] [ARG...]
# The config is `isola-runtime spec` with process.args = ARG... (default: sh) and terminal off unless asked.
set -eu
dir=$1; shift
terminal=false
if [ "${1:-}" = "--terminal" ]; then terminal=true; shift; fi
bin=${ISOLA_RUNTIME:-$(dirname "$0")/../../build/bin/isola-runtime}
busybox=$(command -v busybox || echo /bin/busybox)
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/root"
cp "$busybox" "$dir/rootfs/bin/busybox"
for applet in $("$dir/rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$dir/rootfs/etc/passwd"
echo "root:x:0:" > "$dir/rootfs/etc/group"
"$bin" spec --bundle "$dir"
python3 - "$dir/config.json" "$terminal" "$@" <<'PY'
import json, sys
path, terminal, args = sys.argv[1], sys.argv[2] == "true", sys.argv[3:]
c = json.load(open(path))
c["process"]["terminal"] = terminal
if args:
    c["process"]["args"] = args
json.dump(c, open(path, "w"), indent=2)
PY
