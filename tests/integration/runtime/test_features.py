"""exec with its flags, the console socket, hooks, user namespaces, masked/readonly paths, rlimits,
sysctl, NOTIFY_SOCKET, spec and features."""
import array
import json
import os
import pathlib
import socket
import subprocess
import threading
import time


def recv_fd(conn):
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    assert fds, f"no fd received on the console socket (payload {msg!r})"
    return fds[0]


def read_until(fd, needle, timeout=5.0):
    buf = b""
    end = time.monotonic() + timeout
    os.set_blocking(fd, False)
    while time.monotonic() < end and needle not in buf:
        try:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        except BlockingIOError:
            time.sleep(0.02)
        except OSError:
            break
    return buf


def test_exec_flags(rt):
    rt.set_args("/bin/sleep", "300")
    cid = rt.new_id()
    rt.cmd("run", "-d", cid, check=True)
    p = rt.cmd("exec", "--user", "1000:1001", "--cwd", "/tmp", "--env", "FOO=bar", cid,
               "/bin/sh", "-c", "id -u; id -g; pwd; echo $FOO; echo $$", check=True)
    lines = p.stdout.split()
    assert lines[:4] == ["1000", "1001", "/tmp", "bar"], p.stdout
    assert lines[4] != "1", "exec'd process must not be the container's PID 1"
    p = rt.cmd("exec", cid, "/bin/sh", "-c", "exit 42")
    assert p.returncode == 42, "exec returns the process's exit code"
    p = rt.cmd("exec", cid, "/nonexistent")
    assert p.returncode == 1 and "/nonexistent: not an executable file" in p.stderr, p.stderr
    proc = rt.config()["process"]
    proc["args"] = ["/bin/sh", "-c", "echo from-process-file $(id -u)"]
    proc["user"] = {"uid": 5, "gid": 5}
    (rt.bundle / "proc.json").write_text(json.dumps(proc))
    p = rt.cmd("exec", "--process", rt.bundle / "proc.json", cid, check=True)
    assert p.stdout.strip() == "from-process-file 5", p.stdout
    pidfile = rt.bundle / "exec.pid"
    rt.cmd("exec", "-d", "--pid-file", pidfile, cid, "/bin/sleep", "30", check=True)
    epid = int(pidfile.read_text())
    ns = lambda pid, n: os.readlink(f"/proc/{pid}/ns/{n}")
    init = rt.state(cid)["pid"]
    for n in ("pid", "mnt", "uts", "ipc", "net", "cgroup"):
        assert ns(epid, n) == ns(init, n), f"exec'd process is not in the container's {n} namespace"
    assert "bad" in rt.cmd("exec", "--user", "bad", cid, "true").stderr


def test_no_host_fd_and_cwd_leak(rt):
    """CVE-2024-21626: the created container's init holds only stdio (and the exec fifo until start); the
    started process has nothing above 2."""
    rt.set_args("/bin/sh", "-c", "ls /proc/self/fd; readlink /proc/self/cwd")
    cid = rt.new_id()
    p = rt.cmd("run", cid, check=True)
    fds = p.stdout.split()[:-1]
    assert sorted(fds) == ["0", "1", "2", "3"], f"unexpected fds in the container: {fds} (3 is ls's own dir)"
    assert p.stdout.split()[-1] == "/"


def test_console_socket(rt, tmp_path):
    rt.set_args("/bin/sh", "-c", "tty; echo console-ok", terminal=True)
    sock_path = tmp_path / "console.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(1)
    got = {}

    def accept():
        conn, _ = srv.accept()
        got["fd"] = recv_fd(conn)
        conn.close()

    t = threading.Thread(target=accept)
    t.start()
    cid = rt.new_id()
    rt.cmd("create", "--console-socket", sock_path, cid, check=True)
    t.join(5)
    assert "fd" in got, "the pty master never arrived on the console socket"
    rt.cmd("start", cid, check=True)
    out = read_until(got["fd"], b"console-ok")
    os.close(got["fd"])
    srv.close()
    assert b"/dev/console" in out or b"/dev/pts/" in out, out
    assert b"console-ok" in out, out
    p = rt.cmd("create", cid + "x")
    assert p.returncode == 1 and "console-socket" in p.stderr, "terminal without a console socket must fail"


