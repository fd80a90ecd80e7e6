"""Fixtures for the isola-runtime integration tests: a busybox rootfs built once per session, a fresh
bundle and state root per test, and a helper that runs the CLI. Root and real namespaces required."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
RUNTIME = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build")) / "bin" / "isola-runtime"


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("runtime tests need root")
    if not RUNTIME.exists():
        pytest.fail(f"{RUNTIME} is missing: run make first")
    base = tmp_path_factory.mktemp("rtbase")
    subprocess.run([str(REPO / "runtime/scripts/mkbundle.sh"), str(base / "b")], check=True,
                   env={**os.environ, "ISOLA_RUNTIME": str(RUNTIME)})
    return base / "b"


class Runtime:
    binary = RUNTIME

    def __init__(self, root, bundle):
        self.root = root
        self.bundle = bundle
        self.created = []

    def config(self):
        return json.loads((self.bundle / "config.json").read_text())

    def write_config(self, cfg):
        (self.bundle / "config.json").write_text(json.dumps(cfg))

    def set_args(self, *args, terminal=False):
        c = self.config()
        c["process"]["args"] = list(args)
        c["process"]["terminal"] = terminal
        self.write_config(c)

    def cmd(self, *args, check=False, timeout=30, **kw):
        """Run the CLI. Output goes to files, not pipes: a created container's init inherits the
        runtime's stdio and keeps it open, so a pipe would never see EOF. Global flags (--log ...) may
        lead args; --root is added first."""
        argv = [str(RUNTIME), "--root", str(self.root), *map(str, args)]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            rc = subprocess.run(argv, cwd=self.bundle, timeout=timeout, stdout=out, stderr=err,
                                stdin=kw.pop("stdin", subprocess.DEVNULL), **kw).returncode
            out.seek(0)
            err.seek(0)
            p = subprocess.CompletedProcess(argv, rc, out.read(), err.read())
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr}")
        return p

    def state(self, cid):
        p = self.cmd("state", cid, check=True)
        return json.loads(p.stdout)

    def new_id(self):
        cid = "rt-" + uuid.uuid4().hex[:10]
        self.created.append(cid)
        return cid


@pytest.fixture
def rt(tmp_path, busybox_rootfs):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    # the rootfs is shared read-only (root.readonly is true in the default spec); config is per test
    (bundle / "rootfs").symlink_to(busybox_rootfs / "rootfs")
    shutil.copy(busybox_rootfs / "config.json", bundle / "config.json")
    c = json.loads((bundle / "config.json").read_text())
    c["root"]["path"] = str(busybox_rootfs / "rootfs")
    (bundle / "config.json").write_text(json.dumps(c))
    r = Runtime(tmp_path / "state", bundle)
    yield r
    for cid in r.created:
        r.cmd("delete", "--force", cid)
