import os
import shutil

import pytest

from netdlib import BIN, Netd, Netns, uniq


@pytest.fixture
def netd(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("isola-netd tests need root (netlink, netns, nftables)")
    if not BIN.exists():
        pytest.fail("%s is not built (make)" % BIN)
    for tool in ("ip", "nft", "busybox", "ping", "/usr/sbin/dnsmasq"):
        if not shutil.which(tool):
            pytest.fail("the %s command is needed by the netd tests (make deps)" % tool)
    d = Netd(tmp_path, uniq())
    yield d
    d.close()


@pytest.fixture
def netns_factory():
    made = []

    def make(role="i"):
        ns = Netns("nt-%s-%s" % (role, uniq()))
        made.append(ns)
        ns.run("ip", "link", "set", "lo", "up")
        return ns
    yield make
    for ns in made:
        ns.close()
