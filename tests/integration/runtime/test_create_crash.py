"""A `create` killed (SIGKILL) after it made the container's cgroup but before state.json existed: the
cgroup must still be found and removed by `delete --force`, at a custom linux.cgroupsPath too (the
runtime records what it will clean up, cleanup.json, before creating it).

The window is held open without any test hook in the runtime: create connects to --console-socket after
making the cgroup and before writing state.json, and connect(2) on a unix stream socket blocks while the
listener's backlog is full (listen(0) plus one connection nobody accepts)."""
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest


def cgroup2_mount():
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        if line.split(" - ")[1].startswith("cgroup2 "):
            return pathlib.Path(line.split()[4])
    return None


def test_sigkill_after_cgroup_before_state_custom_cgroups_path(rt, tmp_path):
    cgmount = cgroup2_mount()
    if cgmount is None:
        pytest.skip("no cgroup2 mount on this host: create makes no cgroup to leave behind")
    cid = rt.new_id()
    rel = f"/isola/custom-{cid}"
    c = rt.config()
    c["linux"]["cgroupsPath"] = rel
    c["process"]["args"] = ["/bin/sleep", "300"]
    c["process"]["terminal"] = True  # --console-socket needs it
    rt.write_config(c)
    cgdir = cgmount / rel.lstrip("/")

    sock_path = tmp_path / "full.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(0)
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    filler.connect(str(sock_path))  # the backlog is full now: the next connect blocks
    proc = subprocess.Popen([str(rt.binary), "--root", str(rt.root), "create", "--console-socket", str(sock_path),
                             cid], cwd=rt.bundle, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and not cgdir.exists() and proc.poll() is None:
            time.sleep(0.01)
        if not cgdir.exists():
            pytest.skip(f"create made no cgroup at {cgdir} (exit {proc.poll()}): nothing can be left behind here")
        time.sleep(0.2)
        assert proc.poll() is None, "create did not block on the full console socket"
        assert not (rt.root / cid / "state.json").exists(), "the window (cgroup made, no state.json) was missed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        p = rt.cmd("delete", "--force", cid)
        assert p.returncode == 0, f"delete --force of a half-created container failed: {p.stderr}"
        assert not (rt.root / cid).exists(), "state of the killed create left behind"
        assert not cgdir.exists(), f"cgroup at the custom cgroupsPath {rel} left behind by delete --force"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        filler.close()
        srv.close()
        if cgdir.exists():
            os.rmdir(cgdir)  # the test's own leftover, so a failure does not leak it on the host
