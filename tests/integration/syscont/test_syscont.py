"""System containers (issue 4): the image's init as PID 1, unprivileged by default, clean stop, nothing
left behind. Every test boots real containers from the rootfs/ images with isola-runtime boot/halt."""
import json
import os
import pathlib
import signal

import pytest


def host_pid(sc, cid):
    return json.loads((sc.root / cid / "state.json").read_text())["pid"]


def environ(pid):
    return dict(e.split("=", 1) for e in pathlib.Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in e)


def procs_in_range(base, size=65536):
    """Live host processes whose real uid lies in [base, base+size). Zombies are left out: a reparented
    init waits there until the host's PID 1 reaps it, holding nothing but its pid."""
    found = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
            uid = int(status.split("\nUid:")[1].split()[0])
            if "\nState:\tZ" in status:
                continue
        except (OSError, IndexError):
            continue
        if base <= uid < base + size:
            found.append(int(d.name))
    return found


def cgroup2_mount():
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        f = line.split()
        if f[f.index("-") + 1] == "cgroup2":
            return pathlib.Path(f[4])
    return None


def assert_nothing_left(sc, cid, base, rootfs):
    assert not (sc.root / cid).exists(), "the runtime state directory is still there"
    assert not (pathlib.Path(str(sc.root) + "-syscont") / cid).exists(), "the bundle directory is still there"
    left = procs_in_range(base) if base else []
    assert not left, f"processes of the container's id range survive: {left}"
    cg = cgroup2_mount()
    if cg:
        assert not (cg / "isola" / cid).exists(), f"cgroup {cg}/isola/{cid} survives"
    mi = pathlib.Path("/proc/self/mountinfo").read_text()
    assert "isola-ephemeral" not in mi and str(rootfs) not in mi, "a mount of the container is left on the host"
    assert all(r["owner"] != cid for r in sc.id_ranges()), "the host id range was not given back"


def test_busybox_boots_and_stops_cleanly(sc, busybox_image):
    r = sc.boot("bb", busybox_image)
    assert r["ready"] == "file", r  # isola.ready: file:/run/isola-booted from metadata.yaml
    assert r["stop_signal"] == signal.SIGUSR2, r  # isola.stop_signal: SIGUSR2
    pid = r["pid"]
    env = environ(pid)
    assert env.get("container") == "isola", env
    assert len(env.get("container_uuid", "")) == 36, env
    # PID 1 inside is the image's /sbin/init (busybox)
    assert os.readlink(f"/proc/{pid}/exe").endswith("busybox")
    p = sc.sh("bb", "cat /proc/1/cmdline | tr '\\0' ' '; echo; test -c /dev/console && readlink /proc/1/fd/0; "
                    "grep -E ' /run | /run/lock | /sys ' /proc/self/mountinfo")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0] in ("/sbin/init", "init"), p.stdout  # busybox init rewrites its argv[0]
    mounts = p.stdout
    assert " /run rw," in mounts and "- tmpfs" in mounts.split(" /run rw,")[1].splitlines()[0], mounts
    assert " /run/lock " in mounts, mounts
    assert " /sys ro," in mounts, "/sys must be read-only: " + mounts
    # the console is the pty the caller holds: init's stdio is /dev/console
    assert "/dev/console" in p.stdout or "/dev/pts" in p.stdout, p.stdout
    sc.halt("bb")
    assert "isola: busybox shutting down" in sc.console("bb"), "busybox did not run its shutdown actions: " + sc.console("bb")[-2000:]
    assert_nothing_left(sc, "bb", r["host_id_base"], busybox_image)


