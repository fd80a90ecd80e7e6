"""isola-netd, host tier: real bridges, veths, taps, dnsmasq and nftables inside network namespaces the
tests create (the daemon itself runs in a private 'host' netns, see netdlib.py)."""
import errno
import fcntl
import os
import pathlib
import signal
import struct
import subprocess
import time

import pytest

from netdlib import NetdError, dhcp_script, dns_query, sh, uniq


def attach(netd, ns, net, inst, **kw):
    fd = ns.fd()
    try:
        req = {"op": "attach", "network": net, "instance": inst, "kind": "veth"}
        req.update(kw)
        return netd.call(req, [fd])
    finally:
        os.close(fd)


def create(netd, name, **kw):
    req = {"op": "network.create", "name": name}
    req.update(kw)
    return netd.call(req)["network"]


def gw_of(net):
    return net["ipv4"].split("/")[0]


def ping(ns, addr, count=1, check=True):
    r = ns.run("ping", "-c", str(count), "-W", "2", addr, check=False)
    if check:
        assert r.returncode == 0, "ping %s from %s failed: %s %s" % (addr, ns.name, r.stdout, r.stderr)
    return r.returncode == 0


def udhcpc(ns, tmp_path):
    script = dhcp_script(tmp_path / ("dhcp-%s.sh" % ns.name))
    r = ns.run("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "8", "-T", "1", "-s", str(script),
               check=False, timeout=60)
    assert r.returncode == 0, "udhcpc in %s got no lease: %s %s" % (ns.name, r.stdout, r.stderr)
    return pathlib.Path(str(script) + ".lease").read_text().strip()


def resolv_conf(ns, server, domain="isola"):
    d = pathlib.Path("/etc/netns") / ns.name
    d.mkdir(parents=True, exist_ok=True)
    (d / "resolv.conf").write_text("nameserver %s\nsearch %s\n" % (server, domain))
    return d


def expect_err(netd, req, code, words, fds=()):
    with pytest.raises(NetdError) as e:
        netd.call(req, fds)
    assert e.value.errno == code, "%s: expected errno %d, got %s" % (req, code, e.value)
    for w in words:
        assert w in e.value.msg, "%s: error %r does not mention %r" % (req, e.value.msg, w)
    return e.value


def test_dhcp_and_static_instances_ping_by_address_and_name(netd, netns_factory, tmp_path):
    net = create(netd, "ntA" + uniq()[-6:])
    name, gw = net["name"], gw_of(net)
    n1, n2 = netns_factory(), netns_factory()
    a1 = attach(netd, n1, name, "c1")                  # DHCP
    a2 = attach(netd, n2, name, "c2", static=True)    # configured by netd over netlink
    assert a1["gateway4"] == gw and a2["gateway4"] == gw
    leased = udhcpc(n1, tmp_path)
    assert leased == a1["ipv4"], "DHCP gave %s, netd reserved %s" % (leased, a1["ipv4"])
    assert a2["ipv4"] in n2.run("ip", "-4", "addr", "show", "eth0").stdout
    assert "default via %s" % gw in n2.run("ip", "route").stdout
    mac = n1.run("cat", "/sys/class/net/eth0/address").stdout.strip()
    assert mac == a1["mac"], "instance MAC %s is not the one netd reported (%s)" % (mac, a1["mac"])
    ping(n1, a2["ipv4"])
    ping(n2, a1["ipv4"])
    assert dns_query(n1.name, gw, "c2.isola") == [a2["ipv4"]]
    assert dns_query(n2.name, gw, "c1.isola") == [a1["ipv4"]]
    dirs = [resolv_conf(n1, gw), resolv_conf(n2, gw)]
    try:
        ping(n1, "c2.isola")
        ping(n2, "c1")  # through the search domain
    finally:
        for d in dirs:
            (d / "resolv.conf").unlink()
            d.rmdir()
    leases = netd.call({"op": "network.leases", "name": name})["leases"]
    dyn = [l for l in leases if l["kind"] == "dynamic"]
    assert any(l.get("instance") == "c1" and l["ipv4"] == a1["ipv4"] for l in dyn), leases
    assert any(l["instance"] == "c2" and l["kind"] == "static" for l in leases), leases


