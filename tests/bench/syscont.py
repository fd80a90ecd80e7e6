#!/usr/bin/python3
"""make bench-syscont: time from "run" to "init ready" of a system container, isola-runtime vs lxc-start and
systemd-nspawn --boot, on the same root filesystems (build/images/{busybox,debian}.tar.gz), and isola's
platform overhead on Debian: wall time to ready minus systemd's own userspace startup (systemd-analyze).

Ready = the marker /run/isola-booted inside (both images write it when boot is done: busybox's rcS, Debian's
isola-booted.service after multi-user.target), probed the same way for all three (the file under
/proc/<init>/root). isola is also measured with its native READY=1 readiness on Debian (notify).
Each peer gets its own copy of the rootfs (they write into it); isola boots the unpacked image read-only
below an ephemeral overlay, unprivileged (user namespace + id-mapped mount). lxc-start and nspawn run
privileged (their default as root; lxc needs a chown'd or id-mapped rootfs for unprivileged).
Medians of RUNS (busybox, default 20) and DEBIAN_RUNS (default 10) boots; each boot is followed by a
clean stop outside the timed part."""
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

RUNTIME = pathlib.Path(sys.argv[1]).resolve()
IMAGES = pathlib.Path(sys.argv[2]).resolve()
RUNS = int(os.environ.get("RUNS", "20"))
ONLY = os.environ.get("IMAGES", "busybox,debian").split(",")
DEB_RUNS = int(os.environ.get("DEBIAN_RUNS", "10"))
MARKER = "run/isola-booted"
TIMEOUT = 300


def sh(*argv, **kw):
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


def copy_tree(src, dst):
    """cp -a: owners, modes, xattrs, device nodes as nodes (reading the image's /dev/console would block)."""
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def wait_marker(pid, t_end):
    p = f"/proc/{pid}/root/{MARKER}"
    while time.monotonic() < t_end:
        if os.path.exists(p):
            return time.monotonic()
        time.sleep(0.002)
    raise RuntimeError(f"no {MARKER} in pid {pid}")


class Isola:
    name = "isola-runtime boot"

    def __init__(self, work, image, ready="file:/run/isola-booted"):
        self.work, self.image, self.ready = work, image, ready
        self.root = work / "isola-state"
        self.idmap = work / "isola-idmap"
        if ready == "notify":
            self.name = "isola-runtime boot (READY=1)"

    def boot(self, n):
        t0 = time.monotonic()
        p = sh(RUNTIME, "--root", self.root, "boot", "--image", self.image, "--ephemeral", "--idmap-dir",
               self.idmap, "--ready", self.ready, "--timeout", TIMEOUT, f"b{n}")
        t1 = time.monotonic()
        if p.returncode:
            raise RuntimeError(p.stderr)
        return t1 - t0, f"b{n}"

    def userspace(self, h):
        # the marker service runs just before the boot job completes: wait for it, then ask
        sh(RUNTIME, "--root", self.root, "exec", h, "systemctl", "is-system-running", "--wait")
        p = sh(RUNTIME, "--root", self.root, "exec", h, "systemd-analyze")
        # "Startup finished in 3.443s (userspace)" (in a container systemd has no kernel/initrd part)
        txt = p.stdout.split("Startup finished in ")[1].split(" (userspace)")[0]
        return parse_span(txt)

    def stop(self, h):
        p = sh(RUNTIME, "--root", self.root, "halt", "--idmap-dir", self.idmap, "--timeout", 60, h)
        if p.returncode:
            raise RuntimeError(p.stderr)


class Lxc:
    name = "lxc-start -d"

    def __init__(self, work, image, halt):
        self.path = work / "lxc"
        d = self.path / "c"
        d.mkdir(parents=True)
        copy_tree(image / "rootfs", d / "rootfs")
        (d / "config").write_text(f"""lxc.uts.name = c
lxc.rootfs.path = dir:{d}/rootfs
lxc.init.cmd = /sbin/init
lxc.net.0.type = empty
lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed
lxc.autodev = 1
lxc.signal.halt = {halt}
lxc.cgroup.relative = 1
lxc.console.path = none
lxc.tty.max = 0
lxc.pty.max = 16
""")

    def boot(self, n):
        t0 = time.monotonic()
        p = sh("lxc-start", "-n", "c", "-P", self.path, "-d")
        if p.returncode:
            raise RuntimeError(p.stderr)
        pid = int(sh("lxc-info", "-n", "c", "-P", self.path, "-p", "-H").stdout)
        return wait_marker(pid, t0 + TIMEOUT) - t0, pid

    def stop(self, h):
        sh("lxc-stop", "-n", "c", "-P", self.path, "-t", 60)