def test_uid0_inside_is_unprivileged_outside(sc, busybox_image, tmp_path):
    ro = tmp_path / "host-ro"
    ro.write_text("host data\n")
    rw = tmp_path / "host-owned"
    rw.write_text("host data\n")
    os.chmod(rw, 0o644)
    r = sc.boot("u1", busybox_image, "--bind", f"{ro}:/mnt/ro:ro", "--bind", f"{rw}:/mnt/rw")
    base = r["host_id_base"]
    assert base >= 65536 and base % 65536 == 0, r
    p = sc.sh("u1", "id -u; cat /proc/1/uid_map; cat /proc/1/gid_map")
    lines = p.stdout.split("\n")
    assert lines[0] == "0", p.stdout
    assert lines[1].split() == ["0", str(base), "65536"], p.stdout
    assert lines[2].split() == ["0", str(base), "65536"], p.stdout
    # seen from the host, init runs as the first id of the range
    st = pathlib.Path(f"/proc/{r['pid']}/status").read_text()
    assert f"Uid:\t{base}\t" in st, st
    # a read-only bind of a host file cannot be changed, not even after remounting it read-write: root
    # inside is not the file's owner outside
    p = sc.sh("u1", "echo evil > /mnt/ro; mount -o remount,rw,bind /mnt/ro; echo evil > /mnt/ro; "
                    "chmod 666 /mnt/ro; echo evil > /mnt/rw; chown 0 /mnt/rw; rm -f /mnt/rw; echo done")
    assert "done" in p.stdout, p.stderr
    assert ro.read_text() == "host data\n", "the read-only host file was changed from inside"
    assert rw.read_text() == "host data\n", "a host-owned file was changed by root inside"
    assert ro.stat().st_uid == 0 and rw.stat().st_uid == 0
    assert "Read-only file system" in p.stderr, p.stderr
    assert "Permission denied" in p.stderr or "Operation not permitted" in p.stderr, p.stderr
    # the image's files appear owned by root inside, through the id-mapped mount, while the image on
    # disk keeps its own owners (never chown'ed)
    p = sc.sh("u1", "stat -c '%u %g' /bin/busybox /etc/inittab")
    assert p.stdout.split() == ["0", "0", "0", "0"], p.stdout
    assert (busybox_image / "rootfs/etc/inittab").stat().st_uid == 0
    sc.halt("u1")


def test_two_containers_get_disjoint_ranges(sc, busybox_image):
    a = sc.boot("d1", busybox_image)
    b = sc.boot("d2", busybox_image)
    ba, bb = a["host_id_base"], b["host_id_base"]
    assert ba + 65536 <= bb or bb + 65536 <= ba, (ba, bb)
    for cid, base in (("d1", ba), ("d2", bb)):
        m = pathlib.Path(f"/proc/{host_pid(sc, cid)}/uid_map").read_text().split()
        assert m == ["0", str(base), "65536"], m
    owners = {r["owner"]: r["base"] for r in sc.id_ranges()}
    assert owners == {"d1": ba, "d2": bb}, owners
    sc.halt("d1")
    sc.halt("d2")
    assert sc.id_ranges() == []


def test_cgroup_namespace_rooted_at_the_inner_cgroup(sc, busybox_image):
    cg = cgroup2_mount()
    if cg is None:
        pytest.skip("no cgroup2 mount on this host")
    r = sc.boot("cg1", busybox_image)
    host_view = pathlib.Path(f"/proc/{r['pid']}/cgroup").read_text()
    if "::/isola/cg1/init" not in host_view:
        sc.halt("cg1")
        pytest.skip("the runtime could not create a cgroup here: " + host_view)
    p = sc.sh("cg1", "grep '^0::' /proc/1/cgroup; ls /sys/fs/cgroup/ | grep -c memory.max; "
                     "stat -c '%u' /sys/fs/cgroup/cgroup.procs")
    out = p.stdout.split()
    assert out[0] == "0::/", "init's cgroup namespace is not rooted at its own cgroup: " + p.stdout
    assert out[2] == "0", "the inner cgroup is not delegated to the container's root: " + p.stdout
    inner = cg / "isola/cg1/init"
    assert inner.stat().st_uid == r["host_id_base"], "inner cgroup not owned by the container's root"
    assert (cg / "isola/cg1").stat().st_uid == 0, "the outer cgroup must stay the host's"
    sc.halt("cg1")
    assert_nothing_left(sc, "cg1", r["host_id_base"], busybox_image)


def test_limits_on_the_outer_cgroup_cannot_be_raised_from_inside(sc, busybox_image, needs):
    needs(cgroup={"memory", "pids"})
    cg = cgroup2_mount()
    r = sc.boot("lim", busybox_image, "--memory", "64M", "--pids", "64")
    outer = cg / "isola/lim"
    assert (outer / "memory.max").read_text().strip() == str(64 << 20)
    assert (outer / "pids.max").read_text().strip() == "64"
    # root inside tries every door: the files it can see, a fresh cgroup2 mount, a path climbing up
    p = sc.sh("lim", "echo max > /sys/fs/cgroup/memory.max; echo max > /sys/fs/cgroup/pids.max; "
                     "mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg; "
                     "echo max > /tmp/cg/memory.max; echo max > /tmp/cg/../memory.max; "
                     "echo max > /sys/fs/cgroup/../memory.max; echo done")
    assert "done" in p.stdout, p.stderr
    assert (outer / "memory.max").read_text().strip() == str(64 << 20), "memory limit raised from inside"
    assert (outer / "pids.max").read_text().strip() == "64", "pids limit raised from inside"
    sc.halt("lim")
    assert_nothing_left(sc, "lim", r["host_id_base"], busybox_image)


