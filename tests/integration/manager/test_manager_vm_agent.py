"""`isola exec` / `isola file` / `list` for a Debian VM through its guest agent (VM tier: needs /dev/kvm,
the vsock device of isola-vmm and build/images/debian-vm.* built with the agent by `make images`).
One boot for the whole module: a nested Debian boot under TCG takes minutes."""
import json
import os

import pytest

from mgr_util import BUILD


def _image():
    meta, disk = BUILD / "images" / "debian-vm.meta.tar.gz", BUILD / "images" / "debian-vm.img"
    return (meta, disk) if meta.exists() and disk.exists() else None


def _kvm():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def vm(isola, request):
    # checked here, before any launch (the tests' own needs(kvm=True) runs after this fixture)
    if not _kvm():
        if request.config.getoption("--vm-tier"):
            pytest.fail("VM tier must provide it: needs /dev/kvm")
        pytest.skip("needs /dev/kvm — runs in the VM tier (make check-vm)")
    img = _image()
    if not img:
        pytest.skip("needs build/images/debian-vm.{meta.tar.gz,img} (make images)")
    name = "t-agent-vm"
    isola.run("image", "import", str(img[0]), str(img[1]), "--alias", "debian-vm-agent", timeout=600)
    isola.run("launch", "debian-vm-agent", name, "--vm", "-c", "limits.memory=768MiB", timeout=300)
    # the first exec waits for the guest to boot far enough to run its agent
    env = dict(isola.env, ISOLA_AGENT_TIMEOUT="600")
    p = isola.run("exec", name, "--", "true", env=env, check=False, timeout=700)
    if p.returncode != 0:
        log = (isola.root / "instances" / name / "console.log")
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no console log)"
        isola.run("delete", "--force", name, check=False)
        pytest.fail("the VM's agent never answered: %s\nconsole:\n%s" % (p.stderr, tail))
    yield name
    isola.run("delete", "--force", name, check=False, timeout=120)
    isola.run("image", "delete", "debian-vm-agent", check=False)


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
