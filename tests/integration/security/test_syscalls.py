"""Attacks through syscalls: each test runs a static helper inside a container configured by
`isola-runtime spec` and checks that the kernel surface the default seccomp profile and capability set
close is really closed (docs/security.md, "seccomp" and "capabilities")."""
import fcntl
import json
import os
import pty
import socket
import struct
import subprocess
import termios
import threading

import pytest

from isolasec import RUNTIME, parse_kv

DENIED_EPERM = ["kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
                "keyctl", "add_key", "request_key", "perf_event_open", "open_by_handle_at"]


@pytest.mark.parametrize("name", DENIED_EPERM)
def test_kernel_attack_surface_denied_eperm(rt, name):
    """kexec, module loading, bpf, the (un-namespaced) keyring, perf, and open_by_handle_at (the "shocker"
    escape that opens host files by handle) answer EPERM under the default profile."""
    got = parse_kv(rt.run_ok(["/helpers/trysys", name]))
    assert got.get(name) == "EPERM", "%s returned %s inside the container, want EPERM" % (name, got.get(name))


def test_unknown_syscalls_enosys(rt):
    """Syscalls outside the allow-list look unimplemented (ENOSYS), so software falls back instead of
    failing on EPERM — and io_uring, acct, or a future syscall are not reachable at all."""
    got = parse_kv(rt.run_ok(["/helpers/trysys", "io_uring_setup", "acct", "nosys", "getpid"]))
    assert got == {"io_uring_setup": "ENOSYS", "acct": "ENOSYS", "nosys": "ENOSYS", "getpid": "ok"}, got


def test_tiocsti_blocked_full_64bit(rt):
    """TIOCSTI/TIOCLINUX would type into the caller's terminal (CVE-2017-5226). The filter must also
    catch them with high bits set, which the kernel ignores (CVE-2019-10063); other ioctls still work."""
    got = parse_kv(rt.run_ok(["/helpers/trysys", "tiocsti", "tiocsti_hi", "tioclinux_hi", "tiocgwinsz_null"]))
    assert got["tiocsti"] == "EPERM", got
    assert got["tiocsti_hi"] == "EPERM", "TIOCSTI|1<<32 passed the filter: %s" % got
    assert got["tioclinux_hi"] == "EPERM", got
    assert got["tiocgwinsz_null"] == "ENOTTY", "a harmless ioctl was blocked: %s" % got


def test_no_controlling_terminal(rt):
    """The caller runs isola-runtime from a terminal (a pty that is its controlling tty) and hands it the
    terminal as stdio, without -t. The container must run in a new session: /dev/tty does not open and
    the process has no controlling tty, so even a TIOCSTI that got through could not type into the
    caller's shell (CVE-2017-5226, bubblewrap's --new-session)."""
    b = rt.bundle(["/bin/sh", "-c", "/helpers/trysys devtty; cat /proc/self/stat"])
    master, slave = pty.openpty()

    def as_terminal_session():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    p = subprocess.Popen([str(RUNTIME), "--root", str(rt.root), "run", "--bundle", str(b), rt.new_id()],
                         stdin=slave, stdout=slave, stderr=slave, preexec_fn=as_terminal_session)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every slave fd closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.wait(timeout=60) == 0, out
    text = out.decode(errors="replace").replace("\r", "")
    got = parse_kv(text)
    assert got.get("devtty") == "ENXIO", "the caller's terminal is reachable as /dev/tty: %r" % text
    stat = [l for l in text.splitlines() if ") " in l][0]
    fields = stat.split(")")[1].split()
    # after "(comm)": state ppid pgrp session tty_nr
    assert fields[4] == "0", "container process has a controlling tty (tty_nr %s)" % fields[4]


def test_privileged_operations_need_dropped_caps(rt):
    """Without CAP_SYS_ADMIN / CAP_MKNOD / CAP_SYS_CHROOT (not in the default set) the classic
    break-outs fail: mounting procfs, creating a block device for the host disk, chroot games."""
    got = parse_kv(rt.run_ok(["/helpers/trysys", "mount_proc", "mknod_sda", "chroot", "unshare_mnt"]))
    for k in ("mount_proc", "mknod_sda", "chroot", "unshare_mnt"):
        assert got[k] in ("EPERM", "EACCES"), "%s succeeded or failed oddly inside the container: %s" % (k, got)


def _caps(out):
    return {k: int(v, 16) for k, v in (l.split(":\t") for l in out.splitlines() if l.startswith("Cap"))}


def test_inheritable_and_ambient_empty_by_default(rt):
    """CVE-2022-29162: capabilities must not leak into the inheritable or ambient sets, where an exec'd
    setcap binary or a non-root process would pick them up."""
    caps = _caps(rt.run_ok(["/bin/grep", "^Cap", "/proc/self/status"]))
    assert caps["CapInh"] == 0, "inheritable set is %#x" % caps["CapInh"]
    assert caps["CapAmb"] == 0, "ambient set is %#x" % caps["CapAmb"]
    # the default bounding set is exactly AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10)
    assert caps["CapBnd"] == (1 << 29) | (1 << 5) | (1 << 10), "bounding set is %#x" % caps["CapBnd"]