def test_stable_mac_and_caller_choices(netd, netns_factory):
    name = create(netd, "ntM" + uniq()[-6:], ipv4="10.231.7.1/24")["name"]
    n1, n2 = netns_factory(), netns_factory()
    a = attach(netd, n1, name, "web", static=True)
    netd.call({"op": "detach", "network": name, "instance": "web"})
    b = attach(netd, n1, name, "web", static=True)
    assert a["mac"] == b["mac"], "MAC of the same instance changed across attaches"
    c = attach(netd, n2, name, "db", static=True, ipv4="10.231.7.50", mac="0a:00:00:00:00:50", ifname="net1", mtu=1400)
    assert c["ipv4"] == "10.231.7.50" and c["mac"] == "0a:00:00:00:00:50"
    out = n2.run("ip", "-o", "link", "show", "net1").stdout
    assert "mtu 1400" in out and "0a:00:00:00:00:50" in out, out
    expect_err(netd, {"op": "attach", "network": name, "instance": "x9", "kind": "tap", "ipv4": "10.231.7.50"},
               errno.EADDRINUSE, ["10.231.7.50"])
    expect_err(netd, {"op": "attach", "network": name, "instance": "x9", "kind": "tap", "ipv4": "10.9.9.9"},
               errno.EINVAL, ["10.9.9.9"])


def test_other_network_cannot_reach(netd, netns_factory):
    a = create(netd, "ntA" + uniq()[-6:])
    b = create(netd, "ntB" + uniq()[-6:])
    na, nb = netns_factory(), netns_factory()
    ia = attach(netd, na, a["name"], "ca", static=True)
    attach(netd, nb, b["name"], "cb", static=True)
    ping(nb, gw_of(b))
    ping(nb, gw_of(a))  # the host itself is reachable: routing works...
    assert not ping(nb, ia["ipv4"], check=False), "an instance on %s reached one on %s" % (b["name"], a["name"])
    assert dns_query(nb.name, gw_of(b), "ca.isola") == [], "network B's DNS answers for network A's instance"


def make_uplink(netd, netns_factory):
    """An 'uplink' netns joined to netd's host netns by a veth; it becomes the host's default route. The uplink
    has no route back to any isola subnet, so only masqueraded traffic can be answered."""
    up = netns_factory("u")
    t = uniq()[-6:]
    sh("ip", "link", "add", "ntu" + t, "type", "veth", "peer", "name", "ntp" + t, ns=netd.host.name)
    netd.host.run("ip", "link", "set", "ntp" + t, "netns", up.name)
    netd.host.run("ip", "addr", "add", "198.18.0.1/30", "dev", "ntu" + t)
    netd.host.run("ip", "link", "set", "ntu" + t, "up")
    netd.host.run("ip", "route", "add", "default", "via", "198.18.0.2")
    up.run("ip", "addr", "add", "198.18.0.2/30", "dev", "ntp" + t)
    up.run("ip", "link", "set", "ntp" + t, "up")
    return up


SOURCE_ECHO = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
print("ready", flush=True)
while True:
    c, peer = s.accept()
    c.sendall(peer[0].encode()); c.close()
