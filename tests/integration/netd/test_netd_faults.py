"""isola-netd: bad input and faults. Each case checks the error (errno and a message naming what was wrong)
AND that nothing leaked: interfaces, addresses, nft tables and dnsmasq processes are counted before/after."""
import errno
import json
import os
import signal
import time

import pytest

from netdlib import NetdError, ipc_call, uniq
from test_netd import attach, create, expect_err, gw_of, ping


@pytest.mark.parametrize("cidr,words", [
    ("10.1.2.0/24", ["network or broadcast"]),
    ("10.1.2.255/24", ["network or broadcast"]),
    ("10.1.2.1", ["not an IPv4 CIDR"]),
    ("10.1.2.1/33", ["out of range"]),
    ("10.1.2.1/4", ["out of range"]),
    ("10.1.300.1/24", ["not an IPv4 address"]),
    ("127.0.0.1/24", ["unicast"]),
    ("224.1.1.1/24", ["unicast"]),
    ("10.1.2.1/24x", ["bad prefix"]),
    ("", ["not an IPv4 CIDR"]),
])
def test_invalid_ipv4_cidr(netd, cidr, words):
    before = netd.snapshot()
    expect_err(netd, {"op": "network.create", "name": "ntbad", "ipv4": cidr}, errno.EINVAL, words)
    assert netd.snapshot() == before
    assert netd.call({"op": "network.list"})["networks"] == []


@pytest.mark.parametrize("cidr,words", [
    ("2001:db8::1/64", ["unique local"]), ("fd00::1/48", ["/64"]), ("fd00::/64", ["host address"]),
    ("fd00::zz/64", ["not an IPv6 address"]),
])
def test_invalid_ipv6_cidr(netd, cidr, words):
    before = netd.snapshot()
    expect_err(netd, {"op": "network.create", "name": "ntbad", "ipv6": cidr}, errno.EINVAL, words)
    assert netd.snapshot() == before


def test_overlapping_cidr(netd):
    a = create(netd, "ntO" + uniq()[-6:], ipv4="10.44.0.1/16")
    before = netd.snapshot()
    expect_err(netd, {"op": "network.create", "name": "ntO2", "ipv4": "10.44.9.1/24"}, errno.EADDRINUSE,
               ["overlaps", a["name"]])
    # an address that is on the host (not ours) counts too
    netd.host.run("ip", "addr", "add", "10.99.0.1/16", "dev", "lo")
    before = netd.snapshot()
    expect_err(netd, {"op": "network.create", "name": "ntO3", "ipv4": "10.99.3.1/24"}, errno.EADDRINUSE,
               ["10.99.0.1/16", "already on this host"])
    assert netd.snapshot() == before
    # and "auto" never picks an overlapping subnet, even when the name's preferred slot is taken
    c = create(netd, "ntP" + uniq()[-6:])
    netd.call({"op": "network.delete", "name": c["name"]})
    netd.host.run("ip", "addr", "add", c["ipv4"], "dev", "lo")
    d = create(netd, c["name"])
    assert d["ipv4"] != c["ipv4"], "auto picked %s, which is on the host" % d["ipv4"]


@pytest.mark.parametrize("name", ["ntwaytoolongname", "nt/x", "nt x", "nt\tx", "", ".", "..", "nt:1", "nt\nx"])
def test_bad_network_names(netd, name):
    before = netd.snapshot()
    expect_err(netd, {"op": "network.create", "name": name}, errno.EINVAL, ["name"])
    assert netd.snapshot() == before


