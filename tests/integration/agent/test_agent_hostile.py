"""Hostile input on both sides. The agent must survive malformed and oversized requests (each answered
with an error naming what was wrong) and refuse callers that are not the host's root. The client
(`isola agent ...`, the same code `isola exec/file` use for a VM) must treat a compromised guest's
agent as hostile: bounded messages, range-checked exit status, nothing written past what was announced
or anywhere but the destination the user named, no terminal escapes from the guest in its messages."""
import json
import os
import pathlib
import shutil
import socket
import tempfile

import pytest

from agent_util import AGENT_MSG_MAX, Agent, FakeAgent, isola, recv_json, send_json


def _ask(agent, raw):
    s = agent.connect()
    with s:
        s.send(raw)
        return recv_json(s)


def _alive(agent):
    r = _ask(agent, b'{"op":"ping"}')
    assert r["ok"] is True and r["version"], r


@pytest.mark.parametrize("raw,expect", [
    (b"{not json", "malformed JSON"),
    (b'["op","ping"]', "expected a JSON request"),
    (b"\x00\x01\x02garbage", "expected a JSON request"),
    (b"{}", "op: missing"),
    (b'{"op": 42}', "op"),
    (b'{"op": "reboot"}', "unknown op"),
    (b'{"op": "exec"}', "argv: missing"),
    (b'{"op": "exec", "argv": []}', "argv: empty"),
    (b'{"op": "exec", "argv": ["true", 7]}', "argv[1]"),
    (b'{"op": "exec", "argv": ["true"], "uid": 99999999999}', "out of range"),
    (b'{"op": "exec", "argv": ["true"], "rows": -1}', "out of range"),
    (b'{"op": "exec", "argv": ["true"], "env": ["NOEQUALS"]}', "expected KEY=VALUE"),
    (b'{"op": "file.push", "path": "/tmp/x", "mode": 65536}', "out of range"),
    (b'{"op": "file.pull"}', "path: missing"),
    (b'{"op":"ping","op":"exec"}', "malformed JSON"),
])
def test_malformed_requests_get_a_clear_error(agent, raw, expect):
    r = _ask(agent, raw)
    assert r["ok"] is False and expect in r["error"], (raw, r)
    _alive(agent)


def test_oversized_request_is_refused(agent):
    big = b'{"op":"exec","argv":["' + b"A" * (200 * 1024) + b'"]}'
    r = _ask(agent, big)
    assert r["ok"] is False and "over 65537 bytes" in r["error"], r
    env = ["K%d=v" % i for i in range(600)]
    r = _ask(agent, json.dumps({"op": "exec", "argv": ["true"], "env": env}).encode())
    assert r["ok"] is False and "more than 512 variables" in r["error"], r
    _alive(agent)


def test_garbage_mid_exec_does_not_crash_the_agent(agent):
    s = agent.connect()
    with s:
        send_json(s, {"op": "exec", "argv": ["sleep", "30"]})
        assert recv_json(s)["ok"] is True
        s.send(b"d" + b"x" * 100)          # a file frame during exec: ignored
        s.send(b'{"signal": 999}')         # out of range: ignored
        s.send(b'{"window": {"rows": -5, "cols": 1e9}}')
        s.send(b"{broken")                 # malformed: the agent hangs up on the command
    _alive(agent)


def test_push_garbage_instead_of_data_leaves_no_file(agent, tmp_path):
    target = tmp_path / "t"
    s = agent.connect()
    with s:
        send_json(s, {"op": "file.push", "path": str(target)})
        assert recv_json(s)["ok"] is True
        s.send(b"dhalf")
        s.send(b"o-not-a-file-frame")
        r = recv_json(s)
    assert r["ok"] is False and "unexpected frame 'o'" in r["error"], r
    assert not target.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".isola")] == []
    _alive(agent)


