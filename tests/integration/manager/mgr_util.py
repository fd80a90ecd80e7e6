"""Helpers for the isola manager/CLI tests: a private ISOLA_DIR, the two daemons started by the fixture
(so the test owns their pids), a uniquely named bridge, a dir storage pool, the busybox image imported.

Every test uses unique instance names (the `name` fixture) so tests never collide."""
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time


REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
BIN = BUILD / "bin"

ISOLA = BIN / "isola"


class Isola:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.run_dir = self.root / "run"
        self.env = dict(os.environ, ISOLA_DIR=str(self.root), ISOLA_RUN_DIR=str(self.run_dir),
                        ISOLA_SYSTEMD_DIR=str(self.root / "systemd"))
        self.env.pop("NOTIFY_SOCKET", None)
        self.daemons = {}
        self.network = "mgr" + secrets.token_hex(4)
        self.image = None

    def run(self, *args, check=True, input=None, timeout=120, env=None):
        p = subprocess.run([str(ISOLA), *args], capture_output=True, text=True, input=input, timeout=timeout,
                           env=env or self.env)
        if check and p.returncode != 0:
            raise AssertionError("isola %s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def json(self, *args):
        return json.loads(self.run(*args, "--format", "json").stdout)

    def v4(self, name, nic="eth0", wait_s=15):
        """The instance's IPv4 addresses on nic, waiting for one: netd configures it before init runs,
        but an image running a DHCP client (busybox's rcS starts udhcpc) flushes it on `deconfig` and
        puts the leased one (the same: a reservation for the MAC) back a moment later."""
        deadline = time.monotonic() + wait_s
        while True:
            i = self.instance(name)
            addrs = [a for a in i["state"]["network"][nic]["addresses"] if a["family"] == "inet"]
            if addrs or time.monotonic() > deadline:
                return addrs, i

    def instance(self, name):
        for i in self.json("list"):
            if i["name"] == name:
                return i
        return None

    def start_daemon(self, which):
        sock = self.run_dir / ("%s.sock" % which)
        log = open(self.root / ("%s.test.log" % which), "ab")
        if which == "imaged":
            argv = [str(BIN / "isola-imaged"), "--socket", str(sock), "--store", str(self.root / "images")]
        else:
            argv = [str(BIN / "isola-netd"), "--socket", str(sock), "--state-dir", str(self.root / "netd")]
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        for _ in range(500):
            if sock.exists():
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    s.connect(str(sock))
                    s.close()
                    break
                except OSError:
                    pass
            time.sleep(0.02)
        else:
            p.kill()
            raise AssertionError("%s did not come up: %s" % (which, (self.root / ("%s.test.log" % which)).read_text()))
        self.daemons[which] = p
        return p

    def stop_daemon(self, which, sig=signal.SIGTERM):
        p = self.daemons.pop(which, None)
        if p:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def socket_pid(self, which):
        """pid of whoever serves the socket (SO_PEERCRED): for daemons isola started on its own"""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(str(self.run_dir / ("%s.sock" % which)))
        import struct
        cred = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        s.close()
        return struct.unpack("3i", cred)[0]


def ensure_busybox_image():
    img = BUILD / "images" / "busybox.tar.gz"
    if not img.exists():
        subprocess.run(["make", "-s", "image-busybox"], cwd=REPO, check=True, timeout=300)
    return img


