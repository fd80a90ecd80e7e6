#!/usr/bin/python3
"""make bench-vmm: boot-to-init time and VMM memory overhead of isola-vmm (Firecracker's method).

Boot time: the test initramfs's /init writes byte 123 to I/O port 0x4f0 first thing (isola.boottimer);
the VMM logs the time from the first KVM_RUN to that write. Memory: while the guest idles, the sum of
Rss over every mapping of the VMM process except the guest-RAM memfd (/proc/PID/smaps).
Prints medians over BENCH_RUNS runs (default 20). If kvmtool's lkvm is on PATH (or LKVM=path), it boots
the same kernel and initramfs for the ratio; its boot time is taken from the serial marker instead (it
has no boot-timer port), so the comparison uses wall time to the marker for both."""
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration" / "vmm"))
from vmm_helpers import control  # noqa: E402  (the control-socket client the VMM tests use)
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
VMM = BUILD / "bin" / "isola-vmm"
INITRD = BUILD / "vmm" / "test-initramfs.cpio"
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
KERNEL = sorted(pathlib.Path("/boot").glob("vmlinuz-*"))[-1]
MEM_MIB = 256


def overhead_kib(pid):
    """Rss of every mapping except guest RAM: the memfd mapping by name, or (anonymous RAM) the largest."""
    maps = []
    cur = None
    for line in open("/proc/%d/smaps" % pid):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            cur = [line, 0]
            maps.append(cur)
        elif line.startswith("Rss:") and cur is not None:
            cur[1] = int(line.split()[1])
    guest = [m for m in maps if "isola-vmm guest RAM" in m[0]]
    if not guest:
        guest = [max(maps, key=lambda m: m[1])]
    return sum(m[1] for m in maps) - sum(m[1] for m in guest)


def one_isola(tmp, extra="", args=()):
    sock = pathlib.Path(tmp) / "c.sock"
    t0 = time.monotonic()
    p = subprocess.Popen([str(VMM), "--kernel", str(KERNEL), "--initrd", str(INITRD), "--memory", str(MEM_MIB),
                          "--control", str(sock), "--cmdline", "quiet isola.boottimer isola.test=powerbutton " + extra] + list(args),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = None
    for line in p.stdout:
        if "ISOLA-GUEST-UP" in line and wall is None:
            wall = time.monotonic() - t0
        if "WAITING-POWER-BUTTON" in line:
            break
    boot_us = control(sock, "status").get("boot_time_us")
    over = overhead_kib(p.pid)
    control(sock, "stop")
    p.communicate(timeout=120)
    return boot_us / 1000.0 if boot_us else None, wall, over


def one_lkvm(lkvm):
    t0 = time.monotonic()
    p = subprocess.Popen([lkvm, "run", "-k", str(KERNEL), "-i", str(INITRD), "-m", str(MEM_MIB), "-c", "1",
                          "-p", "quiet isola.test=powerbutton"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    wall = over = None
    for line in p.stdout:
        if "ISOLA-GUEST-UP" in line and wall is None:
            wall = time.monotonic() - t0
        if "WAITING-POWER-BUTTON" in line:
            # kvmtool's guest RAM is an anonymous mapping of MEM_MIB: subtract the largest mapping's Rss.
            rss = [int(l.split()[1]) for l in open("/proc/%d/smaps" % p.pid) if l.startswith("Rss:")]
            over = sum(rss) - max(rss)
            break
    p.kill()
    p.wait()
    return wall, over


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def main():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("bench-vmm: skipped: no usable /dev/kvm here (run it in the proving ground: tests/vm/run)")
        return 0
    lkvm = os.environ.get("LKVM") or shutil.which("lkvm")
    # Interleaved (one of each per round) so that load drift on a shared machine hits every variant alike.
    # acpi=off: the same boot without ACPI (MP table only, like kvmtool's default "noacpi"), i.e. what the
    # ACPI tables cost the guest; power-off needs ACPI, so it is a measurement, not a mode to run in.
    # anon RAM: anonymous guest memory (THP-eligible) instead of the memfd.
    res, res_noacpi, res_anon, lk = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(RUNS):
            res.append(one_isola(tmp))
            res_noacpi.append(one_isola(tmp, "acpi=off"))
            res_anon.append(one_isola(tmp, "", ["--memory-backend", "anon"]))
            if lkvm:
                lk.append(one_lkvm(lkvm))
    for label, r_ in (("isola-vmm", res), ("isola-vmm acpi=off", res_noacpi), ("isola-vmm anon RAM", res_anon)):
        print("%-19s runs=%d  boot-to-init %.1f ms (boot timer, median)  wall-to-marker %.2f s  "
              "VMM overhead %.0f KiB RSS (guest RAM excluded)" % (label, RUNS, med(r[0] for r in r_),
                                                                 med(r[1] for r in r_), med(r[2] for r in r_)))
    if lkvm:
        w_k = med(r[0] for r in lk)
        print("%-19s runs=%d  wall-to-marker %.2f s  VMM overhead %.0f KiB RSS" % ("kvmtool (lkvm)", RUNS, w_k,
                                                                                 med(r[1] for r in lk)))
        print("wall-to-marker ratio isola/kvmtool: %.2f (acpi=off %.2f, anon RAM %.2f)" % (
            med(r[1] for r in res) / w_k, med(r[1] for r in res_noacpi) / w_k, med(r[1] for r in res_anon) / w_k))
    else:
        print("kvmtool: not found (set LKVM=/path/to/lkvm to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
