#!/usr/bin/python3
"""make bench-lifecycle / make bench-lifecycle-vm: instance lifecycle timings, medians of N runs.

  lifecycle_bench.py [-n N]            isola alone, on a dir pool and (kernel with btrfs) a btrfs pool. Incus
                                       is NOT run: the Incus column is the issue's quoted figure, labelled so.
  lifecycle_bench.py --incus [-n N]    isola and Incus side by side, runs interleaved (isola, Incus, Incus,
                                       isola, ...), each on a btrfs pool (loop file) of its own, the same
                                       busybox image, no nic on either. Only inside the proving ground
                                       (make bench-lifecycle-vm): Incus/LXC create a cgroup per container,
                                       and a host's cgroup mounts are not ours to write (docs/decisions.md,
                                       ## bench). Refuses to start where cgroup2 is not the only hierarchy
                                       with the controllers on.

Each side has its own daemons in a private directory under /tmp (ISOLA_DIR; INCUS_DIR with its own incusd,
unix socket only, no network), removed after."""
import argparse
import json
import os
import pathlib
import secrets
import shutil
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration" / "manager"))
from mgr_util import Isola, ensure_busybox_image  # noqa: E402

# FALLBACK ONLY (no --incus): issue 8's Incus figures, "on this kind of machine", busybox, btrfs. Not
# measured here; printed only when the Incus side is not run, and labelled as quoted.
INCUS_QUOTED = {"launch+delete": 1.52, "stop+start": 1.41, "exec true": 0.141, "list": 0.116,
                "snapshot create+delete": 0.22 + 1.03, "debian launch to is-system-running": 1.17}
OPS = ["launch+delete", "stop+start", "exec true", "snapshot create+delete", "list"]
INCUSD = "/usr/libexec/incus/incusd"


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class IsolaSide:
    label = "isola"

    def __init__(self, root, pools, nic):
        self.iso = Isola(root)
        self.root = pathlib.Path(root)
        self.pools = pools
        self.nic = nic

    def setup(self):
        iso = self.iso
        iso.run_dir.mkdir(parents=True)
        iso.start_daemon("imaged")
        iso.start_daemon("netd")
        devices = {"root": {"type": "disk", "path": "/", "pool": self.pools[0]["name"]}}
        pre = {"storage_pools": self.pools, "profiles": [{"name": "default", "devices": devices}]}
        if self.nic:
            pre["networks"] = [{"name": iso.network}]
            devices["eth0"] = {"type": "nic", "network": iso.network, "name": "eth0"}
        iso.run("admin", "init", "--preseed", "-", input=json.dumps(pre))
        iso.run("image", "import", str(ensure_busybox_image()), "--alias", "busybox")

    def cmd(self, *args):
        self.iso.run(*args, timeout=600)

    def launch(self, name, pool):
        self.cmd("launch", "busybox", name, "--storage", pool)

    def snapshot_create(self, name, snap):
        self.cmd("snapshot", "create", name, snap)

    def snapshot_delete(self, name, snap):
        self.cmd("snapshot", "delete", name, snap)

    def version(self):
        return "isola " + subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                                         capture_output=True, text=True).stdout.strip()

    def teardown(self):
        iso = self.iso
        if (self.root / "isola.db").exists():
            for i in iso.json("list"):
                iso.run("delete", "--force", i["name"], check=False)
        if self.nic:
            iso.run("network", "delete", iso.network, check=False)
        for w in list(iso.daemons):
            iso.stop_daemon(w)


