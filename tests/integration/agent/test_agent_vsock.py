"""The agent over real AF_VSOCK (SOCK_SEQPACKET), VM tier only: inside the proving ground,
`modprobe vsock_loopback` gives the local CID 1, so the agent and the client meet without a VM.

Network rule: AF_VSOCK is never opened on the development machine (its vsock reaches the real
hypervisor): every test here skips before any vsock socket exists unless it runs under --vm-tier."""
import json
import os
import random
import socket
import subprocess
import time

import pytest

from agent_util import BIN, isola

LOCAL_CID = 1  # VMADDR_CID_LOCAL (vsock_loopback)


@pytest.fixture
def vsock_agent(vm_tier, tmp_path):
    if not vm_tier:
        pytest.skip("AF_VSOCK only inside the proving ground (tests/vm/run; network rule)")
    r = subprocess.run(["modprobe", "vsock_loopback"], capture_output=True, text=True)
    assert r.returncode == 0, "modprobe vsock_loopback: " + r.stderr
    procs = []

    def start(*extra):
        port = random.randint(20000, 60000)
        log = open(tmp_path / ("agent-%d.log" % port), "wb")
        p = subprocess.Popen([str(BIN / "isola-agent"), "--listen", "vsock:%d" % port, *extra],
                             stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        time.sleep(0.3)
        assert p.poll() is None, (tmp_path / ("agent-%d.log" % port)).read_text()
        return "vsock:%d:%d" % (LOCAL_CID, port), port

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


def test_exec_file_ping_over_vsock(vsock_agent, tmp_path):
    addr, _ = vsock_agent("--allow-cid", str(LOCAL_CID))
    p = isola("agent", "exec", addr, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (p.returncode, p.stdout, p.stderr) == (3, b"out\n", b"err\n"), p
    data = os.urandom(200 * 1024)
    p = isola("agent", "exec", addr, "--", "sha256sum", input=data)
    assert p.returncode == 0 and len(p.stdout.split()[0]) == 64, p
    src, dst, back = tmp_path / "src", tmp_path / "dst", tmp_path / "back"
    src.write_bytes(data)
    assert isola("agent", "push", addr, str(src), str(dst), "--mode", "0600").returncode == 0
    assert isola("agent", "pull", addr, str(dst), str(back)).returncode == 0
    assert back.read_bytes() == data and (os.stat(dst).st_mode & 0o777) == 0o600
    p = isola("agent", "ping", addr)
    assert p.returncode == 0 and "lo" in json.loads(p.stdout)["network"], p


def test_unreserved_source_port_is_refused(vsock_agent):
    """Any host user can open AF_VSOCK; only root can bind a port below 1024. The agent answers only a
    caller from a reserved port."""
    addr, port = vsock_agent("--allow-cid", str(LOCAL_CID))
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    with s:
        s.settimeout(10)
        s.bind((socket.VMADDR_CID_ANY, random.randint(20000, 60000)))
        s.connect((LOCAL_CID, port))
        try:
            s.send(b'{"op":"exec","argv":["id"]}')
            got = s.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
    assert got == b"", "a caller from an unreserved port got an answer: %r" % got


def test_only_the_host_cid_by_default(vsock_agent):
    addr, _ = vsock_agent()  # default: CID 2 (the host) only; loopback callers are CID 1
    p = isola("agent", "exec", addr, "--", "true", env={"ISOLA_AGENT_TIMEOUT": "2"})
    assert p.returncode != 0 and b"the agent hung up without answering" in p.stderr, p.stderr
