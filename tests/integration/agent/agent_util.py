"""Helpers for the isola-agent suite: the real agent on a unix socket, `isola agent ...` as the client,
and a scripted fake agent (a hostile guest) for the client's defences."""
import json
import os
import pathlib
import socket
import subprocess
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
BIN = BUILD / "bin"
AGENT_MSG_MAX = 64 * 1024 + 1


def isola(*args, input=None, timeout=60, env=None, check=False):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([str(BIN / "isola"), *args], input=input, capture_output=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise AssertionError("isola %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p


class Agent:
    """The real isola-agent, listening on unix:PATH (the test owns its pid)."""

    def __init__(self, tmp):
        self.path = str(tmp / "agent.sock")
        self.addr = "unix:" + self.path
        self.log = open(tmp / "agent.log", "wb")
        self.proc = subprocess.Popen([str(BIN / "isola-agent"), "--listen", self.addr, "--debug"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:  # ready once it accepts (the socket file exists between bind and listen)
            assert self.proc.poll() is None, "isola-agent exited at start: see %s" % self.log.name
            assert time.time() < deadline, "isola-agent did not start listening"
            try:
                self.connect().close()
                return
            except OSError:
                time.sleep(0.02)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(10)
        s.connect(self.path)
        return s

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def recv_json(s):
    data = s.recv(AGENT_MSG_MAX + 16)
    assert data[:1] == b"{", "expected a JSON message, got %r" % data[:40]
    return json.loads(data)


class FakeAgent:
    """A hostile agent: for each connection, reads the request and runs script(conn, request)."""

    def __init__(self, tmp, script):
        self.path = str(tmp / "fake.sock")
        self.addr = "unix:" + self.path
        self.script = script
        self.requests = []
        self.errors = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.srv.bind(self.path)
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                try:
                    c.settimeout(10)
                    req = json.loads(c.recv(AGENT_MSG_MAX + 16))
                    self.requests.append(req)
                    self.script(c, req)
                except Exception as ex:  # the client hanging up on us mid-script is expected
                    self.errors.append(ex)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.srv.close()


def send_json(c, obj):
    c.send(json.dumps(obj).encode())
