"""The Debian VM image from rootfs/ (build/images/debian-vm.img + .vmlinuz + .initrd, built by
`make images`) boots under isola-vmm with Debian's own kernel and initramfs, root on virtio-blk, to a
login prompt on the serial console; the control socket's shutdown (ACPI power button) makes systemd
power it off (exit 0). `quiet`, as the image's own isola.cmdline: every serial byte is a VM exit, which
nested costs a lot (docs/images.md "VM boot time"); `make bench-vmboot` has the per-phase split."""

import subprocess
import time

import pytest

from vmm_helpers import BOOT_TIMEOUT, BUILD, VMM, control, wait_for_line

IMAGES = BUILD / "images"


def test_debian_vm_boots_to_login_and_powers_off(needs, tmp_path):
    needs(kvm=True)
    img, kernel, initrd = (IMAGES / n for n in ("debian-vm.img", "debian-vm.vmlinuz", "debian-vm.initrd"))
    missing = [str(p) for p in (img, kernel, initrd) if not p.exists()]
    if missing:
        pytest.skip("Debian VM image not built (%s): run `make images`" % ", ".join(missing))
    # Boot a copy: the test must not change the image (reflink where the filesystem can).
    disk = tmp_path / "root.img"
    subprocess.run(["cp", "--reflink=auto", "--sparse=always", str(img), str(disk)], check=True)
    sock = tmp_path / "ctl.sock"
    proc = subprocess.Popen(
        [str(VMM), "--kernel", str(kernel), "--initrd", str(initrd), "--memory", "512", "--cpus", "2",
         "--disk", str(disk), "--control", str(sock), "--memory-backend", "anon",
         "--cmdline", "root=/dev/vda rw net.ifnames=0 quiet"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    t0 = time.monotonic()
    try:
        # systemd's serial getty prints the prompt once the boot reached multi-user.target's getty.
        out = wait_for_line(proc, "login:", BOOT_TIMEOUT * 2)
        print("\nDebian VM: isola-vmm start to login prompt %.1f s" % (time.monotonic() - t0))
        assert "Failed to mount" not in out and "emergency mode" not in out, out[-4000:]
        assert control(sock, "shutdown")["ok"]
        rest, err = proc.communicate(timeout=BOOT_TIMEOUT)
        assert proc.returncode == 0, "systemd should power off on the power button; rc %d\n%s\n%s" % (
            proc.returncode, rest[-3000:], err[-2000:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

