"""Shared fixtures for the host and VM tiers.

Tests that need something only the VM tier guarantees (cgroup v2 controllers, /dev/kvm) use the
`needs` helper: on the host they skip with the reason; under `--vm-tier` (make check-vm, inside
tests/vm/run) a missing capability is a failure, because the proving ground must provide it.
"""
import os
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("ISOLA_BUILD", REPO / "build"))
BIN = BUILD / "bin"


def pytest_addoption(parser):
    parser.addoption("--vm-tier", action="store_true", default=False,
                     help="running inside tests/vm/run: missing cgroup controllers or KVM fail instead of skip")


def pytest_configure(config):
    config.addinivalue_line("markers", "vm_only: runs only in the VM tier (needs the proving ground)")


def pytest_collection_modifyitems(config, items):
    """The VM tier re-runs only what the host tier cannot prove: tests that ask for the `needs` or
    `vm_tier` fixture (cgroup controllers, KVM, the proving ground itself). Everything else already ran
    on the host, and running it again under TCG would cost minutes and prove nothing new."""
    if not config.getoption("--vm-tier"):
        return
    keep, drop = [], []
    for item in items:
        wanted = {"needs", "vm_tier"} & set(getattr(item, "fixturenames", ()))
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def cgroup_controllers():
    try:
        return set(pathlib.Path("/sys/fs/cgroup/cgroup.controllers").read_text().split())
    except OSError:
        return set()


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


@pytest.fixture
def needs(request):
    """needs(cgroup={"memory","pids"}, kvm=True, tool="crun"): skip on the host with the reason, fail in the VM tier."""
    vm_tier = request.config.getoption("--vm-tier")

    def check(cgroup=(), kvm=False, tool=None):
        if vm_tier and not cgroup and not kvm:
            pytest.skip("needs neither cgroup controllers nor KVM: the host tier proves it")
        missing = []
        lacking = set(cgroup) - cgroup_controllers()
        if lacking:
            missing.append("cgroup v2 controllers %s (bound to cgroup v1 on this host)" % ",".join(sorted(lacking)))
        if kvm and not kvm_usable():
            missing.append("/dev/kvm")
        if tool and not shutil.which(tool):
            missing.append("the %s command" % tool)
        if not missing:
            return
        reason = "needs " + "; ".join(missing)
        if vm_tier and (lacking or kvm):
            pytest.fail("VM tier must provide it: " + reason)
        pytest.skip(reason + " — runs in the VM tier (make check-vm)")
    return check


@pytest.fixture(scope="session")
def vm_tier(request):
    return request.config.getoption("--vm-tier")