def test_callers_other_than_root_are_refused():
    # an agent in a directory others can reach, its socket opened to all (it is 0600): SO_PEERCRED must
    # still turn an unprivileged caller away
    d = pathlib.Path(tempfile.mkdtemp(prefix="agent-peer-", dir="/tmp"))
    os.chmod(d, 0o755)
    agent = Agent(d)
    try:
        os.chmod(agent.path, 0o777)
        _refused_as_nobody(agent)
        _alive(agent)
    finally:
        agent.stop()
        shutil.rmtree(d)


def _refused_as_nobody(agent):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(10)
            s.connect(agent.path)
            try:
                s.send(b'{"op":"exec","argv":["id"]}')
                code = 0 if s.recv(4096) == b"" else 2  # closed with no reply
            except (ConnectionResetError, BrokenPipeError):
                code = 0
        finally:
            os._exit(code)
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0, "an unprivileged caller got an answer from the agent"


# ---- the client against a malicious agent ----

def _exec_against(tmp_path, script, *cmd, env=None):
    fake = FakeAgent(tmp_path, script)
    try:
        return isola("agent", "exec", fake.addr, "--", *(cmd or ("true",)), timeout=30, env=env)
    finally:
        fake.stop()


def _ok_then(*packets):
    def script(c, req):
        send_json(c, {"ok": True, "pid": 1})
        for p in packets:
            c.send(p)
        c.recv(10)  # hold the connection until the client hangs up
    return script


@pytest.mark.parametrize("exit_msg,expect", [
    ({"exit": {"code": 300}}, b"exit code 300 out of range"),
    ({"exit": {"code": -1}}, b"exit code -1 out of range"),
    ({"exit": {"signal": 0}}, b"exit signal 0 out of range"),
    ({"exit": {"signal": 99}}, b"exit signal 99 out of range"),
    ({"exit": {"code": 1, "signal": 9}}, b"malformed exit message"),
    ({"exit": "yes"}, b"malformed exit message"),
])
def test_exit_status_is_range_checked(tmp_path, exit_msg, expect):
    p = _exec_against(tmp_path, _ok_then(json.dumps(exit_msg).encode()))
    assert p.returncode == 1 and expect in p.stderr, (exit_msg, p.returncode, p.stderr)


def test_valid_exit_status_passes_through(tmp_path):
    p = _exec_against(tmp_path, _ok_then(b"ohello\n", b"eoops\n", b'{"exit":{"signal":15}}'))
    assert p.returncode == 143 and p.stdout == b"hello\n" and p.stderr == b"oops\n", p


@pytest.mark.parametrize("packet,expect", [
    (b"o" + b"x" * (AGENT_MSG_MAX + 10), b"message over 65537 bytes"),
    (b"{" + b"x" * (AGENT_MSG_MAX + 10), b"message over 65537 bytes"),
    (b"{garbage", b"malformed JSON"),
    (b"dfile data during exec", b"unexpected frame 'd'"),
    (b"\x1b[2J", b"unexpected frame '?'"),
    (b'{"surprise": true}', b"unexpected message"),
])
def test_oversized_or_garbage_during_exec_is_a_clear_error(tmp_path, packet, expect):
    p = _exec_against(tmp_path, _ok_then(b"ofine\n", packet))
    assert p.returncode == 1 and expect in p.stderr, (packet[:20], p.stderr)
    assert p.stdout == b"fine\n"


def test_agent_error_text_cannot_drive_the_terminal(tmp_path):
    def script(c, req):
        send_json(c, {"ok": False, "error": "\x1b]0;pwned\x07\x1b[2Jgone\r\n", "errno": 99999})
    p = _exec_against(tmp_path, script)
    assert p.returncode == 1 and b"\x1b" not in p.stderr and b"\x07" not in p.stderr, p.stderr
    assert b"the agent says: ?]0;pwned??[2Jgone??" in p.stderr, p.stderr


def test_agent_hanging_up_is_explained(tmp_path):
    p = _exec_against(tmp_path, lambda c, req: None)  # reads the request, closes without a reply
    assert p.returncode == 1 and b"the agent hung up without answering" in p.stderr, p.stderr


