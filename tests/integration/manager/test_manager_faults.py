"""Bad input and faults (issue 8): every one must fail with a clear message and leave state consistent."""
import fcntl
import os
import signal
import subprocess
import threading
import time

import pytest

from mgr_util import ISOLA


def names(isola):
    return {i["name"] for i in isola.json("list")}


@pytest.mark.parametrize("bad,why", [("1abc", "must not start with a digit"), ("-abc", "must not start with '-'"),
                                     ("a_b", "not allowed"), ("a.b", "not allowed"), ("x" * 64, "longer than 63"),
                                     ("abc-", "must not end with '-'")])
def test_invalid_names_rejected(isola, bad, why):
    before = names(isola)
    p = isola.run("launch", "busybox", "--", bad, check=False)
    assert p.returncode != 0, "launch accepted the name %r" % bad
    assert why in p.stderr, p.stderr
    assert names(isola) == before, "a rejected launch left an instance behind"


def test_duplicate_name(isola, name):
    isola.run("init", "busybox", name)
    p = isola.run("init", "busybox", name, check=False)
    assert p.returncode != 0 and "already exists" in p.stderr, p.stderr
    assert isola.instance(name)["status"] == "Stopped", "the original was disturbed by the duplicate"
    isola.run("delete", name)


def test_unknown_image(isola, name):
    p = isola.run("launch", "no-such-image-xyz", name, check=False)
    assert p.returncode != 0
    assert "no-such-image-xyz" in p.stderr, p.stderr
    assert isola.instance(name) is None, "an unknown image still recorded an instance"


def test_unknown_config_key_lists_valid_ones(isola, name):
    p = isola.run("launch", "busybox", name, "-c", "limits.memroy=1GiB", check=False)
    assert p.returncode != 0
    assert 'unknown config key "limits.memroy"' in p.stderr and "limits.memory" in p.stderr, p.stderr
    assert isola.instance(name) is None
    isola.run("init", "busybox", name)
    p = isola.run("config", "set", name, "security.privilegd=true", check=False)
    assert p.returncode != 0 and "security.privileged" in p.stderr, p.stderr
    p = isola.run("config", "set", name, "limits.cpu=lots", check=False)
    assert p.returncode != 0 and "limits.cpu" in p.stderr, p.stderr
    p = isola.run("config", "set", name, "volatile.eth0.hwaddr=00:11:22:33:44:55", check=False)
    assert p.returncode != 0 and "volatile" in p.stderr, p.stderr
    assert isola.run("config", "get", name, "limits.cpu").stdout.strip() == ""
    isola.run("delete", name)


def test_delete_running_needs_force(isola, name):
    isola.run("launch", "busybox", name)
    p = isola.run("delete", name, check=False)
    assert p.returncode != 0 and "--force" in p.stderr, p.stderr
    assert isola.instance(name)["status"] == "Running", "a refused delete stopped the instance"
    isola.run("delete", "--force", name)
    assert isola.instance(name) is None


def test_profile_in_use_cannot_be_deleted(isola, name):
    prof = "p-" + name[:50]
    isola.run("profile", "create", prof)
    isola.run("init", "busybox", name, "-p", "default", "-p", prof)
    p = isola.run("profile", "delete", prof, check=False)
    assert p.returncode != 0 and "in use" in p.stderr and name in p.stderr, p.stderr
    assert prof in {x["name"] for x in isola.json("profile", "list")}
    p = isola.run("profile", "delete", "default", check=False)
    assert p.returncode != 0
    isola.run("delete", name)
    isola.run("profile", "delete", prof)


def test_profile_change_that_breaks_a_user_is_refused(isola, name):
    prof = "q-" + name[:50]
    isola.run("profile", "create", prof)
    isola.run("init", "busybox", name, "-p", "default", "-p", prof)
    p = isola.run("profile", "device", "add", prof, "root2", "disk", "path=/", "pool=default", check=False)
    assert p.returncode != 0 and "more than one root disk" in p.stderr, p.stderr
    isola.run("delete", name)
    isola.run("profile", "delete", prof)