def test_bad_requests(netd, netns_factory):
    name = create(netd, "ntQ" + uniq()[-6:])["name"]
    before = netd.snapshot()
    expect_err(netd, {"op": "network.create", "name": "ntq", "ipv4_natt": True}, errno.EINVAL, ["unknown key", "ipv4_natt"])
    expect_err(netd, {"op": "network.create", "name": "ntq", "mtu": 100}, errno.EINVAL, ["mtu"])
    expect_err(netd, {"op": "network.create", "name": "ntq", "mtu": "1500"}, errno.EINVAL, ["mtu"])
    expect_err(netd, {"op": "network.create", "name": "ntq", "dns_domain": "bad_domain!"}, errno.EINVAL, ["dns_domain"])
    expect_err(netd, {"op": "network.create", "name": "ntq", "upstream_dns": "8.8.8.x"}, errno.EINVAL, ["upstream_dns"])
    expect_err(netd, {"op": "network.create", "name": name}, errno.EEXIST, [name, "already exists"])
    expect_err(netd, {"op": "network.frobnicate"}, errno.EOPNOTSUPP, ["unknown op"])
    expect_err(netd, {"nop": 1}, errno.EINVAL, ["op"])
    expect_err(netd, {"op": "network.set", "name": name, "key": "color", "value": 1}, errno.EINVAL, ["color"])
    expect_err(netd, {"op": "network.set", "name": name, "key": "mtu", "value": "big"}, errno.EINVAL, ["mtu"])
    expect_err(netd, {"op": "network.show", "name": "ntnope"}, errno.ENOENT, ["ntnope", "does not exist"])
    expect_err(netd, {"op": "network.delete", "name": "ntnope"}, errno.ENOENT, ["ntnope"])
    ns = netns_factory()
    fd = ns.fd()
    try:
        expect_err(netd, {"op": "attach", "network": name, "instance": "1bad", "kind": "veth"}, errno.EINVAL,
                   ["instance"], [fd])
        expect_err(netd, {"op": "attach", "network": name, "instance": "c1", "kind": "macvlan"}, errno.EINVAL,
                   ["kind"], [fd])
        expect_err(netd, {"op": "attach", "network": name, "instance": "c1", "kind": "veth"}, errno.EINVAL,
                   ["exactly one fd"])
        expect_err(netd, {"op": "attach", "network": name, "instance": "c1", "kind": "tap"}, errno.EINVAL,
                   ["takes no fd"], [fd])
        expect_err(netd, {"op": "attach", "network": name, "instance": "c1", "kind": "veth", "mac": "01:00:00:00:00:01"},
                   errno.EINVAL, ["multicast"], [fd])
        expect_err(netd, {"op": "network.list"}, errno.EINVAL, ["no file descriptors"], [fd])
    finally:
        os.close(fd)
    # a request that is not JSON at all
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(str(netd.sock))
    s.send(b"{not json")
    reply = json.loads(s.recv(65536))
    s.close()
    assert reply["ok"] is False and reply["errno"] == errno.EPROTO and "malformed" in reply["error"]
    assert netd.snapshot() == before
    assert netd.call({"op": "status"})["networks"] == 1


def test_attach_to_missing_network(netd, netns_factory):
    ns = netns_factory()
    before = netd.snapshot()
    with pytest.raises(NetdError) as e:
        attach(netd, ns, "ntmissing", "c1")
    assert e.value.errno == errno.ENOENT and "ntmissing" in e.value.msg
    assert netd.snapshot() == before
    assert len(ns.run("ip", "-o", "link").stdout.splitlines()) == 1, "something appeared in the instance netns"


def test_same_instance_attached_twice(netd, netns_factory):
    name = create(netd, "ntW" + uniq()[-6:])["name"]
    n1, n2 = netns_factory(), netns_factory()
    attach(netd, n1, name, "c1", static=True)
    before = netd.snapshot()
    with pytest.raises(NetdError) as e:
        attach(netd, n2, name, "c1")
    assert e.value.errno == errno.EEXIST and "already attached" in e.value.msg
    assert netd.snapshot() == before
    assert "eth0" not in n2.run("ip", "-o", "link").stdout
    # the same ifname already present in the instance's netns: a clear error, nothing left behind
    with pytest.raises(NetdError) as e:
        attach(netd, n1, name, "c2")
    assert e.value.errno == errno.EEXIST and "eth0" in e.value.msg
    assert netd.snapshot() == before
    assert "c2" not in [a["instance"] for a in netd.call({"op": "network.show", "name": name})["network"]["attachments"]]


def test_detach_unknown_instance(netd):
    name = create(netd, "ntU" + uniq()[-6:])["name"]
    before = netd.snapshot()
    expect_err(netd, {"op": "detach", "network": name, "instance": "ghost"}, errno.ENOENT, ["ghost", "not attached"])
    expect_err(netd, {"op": "detach", "network": "ntnone", "instance": "ghost"}, errno.ENOENT, ["ntnone"])
    assert netd.snapshot() == before


