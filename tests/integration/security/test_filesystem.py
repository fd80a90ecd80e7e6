"""Attacks through the filesystem: the image (rootfs) is hostile. Symlinks where the runtime expects
directories, masked paths that must be bound from the HOST's /dev/null, read-only /sys and /proc/sys.
Every test that could touch the host points the attack at a victim directory the test created, and
checks the victim afterwards."""
import os
import pathlib
import stat
import tempfile
import time

import pytest


@pytest.fixture(params=["openat2", "fallback"])
def resolver(request, monkeypatch):
    """Every symlink attack runs twice: with openat2(RESOLVE_IN_ROOT), and with the component-by-component
    fallback that kernels without openat2 get (ISOLA_NO_OPENAT2=1, as crun's check-no-openat2)."""
    if request.param == "fallback":
        monkeypatch.setenv("ISOLA_NO_OPENAT2", "1")
    else:
        monkeypatch.delenv("ISOLA_NO_OPENAT2", raising=False)
    return request.param


@pytest.fixture
def victim():
    """A host directory the attacks aim at, with a marker; afterwards it must hold only the marker and
    have nothing mounted on it."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="isola-sec-victim-"))
    (d / "marker").write_text("host")
    yield d
    entries = sorted(p.name for p in d.iterdir())
    mounted = [l for l in open("/proc/self/mountinfo") if " %s " % d in l]
    for p in d.iterdir():
        if p.is_dir() and not p.is_symlink():
            os.rmdir(p) if not any(p.iterdir()) else None
    assert entries == ["marker"], "the container wrote into the host victim dir %s: %s" % (d, entries)
    assert not mounted, "something was mounted on the host victim dir: %s" % mounted
    assert (d / "marker").read_text() == "host"
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


def _symlink_dir(name, target):
    def mod(root):
        p = root / name
        if p.is_dir() and not p.is_symlink():
            os.rmdir(p)
        os.symlink(str(target), p)
    return mod


@pytest.mark.parametrize("name", ["dev", "proc", "sys"])
def test_special_dir_symlink_to_host(rt, resolver, victim, name):
    """CVE-2026-41579/CVE-2026-47766 and the /proc-swap family (CVE-2019-16884, CVE-2023-27561): the image
    makes /dev, /proc or /sys an absolute symlink to a host directory. The runtime must resolve it inside
    the rootfs (or refuse); device nodes, procfs or sysfs must never land in the host directory."""
    r = rt.run(["/bin/sh", "-c", "ls /%s >/dev/null; echo ran" % name], rootfs=_symlink_dir(name, victim))
    # refusing is fine; running is fine; touching the victim is not (checked by the fixture)
    if r.returncode == 0:
        assert "ran" in r.stdout


def test_mount_target_symlink_to_host(rt, resolver, victim):
    """CVE-2021-30465: a mount destination that is a symlink to a host path. The tmpfs must land inside
    the rootfs (at rootfs/<victim path>) — never on the host directory."""
    def edit(c):
        c["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})

    r = rt.run(["/bin/sh", "-c", "touch /data/written && echo ok"], edit=edit, rootfs=_symlink_dir("data", victim))
    if r.returncode == 0:
        assert "ok" in r.stdout


def test_mount_target_relative_escape(rt, resolver, victim):
    """A destination that climbs with .. or a symlink to ../../.. stays inside the rootfs."""
    up = "../" * 16 + str(victim).lstrip("/")

    def edit(c):
        c["mounts"].append({"destination": "/escape", "type": "tmpfs", "source": "tmpfs", "options": []})

    r = rt.run(["/bin/sh", "-c", "touch /escape/written; echo ok"], edit=edit, rootfs=_symlink_dir("escape", up))
    if r.returncode == 0:
        assert "ok" in r.stdout


def test_bind_source_inside_rootfs_symlink(rt, resolver, victim):
    """A bind mount whose destination path has a symlinked parent to the host: mkdir -p of the target
    must not create directories on the host (CVE-2024-45310)."""
    def edit(c):
        c["mounts"].append({"destination": "/link/sub/dir", "type": "tmpfs", "source": "tmpfs", "options": []})

    rt.run(["/bin/true"], edit=edit, rootfs=_symlink_dir("link", victim))


def test_masked_paths_bind_host_dev_null(rt):
    """CVE-2025-31133: masked files are bound from the host's /dev/null (char 1:3), so reading gives
    nothing, and masked directories are empty. The image's own /dev/null is not trusted."""
    files = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list") if os.path.exists(p)]
    assert files, "this kernel has none of /proc/kcore, /proc/keys, /proc/timer_list"
    script = "; ".join("stat -c '%%t:%%T %%F' %s; wc -c < %s" % (f, f) for f in files)
    out = rt.run_ok(["/bin/sh", "-c", script + "; ls -A /sys/firmware | wc -l"])
    lines = out.splitlines()
    for i, f in enumerate(files):
        assert lines[2 * i] == "1:3 character special file", "%s is not a bind of /dev/null: %s" % (f, lines[2 * i])
        assert lines[2 * i + 1].strip() == "0", "%s is readable: %s bytes" % (f, lines[2 * i + 1])
    assert lines[-1].strip() == "0", "/sys/firmware is not masked"


