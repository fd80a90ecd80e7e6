"""One host id allocator (runtime/idmap_alloc.h): instances launched with `isola` and containers booted
with `isola-runtime boot` on the same directory get disjoint 65,536-id blocks; an instance keeps its block
across stop/start and restart (its files are owned by it); `delete` gives it back."""
import json
import os
import shutil
import subprocess
import tempfile
import time

from mgr_util import BUILD

RUNTIME = BUILD / "bin" / "isola-runtime"


def uid_base(isola, name):
    pid = isola.instance(name)["state"]["pid"]
    fields = open("/proc/%d/uid_map" % pid).read().split()
    assert fields[0] == "0" and fields[2] == "65536", fields
    return int(fields[1])


def ranges(isola):
    doc = json.loads((isola.root / "idmap.json").read_text())
    return {r["owner"]: (r["base"], r["size"]) for r in doc["ranges"]}


def disjoint(a, b):
    return a[0] + a[1] <= b[0] or b[0] + b[1] <= a[0]


def rt(state, *args, timeout=120):
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = subprocess.run([str(RUNTIME), "--root", str(state), *map(str, args)], stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL, timeout=timeout).returncode
        out.seek(0)
        err.seek(0)
        return rc, out.read(), err.read()


def test_isola_and_runtime_boot_share_one_allocator(isola, name, tmp_path):
    a, b = name[:50] + "-a", name[:50] + "-b"
    isola.run("launch", "busybox", a)
    base_a = uid_base(isola, a)
    # a container booted by hand on the same directory (the default for both is /var/lib/isola)
    img = tmp_path / "img"
    img.mkdir()
    subprocess.run(["tar", "-xzf", str(isola.image), "-C", str(img), "--numeric-owner"], check=True)
    state = tmp_path / "state"
    cid = "mgr-idmap-" + name[-4:]
    rc, out, err = rt(state, "boot", "--rootfs", img / "rootfs", "--metadata", img / "metadata.yaml",
                      "--idmap-dir", isola.root, "--console-log", tmp_path / "c.log", "--timeout", 60, cid)
    assert rc == 0, err
    try:
        base_rt = json.loads(out)["host_id_base"]
        isola.run("launch", "busybox", b)
        base_b = uid_base(isola, b)
        blocks = [(base_a, 65536), (base_rt, 65536), (base_b, 65536)]
        for i in range(3):
            for j in range(i + 1, 3):
                assert disjoint(blocks[i], blocks[j]), blocks
        owners = ranges(isola)
        assert owners[cid] == (base_rt, 65536), owners
        assert sorted(v for k, v in owners.items() if k.startswith("instance:")) == sorted(
            [(base_a, 65536), (base_b, 65536)]), owners
        # restart and stop/start keep the block
        isola.run("restart", "--force", a)
        assert uid_base(isola, a) == base_a
        isola.run("stop", "--force", a)
        assert (base_a, 65536) in ranges(isola).values(), "a stopped instance keeps its block"
        isola.run("start", a)
        assert uid_base(isola, a) == base_a
        # delete gives the block back, and only that one
        isola.run("delete", "--force", a)
        after = ranges(isola)
        assert (base_a, 65536) not in after.values(), after
        assert after[cid] == (base_rt, 65536) and (base_b, 65536) in after.values(), after
    finally:
        rt(state, "halt", "--timeout", 30, "--idmap-dir", isola.root, cid)
        shutil.rmtree(img, ignore_errors=True)
        isola.run("delete", "--force", a, check=False)
        isola.run("delete", "--force", b, check=False)
    assert cid not in ranges(isola), "halt gives the runtime container's block back"


def test_poweroff_inside_cleans_up_and_keeps_the_block(isola, name):
    """init ending by itself (poweroff inside): the monitor undoes the boot with runtime_halt — no runtime
    state, no cgroup, no process of the block — the record says Stopped, and the block stays the
    instance's for its next start."""
    isola.run("launch", "busybox", name)
    base = uid_base(isola, name)
    pid = isola.instance(name)["state"]["pid"]
    assert (isola.run_dir / "runtime" / name / "state.json").exists()
    assert (isola.run_dir / "runtime-syscont" / name / "config.json").exists()
    isola.run("exec", name, "--", "poweroff", check=False)
    for _ in range(200):
        if isola.instance(name)["status"] == "Stopped":
            break
        time.sleep(0.1)
    assert isola.instance(name)["status"] == "Stopped"
    for _ in range(100):  # the monitor finishes its cleanup after recording Stopped
        if not (isola.run_dir / "runtime" / name).exists():
            break
        time.sleep(0.1)
    assert not (isola.run_dir / "runtime" / name).exists(), "runtime state left behind"
    assert not (isola.run_dir / ("runtime-syscont/" + name)).exists(), "syscont bundle left behind"
    assert not os.path.exists("/proc/%d" % pid)
    for cg in ("/sys/fs/cgroup/isola/" + name, "/sys/fs/cgroup/unified/isola/" + name):
        assert not os.path.exists(cg), cg + " left behind"
    survivors = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                uid = int(open("/proc/%s/status" % p).read().split("\nUid:\t")[1].split()[0])
            except (OSError, IndexError):
                continue
            if base <= uid < base + 65536:
                survivors.append(p)
    assert not survivors, "processes of the block survive: %s" % survivors
    assert (base, 65536) in ranges(isola).values()
    isola.run("start", name)
    assert uid_base(isola, name) == base
    isola.run("delete", "--force", name)
