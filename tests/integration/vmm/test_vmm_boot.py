"""isola-vmm in the VM tier (nested KVM): boots the stock Debian kernel with the busybox test initramfs
(vmm/guest/init) and checks how the guest ended, what it saw, and what survived."""
import os
import pathlib
import subprocess
import time

import pytest

from vmm_helpers import BOOT_TIMEOUT, VMM, control, make_vmm_runner, wait_for_line


@pytest.fixture
def vmm(needs):
    return make_vmm_runner(needs)


def test_smp_boot_with_devices_powers_off(vmm, tmp_path):
    """One boot covers the basics (nested KVM is slow): 2 vCPUs, virtio-blk/console/rng found by the
    stock kernel's modules, hwrng bytes, hvc0 output in the log, and power-off -> exit 0."""
    log = tmp_path / "hvc0.log"
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    p = vmm("--cpus", "2", "--disk", str(disk), "--rng", "--console-log", str(log), cmdline="isola.test=devices")
    out = p.stdout
    assert "ISOLA-GUEST-UP cpus=2" in out, "guest must see both vCPUs:\n" + out + p.stderr
    for dev in ("0x0002 virtio_blk", "0x0003 virtio_console", "0x0004 virtio_rng"):
        assert "VIRTIO " + dev in out, "%s not bound in the guest:\n%s" % (dev, out)
    rng = [l for l in out.splitlines() if l.startswith("HWRNG ")]
    assert rng and len(rng[0].split()[1]) == 32, "16 bytes from /dev/hwrng expected:\n" + out
    assert "hello from hvc0" in log.read_text()
    assert p.returncode == 0, "power-off must exit 0, got %d\n%s" % (p.returncode, p.stderr)


def test_disk_survives_reboot_and_ro_refuses_writes(vmm, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (4 << 20))
    p = vmm("--disk", str(disk), cmdline="isola.test=disk-write")
    assert "DISK-WRITTEN" in p.stdout, p.stdout + p.stderr
    assert p.returncode == 2, "guest reboot (reboot=k, i8042 0xFE) must exit 2, got %d" % p.returncode
    # The guest's write reached the host file.
    assert disk.read_bytes().startswith(b"isola-vmm persistent "), disk.read_bytes()[:64]
    # Boot again with the same disk read-only: the data is there and writes fail in the guest.
    p = vmm("--disk", "%s,ro" % disk, cmdline="isola.test=disk-read")
    assert "DISK-CONTENT isola-vmm persistent" in p.stdout, p.stdout
    assert "RO-WRITE-FAILED" in p.stdout, "a ,ro disk must refuse writes:\n" + p.stdout
    assert disk.read_bytes().startswith(b"isola-vmm persistent ")
    assert p.returncode == 0


def test_control_pause_resume_counters_shutdown(vmm, tmp_path):
    sock = tmp_path / "ctl.sock"
    proc = vmm("--control", str(sock), cmdline="isola.test=powerbutton", wait=False)
    try:
        wait_for_line(proc, "WAITING-POWER-BUTTON /dev/input/event", BOOT_TIMEOUT)
        st = control(sock, "status")
        assert st["ok"] and st["state"] == "running" and st["cpus"] == 1, st
        assert control(sock, "pause")["ok"]
        assert control(sock, "status")["state"] == "paused"
        assert control(sock, "resume")["ok"]
        assert control(sock, "status")["state"] == "running"
        c = control(sock, "counters")
        assert c["ok"] and c["exits"]["io"] > 0 and c["serial"]["tx_bytes"] > 0, c
        bad = control(sock, "format-disk")
        assert not bad["ok"] and "unknown op" in bad["error"]
        # Guest-visible shutdown: the ACPI power button; the guest's init powers off on it.
        assert control(sock, "shutdown")["ok"]
        out, err = proc.communicate(timeout=BOOT_TIMEOUT)
        assert "POWER-BUTTON-PRESSED" in out, out + err
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_control_stop_exits_4(vmm, tmp_path):
    """stop needs no guest cooperation: send it as soon as the socket exists."""
    sock = tmp_path / "ctl.sock"
    proc = vmm("--control", str(sock), cmdline="isola.test=powerbutton", wait=False)
    try:
        for _ in range(600):
            if sock.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert control(sock, "stop")["ok"]
        proc.communicate(timeout=120)
        assert proc.returncode == 4
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_net_guest_pings_host_over_tap(vmm, needs, tmp_path):
    """virtio-net against a tap the test creates in its own network namespace (netd's bridge is another
    component; this checks the device itself)."""
    needs(kvm=True, tool="ip")  # kvm=True: a needs() without it skips in the VM tier
    ns, tap = "vmmtest%d" % os.getpid(), "vmmtap0"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ipn = ["ip", "netns", "exec", ns]
        subprocess.run(ipn + ["ip", "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr"], check=True)
        subprocess.run(ipn + ["ip", "addr", "add", "10.250.0.1/24", "dev", tap], check=True)
        subprocess.run(ipn + ["ip", "link", "set", tap, "up"], check=True)
        subprocess.run(ipn + ["ip", "link", "set", "lo", "up"], check=True)
        p = vmm("--net", "tap=" + tap, prefix=ipn,
                cmdline="isola.test=net isola.ip=10.250.0.2/24 isola.peer=10.250.0.1")
        assert "PING-OK 10.250.0.1" in p.stdout, p.stdout + p.stderr
        assert p.returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def test_bad_kernel_is_refused_with_a_reason(tmp_path):
    """Host tier: the bzImage is validated before /dev/kvm is opened."""
    if not VMM.exists():
        pytest.fail("build first: %s is missing" % VMM)
    bad = tmp_path / "notakernel"
    bad.write_bytes(b"\x7fELF" + b"\0" * 8192)
    p = subprocess.run([str(VMM), "--kernel", str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "0xAA55" in p.stderr or "HdrS" in p.stderr, p.stderr
    p = subprocess.run([str(VMM), "--kernel", "/nonexistent/vmlinuz"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "/nonexistent/vmlinuz" in p.stderr, p.stderr
    p = subprocess.run([str(VMM), "--kernel", str(bad), "--cpus", "0"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "--cpus" in p.stderr, p.stderr