def test_agent_not_answering(tmp_path):
    p = isola("agent", "exec", "unix:%s/nobody-listens" % tmp_path, "--", "true", env={"ISOLA_AGENT_TIMEOUT": "1"})
    assert p.returncode == 1
    assert b"the VM's agent is not answering (is isola-agent running in the guest?)" in p.stderr, p.stderr


def _pull_against(tmp_path, script):
    fake = FakeAgent(tmp_path, script)
    outdir = tmp_path / "out"
    outdir.mkdir()
    try:
        p = isola("agent", "pull", fake.addr, "/etc/hostname", str(outdir / "target"), timeout=30)
    finally:
        fake.stop()
    return p, outdir


def test_pull_more_than_announced_is_refused_and_never_written(tmp_path):
    def script(c, req):
        send_json(c, {"ok": True, "size": 10, "mode": 0o644, "path": "../../evil", "name": "/etc/passwd"})
        c.send(b"d" + b"A" * 8)
        c.send(b"d" + b"B" * 1000)
        send_json(c, {"ok": True, "sent": 1008})
    p, outdir = _pull_against(tmp_path, script)
    assert p.returncode == 1 and b"more than the 10 bytes it announced" in p.stderr, p.stderr
    assert (outdir / "target").read_bytes() == b"A" * 8, "bytes past the announced size reached the file"
    # nothing anywhere but the target, whatever names the agent sent
    assert sorted(x.name for x in outdir.iterdir()) == ["target"]
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("header,expect", [
    ({"ok": True}, b"without a valid size"),
    ({"ok": True, "size": -5}, b"without a valid size"),
    ({"ok": True, "size": "10"}, b"without a valid size"),
])
def test_pull_header_is_checked(tmp_path, header, expect):
    def script(c, req):
        send_json(c, header)
    p, _ = _pull_against(tmp_path, script)
    assert p.returncode == 1 and expect in p.stderr, p.stderr


def test_pull_sent_count_must_match(tmp_path):
    def script(c, req):
        send_json(c, {"ok": True, "size": 10})
        c.send(b"d12345")
        send_json(c, {"ok": True, "sent": 10})
    p, _ = _pull_against(tmp_path, script)
    assert p.returncode == 1 and b"claiming 10 bytes, 5 received" in p.stderr, p.stderr


def test_ping_reply_is_rebuilt_from_valid_fields(tmp_path):
    def script(c, req):
        send_json(c, {"ok": True, "version": "1\x1b[31m", "hostname": "evil\x1b]0;x\x07", "processes": -7,
                      "extra": "dropped",
                      "network": {
                          "eth0": {"addresses": [
                              {"family": "inet", "address": "10.0.0.5", "netmask": "24", "scope": "global"},
                              {"family": "inet", "address": "not-an-ip", "netmask": "24", "scope": "global"},
                              {"family": "inet6", "address": "fe80::1", "netmask": "999", "scope": "link"},
                              {"family": "ipx", "address": "1", "netmask": "1", "scope": "global"}],
                              "hwaddr": "<script>", "mtu": 10 ** 12, "state": "exploded", "type": "broadcast"},
                          "../../etc": {"addresses": []},
                          "x" * 40: {"addresses": []},
                          "eth1": "not an object"}})
    fake = FakeAgent(tmp_path, script)
    try:
        p = isola("agent", "ping", fake.addr, timeout=30)
    finally:
        fake.stop()
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert set(info) == {"version", "hostname", "network", "processes"}, info
    assert "\x1b" not in info["version"] and info["hostname"] == "" and info["processes"] == -1, info
    assert list(info["network"]) == ["eth0"], info["network"]
    eth0 = info["network"]["eth0"]
    assert eth0["addresses"] == [{"family": "inet", "address": "10.0.0.5", "netmask": "24", "scope": "global"}]
    assert eth0["hwaddr"] == "" and eth0["mtu"] == 0 and eth0["state"] == "down", eth0
