"""Helpers for the isola-netd tests: an IPC client (lib/ipc.h wire format in Python), a private netd per
test running inside its own "host" network namespace, and netns "instances".

Safety (network rule): every netd under test runs in a netns the test created (nt-h-*), so its bridges,
nft tables, sysctls (ip_forward) and dnsmasq never touch the real host. The instances are netns too.
"""
import array
import itertools
import json
import os
import pathlib
import signal
import socket
import shutil
import subprocess
import tempfile
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build")) / "bin" / "isola-netd"
_seq = itertools.count()


class NetdError(Exception):
    def __init__(self, msg, errno_):
        super().__init__("%s (errno %d)" % (msg, errno_))
        self.msg = msg
        self.errno = errno_


def ipc_call(path, req, fds=(), timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        data = json.dumps(req).encode()
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        s.sendmsg([data], anc)
        while True:
            msg, anc, flags, _ = s.recvmsg(192 * 1024, socket.CMSG_SPACE(16 * 4))
            if not msg:
                raise ConnectionResetError("netd closed the connection without a reply")
            rfds = []
            for level, typ, d in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(d[:len(d) - (len(d) % a.itemsize)])
                    rfds.extend(a)
            m = json.loads(msg)
            if "progress" in m:
                for f in rfds:
                    os.close(f)
                continue
            if not m.get("ok"):
                for f in rfds:
                    os.close(f)
                raise NetdError(m.get("error", "?"), m.get("errno", 0))
            return m, rfds
    finally:
        s.close()


def sh(*cmd, check=True, ns=None, timeout=30, input=None):
    argv = list(cmd)
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s %s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def uniq():
    return "%x%x" % (os.getpid() % 0xfff, next(_seq))


class Netns:
    """A network namespace made by the test (ip netns add), removed on close."""

    def __init__(self, name):
        self.name = name
        sh("ip", "netns", "add", name)
        self.path = "/run/netns/" + name

    def fd(self):
        return os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

    def run(self, *cmd, check=True, timeout=30):
        return sh(*cmd, ns=self.name, check=check, timeout=timeout)

    def popen(self, *cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name] + list(cmd), **kw)

    def close(self):
        sh("ip", "netns", "del", self.name, check=False)


class Netd:
    """One private isola-netd: own socket, own state dir, inside its own 'host' netns."""

    def __init__(self, tmp, tag, extra=()):
        self.tag = tag
        self.host = Netns("nt-h-" + tag)
        self.host.run("ip", "link", "set", "lo", "up")
        # dnsmasq runs as nobody and must reach its host files: a state dir whose parents are searchable
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="isola-nt-%s-" % tag, dir="/tmp"))
        self.dir.chmod(0o711)
        self.sock = self.dir / "netd.sock"
        self.state = self.dir / "state"
        self.log = self.dir / "netd.log"
        self.extra = list(extra)
        self.proc = None
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self, extra=None):
        args = self.extra if extra is None else list(extra)
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.host.name, str(BIN), "--socket", str(self.sock),
                                      "--state-dir", str(self.state)] + args, stdout=logf, stderr=logf)
        logf.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("isola-netd exited %d at start: %s" % (self.proc.returncode, self.log.read_text()))
            try:
                self.call({"op": "status"})
                return
            except (FileNotFoundError, ConnectionRefusedError, NetdError):
                time.sleep(0.05)
        raise AssertionError("isola-netd did not answer on %s: %s" % (self.sock, self.log.read_text()))

    def call(self, req, fds=()):
        m, rfds = ipc_call(self.sock, req, fds)
        for f in rfds:
            os.close(f)
        return m

    def call_fds(self, req, fds=()):
        return ipc_call(self.sock, req, fds)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def dnsmasq_pids(self):
        """dnsmasq processes started for THIS state dir (matched on our pid-file path)."""
        pids = []
        marker = ("--pid-file=%s/" % self.state).encode()
        for p in pathlib.Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"/usr/sbin/dnsmasq\0") and marker in cmd:
                pids.append(int(p.name))
        return sorted(pids)

    def links(self):
        out = self.host.run("ip", "-o", "link", "show").stdout
        return sorted(l.split(":")[1].strip().split("@")[0] for l in out.splitlines())

    def addrs(self):
        out = self.host.run("ip", "-o", "addr", "show").stdout
        # IPv6 link-locals are the kernel's own (addrconf adds one when a bridge first gets carrier): not netd's
        return sorted(" ".join(l.split()[1:4]) for l in out.splitlines() if " fe80:" not in l)

    def nft_tables(self):
        out = self.host.run("nft", "list", "tables").stdout
        return sorted(l.strip() for l in out.splitlines() if l.strip())

    def snapshot(self):
        """Everything netd could leak, as one comparable value."""
        return {"links": self.links(), "addrs": self.addrs(), "nft": self.nft_tables(),
                "dnsmasq": len(self.dnsmasq_pids())}

    def log_text(self):
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def close(self, quiet=False):
        if not quiet:
            print("---- isola-netd log (%s) ----\n%s" % (self.tag, self.log_text()[-6000:]))
        try:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            for pid in self.dnsmasq_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.host.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def dhcp_script(path):
    """A udhcpc event script applying the lease with ip (busybox udhcpc -s)."""
    path.write_text("""#!/bin/sh
case "$1" in
bound|renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
  echo "$ip" > "%s.lease"
  ;;
esac
exit 0
""" % path)
    path.chmod(0o755)
    return path


def dns_query(ns, server, name, timeout=3):
    """A minimal DNS A query (RFC 1035 §4.1) sent from inside ns to server:53; returns the addresses."""
    code = r'''
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(%d)
s.sendto(q, (server, 53)); r, _ = s.recvfrom(4096)
an = struct.unpack(">H", r[6:8])[0]; i = len(q)
out = []
for _ in range(an):
    if r[i] & 0xc0 == 0xc0: i += 2
    else:
        while r[i]: i += r[i] + 1
        i += 1
    t, c, ttl, l = struct.unpack(">HHIH", r[i:i+10]); i += 10
    if t == 1: out.append(socket.inet_ntoa(r[i:i+4]))
    i += l
print(" ".join(out))
''' % timeout
    r = sh("/usr/bin/python3", "-c", code, name, server, ns=ns, check=False)
    return r.stdout.split() if r.returncode == 0 else None
