"""Fixtures for the system-container suite: the rootfs/ images unpacked once per session, and a Syscont
helper that boots/halts containers with a private state root and id-range database, and always halts
what it booted. Root and real namespaces required.

Images: build/images/{busybox,debian}.tar.gz (make image-busybox / make images), or the directory in
ISOLA_IMAGES. The Debian tests skip with the reason when its image has not been built."""
import json
import os
import pathlib
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
RUNTIME = BUILD / "bin" / "isola-runtime"
IMAGES = pathlib.Path(os.environ.get("ISOLA_IMAGES", BUILD / "images"))


def unpack(tarball, dest):
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(dest), "--numeric-owner", "--xattrs",
                    "--xattrs-include=*"], check=True)
    return dest


@pytest.fixture(scope="session")
def busybox_image(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("system-container tests need root")
    if not RUNTIME.exists():
        pytest.fail(f"{RUNTIME} is missing: run make first")
    tb = IMAGES / "busybox.tar.gz"
    if not tb.exists():
        pytest.fail(f"{tb} is missing: run make image-busybox")
    return unpack(tb, tmp_path_factory.mktemp("sc") / "busybox")


@pytest.fixture(scope="session")
def debian_image(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("system-container tests need root")
    tb = IMAGES / "debian.tar.gz"
    if not tb.exists():
        pytest.skip(f"{tb} is missing: build it with make images (debootstrap, minutes)")
    return unpack(tb, tmp_path_factory.mktemp("sc") / "debian")


def overlay_layers_by_fd():
    """--ephemeral gives overlayfs its layers by fd (fsconfig FSCONFIG_SET_FD), Linux 6.13+. Older kernels
    (the proving ground's Debian 6.1) boot a private copy of the rootfs instead."""
    rel = os.uname().release.split("-")[0].split(".")
    return (int(rel[0]), int(rel[1])) >= (6, 13)


class Syscont:
    def __init__(self, base):
        self.base = base
        self.root = base / "state"
        self.idmap = base / "idmap"
        self.booted = []

    def cmd(self, *args, timeout=180, check=False):
        """Output to files, not pipes: processes that outlive the call must not hold our pipe open."""
        argv = [str(RUNTIME), "--root", str(self.root), *map(str, args)]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            rc = subprocess.run(argv, timeout=timeout, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL).returncode
            out.seek(0)
            err.seek(0)
            p = subprocess.CompletedProcess(argv, rc, out.read(), err.read())
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr}")
        return p

    def boot(self, cid, image, *extra, check=True, timeout_s=120):
        log = self.base / f"{cid}.console"
        if overlay_layers_by_fd():
            src = ["--image", image, "--ephemeral"]
        else:
            copy = self.base / f"{cid}-rootfs"
            if not copy.exists():
                subprocess.run(["cp", "-a", str(image / "rootfs"), str(copy)], check=True)
            src = ["--rootfs", copy, "--metadata", image / "metadata.yaml"]
        p = self.cmd("boot", *src, "--idmap-dir", self.idmap, "--console-log", log,
                     "--timeout", timeout_s, *extra, cid, timeout=timeout_s + 60, check=False)
        if p.returncode == 0:
            self.booted.append(cid)
        if check:
            assert p.returncode == 0, f"boot {cid} failed: {p.stderr}\nconsole:\n{self.console(cid)[-3000:]}"
            return json.loads(p.stdout)
        return p

    def console(self, cid):
        try:
            return (self.base / f"{cid}.console").read_text(errors="replace")
        except OSError:
            return ""

    def exec(self, cid, *argv, timeout=120):
        return self.cmd("exec", cid, *argv, timeout=timeout)

    def sh(self, cid, script, timeout=120):
        return self.exec(cid, "/bin/sh", "-c", script, timeout=timeout)

    def halt(self, cid, timeout_s=60, check=True):
        p = self.cmd("halt", "--timeout", timeout_s, "--idmap-dir", self.idmap, cid, timeout=timeout_s + 60)
        if p.returncode == 0 and cid in self.booted:
            self.booted.remove(cid)
        if check:
            assert p.returncode == 0, f"halt {cid} failed: {p.stderr}"
        return p

    def id_ranges(self):
        try:
            return json.loads((self.idmap / "idmap.json").read_text())["ranges"]
        except FileNotFoundError:
            return []


@pytest.fixture
def sc(tmp_path):
    # the container's root must be able to search down to the notify socket's directory
    os.chmod(tmp_path, 0o711)
    s = Syscont(tmp_path)
    yield s
    for cid in list(s.booted):
        s.halt(cid, timeout_s=5, check=False)
