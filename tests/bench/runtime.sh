#!/bin/sh
# make bench-runtime: isola-runtime vs crun, side by side, same busybox bundle and config.
#   1. `run` of /bin/true
#   2. create + start + delete (three CLI processes)
# crun 1.8 refuses this hybrid host, so both run inside a private mount namespace (unshare -m) where the
# cgroup2 mount (/sys/fs/cgroup/unified) is bound over /sys/fs/cgroup; host mounts are untouched. Both use
# --cgroup-manager disabled (no cgroup work on either side). isola-runtime is measured twice: as built
# (it re-executes from a sealed memfd, the CVE-2019-5736 guard) and from a read-only bind mount of its
# own directory (the guard is then free: nothing to overwrite).
set -eu
bin=$(readlink -f "${1:-build/bin/isola-runtime}")
runs=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "bench-runtime: hyperfine is not installed" >&2; exit 1; }
command -v crun >/dev/null || { echo "bench-runtime: crun is not installed" >&2; exit 1; }
# state roots on tmpfs for both runtimes, as /run is on a normal system (writes are fsync'd)
work=$(mktemp -d /dev/shm/isola-bench.XXXXXX)
# the read-only copy of the binary lives on a filesystem that allows exec (/dev/shm is noexec)
robin=$(mktemp -d /tmp/isola-bench-bin.XXXXXX)
trap 'rm -rf "$work" "$robin"' EXIT
ISOLA_RUNTIME="$bin" "$(dirname "$0")/../../runtime/scripts/mkbundle.sh" "$work/bundle" /bin/true >/dev/null
cp "$bin" "$robin/isola-runtime"
cat > "$work/inner.sh" <<INNER
set -eu
[ -d /sys/fs/cgroup/unified ] && mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup
mount --bind "$robin" "$robin"
mount -o remount,bind,ro "$robin"
cd "$work/bundle"
I="$bin --root $work/isola --cgroup-manager disabled"
R="$robin/isola-runtime --root $work/isola-ro --cgroup-manager disabled"
C="crun --root $work/crun --cgroup-manager=disabled"
hyperfine -N --warmup 5 --runs $runs --export-json "$work/run.json" \
    -n "crun run" "\$C run b1" \
    -n "isola-runtime run" "\$I run b1" \
    -n "isola-runtime run (ro mount)" "\$R run b1"
hyperfine -N --warmup 5 --runs $runs --export-json "$work/csd.json" \
    -n "crun create+start+delete" "sh -c '\$C create b2 && \$C start b2 && \$C delete -f b2'" \
    -n "isola-runtime create+start+delete" "sh -c '\$I create b2 && \$I start b2 && \$I delete -f b2'"
INNER
unshare -m sh "$work/inner.sh" >"$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log"; exit 1; }
python3 - "$work/run.json" "$work/csd.json" <<'PY'
import json, sys, platform, datetime
def med(path):
    return {r["command"]: r["median"] * 1000 for r in json.load(open(path))["results"]}
run, csd = med(sys.argv[1]), med(sys.argv[2])
print(f"isola-runtime vs crun — {datetime.date.today()} — {platform.node()}, {platform.release()}, medians")
print(f"{'operation':<40}{'median ms':>10}{'ratio vs crun':>16}")
for name, table, base in (("run /bin/true", run, "crun run"), ("create+start+delete", csd, "crun create+start+delete")):
    for cmd, ms in table.items():
        print(f"{cmd:<40}{ms:>10.1f}{ms / table[base]:>16.2f}")
print(f"RATIO run: {run['isola-runtime run'] / run['crun run']:.2f}  "
      f"create+start+delete: {csd['isola-runtime create+start+delete'] / csd['crun create+start+delete']:.2f}  (target <= 1.0)")
PY