def test_non_root_user_has_no_effective_caps(rt):
    """A container process with a non-zero uid gets no effective capability from root's sets."""
    def edit(c):
        c["process"]["user"] = {"uid": 65534, "gid": 65534}
    out = rt.run_ok(["/bin/sh", "-c", "id -u; grep ^Cap /proc/self/status"], edit=edit)
    assert out.splitlines()[0] == "65534"
    caps = _caps(out)
    assert caps["CapEff"] == 0 and caps["CapPrm"] == 0 and caps["CapAmb"] == 0, caps


def test_no_new_privs(rt):
    """noNewPrivileges (spec default true): setuid binaries and file caps cannot raise privileges."""
    out = rt.run_ok(["/bin/grep", "NoNewPrivs", "/proc/self/status"])
    assert out.split() == ["NoNewPrivs:", "1"], out


def test_seccomp_filter_installed(rt):
    out = rt.run_ok(["/bin/grep", "^Seccomp:", "/proc/self/status"])
    assert out.split() == ["Seccomp:", "2"], "no seccomp filter in the container: %s" % out


def test_seccomp_from_config_arg_filter_64bit(rt):
    """A profile from config.json comparing an argument on all 64 bits: dup(0x100000005) gets the
    configured errno, dup(5) (the same low 32 bits) reaches the kernel (EBADF)."""
    def edit(c):
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
                          "args": [{"index": 0, "value": 0x100000005, "op": "SCMP_CMP_EQ"}]}]}
    got = parse_kv(rt.run_ok(["/helpers/trysys", "dup_hi", "dup_lo", "getpid"], edit=edit))
    assert got == {"dup_hi": "E42", "dup_lo": "EBADF", "getpid": "ok"}, got


def test_seccomp_notify_without_listener_rejected(rt):
    """Bad input: SCMP_ACT_NOTIFY with no listenerPath is refused with a message naming the JSON path,
    before any container exists."""
    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}
    r = rt.run(["/bin/true"], edit=edit)
    assert r.returncode != 0
    assert "linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath" in r.stderr, r.stderr


def test_bad_capability_name_rejected(rt):
    def edit(c):
        c["process"]["capabilities"]["bounding"].append("CAP_FOO")
    r = rt.run(["/bin/true"], edit=edit)
    assert r.returncode != 0
    assert 'process.capabilities.bounding[3]: unknown capability "CAP_FOO"' in r.stderr, r.stderr


# seccomp(2) user notification ioctls: _IOWR('!', 0, struct seccomp_notif[80]), _IOWR('!', 1, ..._resp[24])
SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101


def test_seccomp_notify_listener(rt):
    """linux.seccomp.listenerPath: the runtime sends the listener fd with the OCI seccomp state to an agent,
    which then answers the container's notified syscall itself (getppid() → 4242)."""
    sock_path = str(rt.base / "agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    srv.settimeout(30)
    got = {}

    def agent():
        conn, _ = srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
        got["state"] = json.loads(msg)
        got["nfds"] = len(fds)
        lfd = fds[0]
        while True:
            req = bytearray(80)
            try:
                fcntl.ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req, True)
            except OSError:
                break  # the container is gone
            nid = struct.unpack_from("Q", req, 0)[0]
            resp = bytearray(struct.pack("QqiI", nid, 4242, 0, 0))
            try:
                fcntl.ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp, True)
            except OSError:
                pass
        os.close(lfd)
        conn.close()

    t = threading.Thread(target=agent, daemon=True)
    t.start()

    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock_path,
                                 "listenerMetadata": "isola-test",
                                 "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}
    r = rt.run(["/helpers/trysys", "getppid_val"], edit=edit)
    t.join(timeout=10)
    srv.close()
    assert r.returncode == 0, r.stderr
    assert parse_kv(r.stdout).get("getppid_val") == "4242", "getppid was not answered by the agent: %r" % r.stdout
    st = got["state"]
    assert st["fds"] == ["seccompFd"] and got["nfds"] == 1, st
    assert st["metadata"] == "isola-test", st
    assert st["pid"] > 0 and st["state"]["id"] == rt.ids[-1], st


def test_rlimits_applied(rt):
    """process.rlimits bound what a hostile process can take (here open files)."""
    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 32, "soft": 32}]
    out = rt.run_ok(["/bin/sh", "-c", "ulimit -n; ulimit -Hn"], edit=edit)
    assert out.split() == ["32", "32"], out


def test_oom_score_adj_applied(rt):
    def edit(c):
        c["process"]["oomScoreAdj"] = 500
    out = rt.run_ok(["/bin/cat", "/proc/self/oom_score_adj"], edit=edit)
    assert out.strip() == "500", out


def test_pid_namespace_hides_host(rt):
    """Only the container's own processes are visible (no host pid to ptrace or signal)."""
    out = rt.run_ok(["/bin/sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]*$'"])
    pid1, count = out.split()
    assert pid1 == "1", "container shell is pid %s, not 1" % pid1
    assert int(count) <= 3, "container sees %s processes" % count