'''

CONNECT = r'''
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
print(s.recv(100).decode())
'''


def listener(ns, port):
    p = ns.popen("/usr/bin/python3", "-c", SOURCE_ECHO, str(port), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True)
    assert p.stdout.readline().strip() == "ready", p.stderr.read()
    return p


def connect(ns, addr, port):
    r = ns.run("/usr/bin/python3", "-c", CONNECT, addr, str(port), check=False, timeout=20)
    return r.stdout.strip() if r.returncode == 0 else None


def test_nat_masquerades_to_the_uplink(netd, netns_factory):
    net = create(netd, "ntN" + uniq()[-6:])
    up = make_uplink(netd, netns_factory)
    inst = netns_factory()
    attach(netd, inst, net["name"], "c1", static=True)
    srv = listener(up, 7000)
    try:
        seen = connect(inst, "198.18.0.2", 7000)
        assert seen == "198.18.0.1", "uplink saw source %r, wanted the host's uplink address (masquerade)" % seen
        netd.call({"op": "network.set", "name": net["name"], "key": "ipv4_nat", "value": False})
        assert connect(inst, "198.18.0.2", 7000) is None, "without NAT the uplink (no route back) still answered"
        netd.call({"op": "network.set", "name": net["name"], "key": "ipv4_nat", "value": True})
        assert connect(inst, "198.18.0.2", 7000) == "198.18.0.1"
    finally:
        srv.kill()
        srv.wait()


def test_port_forward_reachable_from_the_host(netd, netns_factory):
    net = create(netd, "ntF" + uniq()[-6:])
    inst = netns_factory()
    a = attach(netd, inst, net["name"], "web", static=True)
    # the host address to listen on: an extra address on lo of netd's private host netns (127.0.0.1 itself
    # would need net.ipv4.conf.*.route_localnet, see docs/netd.md)
    netd.host.run("ip", "addr", "add", "198.51.100.1/32", "dev", "lo")
    srv = listener(inst, 80)
    try:
        assert connect(netd.host, "198.51.100.1", 8080) is None, "port 8080 answered before any forward"
        netd.call({"op": "forward.add", "network": net["name"], "listen": "198.51.100.1:8080", "proto": "tcp",
                   "target": a["ipv4"] + ":80"})
        netd.call({"op": "forward.add", "network": net["name"], "listen": "0.0.0.0:8081", "target": a["ipv4"] + ":80"})
        assert connect(netd.host, "198.51.100.1", 8080) == "198.51.100.1"
        assert connect(netd.host, "198.51.100.1", 8081) == "198.51.100.1"
        fw = netd.call({"op": "forward.list", "network": net["name"]})["forwards"]
        assert {f["listen"] for f in fw} == {"198.51.100.1:8080", "0.0.0.0:8081"}
        expect_err(netd, {"op": "forward.add", "network": net["name"], "listen": "198.51.100.1:8080",
                          "target": a["ipv4"] + ":80"}, errno.EEXIST, ["8080"])
        expect_err(netd, {"op": "forward.add", "network": net["name"], "listen": "198.51.100.1:9",
                          "target": "192.0.2.9:80"}, errno.EINVAL, ["192.0.2.9"])
        netd.call({"op": "forward.delete", "network": net["name"], "listen": "198.51.100.1:8080", "proto": "tcp"})
        assert connect(netd.host, "198.51.100.1", 8080) is None, "forward still active after forward.delete"
        expect_err(netd, {"op": "forward.delete", "network": net["name"], "listen": "198.51.100.1:8080"},
                   errno.ENOENT, ["8080"])
    finally:
        srv.kill()
        srv.wait()


def test_detach_and_delete_leave_nothing(netd, netns_factory):
    before = netd.snapshot()
    net = create(netd, "ntD" + uniq()[-6:], ipv6="auto")
    n1 = netns_factory()
    attach(netd, n1, net["name"], "c1", static=True)
    m, fds = netd.call_fds({"op": "attach", "network": net["name"], "instance": "vm1", "kind": "tap"})
    for f in fds:
        os.close(f)
    netd.call({"op": "forward.add", "network": net["name"], "listen": "0.0.0.0:2222", "target": gw_of(net)[:-1] + "9:22"})
    during = netd.snapshot()
    assert net["name"] in during["links"] and m["host_ifname"] in during["links"]
    assert during["nft"] == before["nft"] + ["table inet isola-%s" % net["name"]]
    assert during["dnsmasq"] == before["dnsmasq"] + 1
    expect_err(netd, {"op": "network.delete", "name": net["name"]}, errno.EBUSY, ["attachment"])
    netd.call({"op": "detach", "network": net["name"], "instance": "c1"})
    netd.call({"op": "detach", "network": net["name"], "instance": "vm1"})
    assert "eth0" not in n1.run("ip", "-o", "link").stdout, "the veth peer survived detach"
    netd.call({"op": "network.delete", "name": net["name"]})
    assert netd.snapshot() == before
    assert not (netd.state / "networks" / net["name"]).exists()
    assert netd.call({"op": "network.list"})["networks"] == []


def test_tap_attach_hands_back_a_tap_fd(netd):
    net = create(netd, "ntT" + uniq()[-6:])
    m, fds = netd.call_fds({"op": "attach", "network": net["name"], "instance": "vm1", "kind": "tap", "vnet_hdr": True})
    try:
        assert len(fds) == 1, "tap attach returned %d fds" % len(fds)
        TUNGETIFF = 0x800454d2
        ifr = fcntl.ioctl(fds[0], TUNGETIFF, b"\0" * 40)
        name = ifr[:16].rstrip(b"\0").decode()
        flags = struct.unpack("H", ifr[16:18])[0]
        assert name == m["host_ifname"]
        assert flags & 0x0002 and flags & 0x1000 and flags & 0x4000, "flags %#x lack IFF_TAP|IFF_NO_PI|IFF_VNET_HDR" % flags
        assert "master %s" % net["name"] in netd.host.run("ip", "-o", "link", "show", name).stdout
    finally:
        for f in fds:
            os.close(f)


def test_restart_keeps_everything(netd, netns_factory, tmp_path):
    net = create(netd, "ntR" + uniq()[-6:])
    n1, n2 = netns_factory(), netns_factory()
    a1 = attach(netd, n1, net["name"], "c1")
    a2 = attach(netd, n2, net["name"], "c2", static=True)
    assert udhcpc(n1, tmp_path) == a1["ipv4"]
    ifindex = netd.host.run("cat", "/sys/class/net/%s/ifindex" % net["name"]).stdout
    dns_pid = netd.dnsmasq_pids()
    before = netd.call({"op": "network.show", "name": net["name"]})["network"]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        netd.stop(sig)
        ping(n1, a2["ipv4"])  # instances keep their network while netd is down
        netd.start()
        after = netd.call({"op": "network.show", "name": net["name"]})["network"]
        assert after["attachments"] == before["attachments"], "attachments changed across a restart (%s)" % sig
        assert netd.host.run("cat", "/sys/class/net/%s/ifindex" % net["name"]).stdout == ifindex, "bridge recreated"
        assert netd.dnsmasq_pids() == dns_pid, "dnsmasq was replaced instead of adopted"
        assert after["dnsmasq_pid"] == dns_pid[0]
        assert any(l["kind"] == "dynamic" and l["ipv4"] == a1["ipv4"] for l in after["leases"]), after["leases"]
        ping(n1, a2["ipv4"])
        ping(n2, a1["ipv4"])
        assert dns_query(n1.name, gw_of(net), "c2.isola") == [a2["ipv4"]]
    # and it keeps working: a new attachment after the restart
    n3 = netns_factory()
    a3 = attach(netd, n3, net["name"], "c3", static=True)
    ping(n3, a1["ipv4"])
    assert netd.call({"op": "status"})["attachments"] == 3


def test_dnsmasq_is_restarted_when_it_dies(netd):
    net = create(netd, "ntS" + uniq()[-6:])
    old = netd.dnsmasq_pids()
    assert len(old) == 1
    os.kill(old[0], signal.SIGKILL)
    for _ in range(100):
        new = netd.dnsmasq_pids()
        if new and new != old:
            break
        time.sleep(0.05)
    assert new and new != old, "dnsmasq was not restarted"
    st = netd.call({"op": "status"})
    assert st["dnsmasq"] == [{"network": net["name"], "pid": new[0], "running": True}]


def test_ipv6_static_instances(netd, netns_factory):
    net = create(netd, "ntV" + uniq()[-6:], ipv6="fd42:1:2:3::1/64")
    n1, n2 = netns_factory(), netns_factory()
    a1 = attach(netd, n1, net["name"], "c1", static=True)
    a2 = attach(netd, n2, net["name"], "c2", static=True, ipv6="fd42:1:2:3::20")
    assert a1["ipv6"].startswith("fd42:1:2:3:") and a2["ipv6"] == "fd42:1:2:3::20"
    for _ in range(50):  # the kernel needs the bridge port forwarding before v6 ND succeeds
        if ping(n1, a2["ipv6"], check=False):
            break
        time.sleep(0.1)
    ping(n1, a2["ipv6"])
    ping(n2, "fd42:1:2:3::1")


def test_explain_traces_netlink_and_nft(netd):
    netd.stop()
    netd.start(["--explain"])
    create(netd, "ntE" + uniq()[-6:])
    log = netd.log_text()
    for needle in ("RTM_NEWLINK(kind=bridge", "RTM_NEWADDR(", "[rtnetlink(7)]", "nft_run_cmd_from_buffer",
                   "nft batch:", "dnsmasq: /usr/sbin/dnsmasq --keep-in-foreground", "RTM_GETROUTE"):
        assert needle in log, "--explain output lacks %r" % needle
