"""Limits visible in the cgroup, the btrfs pool, autostart after a simulated reboot, systemd units."""
import os
import signal
import subprocess
import time

import pytest

from mgr_util import ISOLA


def cgroup_dir(pid):
    """The instance's limits cgroup: the delegated OUTER level /isola/<name>. init runs in its inner
    /isola/<name>/init (owned by the container's root, the root of its cgroup namespace), which the
    container can neither see above nor raise."""
    for line in open("/proc/%d/cgroup" % pid):
        if line.startswith("0::"):
            inner = "/sys/fs/cgroup" + line.strip()[3:]
            assert inner.endswith("/init"), "init should sit in the delegated inner cgroup: " + inner
            return os.path.dirname(inner)
    return None


def test_profile_limits_reach_the_cgroup(isola, name, needs):
    needs(cgroup={"memory", "pids", "cpu"})
    prof = "lim-" + name[:40]
    isola.run("profile", "create", prof)
    isola.run("profile", "set", prof, "limits.memory=96MiB", "limits.processes=77")
    isola.run("launch", "busybox", name, "-p", "default", "-p", prof)
    cg = cgroup_dir(isola.instance(name)["state"]["pid"])
    assert open(cg + "/memory.max").read().strip() == str(96 << 20)
    assert open(cg + "/pids.max").read().strip() == "77"
    # a profile change reaches the running instance's cgroup
    isola.run("profile", "set", prof, "limits.memory=64MiB")
    assert open(cg + "/memory.max").read().strip() == str(64 << 20)
    isola.run("config", "set", name, "limits.cpu.allowance=25ms/100ms")
    assert open(cg + "/cpu.max").read().split() == ["25000", "100000"]
    # root inside cannot raise them: the limits level is above its cgroup namespace's root
    p = isola.run("exec", name, "--", "sh", "-c",
                  "echo max > /sys/fs/cgroup/memory.max; echo max > /sys/fs/cgroup/../memory.max; "
                  "cat /proc/self/cgroup", check=False)
    assert open(cg + "/memory.max").read().strip() == str(64 << 20), p.stdout + p.stderr
    isola.run("delete", "--force", name)
    isola.run("profile", "delete", prof)


def btrfs_ok():
    return "btrfs" in open("/proc/filesystems").read()


def test_btrfs_pool(isola, name):
    if not btrfs_ok():
        pytest.skip("this kernel has no btrfs")
    pool = "bt" + name[-4:]
    isola.run("storage", "create", pool, "btrfs", "size=1GiB")
    isola.run("launch", "busybox", name, "--storage", pool)
    assert isola.instance(name)["expanded_devices"]["root"]["pool"] == pool
    isola.run("exec", name, "--", "sh", "-c", "echo one > /root/v")
    isola.run("snapshot", "create", name, "s")
    snap = isola.root / "storage-pools" / pool / "snapshots" / name / "s"
    # a real read-only subvolume snapshot, not a copy: inode 256 is a subvolume root
    assert os.stat(snap).st_ino == 256
    isola.run("exec", name, "--", "sh", "-c", "echo two > /root/v")
    isola.run("snapshot", "restore", name, "s")
    assert isola.run("exec", name, "--", "cat", "/root/v").stdout.strip() == "one"
    isola.run("delete", "--force", name)
    mnt = str(isola.root / "storage-pools" / pool)
    subprocess.run(["umount", mnt], check=False)


def test_autostart_after_simulated_reboot(isola, name):
    isola.run("launch", "busybox", name, "-c", "boot.autostart=true")
    other = name + "-no"
    isola.run("launch", "busybox", other)
    # "reboot": kill every instance hard and the daemons, as a power cut would
    for n in (name, other):
        pid = isola.instance(n)["state"]["pid"]
        isola.run("stop", "--force", n)
    for which in ("imaged", "netd"):
        isola.stop_daemon(which, signal.SIGKILL)
    # the daemons come back on demand (started by isola from its own directory)
    isola.run("start", "--all-autostart")
    assert isola.instance(name)["status"] == "Running"
    assert isola.instance(other)["status"] == "Stopped"
    assert isola.v4(name)[0]
    isola.run("delete", "--force", name, other)
    # the fixture's daemons are now the ones isola started: hand them back to the fixture's teardown
    for which in ("imaged", "netd"):
        assert isola.socket_pid(which) > 0


def test_systemd_unit(isola, name):
    isola.run("init", "busybox", name)
    isola.run("systemd", "install", name)
    unit = (isola.root / "systemd" / "isola@.service").read_text()
    assert "Type=notify" in unit and "start --foreground %i" in unit and "stop --timeout 30 %i" in unit
    link = isola.root / "systemd" / "multi-user.target.wants" / ("isola@%s.service" % name)
    assert link.is_symlink()
    isola.run("systemd", "uninstall", name)
    assert not link.exists()
    isola.run("delete", name)


def test_foreground_start_notifies_and_stops(isola, name, tmp_path):
    """What isola@.service runs: `start --foreground` sends READY=1 to NOTIFY_SOCKET, stays until stopped."""
    import socket
    isola.run("init", "busybox", name)
    sock_path = str(tmp_path / "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(30)
    env = dict(isola.env, NOTIFY_SOCKET=sock_path)
    p = subprocess.Popen([str(ISOLA), "start", "--foreground", name], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    msg = s.recv(4096)
    assert b"READY=1" in msg
    assert isola.instance(name)["status"] == "Running"
    assert p.poll() is None, "the foreground monitor exited while the instance runs"
    isola.run("stop", "--force", name)
    assert p.wait(30) == 0
    isola.run("delete", name)


def _controllers():
    try:
        return set(open("/sys/fs/cgroup/cgroup.controllers").read().split())
    except OSError:
        return set()


def test_live_limit_applies_or_is_refused_whole(isola, name, needs):
    # `needs` (not called): the VM tier re-runs this where the controller exists, proving the apply path
    prof = "live-" + name[:40]
    isola.run("profile", "create", prof)
    isola.run("launch", "busybox", name, "-p", "default", "-p", prof)
    p = isola.run("profile", "set", prof, "limits.processes=55", check=False)
    q = isola.run("config", "set", name, "limits.processes=66", check=False)
    if "pids" in _controllers():
        assert p.returncode == 0 and q.returncode == 0, p.stderr + q.stderr
        cg = cgroup_dir(isola.instance(name)["state"]["pid"])
        assert open(cg + "/pids.max").read().strip() == "66"
    else:
        assert p.returncode != 0 and "not changed" in p.stderr, p.stderr
        assert q.returncode != 0 and "not changed" in q.stderr, q.stderr
        assert isola.run("profile", "get", prof, "limits.processes").stdout.strip() == ""
        assert "limits.processes" not in isola.instance(name)["config"]
    isola.run("delete", "--force", name)
    isola.run("profile", "delete", prof)