def test_ready_timeout_leaves_nothing(sc, busybox_image):
    p = sc.boot("never", busybox_image, "--ready", "file:/run/never-there", check=False, timeout_s=2)
    assert p.returncode != 0
    assert "not ready after" in p.stderr, p.stderr
    assert not (sc.root / "never").exists()
    assert sc.id_ranges() == [], "a failed boot kept its id range"
    cg = cgroup2_mount()
    if cg:
        assert not (cg / "isola/never").exists()


def test_bad_input_is_refused_clearly(sc, busybox_image, tmp_path):
    p = sc.cmd("boot", "--rootfs", tmp_path / "missing", "--idmap-dir", sc.idmap, "x1")
    assert p.returncode != 0 and "missing" in p.stderr, p.stderr
    p = sc.cmd("boot", "--image", busybox_image, "--stop-signal", "SIGNOPE", "x1")
    assert p.returncode != 0 and "SIGNOPE" in p.stderr, p.stderr
    p = sc.cmd("boot", "--image", busybox_image, "--ready", "file:relative", "x1")
    assert p.returncode != 0 and "ready" in p.stderr, p.stderr
    p = sc.cmd("boot", "--image", busybox_image, "--bind", "/etc/hostname", "x1")
    assert p.returncode != 0 and "--bind" in p.stderr, p.stderr
    # an id that is taken: refused, and the running container is untouched
    r = sc.boot("dup", busybox_image)
    p = sc.boot("dup", busybox_image, check=False)
    assert p.returncode != 0 and "exists" in p.stderr, p.stderr
    assert os.path.exists(f"/proc/{r['pid']}"), "the first container was harmed"
    assert [x["owner"] for x in sc.id_ranges()] == ["dup"]
    sc.halt("dup")


def test_privileged_is_an_explicit_opt_in(sc, busybox_image):
    r = sc.boot("priv", busybox_image, "--privileged")
    assert r["host_id_base"] == 0
    m = pathlib.Path(f"/proc/{r['pid']}/uid_map").read_text().split()
    assert m == ["0", "0", "4294967295"], "privileged mode must not have a user namespace: %s" % m
    # no user namespace owns /proc/sys then: it is read-only
    p = sc.sh("priv", "echo 1 > /proc/sys/kernel/ns_last_pid && echo writable")
    assert "writable" not in p.stdout, "/proc/sys is writable in a privileged container"
    sc.halt("priv")


def test_debian_boots_runs_units_and_shuts_down(sc, debian_image):
    r = sc.boot("deb", debian_image, timeout_s=300)
    assert r["ready"] == "notify" and r["stop_signal"] == signal.SIGRTMIN + 3, r
    p = sc.exec("deb", "systemctl", "is-system-running", "--wait", timeout=300)
    assert p.stdout.strip() in ("running", "degraded"), p.stdout + p.stderr
    if p.stdout.strip() == "degraded":
        failed = sc.exec("deb", "systemctl", "--failed", "--no-legend", "--plain").stdout
        print("degraded; failed units:\n" + failed)
    env = environ(r["pid"])
    assert env.get("container") == "isola" and env.get("NOTIFY_SOCKET"), env
    # journald holds the boot log
    p = sc.exec("deb", "journalctl", "-b", "--no-pager", "-q", "-o", "cat")
    assert "Reached target" in p.stdout or "Startup finished" in p.stdout, p.stdout[-2000:]
    # a unit starts and stops
    p = sc.exec("deb", "systemd-run", "--unit=isola-probe", "--service-type=simple", "/bin/sleep", "1000")
    assert p.returncode == 0, p.stderr
    assert sc.exec("deb", "systemctl", "is-active", "isola-probe").stdout.strip() == "active"
    assert sc.exec("deb", "systemctl", "stop", "isola-probe").returncode == 0
    assert sc.exec("deb", "systemctl", "is-active", "isola-probe").stdout.strip() != "active"
    # SIGRTMIN+3 → systemd's halt.target → "Halting system." on the console, before any kill
    sc.halt("deb", timeout_s=120)
    con = sc.console("deb")
    assert "Halting system" in con or "System Halt" in con, "systemd did not shut down cleanly: " + con[-3000:]
    assert_nothing_left(sc, "deb", r["host_id_base"], debian_image)
