"""VMs through isola-vmm (VM tier: needs /dev/kvm) from the Debian VM image that `make images` builds.

One Debian boot serves every check (a nested boot costs minutes): `isola exec`/`file`/`list` through the
guest agent over vsock (docs/agent.md); then launch → Running with a VMM pid; the
cloud-init seed disk on the host (label cidata, the user-data given); the serial console's login prompt in
console.log; `list --format json` addresses = the lease the guest's DHCP took from netd for the MAC netd
reserved; `isola console` attach and detach; stop by the ACPI power button; start/stop --force; snapshot
and restore; delete. Then the same seed disk boots under the busybox test guest, which reads it back."""
import json
import os
import pathlib
import select
import subprocess
import sys
import time

import pytest

from mgr_util import BUILD

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "vmm"))
from vmm_helpers import make_vmm_runner  # noqa: E402

BOOT_TIMEOUT = int(os.environ.get("ISOLA_VMM_BOOT_TIMEOUT", "600"))
USER_DATA = "#cloud-config\nhostname: seeded-by-isola\n"


def vm_image():
    meta, disk = BUILD / "images" / "debian-vm.meta.tar.gz", BUILD / "images" / "debian-vm.img"
    return (meta, disk) if meta.exists() and disk.exists() else None


@pytest.fixture(scope="module")
def vm_alias(isola):
    """The Debian VM image imported once for the module: 2 GiB to read and hash (minutes nested)."""
    img = vm_image()
    if not img:
        pytest.skip("needs build/images/debian-vm.{meta.tar.gz,img} (make image-debian-vm)")
    isola.run("image", "import", str(img[0]), str(img[1]), "--alias", "debian-vm-mgr", timeout=1200)
    yield "debian-vm-mgr"
    isola.run("image", "delete", "debian-vm-mgr", check=False)


def _kvm():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def vm(isola, vm_alias, request):
    """The module's one Debian VM, launched with a cloud-init seed and up to its agent answering."""
    # checked before the launch (the tests' own needs(kvm=True) runs after this fixture)
    if not _kvm():
        if request.config.getoption("--vm-tier"):
            pytest.fail("VM tier must provide it: needs /dev/kvm")
        pytest.skip("needs /dev/kvm — runs in the VM tier (make check-vm)")
    name = "t-vm-one"
    t0 = time.time()
    isola.run("launch", vm_alias, name, "--vm", "-c", "limits.memory=768MiB",
              "-c", "cloud-init.user-data=" + USER_DATA, timeout=900)  # a sparse copy of the disk (its data) where no reflink
    # the first exec waits for the guest to boot far enough to run its agent
    env = dict(isola.env, ISOLA_AGENT_TIMEOUT="900")
    p = isola.run("exec", name, "--", "true", env=env, check=False, timeout=1000)
    if p.returncode != 0:
        log = isola.root / "instances" / name / "console.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no console log)"
        isola.run("delete", "--force", name, check=False)
        pytest.fail("the VM's agent never answered: %s\nconsole:\n%s" % (p.stderr, tail))
    print("\nDebian VM: launch to the agent answering %.1f s" % (time.time() - t0))
    yield name
    isola.run("delete", "--force", name, check=False, timeout=120)


