"""Fixtures for the isola manager/CLI tests: a private ISOLA_DIR, the two daemons started by the fixture
(so the test owns their pids), a uniquely named bridge, a dir storage pool, the busybox image imported."""
import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess

import pytest

from mgr_util import BIN, Isola, ensure_busybox_image

@pytest.fixture(scope="session")
def isola(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    for b in ("isola", "isola-imaged", "isola-netd"):
        if not (BIN / b).exists():
            pytest.fail("%s not built (make)" % (BIN / b))
    root = pathlib.Path("/tmp") / ("isola-mgr-" + secrets.token_hex(4))
    root.mkdir()
    iso = Isola(root)
    iso.run_dir.mkdir()
    iso.start_daemon("imaged")
    iso.start_daemon("netd")
    preseed = {"storage_pools": [{"name": "default", "driver": "dir"}],
               "networks": [{"name": iso.network, "config": {}}],
               "profiles": [{"name": "default", "config": {}, "devices": {
                   "root": {"type": "disk", "path": "/", "pool": "default"},
                   "eth0": {"type": "nic", "network": iso.network, "name": "eth0"}}}]}
    iso.run("admin", "init", "--preseed", "-", input=json.dumps(preseed))
    iso.image = ensure_busybox_image()
    iso.run("image", "import", str(iso.image), "--alias", "busybox")
    yield iso
    # teardown: every instance, the network, the daemons, mounts, the tree
    for i in iso.json("list"):
        iso.run("delete", "--force", i["name"], check=False)
    iso.run("network", "delete", iso.network, check=False)
    for which in list(iso.daemons):
        iso.stop_daemon(which)
    for which in ("imaged", "netd"):
        try:
            os.kill(iso.socket_pid(which), signal.SIGTERM)
        except OSError:
            pass
    with open("/proc/self/mounts") as f:
        mounts = [l.split()[1] for l in f if str(root) in l.split()[1]]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], check=False)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def name(request):
    """a unique instance name per test (Incus rules: letters, digits, '-')"""
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name)[:40].strip("-")
    return ("t-%s-%s" % (base, secrets.token_hex(2))).replace("--", "-")