class Nspawn:
    name = "systemd-nspawn --boot"

    def __init__(self, work, image, halt):
        self.dir = work / "nspawn"
        copy_tree(image / "rootfs", self.dir)
        osr = self.dir / "etc/os-release"
        if not osr.exists() and not osr.is_symlink():
            osr.write_text("ID=busybox\nNAME=BusyBox\n")  # nspawn refuses a tree without os-release
        self.halt = halt
        self.errlog = work / "nspawn.err"

    def boot(self, n):
        t0 = time.monotonic()
        proc = subprocess.Popen(["systemd-nspawn", "--boot", "-D", str(self.dir), "--register=no", "--keep-unit",
                                 "-q", "--kill-signal=" + self.halt, "--console=read-only", "-M", "bench"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(self.errlog, "w"))
        # nspawn's first child is a short-lived "outer child"; PID 1 of the container is the child in
        # another PID namespace (clone(CLONE_PARENT) makes it nspawn's child too)
        kids = f"/proc/{proc.pid}/task/{proc.pid}/children"
        own = os.readlink("/proc/self/ns/pid")
        while time.monotonic() < t0 + TIMEOUT:
            if proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited {proc.returncode}: {self.errlog.read_text()[-300:]}")
            try:
                for c in open(kids).read().split():
                    if os.readlink(f"/proc/{c}/ns/pid") != own and os.path.exists(f"/proc/{c}/root/{MARKER}"):
                        return time.monotonic() - t0, proc
            except OSError:
                pass
            time.sleep(0.002)
        raise RuntimeError("nspawn: no ready marker")

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def parse_span(txt):
    """systemd time spans: "3.443s", "1min 2.5s", "850ms"."""
    total = 0.0
    for part in txt.split():
        if part.endswith("ms"):
            total += float(part[:-2]) / 1000
        elif part.endswith("min"):
            total += float(part[:-3]) * 60
        elif part.endswith("s"):
            total += float(part[:-1])
    return total


def measure(tool, runs, analyze=False):
    times, over, user = [], [], []
    for i in range(runs + 1):  # the first boot warms caches and is not counted
        t, h = tool.boot(i)
        try:
            if analyze:
                u = tool.userspace(h)
        finally:
            tool.stop(h)
        if i == 0:
            continue
        times.append(t)
        if analyze:
            user.append(u)
            over.append(t - u)
    r = {"tool": tool.name, "runs": runs, "median_s": statistics.median(times), "min_s": min(times),
         "max_s": max(times)}
    if analyze:
        r["userspace_median_s"] = statistics.median(user)
        r["overhead_median_s"] = statistics.median(over)
    return r


IMAGE_LIST = [x for x in (("busybox", RUNS, "SIGUSR2"), ("debian", int(os.environ.get("DEBIAN_RUNS", "10")),
                                                             "SIGRTMIN+3")) if x[0] in ONLY]


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="isola-bench-syscont."))
    os.chmod(work, 0o711)
    results = {}
    try:
        for img, runs, halt in IMAGE_LIST:
            tb = IMAGES / f"{img}.tar.gz"
            if not tb.exists():
                print(f"bench-syscont: {tb} missing, {img} skipped (make images)", file=sys.stderr)
                continue
            d = work / img
            (d / "image").mkdir(parents=True)
            subprocess.run(["tar", "-xzf", str(tb), "-C", str(d / "image"), "--numeric-owner", "--xattrs",
                            "--xattrs-include=*"], check=True)
            img_dir = d / "image"
            rows = []
            tools = [Isola(d, img_dir)]
            if img == "debian":
                tools.append(Isola(d, img_dir, ready="notify"))
            if shutil.which("lxc-start"):
                tools.append(Lxc(d, img_dir, halt))
            if shutil.which("systemd-nspawn"):
                tools.append(Nspawn(d, img_dir, halt))
            for t in tools:
                print(f"bench-syscont: {img}: {t.name} x{runs}", file=sys.stderr, flush=True)
                try:
                    rows.append(measure(t, runs, analyze=(img == "debian" and isinstance(t, Isola))))
                except Exception as e:  # a peer that cannot run here is reported, not fatal
                    rows.append({"tool": t.name, "error": str(e)[:300]})
            results[img] = rows
            print(json.dumps({img: rows}), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1))
    print()
    print("| image | tool | median to ready | min | max | systemd userspace | platform overhead |")
    print("|---|---|---|---|---|---|---|")
    for img, rows in results.items():
        for r in rows:
            if "error" in r:
                print(f"| {img} | {r['tool']} | failed: {r['error'][:80]} | | | | |")
                continue
            u = f"{r['userspace_median_s'] * 1000:.0f} ms" if "userspace_median_s" in r else ""
            o = f"**{r['overhead_median_s'] * 1000:.0f} ms**" if "overhead_median_s" in r else ""
            print(f"| {img} | {r['tool']} | {r['median_s'] * 1000:.0f} ms | {r['min_s'] * 1000:.0f} ms | "
                  f"{r['max_s'] * 1000:.0f} ms | {u} | {o} |")


main()
