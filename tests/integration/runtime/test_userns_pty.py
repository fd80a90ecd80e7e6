"""exec -t into a container with a user namespace: the pty slave must be the exec'd user's terminal
(owner process.user, group tty from the devpts gid=5 option, mode 620), like grantpt(3) would make it.
It used to fail with "chown pty slave: Operation not permitted": after setns(2) the slave belonged to
the host's root, which is not mapped in the container's user namespace."""
import os
import pathlib
import socket
import threading

from test_features import read_until, recv_fd


def userns_config(rt):
    c = rt.config()
    # the container's root is an unprivileged host uid: the path to the rootfs must be searchable
    p = pathlib.Path(c["root"]["path"])
    while str(p) not in ("/", "/tmp"):
        p.chmod(p.stat().st_mode | 0o011)
        p = p.parent
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["process"]["args"] = ["/bin/sleep", "300"]
    c["process"]["terminal"] = False
    rt.write_config(c)
    return c


def exec_tty(rt, tmp_path, cid, *args):
    sock_path = tmp_path / "exec-console.sock"
    sock_path.unlink(missing_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(1)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("fd", recv_fd(srv.accept()[0])), daemon=True)
    t.start()
    p = rt.cmd("exec", "-t", "-d", "--console-socket", sock_path, *args)
    if p.returncode != 0:
        srv.close()
        raise AssertionError(f"exec -t into a user-namespaced container failed: {p.stderr}")
    t.join(5)
    srv.close()
    assert "fd" in got, "exec -t did not send a pty master on the console socket"
    try:
        return read_until(got["fd"], b"pty-done")
    finally:
        os.close(got["fd"])


def test_exec_tty_in_user_namespace(rt, tmp_path):
    userns_config(rt)
    cid = rt.new_id()
    rt.cmd("run", "-d", cid, check=True)
    script = "t=$(tty); echo tty=$t; stat -c 'owner=%u:%g:%a' $t; id -u; echo pty-done; sleep 1"
    out = exec_tty(rt, tmp_path, cid, "--user", "1000:1000", cid, "/bin/sh", "-c", script)
    assert b"tty=/dev/pts/" in out, f"exec -t got no pty: {out!r}"
    assert b"owner=1000:5:620" in out, f"the pty slave is not the exec'd user's terminal: {out!r}"
    # and as the container's root (the default user)
    out = exec_tty(rt, tmp_path, cid, cid, "/bin/sh", "-c", script)
    assert b"owner=0:5:620" in out, f"the pty slave is not root's terminal: {out!r}"


def test_exec_tty_user_not_mapped_is_a_clear_error(rt, tmp_path):
    userns_config(rt)
    cid = rt.new_id()
    rt.cmd("run", "-d", cid, check=True)
    sock_path = tmp_path / "c.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(1)
    p = rt.cmd("exec", "-t", "-d", "--console-socket", sock_path, "--user", "70000:70000", cid, "/bin/true")
    srv.close()
    assert p.returncode == 1, "exec as a uid outside the mapping must fail"
    assert "70000" in p.stderr and "not mapped" in p.stderr, p.stderr