def test_kill9_after_record_leaves_broken_deletable(isola, name):
    """kill -9 while the launch holds a 'Creating' record: the next command sees Broken and can delete it."""
    env = dict(isola.env, ISOLA_TEST_CRASH_AFTER_RECORD="1")
    p = subprocess.Popen([str(ISOLA), "launch", "busybox", name], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    for _ in range(500):
        i = isola.instance(name)
        if i:
            break
        time.sleep(0.01)
    assert i is not None, "the launch never recorded the instance"
    assert i["status"] == "Creating", "while the launch runs the record says %s" % i["status"]
    p.send_signal(signal.SIGKILL)
    p.wait()
    i = isola.instance(name)
    assert i["status"] == "Broken", "after kill -9 the instance shows %s, not Broken" % i["status"]
    r = isola.run("start", name, check=False)
    assert r.returncode != 0 and "broken" in r.stderr, r.stderr
    isola.run("delete", name)
    assert isola.instance(name) is None
    isola.run("launch", "busybox", name)  # the name is free again and works
    isola.run("delete", "--force", name)


@pytest.mark.parametrize("delay", [0.01, 0.05, 0.1, 0.2])
def test_kill9_at_random_points_is_consistent(isola, name, delay):
    p = subprocess.Popen([str(ISOLA), "launch", "busybox", name], env=isola.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    i = isola.instance(name)
    # absent, finished, or marked broken — never half-made and hidden
    assert i is None or i["status"] in ("Broken", "Stopped", "Running"), i
    if i is not None:
        isola.run("delete", "--force", name)
    assert isola.instance(name) is None
    leftover = isola.root / "storage-pools" / "default" / "containers" / name
    assert not leftover.exists(), "delete left the volume %s" % leftover


def test_two_commands_on_one_instance_serialise(isola, name):
    isola.run("init", "busybox", name)
    lock = isola.root / "locks" / ("instance-%s.lock" % name)
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    p = subprocess.Popen([str(ISOLA), "snapshot", "create", name, "held"], env=isola.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        # while another holder has the lock, the command waits rather than interleaving
        with pytest.raises(subprocess.TimeoutExpired):
            p.wait(1.0)
        assert [s["name"] for s in isola.json("snapshot", "list", name)] == []
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert p.wait(30) == 0, p.stderr.read()
    # many at once: all succeed, each once, and the database agrees with the disk
    procs = [subprocess.Popen([str(ISOLA), "snapshot", "create", name], env=isola.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    made = []
    for q in procs:
        out, errout = q.communicate(timeout=60)
        assert q.returncode == 0, errout
        made.append(out.strip())
    assert len(set(made)) == 6, made
    listed = {s["name"] for s in isola.json("snapshot", "list", name)}
    assert listed == set(made) | {"held"}
    on_disk = set(os.listdir(isola.root / "storage-pools" / "default" / "snapshots" / name))
    assert on_disk == listed
    isola.run("delete", name)


def test_bad_devices_and_formats(isola, name):
    isola.run("init", "busybox", name)
    p = isola.run("config", "device", "add", name, "gpu0", "gpu", check=False)
    assert p.returncode != 0 and "gpu" in p.stderr
    p = isola.run("config", "device", "add", name, "eth1", "nic", "network=x", "speed=9", check=False)
    assert p.returncode != 0 and 'unknown nic key "speed"' in p.stderr
    p = isola.run("list", "--format", "xml", check=False)
    assert p.returncode != 0 and "table, csv, json or yaml" in p.stderr
    p = isola.run("exec", "nope-" + name, "--", "true", check=False)
    assert p.returncode != 0 and "not found" in p.stderr
    p = isola.run("file", "push", "/etc/hostname", name + "/../../etc/x", check=False)
    isola.run("delete", name)
