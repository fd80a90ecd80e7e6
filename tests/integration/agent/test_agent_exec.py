"""isola-agent exec over a unix socket, driven by the real client (`isola agent exec`): exit status,
stdio separation and streaming, pty, env/cwd/user, signals, and what happens when the client dies."""
import fcntl
import hashlib
import os
import pty
import signal
import struct
import subprocess
import termios
import time

from agent_util import BIN, isola


def read_to_end(master, deadline):
    """What a pty master yields until the client exits (EIO once the last slave is closed), then close it."""
    out = b""
    while time.time() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out


def test_exit_status_and_stdio_separation(agent):
    p = isola("agent", "exec", agent.addr, "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 7")
    assert p.returncode == 7, p.stderr
    assert p.stdout == b"to-out\n" and p.stderr == b"to-err\n", (p.stdout, p.stderr)
    assert isola("agent", "exec", agent.addr, "--", "true").returncode == 0


def test_killed_by_signal_is_128_plus_signal(agent):
    p = isola("agent", "exec", agent.addr, "--", "sh", "-c", "kill -9 $$")
    assert p.returncode == 137, (p.returncode, p.stderr)


def test_stdin_streams_a_megabyte_both_ways(agent):
    data = os.urandom(1 << 20)
    p = isola("agent", "exec", agent.addr, "--", "sh", "-c", "cat; echo done >&2", input=data)
    assert p.returncode == 0, p.stderr
    assert hashlib.sha256(p.stdout).hexdigest() == hashlib.sha256(data).hexdigest(), "stdin/stdout corrupted"
    assert p.stderr == b"done\n"


def test_stdin_eof_reaches_the_command(agent):
    p = isola("agent", "exec", agent.addr, "--", "wc", "-c", input=b"abc")
    assert p.returncode == 0 and p.stdout.strip() == b"3", (p.stdout, p.stderr)


def test_env_cwd_user(agent, tmp_path):
    os.chmod(tmp_path, 0o755)
    p = isola("agent", "exec", agent.addr, "--env", "FOO=bar baz", "--cwd", "/", "--user", "65534:65534",
              "--", "sh", "-c", 'echo "$FOO|$(pwd)|$(id -u):$(id -g)|$PATH"')
    assert p.returncode == 0, p.stderr
    foo, cwd, ids, path = p.stdout.decode().strip().split("|")
    assert foo == "bar baz" and cwd == "/" and ids == "65534:65534", p.stdout
    p = isola("agent", "exec", agent.addr, "--cwd", str(tmp_path), "--", "pwd")
    assert p.stdout.decode().strip() == str(tmp_path), p.stdout
    # a directory the user may not enter: the error names the step
    p = isola("agent", "exec", agent.addr, "--cwd", "/root", "--user", "65534", "--", "true")
    assert p.returncode != 0 and b"chdir /root: Permission denied" in p.stderr, p.stderr
    assert "/usr/bin" in path, "the default PATH is missing: %r" % path
    # root by default, HOME from the passwd file
    p = isola("agent", "exec", agent.addr, "--", "sh", "-c", 'echo $(id -u) $HOME')
    assert p.stdout.decode().split() == ["0", "/root"], p.stdout


def test_missing_command_is_a_clear_error(agent):
    p = isola("agent", "exec", agent.addr, "--", "/no/such/command")
    assert p.returncode != 0
    assert b"exec /no/such/command: No such file or directory" in p.stderr, p.stderr
    p = isola("agent", "exec", agent.addr, "--cwd", "/no/such/dir", "--", "true")
    assert p.returncode != 0 and b"chdir /no/such/dir: No such file or directory" in p.stderr, p.stderr


def test_bad_user_is_refused_by_the_client(agent):
    p = isola("agent", "exec", agent.addr, "--user", "root", "--", "true")
    assert p.returncode != 0 and b"numeric UID[:GID]" in p.stderr, p.stderr


