"""Helpers for the isola-imaged integration tests: a client for the daemon's SOCK_SEQPACKET JSON
protocol (docs/imaged.md), a daemon runner, and builders for small test images (a busybox rootfs from
/bin/busybox; hostile tarballs crafted entry by entry with tarfile)."""
import io
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tarfile
import time

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build")).resolve()
IMAGED = BUILD / "bin" / "isola-imaged"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
# the images rootfs/ builds (make images); ISOLA_IMAGES points elsewhere (e.g. another checkout's build)
IMAGES = pathlib.Path(os.environ.get("ISOLA_IMAGES", BUILD / "images"))

METADATA = """architecture: x86_64
creation_date: 1700000000
properties:
  os: busybox
  release: "1.36"
  variant: default
  description: "busybox test image"
templates:
  /etc/hostname:
    when:
      - create
    template: hostname.tpl
"""


class ImagedError(Exception):
    """The daemon's message, with its errno spelled out as ipc_call's isola_err_str would."""

    def __init__(self, msg, errno_):
        super().__init__(msg + (": " + os.strerror(errno_) if errno_ else ""))
        self.errno = errno_


class Daemon:
    """One private isola-imaged: its own socket and store under a test's tmp dir."""

    def __init__(self, root, store=None, extra=(), soft_nofile=None):
        self.soft_nofile = soft_nofile
        self.root = pathlib.Path(root)
        self.sock = str(self.root / "imaged.sock")
        self.store = pathlib.Path(store) if store else self.root / "store"
        self.extra = list(extra)
        self.log = self.root / "imaged.log"
        self.proc = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.logf = open(self.log, "ab")
        def limits():
            if self.soft_nofile:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE,
                                   (self.soft_nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

        self.proc = subprocess.Popen([str(IMAGED), "--socket", self.sock, "--store", str(self.store)] + self.extra,
                                     stdout=self.logf, stderr=self.logf, preexec_fn=limits)
        for _ in range(500):
            # the path exists from bind(2) on, but connect(2) is refused until listen(2): probe it
            try:
                self.connect().close()
                return self
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            if self.proc.poll() is not None:
                raise AssertionError("isola-imaged exited %d at start:\n%s" % (self.proc.returncode, self.log_text()))
            time.sleep(0.01)
        raise AssertionError("isola-imaged did not create %s:\n%s" % (self.sock, self.log_text()))

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None

    def restart(self):
        self.stop()
        return self.start()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.sock)
        return s

    def call(self, op, progress=None, conn=None, **args):
        """One request; returns the final reply. Progress messages go to the list `progress`.
        An {"ok": false} reply raises ImagedError carrying the daemon's message and errno."""
        s = conn or self.connect()
        try:
            s.sendall(json.dumps(dict(op=op, **args)).encode())
            while True:
                data = s.recv(256 * 1024)
                if not data:
                    raise AssertionError("isola-imaged closed the connection during %s:\n%s" % (op, self.log_text()))
                msg = json.loads(data)
                if "progress" in msg:
                    if progress is not None:
                        progress.append(msg["progress"])
                    continue
                if not msg.get("ok"):
                    raise ImagedError(msg.get("error", "?"), msg.get("errno", 0))
                return msg
        finally:
            if conn is None:
                s.close()

    def store_entries(self):
        return sorted(p.name for p in self.store.iterdir()) if self.store.exists() else []

    def image_dirs(self):
        return [n for n in self.store_entries() if len(n) == 64]

    def tmp_dirs(self):
        return [n for n in self.store_entries() if n.startswith(".tmp-")]


def mounts_under(prefix):
    """Lines of /proc/self/mountinfo whose mount point is below prefix."""
    prefix = str(prefix)
    out = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4].replace("\\040", " ")
        if mp == prefix or mp.startswith(prefix + "/"):
            out.append(line)
    return out


def unmount_all_under(prefix):
    for line in reversed(mounts_under(prefix)):
        subprocess.run(["umount", "-l", line.split()[4]], check=False)


def busybox_rootfs(dst):
    """A minimal busybox system: /bin/busybox + applet symlinks + /etc files."""
    dst = pathlib.Path(dst)
    for d in ("bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "root", "usr/bin"):
        (dst / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, dst / "bin/busybox")
    for applet in ("sh", "ls", "cat", "echo", "mount", "ps"):
        os.symlink("busybox", dst / "bin" / applet)
    (dst / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (dst / "etc/hostname").write_text("busybox\n")
    os.chmod(dst / "tmp", 0o1777)
    return dst


def make_unified(path, rootfs_dir, metadata=METADATA, mode="w:gz", templates=True):
    """metadata.yaml + rootfs/ [+ templates/] → a unified tarball."""
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as t:
        add_bytes(t, "metadata.yaml", metadata.encode())
        t.add(str(rootfs_dir), arcname="rootfs")
        if templates:
            add_bytes(t, "templates/hostname.tpl", b"{{ instance.name }}\n")
    return pathlib.Path(path)


def make_metadata_tarball(path, metadata=METADATA):
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        add_bytes(t, "metadata.yaml", metadata.encode())
        add_bytes(t, "templates/hostname.tpl", b"{{ instance.name }}\n")
    return pathlib.Path(path)


def make_squashfs(path, rootfs_dir):
    subprocess.run(["mksquashfs", str(rootfs_dir), str(path), "-noappend", "-quiet", "-comp", "gzip",
                    "-no-progress"], check=True, stdout=subprocess.DEVNULL)
    return pathlib.Path(path)


def add_bytes(t, name, data, mode=0o644, **attrs):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = 1700000000
    for k, v in attrs.items():
        setattr(ti, k, v)
    t.addfile(ti, io.BytesIO(data))


def add_entry(t, name, type_, linkname="", mode=0o755, **attrs):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.linkname = linkname
    ti.mode = mode
    ti.mtime = 1700000000
    for k, v in attrs.items():
        setattr(ti, k, v)
    t.addfile(ti)


def hostile_tarball(path, entries, metadata=METADATA):
    """A unified tarball: metadata.yaml, rootfs/, then `entries` (callables taking the TarFile)."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        add_bytes(t, "metadata.yaml", metadata.encode())
        add_entry(t, "rootfs", tarfile.DIRTYPE)
        add_entry(t, "rootfs/bin", tarfile.DIRTYPE)
        add_bytes(t, "rootfs/bin/true", b"#!/bin/sh\n", mode=0o755)
        for e in entries:
            e(t)
    return pathlib.Path(path)


def sha256sum(*paths):
    import hashlib
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
