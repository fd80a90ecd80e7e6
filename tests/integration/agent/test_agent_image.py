"""The debian-vm image carries the agent: a static binary (no ELF interpreter: it runs whatever libc the
guest has), its unit enabled for multi-user.target, and the vsock transport module loaded at boot.
Needs build/images/debian-vm.img (make images); skips without it."""
import subprocess

import pytest

from agent_util import BUILD

IMG = BUILD / "images" / "debian-vm.img"


def _debugfs(request):
    r = subprocess.run(["debugfs", "-R", request, str(IMG)], capture_output=True)
    assert r.returncode == 0, "debugfs %s: %s" % (request, r.stderr.decode())
    return r.stdout


def test_debian_vm_has_the_agent(tmp_path):
    if not IMG.exists():
        pytest.skip("needs build/images/debian-vm.img (make images)")
    agent = tmp_path / "isola-agent"
    _debugfs("dump -p /usr/lib/isola/isola-agent %s" % agent)
    assert agent.stat().st_size > 0 and agent.stat().st_mode & 0o111, "isola-agent missing or not executable"
    hdr = subprocess.run(["readelf", "-lh", str(agent)], capture_output=True, text=True)
    assert hdr.returncode == 0, hdr.stderr
    assert "INTERP" not in hdr.stdout, "isola-agent in the image is not static"
    assert agent.stat().st_size < 2 * 1024 * 1024, "isola-agent grew past 2 MiB: %d" % agent.stat().st_size
    v = subprocess.run([str(agent), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("isola-agent "), v
    link = _debugfs("stat /etc/systemd/system/multi-user.target.wants/isola-agent.service").decode()
    assert "Type: symlink" in link, "isola-agent.service is not enabled"
    unit = _debugfs("cat /etc/systemd/system/isola-agent.service").decode()
    assert "ExecStart=/usr/lib/isola/isola-agent --listen vsock:8443" in unit, unit
    assert b"vmw_vsock_virtio_transport" in _debugfs("cat /etc/modules-load.d/isola-agent.conf")