def test_run_tty_proxy(rt):
    rt.set_args("/bin/sh", "-c", "test -t 0 && echo is-a-tty")
    cid = rt.new_id()
    p = rt.cmd("run", "-t", cid)
    assert p.returncode == 0 and "is-a-tty" in p.stdout, (p.stdout, p.stderr)


def test_hooks_all_kinds(rt, tmp_path):
    log = tmp_path / "hooks.log"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\necho \"$1 $(cat | tr -d '\\n' | head -c 300)\" >> {log}\n")
    script.chmod(0o755)
    c = rt.config()
    c["process"]["args"] = ["/bin/true"]
    c["hooks"] = {k: [{"path": str(script), "args": ["hook.sh", k]}]
                  for k in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
    rt.write_config(c)
    cid = rt.new_id()
    rt.cmd("run", cid, check=True)
    lines = log.read_text().splitlines()
    kinds = [l.split()[0] for l in lines]
    assert kinds == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"], lines
    st = json.loads(lines[0].split(" ", 1)[1])
    assert st["id"] == cid and st["pid"] > 0 and st["bundle"] == str(rt.bundle), st


def test_failing_hook_aborts_create(rt, tmp_path):
    c = rt.config()
    c["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    rt.write_config(c)
    cid = rt.new_id()
    p = rt.cmd("create", cid)
    assert p.returncode == 1 and "hooks.createRuntime[0] /bin/sh: exited with status 3" in p.stderr, p.stderr
    assert not (rt.root / cid).exists(), "a failed create left state behind"
    c["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}]}
    rt.write_config(c)
    p = rt.cmd("create", cid)
    assert p.returncode == 1 and "timed out" in p.stderr, p.stderr


def test_user_namespace(rt):
    c = rt.config()
    # the rootfs is opened by the container's root, which is an unprivileged host uid: like runc, the
    # path to it must be searchable by others
    p = pathlib.Path(c["root"]["path"])
    while str(p) not in ("/", "/tmp"):
        p.chmod(p.stat().st_mode | 0o011)
        p = p.parent
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["process"]["args"] = ["/bin/sh", "-c", "id -u; cat /proc/self/uid_map; ls -l /dev/null"]
    rt.write_config(c)
    cid = rt.new_id()
    p = rt.cmd("run", cid)
    assert p.returncode == 0, p.stderr
    out = p.stdout.split("\n")
    assert out[0] == "0"
    assert out[1].split() == ["0", "200000", "65536"], out


def test_masked_and_readonly_paths(rt):
    rt.set_args("/bin/sh", "-c",
                "cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/hostname; echo rc=$?")
    cid = rt.new_id()
    p = rt.cmd("run", cid)
    out = p.stdout.split()
    assert out[0] == "0", "masked /proc/kcore must read as /dev/null"
    assert out[1] == "0", "masked /sys/firmware must be empty"
    assert out[-1] != "rc=0", "/proc/sys must be read-only"


def test_rlimits_sysctl_oom(rt):
    c = rt.config()
    c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
    c["process"]["oomScoreAdj"] = 321
    c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    c["linux"]["readonlyPaths"] = []
    c["process"]["args"] = ["/bin/sh", "-c",
                            "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward"]
    rt.write_config(c)
    cid = rt.new_id()
    p = rt.cmd("run", cid)
    assert p.stdout.split() == ["123", "456", "321", "1"], (p.stdout, p.stderr)


def test_notify_socket_proxy(rt, tmp_path):
    """NOTIFY_SOCKET of the caller: READY=1 sent from inside reaches it with MAINPID = init's host pid."""
    helper = rt.binary.parent.parent / "tests" / "helpers" / "rt-sdnotify"
    assert helper.exists(), f"{helper} missing: run make"
    host = tmp_path / "notify.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(str(host))
    srv.settimeout(20)
    c = rt.config()
    c["mounts"].append({"destination": "/sdnotify", "type": "bind", "source": str(helper), "options": ["bind", "ro"]})
    c["process"]["args"] = ["/sdnotify"]
    rt.write_config(c)
    cid = rt.new_id()
    rt.cmd("run", "-d", cid, check=True, env={**os.environ, "NOTIFY_SOCKET": str(host)})
    data = srv.recv(4096).decode()
    srv.close()
    assert "READY=1" in data and f"MAINPID={rt.state(cid)['pid']}" in data, data


def test_join_namespace_by_path(rt):
    rt.set_args("/bin/sleep", "300")
    a = rt.new_id()
    rt.cmd("run", "-d", a, check=True)
    apid = rt.state(a)["pid"]
    c = rt.config()
    for ns in c["linux"]["namespaces"]:
        if ns["type"] in ("network", "ipc"):
            ns["path"] = f"/proc/{apid}/ns/{'net' if ns['type'] == 'network' else 'ipc'}"
    c["process"]["args"] = ["/bin/sh", "-c", "for n in net ipc uts; do readlink /proc/self/ns/$n; done"]
    rt.write_config(c)
    p = rt.cmd("run", rt.new_id(), check=True)
    net, ipc, uts = p.stdout.split()
    assert net == os.readlink(f"/proc/{apid}/ns/net") and ipc == os.readlink(f"/proc/{apid}/ns/ipc")
    assert uts != os.readlink(f"/proc/{apid}/ns/uts"), "uts was not joined, it must be a new one"
    # joining the PID namespace too: the new process sees A's init as PID 1 and is not PID 1 itself
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
    c["linux"]["namespaces"].append({"type": "pid", "path": f"/proc/{apid}/ns/pid"})
    c["process"]["args"] = ["/bin/sh", "-c", "echo me=$$; cat /proc/1/cmdline | tr '\\0' ' '"]
    rt.write_config(c)
    p = rt.cmd("run", rt.new_id())
    assert p.returncode == 0, p.stderr
    assert "me=1" not in p.stdout and "sleep 300" in p.stdout, p.stdout


def test_time_namespace_offsets(rt):
    c = rt.config()
    c["linux"]["namespaces"].append({"type": "time"})
    c["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
    c["process"]["args"] = ["/bin/cat", "/proc/uptime"]
    rt.write_config(c)
    p = rt.cmd("run", rt.new_id())
    assert p.returncode == 0, p.stderr
    host = float(pathlib.Path("/proc/uptime").read_text().split()[0])
    inside = float(p.stdout.split()[0])
    assert inside - host > 86400 * 364, f"boottime offset not applied: inside {inside}, host {host}"


def test_exec_tty_console_socket(rt, tmp_path):
    rt.set_args("/bin/sleep", "300")
    cid = rt.new_id()
    rt.cmd("run", "-d", cid, check=True)
    sock_path = tmp_path / "c.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(1)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("fd", recv_fd(srv.accept()[0])))
    t.start()
    rt.cmd("exec", "-t", "-d", "--console-socket", sock_path, cid, "/bin/sh", "-c", "tty; echo exec-tty-ok; sleep 1",
           check=True)
    t.join(5)
    assert "fd" in got, "exec -t did not send a pty master"
    out = read_until(got["fd"], b"exec-tty-ok")
    os.close(got["fd"])
    srv.close()
    assert b"/dev/pts/" in out and b"exec-tty-ok" in out, out


def test_log_file_json(rt, tmp_path):
    log = tmp_path / "rt.log"
    p = rt.cmd("--log", log, "--log-format", "json", "state", "does-not-exist")
    assert p.returncode == 1
    line = json.loads(log.read_text().splitlines()[-1])
    assert "does not exist" in json.dumps(line), line


def test_spec_and_features(rt, tmp_path):
    d = tmp_path / "specdir"
    d.mkdir()
    rt.cmd("spec", "--bundle", d, check=True)
    c = json.loads((d / "config.json").read_text())
    assert c["process"]["noNewPrivileges"] is True
    assert c["linux"]["seccomp"]["defaultAction"]
    assert rt.cmd("spec", "--bundle", d).returncode == 1, "spec must not overwrite config.json"
    (d / "config.json").unlink()
    rt.cmd("spec", "--rootless", "--bundle", d, check=True)
    c = json.loads((d / "config.json").read_text())
    assert {"type": "user"} in c["linux"]["namespaces"]
    f = json.loads(rt.cmd("features", check=True).stdout)
    assert "time" in f["linux"]["namespaces"] and "poststop" in f["hooks"]


def test_seccomp_filter_cache_never_serves_another_profile(rt):
    """The compiled-filter cache (runtime/filtercache.c) must follow the profile: same profile twice gives
    the same behaviour, a changed profile is rebuilt, not served from the cache."""
    c = rt.config()
    c["process"]["args"] = ["/bin/sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]
    c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
    rt.write_config(c)
    for _ in range(2):
        p = rt.cmd("run", rt.new_id())
        assert "rc=0" in p.stdout, p.stdout + p.stderr
    c["linux"]["seccomp"]["syscalls"].insert(0, {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                                 "errnoRet": 1})
    rt.write_config(c)
    p = rt.cmd("run", rt.new_id())
    assert "rc=0" not in p.stdout, "a changed seccomp profile was served from the filter cache: " + p.stdout


def test_preserve_fds(rt, tmp_path):
    """--preserve-fds 1: the caller's fd 3 reaches the container; without it, it does not. The fd is
    opened by a shell wrapper (3<file), never in the pytest process."""
    f = tmp_path / "passed.txt"
    f.write_text("through-fd-3\n")
    rt.set_args("/bin/sh", "-c", "cat <&3 2>&1; true")
    outs = []
    for extra in (["--preserve-fds", "1"], []):
        out = tmp_path / f"out{len(outs)}"
        cmd = " ".join([str(rt.binary), "--root", str(rt.root), "run", *extra, rt.new_id()])
        rc = subprocess.run(["/bin/sh", "-c", f"exec {cmd} 3<{f} >{out} 2>&1"], cwd=rt.bundle, timeout=30).returncode
        assert rc == 0, out.read_text()
        outs.append(out.read_text())
    assert "through-fd-3" in outs[0], outs[0]
    assert "through-fd-3" not in outs[1], "fd 3 must not reach the container without --preserve-fds"


def test_kill_all(rt):
    rt.set_args("/bin/sh", "-c", "sleep 300 & sleep 300 & wait")
    cid = rt.new_id()
    rt.cmd("run", "-d", cid, check=True)
    time.sleep(0.3)
    pids = json.loads(rt.cmd("ps", "--format", "json", cid, check=True).stdout)
    assert len(pids) >= 3, f"expected init and two sleeps, got {pids}"
    rt.cmd("kill", "--all", cid, "KILL", check=True)
    end = time.monotonic() + 5
    while time.monotonic() < end and any(os.path.exists(f"/proc/{p}") for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if os.path.exists(f"/proc/{p}") and
            pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not left, f"kill --all left {left}"


def test_system_container_mode(rt):
    """Library system-container mode (issue 4 groundwork): the caller's pty is /dev/console and init's
    stdio, container=isola and container_uuid are set, init is PID 1, and stop sends SIGRTMIN+3 first."""
    driver = rt.binary.parent.parent / "tests" / "helpers" / "rt-syscontainer"
    assert driver.exists(), f"{driver} missing: run make"
    rt.set_args("/bin/sh", "-c",
                "trap 'echo got-stop; exit 0' 37; echo container=$container uuid=$container_uuid pid=$$; tty; "
                "readlink /proc/self/fd/1; echo SYSTEM-READY; while :; do sleep 0.1; done")
    cid = rt.new_id()
    p = subprocess.run([str(driver), str(rt.root), str(rt.bundle), cid], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr + p.stdout
    out = p.stdout
    assert "container=isola uuid=0f1e2d3c-0000-4000-8000-00000000abcd pid=1" in out, out
    assert "/dev/console" in out, "init's stdio must be /dev/console: " + out
    assert "stop_signal=37" in out, out
    assert "got-stop" in out and "exit=0" in out, "SIGRTMIN+3 did not reach init's handler: " + out
    assert not (rt.root / cid).exists()


def test_notify_socket_container_exits_without_ready(rt, tmp_path):
    """With NOTIFY_SOCKET set, a container that dies without READY=1 must not hang start."""
    host = tmp_path / "n.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(str(host))
    rt.set_args("/bin/true")
    p = rt.cmd("run", "-d", rt.new_id(), env={**os.environ, "NOTIFY_SOCKET": str(host)}, timeout=20)
    srv.close()
    assert p.returncode == 1 and "exited before sending READY=1" in p.stderr, p.stderr


def test_events_stats_and_state_transitions_on_pause(rt):
    rt.set_args("/bin/sleep", "300")
    cid = rt.new_id()
    rt.cmd("run", "-d", cid, check=True)
    p = rt.cmd("events", "--stats", cid)
    st = json.loads((rt.root / cid / "state.json").read_text())
    if not st.get("cgroup"):
        assert p.returncode == 1 and "no cgroup" in p.stderr
        return
    assert p.returncode == 0, p.stderr
    ev = json.loads(p.stdout)
    assert ev["type"] == "stats" and ev["id"] == cid and isinstance(ev["data"], dict), ev
