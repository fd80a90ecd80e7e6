"""Host fds, host cwd and the runtime binary: what a container process could use to climb out.
CVE-2024-21626 (leaked fd + cwd=/proc/self/fd/N), CVE-2016-9962 (host dirfds in the init),
CVE-2019-5736 (overwriting the runtime through /proc/PID/exe)."""
import hashlib
import os
import pathlib
import stat
import subprocess
import time

import pytest

from isolasec import RUNTIME


def sha256(p):
    return hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest()


@pytest.fixture
def runtime_intact():
    """The host's isola-runtime binary must be byte-identical after the test."""
    before = sha256(RUNTIME)
    yield
    assert sha256(RUNTIME) == before, "the host isola-runtime binary was modified by the container"


def fdscan_lines(out):
    fds = [l.split(None, 3) for l in out.splitlines() if l.startswith("fd ")]
    cwd = [l for l in out.splitlines() if l.startswith("cwd ")]
    return fds, cwd


def host_fd_report(pid):
    """Host view of a process's fds: the ones that reach a host directory or file."""
    bad = []
    for name in os.listdir("/proc/%d/fd" % pid):
        if int(name) <= 2:
            continue  # the container's stdio: whatever the caller gave it
        link = "/proc/%d/fd/%s" % (pid, name)
        try:
            target = os.readlink(link)
            st = os.stat(link)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            bad.append("fd %s is a directory: %s" % (name, target))
        elif stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode):
            bad.append("fd %s is a host file: %s" % (name, target))
        elif stat.S_ISCHR(st.st_mode):
            bad.append("fd %s is a device: %s" % (name, target))
    return bad


def test_created_container_leaks_no_host_fd(rt):
    """runc's create.bats "detect fd leak": between create and start the container's init holds only
    stdio and sync channels (pipes, sockets, anon inodes) — no directory, file or device of the host.
    A host directory fd here (the state dir, the cgroup dir) is CVE-2024-21626's way out: anything that
    reaches /proc/<init>/fd/N before exec gets a handle on the host."""
    cid, _ = rt.create(["/helpers/fdscan"])
    pid = rt.state(cid)["pid"]
    bad = host_fd_report(pid)
    assert not bad, "created container (pid %d) holds host fds: %s" % (pid, "; ".join(bad))


def test_started_process_has_only_stdio_and_root_cwd(rt):
    """After exec: fds 0-2 only (close_range before execve), and the cwd is inside the container's root."""
    out = rt.run_ok(["/helpers/fdscan"])
    fds, cwd = fdscan_lines(out)
    extra = [f for f in fds if int(f[1]) > 2]
    assert not extra, "container process has extra fds: %s" % extra
    assert cwd and cwd[0].startswith("cwd OK /"), "cwd check: %s" % cwd


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8])
def test_cwd_via_leaked_fd_rejected(rt, n):
    """CVE-2024-21626: process.cwd = /proc/self/fd/N, hoping N is a leaked host directory fd. The runtime
    must refuse or end up with a cwd inside the container — never a host cwd."""
    def edit(c):
        c["process"]["cwd"] = "/proc/self/fd/%d" % n
    r = rt.run(["/helpers/fdscan"], edit=edit)
    if r.returncode == 0:
        fds, cwd = fdscan_lines(r.stdout)
        assert cwd and cwd[0].startswith("cwd OK /"), "cwd=/proc/self/fd/%d gave %s" % (n, cwd)


def test_exec_process_has_only_stdio(rt):
    """`exec` into a running container: the new process gets no runtime fd either."""
    cid, _ = rt.create(["/bin/sleep", "30"])
    assert rt.cmd("start", cid).returncode == 0
    r = rt.cmd("exec", cid, "/helpers/fdscan", stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    fds, cwd = fdscan_lines(r.stdout)
    extra = [f for f in fds if int(f[1]) > 2]
    assert not extra, "exec'd process has extra fds: %s" % extra
    assert cwd and cwd[0].startswith("cwd OK /"), cwd


def _exe_attack(rt, exec_args, rootfs=None):
    st = os.stat(RUNTIME)
    out_path = rt.base / "exeprobe.out"
    with open(out_path, "w") as out:
        cid, _ = rt.create(["/helpers/exeprobe", "4", "%d:%d" % (st.st_dev, st.st_ino)], stdout=out, rootfs=rootfs)
    assert rt.cmd("start", cid).returncode == 0
    deadline = time.time() + 10
    while "watching" not in out_path.read_text() and time.time() < deadline:
        time.sleep(0.05)
    assert "watching" in out_path.read_text(), "exeprobe did not start: %r" % out_path.read_text()
    for _ in range(12):
        rt.cmd("exec", cid, *exec_args, stdin=subprocess.DEVNULL)
    deadline = time.time() + 15
    while "done" not in out_path.read_text() and time.time() < deadline:
        time.sleep(0.1)
    text = out_path.read_text()
    assert "VULNERABLE" not in text, "container got a writable fd to the host runtime binary: %s" % text
    assert "done" in text, "exeprobe did not finish: %r" % text


def test_proc_exe_overwrite_during_exec(rt, runtime_intact):
    """CVE-2019-5736: PID 1 of the container watches /proc for the runtime joining it (`exec`), keeps an
    O_PATH fd to its /proc/PID/exe and keeps trying to reopen it for writing. It must never obtain a
    writable fd to the host binary's inode (sealed memfd clone, or a read-only binary)."""
    _exe_attack(rt, ["/bin/true"])


def test_proc_self_exe_shebang_entrypoint(rt, runtime_intact):
    """The full CVE-2019-5736 chain: the exec'd program is '#!/proc/self/exe', so the kernel runs
    whatever binary performs the exec — inside the container, where PID 1 is waiting to reopen that
    process's exe for writing once it is no longer busy."""
    def rootfs(root):
        (root / "bin" / "evil").write_text("#!/proc/self/exe\n")
        os.chmod(root / "bin" / "evil", 0o755)
    _exe_attack(rt, ["/bin/evil"], rootfs=rootfs)