def test_masked_file_from_image_symlink(rt, resolver):
    """The image plants a symlink at a masked path pointing at a procfs file; masking must still cover
    the path with /dev/null and never bind (or write through) the symlink's target."""
    def edit(c):
        c["linux"]["maskedPaths"] = c["linux"].get("maskedPaths", []) + ["/etc/secret"]

    def rootfs(root):
        os.symlink("/proc/sys/kernel/core_pattern", root / "etc" / "secret")

    r = rt.run(["/bin/sh", "-c", "stat -L -c '%t:%T %F' /etc/secret; echo x > /etc/secret; "
                "cat /proc/sys/kernel/core_pattern"], edit=edit, rootfs=rootfs)
    host = open("/proc/sys/kernel/core_pattern").read()
    assert "x" != host.strip(), "the container wrote the host's core_pattern"
    if r.returncode == 0:
        assert r.stdout.splitlines()[0] == "1:3 character special file", r.stdout


def test_sys_read_only(rt):
    """/sys is mounted read-only: no writing kernel knobs (uevent_helper, etc.)."""
    out = rt.run_ok(["/bin/sh", "-c", "grep ' /sys ' /proc/self/mounts; echo x > /sys/kernel/uevent_helper "
                     "2>/dev/null && echo WROTE || echo refused"])
    mline, verdict = out.splitlines()[0], out.splitlines()[-1]
    assert " ro," in mline or mline.split()[3].startswith("ro"), "/sys is not read-only: %s" % mline
    assert verdict == "refused", "wrote /sys/kernel/uevent_helper"


def test_proc_sys_read_only(rt):
    """/proc/sys (readonlyPaths) cannot be written; the value written back is the current one, so a
    failure of the defence changes nothing on the host."""
    cur = open("/proc/sys/vm/overcommit_memory").read().strip()
    out = rt.run_ok(["/bin/sh", "-c", "echo %s > /proc/sys/vm/overcommit_memory 2>/dev/null && echo WROTE || "
                     "echo refused; echo %s > /proc/sysrq-trigger 2>/dev/null && echo WROTE || echo refused"
                     % (cur, "h")])
    assert out.split() == ["refused", "refused"], out


def test_proc_mount_flags(rt):
    """procfs in the container is mounted nosuid,nodev,noexec."""
    out = rt.run_ok(["/bin/grep", "^proc /proc ", "/proc/self/mounts"])
    opts = out.split()[3].split(",")
    for o in ("nosuid", "nodev", "noexec"):
        assert o in opts, "/proc lacks %s: %s" % (o, out)


def test_dev_has_only_safe_nodes(rt):
    """/dev is a fresh tmpfs with the OCI default nodes; no host disk or /dev/mem reachable."""
    out = rt.run_ok(["/bin/sh", "-c", "ls /dev"])
    names = set(out.split())
    for bad in ("mem", "kmem", "port", "sda", "vda", "nvme0", "kvm"):
        assert bad not in names, "/dev/%s exists in the container" % bad
    for good in ("null", "zero", "full", "random", "urandom", "tty", "ptmx"):
        assert good in names, "/dev/%s missing" % good


def test_symlink_exchange_race(rt, victim):
    """CVE-2021-30465 / CVE-2024-45310 as a race: container A shares a volume with container B and keeps
    swapping /vol/a (a directory) with /vol/b (a symlink to the host victim directory) while B is created
    again and again with a mount whose destination is /vol/a/sub/dir. However the race falls, the
    runtime's mkdir -p and mount must stay inside B's rootfs: nothing may appear in the host victim."""
    vol = rt.base / "vol"
    vol.mkdir()
    (vol / "a").mkdir()
    os.symlink(str(victim), vol / "b")

    def share(c):
        c["mounts"].append({"destination": "/vol", "type": "bind", "source": str(vol), "options": ["rbind"]})

    out_path = rt.base / "swapper.out"
    with open(out_path, "w") as out:
        a_id, _ = rt.create(["/helpers/swapper", "/vol/a", "/vol/b", "6"], edit=share, stdout=out)
    assert rt.cmd("start", a_id).returncode == 0
    deadline = time.time() + 10
    while "swapping" not in out_path.read_text() and time.time() < deadline:
        time.sleep(0.05)

    def victim_mount(c):
        share(c)
        c["mounts"].append({"destination": "/vol/a/sub/dir", "type": "tmpfs", "source": "tmpfs", "options": []})

    outcomes = {"ran": 0, "refused": 0}
    end = time.time() + 4
    while time.time() < end:
        r = rt.run(["/bin/true"], edit=victim_mount)
        outcomes["ran" if r.returncode == 0 else "refused"] += 1
    deadline = time.time() + 10
    while "swaps=" not in out_path.read_text() and time.time() < deadline:
        time.sleep(0.1)
    assert "swaps=" in out_path.read_text(), "the swapper did not run: %r" % out_path.read_text()
    assert sum(outcomes.values()) > 0
    # the victim fixture checks the host directory; this says how the race went
    print("race outcomes", outcomes, out_path.read_text().split()[-1])
