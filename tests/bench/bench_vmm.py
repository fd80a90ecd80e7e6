#!/usr/bin/python3
"""make bench-vmm: boot-to-init time and VMM memory overhead of isola-vmm (Firecracker's method).

Boot time: the test initramfs's /init writes byte 123 to I/O port 0x4f0 first thing (isola.boottimer);
the VMM logs the time from the first KVM_RUN to that write. Memory: while the guest idles, the sum of
Rss over every mapping of the VMM process except the guest-RAM memfd (/proc/PID/smaps).
Prints medians over BENCH_RUNS runs (default 20). If kvmtool's lkvm is on PATH (or LKVM=path), it boots
the same kernel and initramfs for the ratio; its boot time is taken from the serial marker instead (it
has no boot-timer port), so the comparison uses wall time to the marker for both."""
import json
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
VMM = BUILD / "bin" / "isola-vmm"
INITRD = BUILD / "vmm" / "test-initramfs.cpio"
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
KERNEL = sorted(pathlib.Path("/boot").glob("vmlinuz-*"))[-1]
MEM_MIB = 256


def ctl(path, op):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(str(path))
    s.send(json.dumps({"op": op}).encode())
    r = json.loads(s.recv(1 << 16))
    s.close()
    return r


def overhead_kib(pid):
    total = guest = 0
    cur_guest = False
    for line in open("/proc/%d/smaps" % pid):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            cur_guest = "isola-vmm guest RAM" in line
        elif line.startswith("Rss:"):
            kib = int(line.split()[1])
            total += kib
            if cur_guest:
                guest += kib
    return total - guest


def one_isola(tmp, extra=""):
    sock = pathlib.Path(tmp) / "c.sock"
    t0 = time.monotonic()
    p = subprocess.Popen([str(VMM), "--kernel", str(KERNEL), "--initrd", str(INITRD), "--memory", str(MEM_MIB),
                          "--control", str(sock), "--cmdline", "quiet isola.boottimer isola.test=powerbutton " + extra],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = None
    for line in p.stdout:
        if "ISOLA-GUEST-UP" in line and wall is None:
            wall = time.monotonic() - t0
        if "WAITING-POWER-BUTTON" in line:
            break
    boot_us = ctl(sock, "status").get("boot_time_us")
    over = overhead_kib(p.pid)
    ctl(sock, "stop")
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
    with tempfile.TemporaryDirectory() as tmp:
        res = [one_isola(tmp) for _ in range(RUNS)]
        # The same boot without ACPI (MP table only, like kvmtool's default "noacpi"): what the ACPI
        # tables cost the guest. Power-off needs ACPI, so this is a measurement, not a mode to run in.
        res_noacpi = [one_isola(tmp, "acpi=off") for _ in range(RUNS)]
    for label, r_ in (("isola-vmm", res), ("isola-vmm acpi=off", res_noacpi)):
        print("%-19s runs=%d  boot-to-init %.1f ms (boot timer, median)  wall-to-marker %.2f s  "
              "VMM overhead %.0f KiB RSS (guest RAM excluded)" % (label, RUNS, med(r[0] for r in r_),
                                                                 med(r[1] for r in r_), med(r[2] for r in r_)))
    lkvm = os.environ.get("LKVM") or shutil.which("lkvm")
    if lkvm:
        lk = [one_lkvm(lkvm) for _ in range(RUNS)]
        w_i, w_k = med(r[1] for r in res), med(r[0] for r in lk)
        print("%-19s runs=%d  wall-to-marker %.2f s  VMM overhead %.0f KiB RSS  -> isola/kvmtool wall ratio %.2f "
              "(acpi=off: %.2f)" % ("kvmtool (lkvm)", RUNS, w_k, med(r[1] for r in lk), w_i / w_k,
                                    med(r[1] for r in res_noacpi) / w_k))
    else:
        print("kvmtool: not found (set LKVM=/path/to/lkvm to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
