"""virtio-vsock (isola-vmm --vsock cid=N, vhost-vsock data path) in the VM tier: the busybox guest's
vsock-helper (vmm/guest/vsock-helper.c) talks to a plain AF_VSOCK socket of this test, both ways, and a
second VMM asking for the same CID is refused.

Network rule: AF_VSOCK is opened only after needs(kvm=True), i.e. only inside the proving ground
(tests/vm/run); on the development machine (a VM whose vsock reaches the real hypervisor) these tests skip
before any vsock socket exists."""
import contextlib
import os
import random
import select
import socket
import subprocess
import time
import types

import pytest

from vmm_helpers import BOOT_TIMEOUT, VMM, control, make_vmm_runner, wait_for_line

MARKER = b"ISOLA-VSOCK-GUEST\n"


@pytest.fixture
def vmm(needs):
    return make_vmm_runner(needs)


def _cid_port():
    # Random, so parallel runs in one proving ground never collide (a CID is unique per host kernel).
    return random.randint(1000, 60000), random.randint(20000, 60000)


def _recv_exact(conn, n, timeout):
    buf = b""
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        left = deadline - time.monotonic()
        assert left > 0, "timed out after %d of %d bytes: %r" % (len(buf), n, buf[:80])
        conn.settimeout(left)
        chunk = conn.recv(n - len(buf))
        assert chunk, "peer closed after %d of %d bytes" % (len(buf), n)
        buf += chunk
    return buf


def _round_trip(conn, payload):
    """The guest sends MARKER first, then echoes; we send payload, half-close, and read it all back."""
    got = _recv_exact(conn, len(MARKER), BOOT_TIMEOUT)
    assert got == MARKER, "guest -> host: expected the guest's marker, got %r" % got
    conn.settimeout(BOOT_TIMEOUT)
    conn.sendall(payload)
    conn.shutdown(socket.SHUT_WR)
    echo = _recv_exact(conn, len(payload), BOOT_TIMEOUT)
    assert echo == payload, "host -> guest -> host: echo differs from what was sent"
    conn.settimeout(BOOT_TIMEOUT)
    assert conn.recv(1) == b"", "the guest sent more than the echo"


