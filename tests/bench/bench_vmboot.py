#!/usr/bin/python3
"""make bench-vmboot: where a Debian VM's boot time goes (build/images/debian-vm.*, `make images`).

Boots a copy of the image's disk with its own kernel and initramfs under isola-vmm, timestamps every
serial-console line on the host as it arrives, and prints the time to each boot milestone:

  kernel      first output → "Run /init" (kernel up, initramfs unpacked)
  initramfs   → "Welcome to Debian" / systemd's first line (root mounted, switch_root done)
  systemd     → "login:" (serial getty: multi-user reached)
  power-off   control `shutdown` (ACPI power button) → the VMM exits 0

--live echoes the console lines as they arrive. --verbose boots without `quiet` (printk timestamps and systemd's status lines: the per-phase split;
the extra serial output costs time of its own); default is the image's own command line (quiet), i.e.
what an instance pays. Guest RAM is `--memory-backend anon`, as the manager starts VMs. BENCH_RUNS boots (default 1: one nested Debian boot takes minutes). The full
console logs go to build/bench/vmboot-*.log."""
import json
import os
import pathlib
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
IMG = BUILD / "images"
RUNS = int(os.environ.get("BENCH_RUNS", "1"))
LIVE = "--live" in sys.argv  # echo each console line as it arrives (watching a slow nested boot)
BASE = "root=/dev/vda rw net.ifnames=0"
MILESTONES = [("kernel", ("Run /init", "Run /sbin/init")), ("initramfs", ("Welcome to", "systemd[1]: systemd")),
              ("systemd", ("login:",))]


def boot(tmp, verbose, n):
    disk = pathlib.Path(tmp) / "root.img"
    tc = time.monotonic()
    subprocess.run(["cp", "--reflink=auto", "--sparse=always", str(IMG / "debian-vm.img"), str(disk)], check=True)
    if LIVE:
        print("disk copied in %.1f s; starting isola-vmm" % (time.monotonic() - tc), flush=True)
    sock = pathlib.Path(tmp) / "c.sock"
    cmdline = BASE + (" printk.time=1 systemd.show_status=1" if verbose else " quiet")
    t0 = time.monotonic()
    p = subprocess.Popen([str(VMM), "--kernel", str(IMG / "debian-vm.vmlinuz"), "--initrd",
                          str(IMG / "debian-vm.initrd"), "--memory", "512", "--cpus", "2", "--disk", str(disk),
                          "--control", str(sock), "--memory-backend", "anon", "--cmdline", cmdline],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, errors="replace")
    os.set_blocking(p.stdout.fileno(), True)
    log, at = [], {}
    first = None
    fd = p.stdout.fileno()
    pending = ""  # the current line so far: getty's "login: " never ends its line
    while "systemd" not in at:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        t = time.monotonic() - t0
        first = t if first is None else first
        pending += chunk.decode("utf-8", "replace")
        *lines, pending = pending.split("\n")
        for line in lines + [pending]:
            for name, keys in MILESTONES:
                if name not in at and any(k in line for k in keys):
                    at[name] = t
        for line in lines:
            log.append("%8.2f %s" % (t, line))
            if LIVE:
                print(log[-1], flush=True)
    if pending:
        log.append("%8.2f %s" % (time.monotonic() - t0, pending))
    at["first-output"] = first
    if "systemd" in at:
        t1 = time.monotonic()
        control(sock, "shutdown")
        for line in p.stdout:
            log.append("%8.2f %s" % (time.monotonic() - t0, line.rstrip("\n")))
            if LIVE:
                print(log[-1], flush=True)
        p.wait(timeout=600)
        at["power-off"] = time.monotonic() - t1
        at["rc"] = p.returncode
    else:
        p.kill()
        p.wait()
    out = BUILD / "bench" / ("vmboot-%s-%d.log" % ("verbose" if verbose else "quiet", n))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(log) + "\n")
    return at


def main():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("bench-vmboot: skipped (no /dev/kvm here; run it under tests/vm/run)")
        return 0
    if not (IMG / "debian-vm.img").exists():
        print("bench-vmboot: skipped (no build/images/debian-vm.img: make image-debian-vm)")
        return 0
    verbose = "--verbose" in sys.argv
    runs = []
    for n in range(RUNS):
        # /tmp, not build/: under tests/vm/run the checkout is 9p, far too slow for a VM disk
        with tempfile.TemporaryDirectory(prefix="isola-vmboot-") as tmp:
            runs.append(boot(tmp, verbose, n))
            print("run %d: %s" % (n, json.dumps({k: (round(v, 2) if isinstance(v, float) else v)
                                                   for k, v in runs[-1].items()})), flush=True)
    med = lambda k: statistics.median([r[k] for r in runs if r.get(k) is not None]) if any(
        r.get(k) is not None for r in runs) else None
    print("Debian VM boot (%s, %d run(s), medians, seconds since isola-vmm started):" % (
        "verbose" if verbose else "quiet", len(runs)))
    prev = 0.0
    for name, _ in MILESTONES:
        v = med(name)
        if v is None:
            print("  %-10s  not reached" % name)
            break
        print("  %-10s  at %7.1f s  (+%.1f s)" % (name, v, v - prev))
        prev = v
    if med("power-off") is not None:
        print("  power-off   %.1f s after the power button (exit %s)" % (med("power-off"), runs[-1].get("rc")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