class IncusSide:
    """A private incusd (INCUS_DIR under /tmp): unix socket only, no managed network, a profile without a
    nic, a btrfs pool on a loop file inside INCUS_DIR, the busybox image imported from build/images."""
    label = "Incus"

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.env = dict(os.environ, INCUS_DIR=str(self.root))
        self.env.pop("NOTIFY_SOCKET", None)
        self.daemon = None

    def run(self, *args, check=True, input=None, timeout=600):
        p = subprocess.run(["incus", *args], capture_output=True, text=True, input=input, timeout=timeout,
                           env=self.env)
        if check and p.returncode != 0:
            raise AssertionError("incus %s failed (%d): %s%s\nincusd log: %s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr, self.log_tail()))
        return p

    def log_tail(self):
        try:
            return (self.root / "incusd.out").read_text()[-3000:]
        except OSError:
            return "(none)"

    def setup(self):
        self.root.mkdir(parents=True)
        log = open(self.root / "incusd.out", "ab")
        # --group root: the socket stays root's (no incus-admin group needed).
        self.daemon = subprocess.Popen([INCUSD, "--group", "root"], stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL, env=self.env)
        p = self.run("admin", "waitready", "--timeout", "600", check=False, timeout=660)
        if p.returncode != 0 or self.daemon.poll() is not None:
            raise AssertionError("incusd did not come up: %s%s\n%s" % (p.stdout, p.stderr, self.log_tail()))
        # YAML is a superset of JSON. No networks, no core.https_address (unix socket only), no image
        # auto-update (it would reach for the image servers).
        self.run("admin", "init", "--preseed", input=json.dumps({
            "config": {"images.auto_update_interval": "0"},
            "storage_pools": [{"name": "btrfs", "driver": "btrfs", "config": {"size": "4GiB"}}],
            "profiles": [{"name": "default", "devices": {
                "root": {"type": "disk", "path": "/", "pool": "btrfs"}}}]}))
        # The same unified image isola imports (imaged's format is Incus's: docs/images.md).
        self.run("image", "import", str(ensure_busybox_image()), "--alias", "busybox")

    def cmd(self, *args):
        self.run(*args)

    def launch(self, name, pool):
        self.cmd("launch", "busybox", name)

    def snapshot_create(self, name, snap):
        self.cmd("snapshot", "create", name, snap)

    def snapshot_delete(self, name, snap):
        self.cmd("snapshot", "delete", name, snap)

    def version(self):
        return "Incus " + self.run("version").stdout.replace("\n", " ").strip()

    def teardown(self):
        if not self.daemon:
            return
        if self.daemon.poll() is None:
            p = self.run("list", "--format", "json", check=False)
            for i in json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else []:
                self.run("delete", "--force", i["name"], check=False)
            # Stops instances (none left) and the daemon, which unmounts its pool.
            self.run("admin", "shutdown", "--timeout", "120", check=False, timeout=180)
        try:
            self.daemon.wait(60)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()


def ops(side, name, pool):
    """The five measured operations on `side`, each a callable; `name` is a running instance for the
    last four (launch+delete uses name + "-l")."""
    def launch_delete():
        side.launch(name + "-l", pool)
        side.cmd("delete", "--force", name + "-l")

    def stop_start():
        side.cmd("stop", "--force", name)
        side.cmd("start", name)

    def snapshot():
        side.snapshot_create(name, "b")
        side.snapshot_delete(name, "b")
    return {"launch+delete": launch_delete, "stop+start": stop_start,
            "exec true": lambda: side.cmd("exec", name, "--", "true"),
            "snapshot create+delete": snapshot, "list": lambda: side.cmd("list")}


def bench(sides, pool, n):
    """Every run's seconds, per side per operation. Runs are interleaved: for each operation, run i times every side,
    the order reversed on odd i, so drift on a shared machine lands on both sides alike."""
    name = "bench-" + secrets.token_hex(3)
    table = {}
    for s in sides:
        # Warm-up, untimed: the first launch unpacks the image into the pool on both sides.
        ops(s, name, pool)["launch+delete"]()
        s.launch(name, pool)
        table[s.label] = {k: [] for k in OPS}
    funcs = {s.label: ops(s, name, pool) for s in sides}
    for k in OPS:
        for i in range(n):
            for s in (sides if i % 2 == 0 else sides[::-1]):
                table[s.label][k].append(timed(funcs[s.label][k]))
    for s in sides:
        s.cmd("delete", "--force", name)
    return table


def cgroup2_only_with_controllers():
    """True when /sys/fs/cgroup is cgroup2, no cgroup v1 hierarchy is mounted, and memory, pids and cpu are
    available: the proving ground. This machine (cgroup2 without controllers, v1 memory in use) is not."""
    with open("/proc/self/mounts") as f:
        mounts = [l.split() for l in f]
    if any(m[2] == "cgroup" for m in mounts):
        return False
    if not any(m[1] == "/sys/fs/cgroup" and m[2] == "cgroup2" for m in mounts):
        return False
    try:
        ctl = open("/sys/fs/cgroup/cgroup.controllers").read().split()
    except OSError:
        return False
    return {"memory", "pids", "cpu"} <= set(ctl)


def machine():
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return "%s, %d CPUs, kernel %s" % (model, os.cpu_count(), os.uname().release)


def ms(v):
    return "%.0f ms" % (v * 1000) if v >= 0.1 else "%.1f ms" % (v * 1000)


def spread(v):
    return "%s–%s" % (ms(min(v)), ms(max(v)))


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



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--incus", action="store_true",
                    help="measure Incus side by side (only inside the proving ground: make bench-lifecycle-vm)")
    ap.add_argument("--no-debian", action="store_true",
                    help="skip the Debian rows (a baseline run of binaries that cannot boot it unprivileged)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-lifecycle: needs root")
    if args.incus:
        if not cgroup2_only_with_controllers():
            sys.exit("bench-lifecycle: --incus refused: this is not the proving ground (cgroup2 alone with the "
                     "memory, pids and cpu controllers); Incus would create cgroups in this machine's "
                     "hierarchy. Run `make bench-lifecycle-vm`.")
        if not (shutil.which("incus") and os.access(INCUSD, os.X_OK)):
            sys.exit("bench-lifecycle: --incus: incus or %s not installed (make deps-bench)" % INCUSD)
    root = pathlib.Path("/tmp") / ("isola-bench-" + secrets.token_hex(4))
    root.mkdir()
    sides = []
    try:
        if args.incus:
            pools = [{"name": "btrfs", "driver": "btrfs", "config": {"size": "4GiB"}}]
            sides = [IsolaSide(root / "isola", pools, nic=False), IncusSide(root / "incus")]
        else:
            pools = [{"name": "dir", "driver": "dir"}]
            if "btrfs" in open("/proc/filesystems").read():
                pools.append({"name": "btrfs", "driver": "btrfs", "config": {"size": "4GiB"}})
            sides = [IsolaSide(root / "isola", pools, nic=True)]
        for s in sides:
            s.setup()
        print("lifecycle, busybox system container, medians of %d runs, %s UTC" % (
            args.n, time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
        print("machine: %s; load average %s" % (machine(), open("/proc/loadavg").read().split()[0]))
        print("; ".join(s.version() for s in sides))
        if args.incus:
            print("both on btrfs (loop file on the scratch disk), no nic, runs interleaved")
            r = bench(sides, "btrfs", args.n)
            print("\n| operation | isola | Incus | isola/Incus | isola min–max | Incus min–max |")
            print("|---|---|---|---|---|---|")
            for k in OPS:
                a, b = statistics.median(r["isola"][k]), statistics.median(r["Incus"][k])
                print("| %s | %s | %s | %.3f× | %s | %s |" % (k, ms(a), ms(b), a / b, spread(r["isola"][k]),
                                                          spread(r["Incus"][k])))
        else:
            print("Incus not run here (only inside the proving ground: make bench-lifecycle-vm); the Incus "
                  "column is QUOTED from issue 8 (btrfs, 'this kind of machine'), not measured")
            deb = REPO / "build" / "images" / "debian.tar.gz"
            debian = deb.exists() and not args.no_debian
            if debian:
                sides[0].iso.run("image", "import", str(deb), "--alias", "debian-bench", timeout=600)
            for p in pools:
                r = {k: statistics.median(v) for k, v in bench(sides, p["name"], args.n)["isola"].items()}
                if debian:
                    r.update(bench_debian(sides[0].iso, p["name"], max(3, args.n // 4)))
                print("\npool %s" % p["driver"])
                print("| operation | isola | Incus (quoted, not measured) | isola/quoted |")
                print("|---|---|---|---|")
                for k, v in r.items():
                    q = INCUS_QUOTED.get(k)
                    print("| %s | %s | %s | %s |" % (k, ms(v), ms(q) if q else "—", "%.3f×" % (v / q) if q else "—"))
    finally:
        for s in sides:
            try:
                s.teardown()
            except Exception as e:  # keep cleaning up the other side and the mounts
                print("bench-lifecycle: teardown of %s: %s" % (s.label, e), file=sys.stderr)
        with open("/proc/self/mounts") as f:
            mounts = [l.split()[1] for l in f if str(root) in l.split()[1]]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
