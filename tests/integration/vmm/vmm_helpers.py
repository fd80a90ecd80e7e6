"""Helpers for isola-vmm VM-tier tests: the binary, a guest kernel, the busybox test initramfs, a helper
that boots the VMM and collects its serial output, and a control-socket client (lib/ipc.h framing:
one JSON message per SOCK_SEQPACKET packet)."""
import glob
import json
import os
import pathlib
import socket
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
BIN = BUILD / "bin"

VMM = BIN / "isola-vmm"
INITRAMFS = BUILD / "vmm" / "test-initramfs.cpio"
# Nested KVM under QEMU TCG: a guest boot takes a minute or more, so timeouts are generous.
BOOT_TIMEOUT = int(os.environ.get("ISOLA_VMM_BOOT_TIMEOUT", "600"))


def guest_kernel():
    ks = sorted(glob.glob("/boot/vmlinuz-*"))
    return ks[-1] if ks else None


def make_vmm_runner(needs):
    needs(kvm=True)
    if not VMM.exists() or not INITRAMFS.exists():
        pytest.fail("build first: %s and %s are missing (make)" % (VMM, INITRAMFS))
    kernel = guest_kernel()
    if not kernel:
        pytest.skip("no /boot/vmlinuz-* to boot (install linux-image-amd64)")

    def run(*args, cmdline="", timeout=BOOT_TIMEOUT, initrd=True, wait=True, prefix=(), pass_fds=()):
        argv = list(prefix) + [str(VMM), "--kernel", kernel, "--memory", "256", "--cmdline", "quiet " + cmdline]
        if initrd:
            argv += ["--initrd", str(INITRAMFS)]
        argv += list(args)
        if not wait:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, errors="replace", pass_fds=pass_fds)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                           timeout=timeout, pass_fds=pass_fds)
        return p
    return run


def control(path, op, **kw):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(str(path))
        msg = dict(op=op, **kw)
        s.send(json.dumps(msg).encode())
        reply = json.loads(s.recv(192 * 1024).decode())
    finally:
        s.close()
    return reply


def wait_for_line(proc, marker, timeout):
    """Read proc.stdout until marker shows up (it need not end a line: getty's "login: " prompt does not);
    returns everything read. Reads the pipe's raw fd, so a prompt without a newline is seen at once."""
    import select
    seen = ""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], min(5.0, max(0.0, deadline - time.monotonic())))
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        seen += chunk.decode("utf-8", "replace")
        if marker in seen:
            return seen
    raise AssertionError("no %r from the guest within %ss; output:\n%s" % (marker, timeout, seen[-8000:]))
