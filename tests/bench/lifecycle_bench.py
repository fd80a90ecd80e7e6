#!/usr/bin/python3
"""make bench-lifecycle: isola instance lifecycle timings (medians of N runs), on a dir pool and, when the
kernel has btrfs, a btrfs pool. Incus is compared when `incus` is installed; it is not on this machine,
so the issue's Incus figures (same class of machine) are printed beside ours for the ratio.

Runs in a private ISOLA_DIR with its own daemons and a uniquely named bridge; removes everything after."""
import argparse
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration" / "manager"))
from mgr_util import ISOLA, Isola, ensure_busybox_image  # noqa: E402

# Incus figures from issue 8 (busybox, btrfs; "on this kind of machine")
INCUS = {"launch+delete": 1.52, "stop+start": 1.41, "exec true": 0.141, "list": 0.116,
         "snapshot create+delete": 0.22 + 1.03}


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench(iso, pool, n):
    name = "bench-" + secrets.token_hex(3)
    res = {}

    def launch_delete():
        iso.run("launch", "busybox", name, "--storage", pool)
        iso.run("delete", "--force", name)
    res["launch+delete"] = [timed(launch_delete) for _ in range(n)]
    iso.run("launch", "busybox", name, "--storage", pool)

    def stop_start():
        iso.run("stop", "--force", name)
        iso.run("start", name)
    res["stop+start"] = [timed(stop_start) for _ in range(n)]

    def stop_start_clean():
        iso.run("stop", name)
        iso.run("start", name)
    res["stop (clean, busybox init)+start"] = [timed(stop_start_clean) for _ in range(max(3, n // 5))]
    res["exec true"] = [timed(lambda: iso.run("exec", name, "--", "true")) for _ in range(n)]

    def snap():
        iso.run("snapshot", "create", name, "b")
        iso.run("snapshot", "delete", name, "b")
    res["snapshot create+delete"] = [timed(snap) for _ in range(n)]
    res["list"] = [timed(lambda: iso.run("list")) for _ in range(n)]
    iso.run("delete", "--force", name)
    return {k: statistics.median(v) for k, v in res.items()}


def bench_debian(iso, pool, n):
    """Unprivileged Debian (systemd) through `isola`: launch returns at READY=1 (the image's isola.ready:
    notify); then `is-system-running --wait`; a clean stop is systemd's own halt (SIGRTMIN+3)."""
    res = {"debian launch (to READY=1)": [], "debian launch to is-system-running": [],
           "debian stop (clean halt)": [], "debian delete": []}
    for _ in range(n):
        name = "bench-deb-" + secrets.token_hex(3)
        t = time.perf_counter()
        iso.run("launch", "debian-bench", name, "--storage", pool, timeout=300)
        res["debian launch (to READY=1)"].append(time.perf_counter() - t)
        state = iso.run("exec", name, "--", "systemctl", "is-system-running", "--wait", check=False,
                        timeout=300).stdout.strip()
        res["debian launch to is-system-running"].append(time.perf_counter() - t)
        assert state in ("running", "degraded"), state
        res["debian stop (clean halt)"].append(timed(lambda: iso.run("stop", name, timeout=300)))
        res["debian delete"].append(timed(lambda: iso.run("delete", name)))
    return {k: statistics.median(v) for k, v in res.items()}


INCUS["debian launch to is-system-running"] = 1.17


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--no-debian", action="store_true",
                    help="skip the Debian rows (a baseline run of binaries that cannot boot it unprivileged)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-lifecycle: needs root")
    root = pathlib.Path("/tmp") / ("isola-bench-" + secrets.token_hex(4))
    root.mkdir()
    iso = Isola(root)
    iso.run_dir.mkdir()
    try:
        iso.start_daemon("imaged")
        iso.start_daemon("netd")
        pools = [{"name": "dir", "driver": "dir"}]
        if "btrfs" in open("/proc/filesystems").read():
            pools.append({"name": "btrfs", "driver": "btrfs", "config": {"size": "4GiB"}})
        iso.run("admin", "init", "--preseed", "-", input=json.dumps({
            "storage_pools": pools, "networks": [{"name": iso.network}],
            "profiles": [{"name": "default", "devices": {
                "root": {"type": "disk", "path": "/", "pool": "dir"},
                "eth0": {"type": "nic", "network": iso.network, "name": "eth0"}}}]}))
        iso.run("image", "import", str(ensure_busybox_image()), "--alias", "busybox")
        incus = shutil.which("incus")
        print("isola lifecycle, busybox container, medians of %d runs, %s, %s" % (
            args.n, time.strftime("%Y-%m-%d"), os.uname().release))
        sock = pathlib.Path("/var/lib/incus/unix.socket")
        print("incus: %s — the Incus column is the issue's figure (btrfs)" % (
            "client at %s, daemon socket %s" % (incus, "present" if sock.exists() else "absent (no incusd)")
            if incus else "not installed"))
        deb = REPO / "build" / "images" / "debian.tar.gz"
        if deb.exists() and not args.no_debian:
            iso.run("image", "import", str(deb), "--alias", "debian-bench", timeout=600)
        for p in pools:
            r = bench(iso, p["name"], args.n)
            if deb.exists() and not args.no_debian:
                r.update(bench_debian(iso, p["name"], max(3, args.n // 4)))
            print("\npool %s" % p["driver"])
            print("| operation | isola | Incus | isola/Incus |")
            print("|---|---|---|---|")
            for k, v in r.items():
                inc = INCUS.get(k)
                print("| %s | %.1f ms | %s | %s |" % (k, v * 1000, "%.0f ms" % (inc * 1000) if inc else "—",
                                                      "%.3f×" % (v / inc) if inc else "—"))
    finally:
        for i in iso.json("list") if (root / "isola.db").exists() else []:
            iso.run("delete", "--force", i["name"], check=False)
        iso.run("network", "delete", iso.network, check=False)
        for w in list(iso.daemons):
            iso.stop_daemon(w)
        with open("/proc/self/mounts") as f:
            mounts = [l.split()[1] for l in f if str(root) in l.split()[1]]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