def test_pty_mode_window_size_and_status(agent):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    p = subprocess.Popen([str(BIN / "isola"), "agent", "exec", agent.addr, "-t", "--", "sh", "-c",
                          "tty; stty size; exit 5"], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = read_to_end(master, time.time() + 30)
    assert p.wait(30) == 5, out
    assert b"/dev/pts/" in out, "the command did not get a terminal: %r" % out
    assert b"33 101" in out, "the window size did not reach the guest pty: %r" % out


def test_pty_without_a_local_terminal(agent):
    # -t with pipes: the guest still gets a pty; stdin EOF becomes the terminal's EOF character
    p = isola("agent", "exec", agent.addr, "-t", "--", "sh", "-c", "test -t 0 && echo is-a-tty; cat", input=b"")
    assert p.returncode == 0, p.stderr
    assert b"is-a-tty" in p.stdout, p.stdout


def _start_waiting(agent, script):
    p = subprocess.Popen([str(BIN / "isola"), "agent", "exec", agent.addr, "--", "sh", "-c", script],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n", "the command did not start"
    return p


def test_signals_are_forwarded(agent):
    for sig, name in ((signal.SIGTERM, "TERM"), (signal.SIGINT, "INT"), (signal.SIGUSR1, "USR1")):
        p = _start_waiting(agent, 'trap "echo got-%s; exit 3" %s; echo ready; while :; do sleep 0.1; done'
                           % (name, name))
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 3, (name, p.returncode, out, err)
        assert out == b"got-%s\n" % name.encode(), out


def test_client_death_hangs_up_on_the_command(agent, tmp_path):
    mark = tmp_path / "hup"
    p = _start_waiting(agent, 'trap "touch %s; exit 0" HUP; echo ready; while :; do sleep 0.1; done' % mark)
    p.kill()
    p.wait()
    deadline = time.time() + 20
    while time.time() < deadline and not mark.exists():
        time.sleep(0.1)
    assert mark.exists(), "the command never got SIGHUP after its client died (agent log: %s)" % (
        tmp_path / "agent.log").read_text()


def test_background_child_holding_stdout_does_not_hang_exec(agent):
    start = time.time()
    p = isola("agent", "exec", agent.addr, "--", "sh", "-c", "sleep 30 & echo started", timeout=25)
    assert p.returncode == 0 and p.stdout == b"started\n", (p.stdout, p.stderr)
    assert time.time() - start < 25


def test_command_ignoring_hangup_is_killed_after_the_grace(agent, tmp_path):
    pidfile = tmp_path / "pid"
    p = _start_waiting(agent, 'trap "" HUP; echo $$ > %s; echo ready; while :; do sleep 0.1; done' % pidfile)
    pid = int(pidfile.read_text())
    p.kill()
    p.wait()
    deadline = time.time() + 30
    while time.time() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.2)
    assert not os.path.exists("/proc/%d" % pid), "a command whose client died is still running"


def test_closed_stdio_of_the_client(agent):
    # isola started with fds 0 and 1 closed: its agent socket must not take their place (a command's
    # output would be relayed into its own connection)
    for _ in range(5):
        p = subprocess.run(["sh", "-c", 'exec "$0" agent exec "$1" -- sh -c "echo out; echo err >&2" <&- >&-',
                            str(BIN / "isola"), agent.addr], capture_output=True, timeout=30)
        assert p.returncode == 0 and p.stderr == b"err\n", (p.returncode, p.stderr)


def test_window_resize_is_forwarded(agent):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 70, 0, 0))
    p = subprocess.Popen([str(BIN / "isola"), "agent", "exec", agent.addr, "-t", "--", "sh", "-c",
                          "stty size; echo ready; read x; stty size"], stdin=slave, stdout=slave, stderr=slave)
    out = b""
    deadline = time.time() + 30
    while b"ready" not in out and time.time() < deadline:
        out += os.read(master, 4096)
    assert b"20 70" in out, out
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 41, 132, 0, 0))
    p.send_signal(signal.SIGWINCH)  # what the kernel sends the terminal's foreground group
    time.sleep(1)
    os.write(master, b"go\r")
    os.close(slave)
    out += read_to_end(master, deadline)
    assert p.wait(30) == 0, out
    assert b"41 132" in out, "the new window size did not reach the guest pty: %r" % out
