"""A VM guest on an isola-netd bridge (VM tier): netd creates the bridge and its dnsmasq inside a network
namespace of the test's own (netdlib.Netd), hands a tap fd over `attach` (kind tap), isola-vmm boots the
busybox test initramfs with `--net fd=N,mac=<the MAC netd reserved>`, and the guest's udhcpc gets exactly
netd's reserved address and pings the bridge's host address. No NAT: nothing leaves the test's bridge."""
import os
import pathlib
import re
import shutil
import sys

import pytest

from vmm_helpers import make_vmm_runner

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "netd"))
from netdlib import BIN as NETD_BIN, Netd, uniq  # noqa: E402


@pytest.fixture
def vmm(needs):
    return make_vmm_runner(needs)


@pytest.fixture
def netd(needs, tmp_path):
    needs(kvm=True, tool="/usr/sbin/dnsmasq")
    if not NETD_BIN.exists():
        pytest.fail("%s is not built (make)" % NETD_BIN)
    d = Netd(tmp_path, "vmm" + uniq())
    yield d
    d.close()


def test_guest_gets_netd_reserved_address_by_dhcp_and_pings_bridge(vmm, netd):
    name = "vmmbr%s" % uniq()  # bridge names: at most 15 bytes
    net = netd.call({"op": "network.create", "name": name, "ipv4": "auto", "ipv4_nat": False,
                     "dhcp": True})["network"]
    m, fds = netd.call_fds({"op": "attach", "network": name, "instance": "vm1", "kind": "tap"})
    assert len(fds) == 1, "netd sent %d fds for a tap" % len(fds)
    tap = fds[0]
    try:
        gw, mac, want = m["gateway4"], m["mac"], m["ipv4"]
        p = vmm("--net", "fd=%d,mac=%s" % (tap, mac), pass_fds=(tap,),
                cmdline="isola.test=dhcp isola.peer=%s" % gw)
    finally:
        os.close(tap)
    out = p.stdout + p.stderr
    # the virtio-net config MAC is the one netd reserved the address for...
    assert "MAC %s" % mac in p.stdout, "guest NIC MAC is not netd's %s:\n%s" % (mac, out)
    # ...so dnsmasq's reservation hands the guest exactly that address
    got = re.search(r"DHCP-ADDR (\S+)", p.stdout)
    assert got, "the guest got no DHCP lease from netd's dnsmasq on %s (%s):\n%s" % (name, net, out)
    assert got.group(1) == want, "DHCP gave %s, netd reserved %s for MAC %s" % (got.group(1), want, mac)
    assert "PING-OK %s" % gw in p.stdout, "guest could not ping the bridge address %s:\n%s" % (gw, out)
    assert p.returncode == 0, out
    leases = netd.call({"op": "network.leases", "name": name})["leases"]
    # dnsmasq's lease file (kind "dynamic"), not only netd's reservation
    assert any(l.get("kind") == "dynamic" and l.get("mac") == mac and l.get("ipv4") == want for l in leases), \
        "netd lists no dnsmasq lease of %s for %s: %s" % (want, mac, leases)
    netd.call({"op": "detach", "network": name, "instance": "vm1"})
    netd.call({"op": "network.delete", "name": name})


def test_vmm_refuses_a_multicast_mac_before_booting(tmp_path):
    """Host tier too: the argument check needs no KVM."""
    vmm = pathlib.Path(os.environ.get("ISOLA_BUILD", pathlib.Path(__file__).resolve().parents[3] / "build"))
    vmm = vmm / "bin" / "isola-vmm"
    if not vmm.exists():
        pytest.fail("%s is not built (make)" % vmm)
    import subprocess
    for spec, words in (("fd=3,mac=01:00:5e:00:00:01", "multicast"), ("tap=x,mac=00:00:00:00:00:00", "all-zero"),
                        ("fd=3,mac=02:00:00:00:00", "six hex pairs")):
        p = subprocess.run([str(vmm), "--kernel", "/nonexistent", "--net", spec], capture_output=True, text=True)
        assert p.returncode == 1 and words in p.stderr, (spec, p.returncode, p.stderr)