def wait_for(what, pred, timeout, step=1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def console_roundtrip(isola, name):
    """attach, press Enter, see getty's prompt again, detach with ctrl+a q"""
    p = subprocess.Popen([str(BUILD / "bin" / "isola"), "console", name], env=isola.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1)
        p.stdin.write(b"\r")
        p.stdin.flush()
        seen = b""
        deadline = time.time() + 120
        while b"login:" not in seen and time.time() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 5)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
            else:
                p.stdin.write(b"\r")
                p.stdin.flush()
        assert b"login:" in seen, "no login prompt through `isola console`: %r" % seen[-2000:]
        p.stdin.write(b"\x01q")
        p.stdin.flush()
        assert p.wait(timeout=30) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_exec_in_vm(isola, vm, needs):
    needs(kvm=True)
    p = isola.run("exec", vm, "--", "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
    print("transcript: exec sh -c 'echo out; echo err >&2; exit 4' ->", p.returncode, repr(p.stdout), repr(p.stderr))
    assert p.returncode == 4, p.stderr
    assert p.stdout == "out\n" and p.stderr == "err\n", (p.stdout, p.stderr)
    # a command that is really the guest's: its kernel, not the host's
    p = isola.run("exec", vm, "--", "cat", "/proc/cmdline", check=False)
    print("transcript: exec cat /proc/cmdline ->", p.returncode, repr(p.stdout), repr(p.stderr))
    assert "root=/dev/vda" in p.stdout, p.stdout
    p = isola.run("exec", vm, "--env", "X=y", "--cwd", "/tmp", "--user", "65534", "--", "sh", "-c",
                  'echo $X $(pwd) $(id -u)', check=False)
    assert p.stdout.split() == ["y", "/tmp", "65534"], (p.stdout, p.stderr)
    p = isola.run("exec", vm, "--", "cat", input="through stdin", check=False)
    assert p.stdout == "through stdin", p.stderr


def test_file_push_pull_in_vm(isola, vm, needs, tmp_path):
    needs(kvm=True)
    src = tmp_path / "f"
    data = os.urandom(100 * 1024)
    src.write_bytes(data)
    isola.run("file", "push", str(src), "%s/root/f" % vm, "--mode", "0640", "--uid", "65534")
    p = isola.run("exec", vm, "--", "stat", "-c", "%a %u %s", "/root/f")
    assert p.stdout.split() == ["640", "65534", str(len(data))], p.stdout
    back = tmp_path / "back"
    isola.run("file", "pull", "%s/root/f" % vm, str(back))
    assert back.read_bytes() == data
    p = isola.run("file", "pull", "%s/etc" % vm, str(tmp_path / "x"), check=False)
    print("transcript: file pull /etc ->", p.returncode, repr(p.stderr))
    assert p.returncode != 0 and "is a directory, not a regular file" in p.stderr, p.stderr


def test_list_shows_the_guest_network(isola, vm, needs):
    needs(kvm=True)
    i = isola.instance(vm)
    net = i["state"]["network"]
    print("transcript: state.network ->", json.dumps(net)[:600], "processes", i["state"]["processes"])
    assert "lo" in net, "state.network should come from the agent (it sees lo): %s" % json.dumps(net)
    assert i["state"]["processes"] > 0, i["state"]


def test_vm_lifecycle_on_one_boot(isola, vm, needs, tmp_path):
    needs(kvm=True, tool="isoinfo")
    name = vm
    i = isola.instance(name)
    assert i["type"] == "virtual-machine" and i["status"] == "Running", i
    assert i["state"]["pid"] > 0

    # the seed disk, host side: ISO 9660 labelled cidata with the user-data and the instance's meta-data
    idir = isola.root / "instances" / name
    seed = idir / "seed.iso"
    info = subprocess.run(["isoinfo", "-d", "-i", str(seed)], capture_output=True, text=True).stdout
    assert "Volume id: cidata" in info, info
    ud = subprocess.run(["isoinfo", "-R", "-i", str(seed), "-x", "/user-data"], capture_output=True).stdout
    assert ud.decode() == USER_DATA
    md = subprocess.run(["isoinfo", "-R", "-i", str(seed), "-x", "/meta-data"], capture_output=True).stdout
    assert ("local-hostname: %s" % name) in md.decode()

    # the serial console is logged whether or not anyone is attached: the guest's getty shows up there
    log = idir / "console.log"
    wait_for("a login prompt in %s" % log, lambda: log.exists() and b"login:" in log.read_bytes(), BOOT_TIMEOUT)

    # list: the address netd reserved, and the guest's DHCP client really took it (MAC passed to the VMM)
    nic = isola.instance(name)["state"]["network"]["eth0"]
    addr, mac = nic["addresses"][0]["address"], nic["hwaddr"]
    assert addr and mac, nic

    def leased():
        leases = isola.json("network", "list-leases", isola.network)
        # "dynamic": dnsmasq's own lease file (netd also lists its reservations, kind "reservation")
        return [l for l in leases if l.get("kind") == "dynamic" and l.get("mac") == mac and l.get("ipv4") == addr]
    wait_for("a DHCP lease of %s for %s" % (addr, mac), leased, 180, step=3)

    console_roundtrip(isola, name)

    isola.run("stop", name, timeout=180)  # ACPI power button: a clean guest power-off
    assert isola.instance(name)["status"] == "Stopped"
    assert b"Power-Off" in log.read_bytes() or b"Power down" in log.read_bytes(), log.read_bytes()[-2000:]
    # start again (no second wait for a boot), then the hard stop
    isola.run("start", name, timeout=120)
    assert isola.instance(name)["status"] == "Running"
    isola.run("stop", "--force", name, timeout=60)
    assert isola.instance(name)["status"] == "Stopped"

    isola.run("snapshot", "create", name, "s0", timeout=900)  # dir pool: a disk copy
    disk = isola.root / "storage-pools" / "default" / "virtual-machines" / name / "root.img"
    isola.run("snapshot", "restore", name, "s0", timeout=900)
    # launch, snapshot and restore each copied the disk: only its data, the holes stay holes
    st = disk.stat()
    assert st.st_blocks * 512 < st.st_size // 2, \
        "the restored disk is not sparse: %d bytes allocated of %d" % (st.st_blocks * 512, st.st_size)

    # the guest side of the seed disk: the busybox test guest reads the same image back as /dev/vdb
    copy = tmp_path / "seed.iso"
    copy.write_bytes(seed.read_bytes())
    vmm = make_vmm_runner(needs)
    blank = tmp_path / "vda.img"
    blank.write_bytes(b"\0" * 1048576)
    p = vmm("--disk", str(blank), "--disk", "%s,ro" % copy, cmdline="isola.test=seed")
    assert "SEED-LABEL cidata" in p.stdout, p.stdout + p.stderr
    assert "SEED-user-data: hostname: seeded-by-isola" in p.stdout, p.stdout
    assert ("SEED-meta-data: local-hostname: %s" % name) in p.stdout, p.stdout

    isola.run("delete", name)
    assert isola.instance(name) is None
    assert not idir.exists(), list(idir.iterdir())


def test_vm_image_without_vm_flag_makes_a_vm(isola, name, needs, vm_alias):
    # no --vm: the image's type decides, and init (no start, so no KVM needed) creates a virtual machine
    p = isola.run("init", vm_alias, name, check=False)
    assert p.returncode == 0, "init of a VM image without --vm: %s" % p.stderr
    assert isola.instance(name)["type"] == "virtual-machine", isola.instance(name)
    isola.run("delete", name)
