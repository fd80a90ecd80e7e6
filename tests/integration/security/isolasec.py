"""Shared by the security suite and the cgroup-limit suite (imported as a module with a unique name, so
it never collides with other directories' conftest.py): a busybox bundle with isola's static attack helpers in /helpers,
configured from what `isola-runtime spec` writes (so the defaults under test are the shipped ones), and
a runtime wrapper with its own --root so tests never see each other's containers."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
RUNTIME = BUILD / "bin" / "isola-runtime"
HELPERS = BUILD / "tests" / "helpers"
BUSYBOX = "/bin/busybox"


def check_built():
    if os.geteuid() != 0:
        pytest.skip("the security suite runs as root (make check-host)")
    missing = [str(p) for p in (RUNTIME, HELPERS / "trysys", HELPERS / "fdscan", HELPERS / "exeprobe")
               if not p.exists()]
    if missing:
        pytest.fail("not built: %s (run make)" % ", ".join(missing))


def load_spec(d):
    """The config.json `isola-runtime spec` writes (in directory d), parsed."""
    check_built()
    r = subprocess.run([str(RUNTIME), "spec"], cwd=d, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "isola-runtime spec failed: %s" % r.stderr
    return json.loads((pathlib.Path(d) / "config.json").read_text())


def make_rootfs(root: pathlib.Path):
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc", "root", "helpers", "mnt"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "ls", "cat", "grep", "stat", "echo", "touch", "mkdir", "wc", "sleep", "true", "readlink",
                   "id", "hostname", "mount", "head", "tr", "test", "ln", "rm", "dd", "printf", "env"):
        os.symlink("/bin/busybox", root / "bin" / applet)
    for h in HELPERS.iterdir():
        shutil.copy2(h, root / "helpers" / h.name)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")
    os.chmod(root / "tmp", 0o1777)


class Runtime:
    def __init__(self, base: pathlib.Path, spec: dict):
        self.base = base
        self.root = base / "state"
        self.spec = spec
        self.ids = []

    def cmd(self, *args, timeout=60, glob=(), **kw):
        """isola-runtime [glob...] --root R args... (glob: global options such as --cgroup-manager)"""
        return subprocess.run([str(RUNTIME), *glob, "--root", str(self.root), *args], capture_output=True,
                              text=True, timeout=timeout, **kw)

    def bundle(self, args, edit=None, rootfs=None, name=None):
        """A fresh bundle running args; edit(config) and rootfs(path) may change it before use."""
        b = self.base / (name or "b-" + uuid.uuid4().hex[:8])
        make_rootfs(b / "rootfs")
        cfg = json.loads(json.dumps(self.spec))
        cfg["root"] = {"path": "rootfs", "readonly": False}
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = list(args)
        cfg["process"]["cwd"] = "/"
        cfg["process"]["env"] = ["PATH=/bin:/helpers", "HOME=/root"]
        if edit:
            edit(cfg)
        if rootfs:
            rootfs(b / "rootfs")
        (b / "config.json").write_text(json.dumps(cfg, indent=1))
        return b

    def new_id(self):
        cid = "sec-" + uuid.uuid4().hex[:10]
        self.ids.append(cid)
        return cid

    def run(self, args, edit=None, rootfs=None, timeout=60, glob=()):
        """run in the foreground; returns the CompletedProcess (container stdout/stderr captured)."""
        b = self.bundle(args, edit, rootfs)
        return self.cmd("run", "--bundle", str(b), self.new_id(), timeout=timeout, stdin=subprocess.DEVNULL,
                        glob=glob)

    def run_ok(self, args, edit=None, rootfs=None):
        r = self.run(args, edit, rootfs)
        assert r.returncode == 0, "container %s failed (exit %d): stdout=%r stderr=%r" % (
            args, r.returncode, r.stdout, r.stderr)
        return r.stdout

    def create(self, args, edit=None, rootfs=None, stdout=None):
        b = self.bundle(args, edit, rootfs)
        cid = self.new_id()
        # the container inherits stdio: a pipe would stay open as long as it runs, so use files
        errf = b / "create.stderr"
        with open(errf, "w") as err:
            r = subprocess.run([str(RUNTIME), "--root", str(self.root), "create", "--bundle", str(b), cid],
                               stdin=subprocess.DEVNULL, stdout=stdout or subprocess.DEVNULL, stderr=err,
                               timeout=60)
        assert r.returncode == 0, "create failed: %s" % errf.read_text()
        return cid, b

    def state(self, cid):
        r = self.cmd("state", cid)
        assert r.returncode == 0, "state %s: %s" % (cid, r.stderr)
        return json.loads(r.stdout)

    def cleanup(self):
        for cid in self.ids:
            self.cmd("delete", "--force", cid, timeout=30)


def runtime_fixture(spec_config):
    base = pathlib.Path(tempfile.mkdtemp(prefix="isola-sec-"))
    r = Runtime(base, spec_config)
    yield r
    r.cleanup()
    shutil.rmtree(base, ignore_errors=True)


def cgroup2_mount():
    """The cgroup2 mount point (unified or hybrid), or None."""
    best = None
    for line in open("/proc/self/mountinfo"):
        pre, _, post = line.partition(" - ")
        if post.startswith("cgroup2 "):
            mp = pre.split()[4]
            if mp == "/sys/fs/cgroup" or best is None:
                best = mp
    return best


def parse_kv(out):
    """'name=value' lines → dict"""
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
