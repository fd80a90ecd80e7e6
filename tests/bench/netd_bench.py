#!/usr/bin/env python3
"""make bench-netd: attach+detach latency of one veth (median of >= 100), and 1,000 veths on one bridge
(total time, netd RSS). Everything runs inside private network namespaces (the netd 'host' netns and one
instance netns), like the tests. Reference: the same veth create/enslave/delete done with iproute2 `ip`
(3 execs), the way a shell-script network helper would."""
import argparse
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration" / "netd"))
import netdlib  # noqa: E402


def rss_kib(pid):
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def netd_pid(netd):
    return netd.call({"op": "status"})["pid"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(netdlib.BIN))
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--many", type=int, default=1000)
    a = ap.parse_args()
    netdlib.BIN = pathlib.Path(a.bin)
    if os.geteuid() != 0:
        print("bench-netd needs root")
        return 1
    tag = netdlib.uniq()
    netd = netdlib.Netd(None, "b" + tag)
    inst = netdlib.Netns("nt-i-b" + tag)
    try:
        net = netd.call({"op": "network.create", "name": "ntbench", "ipv4": "10.200.0.1/20"})["network"]
        fd = inst.fd()
        lat = {"dhcp": [], "static": []}
        parts = {"attach (dhcp)": [], "detach (dhcp)": [], "attach (static)": [], "detach (static)": []}
        for kind in ("dhcp", "static"):
            for i in range(a.rounds):
                t0 = time.perf_counter()
                netd.call({"op": "attach", "network": "ntbench", "instance": "c1", "kind": "veth",
                           "static": kind == "static"}, [fd])
                t1 = time.perf_counter()
                netd.call({"op": "detach", "network": "ntbench", "instance": "c1"})
                t2 = time.perf_counter()
                lat[kind].append((t2 - t0) * 1000)
                parts["attach (%s)" % kind].append((t1 - t0) * 1000)
                parts["detach (%s)" % kind].append((t2 - t1) * 1000)
        # reference 1: iproute2 in one process (ip -batch): the kernel's own cost, no exec per step
        n_ref = 100
        batch = pathlib.Path(netd.dir) / "ref.batch"
        batch.write_text("".join("link add ntr%d type veth peer name r%d netns %s\nlink set ntr%d master ntbench up\n"
                                 % (i, i, inst.name, i) for i in range(n_ref)))
        t0 = time.perf_counter()
        netd.host.run("ip", "-batch", str(batch))
        ref_batch_add = (time.perf_counter() - t0) * 1000 / n_ref
        batch.write_text("".join("link del ntr%d\n" % i for i in range(n_ref)))
        t0 = time.perf_counter()
        netd.host.run("ip", "-batch", str(batch))
        ref_batch_del = (time.perf_counter() - t0) * 1000 / n_ref
        # reference 2: iproute2, one exec per step (what a shell-script helper does)
        ref = []
        for i in range(min(a.rounds, 30)):
            t0 = time.perf_counter()
            netd.host.run("ip", "link", "add", "ntref0", "type", "veth", "peer", "name", "eth9", "netns", inst.name)
            netd.host.run("ip", "link", "set", "ntref0", "master", "ntbench", "up")
            netd.host.run("ip", "link", "del", "ntref0")
            ref.append((time.perf_counter() - t0) * 1000)
        pid = netd_pid(netd)
        rss0 = rss_kib(pid)
        t0 = time.perf_counter()
        marks = []
        for i in range(a.many):
            netd.call({"op": "attach", "network": "ntbench", "instance": "c%d" % i, "kind": "veth",
                       "ifname": "e%d" % i}, [fd])
            if (i + 1) % (a.many // 4 or 1) == 0:
                marks.append((i + 1, time.perf_counter() - t0))
        t_many = time.perf_counter() - t0
        rss1 = rss_kib(pid)
        bridge_ports = netd.host.run(
            "ip", "-o", "link", "show", "master", "ntbench").stdout.count("\n")
        t0 = time.perf_counter()
        for i in range(a.many):
            netd.call({"op": "detach", "network": "ntbench", "instance": "c%d" % i})
        t_many_detach = time.perf_counter() - t0
        os.close(fd)
        netd.call({"op": "network.delete", "name": "ntbench"})
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        print("## isola-netd benchmark — %s, %s (%d CPUs), kernel %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), cpu, os.cpu_count(), platform.release()))
        print()
        print("| what | median | p90 | n |")
        print("|---|---|---|---|")
        for kind in ("dhcp", "static"):
            v = sorted(lat[kind])
            print("| netd attach+detach veth (%s) | %.2f ms | %.2f ms | %d |" % (
                kind, statistics.median(v), v[int(len(v) * 0.9)], len(v)))
        for k, v in parts.items():
            v = sorted(v)
            print("| netd %s alone | %.2f ms | %.2f ms | %d |" % (k, statistics.median(v), v[int(len(v) * 0.9)], len(v)))
        v = sorted(ref)
        print("| iproute2 `ip` add+master+del (3 execs, reference) | %.2f ms | %.2f ms | %d |" % (
            statistics.median(v), v[int(len(v) * 0.9)], len(v)))
        print("| iproute2 `ip -batch` (one process) add+master, per veth | %.2f ms | | %d |" % (ref_batch_add, n_ref))
        print("| iproute2 `ip -batch` (one process) del, per veth | %.2f ms | | %d |" % (ref_batch_del, n_ref))
        print()
        print("%d veths on one bridge: attach all %.2f s (%.2f ms each), detach all %.2f s; bridge ports %d; "
              "netd RSS %d KiB -> %d KiB" % (a.many, t_many, t_many * 1000 / a.many, t_many_detach, bridge_ports,
                                            rss0, rss1))
        prev = (0, 0.0)
        print("attach time per veth by bridge size: " + ", ".join(
            "%d-%d ports %.1f ms" % (p0, p1, (t1 - t0_) * 1000 / (p1 - p0))
            for (p0, t0_), (p1, t1) in zip([prev] + marks[:-1], marks)))
        print("ratios: netd attach+detach / ip -batch add+del = %.2f; ip exec-per-step / netd = %.1fx; "
              "target <= 5 ms per attach+detach: %s" % (
                  statistics.median(lat["dhcp"]) / (ref_batch_add + ref_batch_del),
                  statistics.median(ref) / statistics.median(lat["dhcp"]),
                  "met" if statistics.median(lat["dhcp"]) <= 5 else "NOT met"))
        print("load average during the run: %s" % open("/proc/loadavg").read().split()[:3])
    finally:
        inst.close()
        netd.close(quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