def _accept(lsock, proc):
    """Accept the guest's connection; fail with the guest's output if it ends or never connects."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        r, _, _ = select.select([lsock], [], [], 1)
        if r:
            return lsock.accept()
        if proc.poll() is not None:
            break
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate()
    pytest.fail("the guest never connected (exit %s):\n%s\n%s" % (proc.returncode, out, err))


def _finish(proc):
    try:
        out, err = proc.communicate(timeout=BOOT_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, err


@contextlib.contextmanager
def guest_dials_in(vmm, cmdline, *args, kind=socket.SOCK_STREAM):
    """The host listens on VMADDR_CID_ANY and a VMM started with args (and cmdline, its {port} filled in)
    connects from the guest. Yields d with d.cid, d.conn, d.peer, d.proc; on leaving the block the
    connection is closed and the VMM's output collected (d.out, d.err). Neither the VM nor the listener
    outlives the block."""
    cid, port = _cid_port()
    d = types.SimpleNamespace(cid=cid, proc=None)
    lsock = socket.socket(socket.AF_VSOCK, kind)
    try:
        lsock.bind((socket.VMADDR_CID_ANY, port))
        lsock.listen(1)
        d.proc = vmm("--vsock", "cid=%d" % cid, *args, cmdline=cmdline.format(port=port), wait=False)
        d.conn, d.peer = _accept(lsock, d.proc)
        with d.conn:
            yield d
        d.out, d.err = _finish(d.proc)
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        lsock.close()


def test_guest_connects_to_host_and_echoes(vmm, tmp_path):
    """Guest -> host (CID 2): the host listens on VMADDR_CID_ANY; the guest's marker arrives, 256 KiB sent
    back are echoed unchanged (many rx/tx buffers, so vhost and the irqfds run for real), the guest sees
    its CID, and the control socket shows the device running. Before connecting, the guest unloads and
    reloads its driver: the device is reset (vhost stopped) and re-armed on the second DRIVER_OK, so the
    round trip also proves the re-init path (and that the vCPU threads' seccomp filters allow it)."""
    sock = tmp_path / "ctl.sock"
    with guest_dials_in(vmm, "isola.test=vsock-connect isola.vsock_reload isola.vsock_port={port}",
                        "--control", str(sock)) as d:
        assert d.peer[0] == d.cid, "connection from CID %d, the VM has %d" % (d.peer[0], d.cid)
        c = control(sock, "counters")
        v = c["vsock"]
        assert c["ok"] and v["cid"] == d.cid and v["running"], c
        assert v["activations"] == 2 and v["stops"] >= 1, "driver reload = reset + re-arm: %s" % v
        assert v["event_buffers"] > 0, "the driver's event buffers reach the user-space queue: %s" % v
        _round_trip(d.conn, os.urandom(256 * 1024))
    out, err = d.out, d.err
    assert "VSOCK-RELOADED" in out, out + err
    assert "VSOCK-CID %d" % d.cid in out, "guest must read its CID from /dev/vsock:\n" + out + err
    assert "VSOCK-ECHOED %d" % (256 * 1024) in out, out + err
    assert d.proc.returncode == 0, "exit %d\n%s" % (d.proc.returncode, err)


def test_seqpacket_keeps_message_boundaries(vmm):
    """SOCK_SEQPACKET (VIRTIO_VSOCK_F_SEQPACKET, offered when vhost has it; the guest agent may use it):
    the guest connects with SOCK_SEQPACKET and echoes message by message; each message comes back whole
    and alone, including an empty-ish 1-byte one and one larger than a 4 KiB rx buffer."""
    with guest_dials_in(vmm, "isola.test=vsock-connect isola.vsock_type=seqpacket isola.vsock_port={port}",
                        kind=socket.SOCK_SEQPACKET) as d:
        d.conn.settimeout(BOOT_TIMEOUT)
        assert d.conn.recv(65536) == MARKER, "the marker must arrive as one message"
        msgs = [b"x", os.urandom(3000), os.urandom(20000), b"last"]
        for m in msgs:
            d.conn.sendall(m)
            got = d.conn.recv(65536)
            assert got == m, "message of %d bytes came back as %d bytes" % (len(m), len(got))
        d.conn.shutdown(socket.SHUT_WR)
        assert d.conn.recv(65536) == b""
    assert "VSOCK-ECHOED %d" % sum(len(m) for m in msgs) in d.out, d.out + d.err
    assert d.proc.returncode == 0, "exit %d\n%s" % (d.proc.returncode, d.err)


def test_masked_vector_holds_interrupt_until_unmask(vmm, tmp_path):
    """vhost's irqfd writes would bypass the MSI-X mask: while the guest has the rx vector masked (it
    writes the table entry itself through /dev/mem), data the host sends must be signalled to the VMM's
    masked eventfd (counted), held pending, and delivered on unmask; the echo then completes."""
    sock = tmp_path / "ctl.sock"
    with guest_dials_in(vmm, "iomem=relaxed isola.test=vsock-mask isola.vsock_port={port}",
                        "--control", str(sock)) as d:
        assert _recv_exact(d.conn, len(MARKER), BOOT_TIMEOUT) == MARKER
        wait_for_line(d.proc, "VSOCK-RX-MASKED", BOOT_TIMEOUT)
        payload = os.urandom(32 * 1024)
        d.conn.settimeout(BOOT_TIMEOUT)
        d.conn.sendall(payload)
        wait_for_line(d.proc, "VSOCK-RX-UNMASKED", BOOT_TIMEOUT)
        v = control(sock, "counters")["vsock"]
        assert v["masked_interrupts"] >= 1, "no interrupt was held while the vector was masked: %s" % v
        d.conn.shutdown(socket.SHUT_WR)
        assert _recv_exact(d.conn, len(payload), BOOT_TIMEOUT) == payload, "echo after unmask differs"
    assert "VSOCK-ECHOED %d" % len(payload) in d.out, d.out + d.err
    assert d.proc.returncode == 0, "exit %d\n%s" % (d.proc.returncode, d.err)


def test_host_connects_to_guest_and_cid_is_exclusive(vmm, tmp_path):
    """Host -> guest: the guest listens, the host connects to (CID, port). While that VM runs, a second
    isola-vmm asking for the same CID fails at start with a message that says so (vhost: EADDRINUSE)."""
    cid, port = _cid_port()
    proc = vmm("--vsock", "cid=%d" % cid, cmdline="isola.test=vsock-listen isola.vsock_port=%d" % port, wait=False)
    try:
        seen = wait_for_line(proc, "VSOCK-LISTENING %d" % port, BOOT_TIMEOUT)
        assert "VSOCK-CID %d" % cid in seen, seen

        # The hostile case: the same CID again. Refused before any vCPU runs.
        dup = vmm("--vsock", "cid=%d" % cid, "--explain", cmdline="isola.test=default", timeout=120)
        assert dup.returncode == 1, "a second VM with CID %d must fail: %s" % (cid, dup.stdout + dup.stderr)
        assert "CID %d is already in use" % cid in dup.stderr, dup.stderr
        # --explain shows the vhost ioctls with their meaning, and which one refused.
        assert "VHOST_SET_OWNER" in dup.stderr and "VHOST_SET_MEM_TABLE" in dup.stderr, dup.stderr
        assert any("VHOST_VSOCK_SET_GUEST_CID" in l and "EADDRINUSE" in l for l in dup.stderr.splitlines()), \
            dup.stderr
        assert "ISOLA-GUEST-UP" not in dup.stdout

        conn = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        with conn:
            conn.settimeout(BOOT_TIMEOUT)
            conn.connect((cid, port))
            _round_trip(conn, os.urandom(64 * 1024))
        out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "VSOCK-ECHOED %d" % (64 * 1024) in seen + out, seen + out + err
    assert proc.returncode == 0, "exit %d\n%s" % (proc.returncode, err)


def test_missing_vhost_vsock_node_is_named(vmm, needs, tmp_path):
    """No /dev/vhost-vsock (a /dev without the node, in a private mount namespace): after trying modprobe
    the VMM fails before booting and names the module."""
    needs(kvm=True, tool="unshare")
    dev = tmp_path / "dev"
    dev.mkdir()
    script = ("mount -t tmpfs tmpfs %s && for n in kvm null zero urandom; do touch %s/$n && "
              "mount --bind /dev/$n %s/$n; done && mount --rbind %s /dev && exec \"$@\"") % ((dev,) * 4)
    p = vmm("--vsock", "cid=%d" % _cid_port()[0], cmdline="isola.test=default", timeout=120,
            prefix=["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"])
    assert p.returncode == 1, p.stdout + p.stderr
    assert "/dev/vhost-vsock" in p.stderr and "vhost_vsock" in p.stderr and "modprobe" in p.stderr, p.stderr
    assert "ISOLA-GUEST-UP" not in p.stdout


def test_stop_resets_host_connection(vmm, tmp_path):
    """The VMM stopped from the host (control stop) while a host socket is connected to the guest: the
    host socket sees the connection end (vhost's release resets it) instead of hanging, the VMM exits 4,
    and its teardown issues nothing its main thread's seccomp filter refuses."""
    cid, port = _cid_port()
    sock = tmp_path / "ctl.sock"
    proc = vmm("--vsock", "cid=%d" % cid, "--control", str(sock),
               cmdline="isola.test=vsock-listen isola.vsock_port=%d" % port, wait=False)
    try:
        wait_for_line(proc, "VSOCK-LISTENING %d" % port, BOOT_TIMEOUT)
        conn = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        with conn:
            conn.settimeout(BOOT_TIMEOUT)
            conn.connect((cid, port))
            assert _recv_exact(conn, len(MARKER), BOOT_TIMEOUT) == MARKER
            assert control(sock, "stop")["ok"]
            out, err = _finish(proc)
            try:
                rest = conn.recv(1)
            except ConnectionResetError:
                rest = b""
            assert rest == b"", "the host socket must see the guest go away, got %r" % rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 4, "control stop must exit 4, got %d\n%s" % (proc.returncode, err)
    assert "not permitted" not in err and "VHOST" not in err, "teardown hit the sandbox:\n" + err


@pytest.mark.parametrize("arg,why", [
    ("cid=0", "reserved"), ("cid=1", "reserved"), ("cid=2", "reserved"), ("cid=4294967295", "reserved"),
    ("cid=4294967296", "reserved"), ("cid=-3", "not a decimal"), ("cid=", "want cid=N"), ("3", "want cid=N"),
    ("cid=3x", "not a decimal"), ("cid=99999999999999999999999", "not a decimal"),
])
def test_bad_vsock_option_is_refused(arg, why):
    """Host tier (no KVM, no vsock socket): --vsock is validated before anything is opened."""
    if not VMM.exists():
        pytest.fail("build first: %s is missing" % VMM)
    p = subprocess.run([str(VMM), "--kernel", "/nonexistent", "--vsock", arg], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and why in p.stderr and "--vsock" in p.stderr, p.stderr


def test_second_vsock_option_is_refused():
    if not VMM.exists():
        pytest.fail("build first: %s is missing" % VMM)
    p = subprocess.run([str(VMM), "--kernel", "/nonexistent", "--vsock", "cid=3", "--vsock", "cid=4"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "--vsock given twice" in p.stderr, p.stderr