def test_fd_that_is_not_a_netns(netd, tmp_path):
    name = create(netd, "ntX" + uniq()[-6:])["name"]
    before = netd.snapshot()
    f = tmp_path / "plain"
    f.write_text("x")
    for path, words in ((str(f), ["not a namespace"]), ("/proc/self/ns/mnt", ["not a network namespace"])):
        fd = os.open(path, os.O_RDONLY)
        try:
            expect_err(netd, {"op": "attach", "network": name, "instance": "c1", "kind": "veth"}, errno.EINVAL, words,
                       [fd])
        finally:
            os.close(fd)
    assert netd.snapshot() == before
    assert netd.call({"op": "network.show", "name": name})["network"]["attachments"] == []


def test_sigkill_mid_attach_then_restart(netd, netns_factory):
    name = create(netd, "ntK" + uniq()[-6:])["name"]
    ns = netns_factory()
    before = netd.snapshot()
    netd.stop()
    netd.start(["--fault-point", "attach"])
    fd = ns.fd()
    import threading
    result = {}

    def call():
        try:
            attach(netd, ns, name, "c1", static=True)
            result["ok"] = True
        except (NetdError, OSError) as e:
            result["err"] = e
    t = threading.Thread(target=call)
    t.start()
    marker = netd.state / "fault-attach"
    for _ in range(200):
        if marker.exists():
            break
        time.sleep(0.05)
    os.close(fd)
    assert marker.exists(), "netd never reached the attach fault point"
    # the half-made attachment really exists at this point: veth on the bridge, peer in the instance
    assert any(l.startswith("isv") for l in netd.links())
    assert "eth0" in ns.run("ip", "-o", "link").stdout
    netd.stop(signal.SIGKILL)
    t.join(10)
    assert "err" in result, "the client did not see the failure: %s" % result
    marker.unlink()
    netd.start([])
    after = netd.snapshot()
    assert after == before, "leaked after SIGKILL mid-attach + restart:\nbefore %s\nafter  %s" % (before, after)
    assert "eth0" not in ns.run("ip", "-o", "link").stdout, "the veth peer survived in the instance netns"
    assert netd.call({"op": "network.show", "name": name})["network"]["attachments"] == []
    a = attach(netd, ns, name, "c1", static=True)  # and the same attach now works
    ping(ns, gw_of(netd.call({"op": "network.show", "name": name})["network"]))
    assert a["ipv4"]


def test_sigkill_mid_create_then_restart(netd):
    before = netd.snapshot()
    netd.stop()
    netd.start(["--fault-point", "network.create"])
    import threading
    t = threading.Thread(target=lambda: pytest.raises(Exception, netd.call, {"op": "network.create", "name": "ntHalf"}))
    t.start()
    marker = netd.state / "fault-network.create"
    for _ in range(200):
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists(), "netd never reached the create fault point"
    assert "ntHalf" in netd.links()
    netd.stop(signal.SIGKILL)
    t.join(10)
    marker.unlink()
    netd.start([])
    assert netd.snapshot() == before, "a half-created network survived the restart"
    assert netd.call({"op": "network.list"})["networks"] == []


def test_corrupt_state_refuses_to_start(netd):
    create(netd, "ntC" + uniq()[-6:])
    netd.stop()
    good = (netd.state / "state.json").read_text()
    (netd.state / "state.json").write_text(good[:len(good) // 2])
    with pytest.raises(AssertionError) as e:
        netd.start()
    assert "refusing to start" in str(e.value) and "state.json" in str(e.value)
    assert (netd.state / "state.json").read_text() == good[:len(good) // 2], "netd rewrote a state it could not read"
    (netd.state / "state.json").write_text(good)
    netd.start()
    assert len(netd.call({"op": "network.list"})["networks"]) == 1


def test_second_netd_on_the_same_state_is_refused(netd):
    import subprocess
    from netdlib import BIN
    r = subprocess.run(["ip", "netns", "exec", netd.host.name, str(BIN), "--socket", str(netd.dir / "other.sock"),
                        "--state-dir", str(netd.state)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "another isola-netd owns" in r.stderr, r.stderr
    assert netd.call({"op": "status"})["pid"] > 0
