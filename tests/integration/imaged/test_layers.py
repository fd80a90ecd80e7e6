"""Shared read-only lower layers: one mount however many holders, refcounts that survive a restart,
unmount on the last release, and the --explain trace of the loop + mount steps."""
import errno
import os
import pathlib
import subprocess
import time

import pytest

import imaged_util as U


def layer_mounts(d, fp):
    return U.mounts_under(d.store / fp / "tree/rootfs")


def loop_devices_for(fp):
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if fp in l]


def test_fifty_acquires_cost_one_squashfs_mount(imaged, split_image):
    fp = imaged.call("image.import", paths=[str(p) for p in split_image])["fingerprint"]
    paths = set()
    for i in range(50):
        r = imaged.call("layer.acquire", ref=fp, holder="c%d" % i)
        assert r["mounted"] == (i == 0), "holder %d: mounted=%s" % (i, r["mounted"])
        paths.add(r["path"])
    assert len(paths) == 1
    path = pathlib.Path(paths.pop())
    lines = layer_mounts(imaged, fp)
    assert len(lines) == 1, "50 holders gave %d mounts:\n%s" % (len(lines), "\n".join(lines))
    fields = lines[0].split()
    assert lines[0].split(" - ")[1].startswith("squashfs "), lines[0]
    assert "ro" in fields[5].split(",") and "nodev" in fields[5].split(","), "mount options %s" % fields[5]
    assert (path / "bin/busybox").is_file()
    with pytest.raises(OSError) as e:
        (path / "newfile").write_text("x")
    assert e.value.errno == errno.EROFS
    assert len(loop_devices_for(fp)) == 1
    # acquire is idempotent per holder
    assert imaged.call("layer.acquire", ref=fp, holder="c0")["holders"] == 50
    for i in range(49):
        assert imaged.call("layer.release", ref=fp, holder="c%d" % i)["holders"] == 49 - i
        assert len(layer_mounts(imaged, fp)) == 1
    imaged.call("layer.release", ref=fp, holder="c49")
    assert layer_mounts(imaged, fp) == [], "the last release must unmount"
    # the kernel detaches an autoclear loop device when its last opener goes, which after umount can
    # happen a moment later (deferred fput): wait for the event, not for a time
    for _ in range(200):
        if not loop_devices_for(fp):
            break
        time.sleep(0.05)
    assert loop_devices_for(fp) == [], "LO_FLAGS_AUTOCLEAR should have freed the loop device"


def test_tree_image_is_a_readonly_bind_mount(imaged, unified_image):
    fp = imaged.call("image.import", path=str(unified_image))["fingerprint"]
    path = pathlib.Path(imaged.call("layer.acquire", ref=fp, holder="a")["path"])
    imaged.call("layer.acquire", ref=fp, holder="b")
    assert len(layer_mounts(imaged, fp)) == 1
    assert (path / "bin/busybox").is_file()
    with pytest.raises(OSError) as e:
        (path / "etc/passwd").write_text("x")
    assert e.value.errno == errno.EROFS
    imaged.call("layer.release", ref=fp, holder="a")
    imaged.call("layer.release", ref=fp, holder="b")
    assert layer_mounts(imaged, fp) == []
    (path / "etc").stat()  # the tree itself is still there


def test_delete_refused_while_held(imaged, split_image):
    fp = imaged.call("image.import", paths=[str(p) for p in split_image])["fingerprint"]
    imaged.call("layer.acquire", ref=fp, holder="inst")
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.delete", ref=fp)
    assert e.value.errno == errno.EBUSY and "in use" in str(e.value)
    with pytest.raises(U.ImagedError) as e:
        imaged.call("layer.release", ref=fp, holder="nobody")
    assert e.value.errno == errno.ENOENT
    imaged.call("layer.release", ref=fp, holder="inst")
    imaged.call("image.delete", ref=fp)
    assert not (imaged.store / fp).exists()


def test_holders_survive_restart(imaged, split_image):
    fp = imaged.call("image.import", paths=[str(p) for p in split_image])["fingerprint"]
    imaged.call("layer.acquire", ref=fp, holder="a")
    imaged.call("layer.acquire", ref=fp, holder="b")
    imaged.restart()
    st = imaged.call("status")
    assert [(l["fingerprint"], sorted(l["holders"])) for l in st["layers"]] == [(fp, ["a", "b"])]
    assert len(layer_mounts(imaged, fp)) == 1
    # the mount disappeared behind our back (a reboot): the next start mounts it again for its holders
    imaged.stop()
    subprocess.run(["umount", str(imaged.store / fp / "tree/rootfs")], check=True)
    imaged.start()
    assert len(layer_mounts(imaged, fp)) == 1, "holders exist, so the restart must re-mount"
    imaged.call("layer.release", ref=fp, holder="a")
    imaged.call("layer.release", ref=fp, holder="b")
    assert layer_mounts(imaged, fp) == []


def test_vm_image_hands_out_the_raw_disk(imaged, tmp_path, needs):
    needs(tool="qemu-img")
    raw = tmp_path / "disk.raw"
    with open(raw, "wb") as f:
        f.truncate(4 << 20)
        f.seek(1 << 20)
        f.write(b"ISOLA-VM-DISK" * 100)
    qcow = tmp_path / "rootfs.img"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(qcow)], check=True)
    meta = U.make_metadata_tarball(tmp_path / "meta.tar.gz")
    r = imaged.call("image.import", paths=[str(meta), str(qcow)])
    assert r["type"] == "virtual-machine" and r["fingerprint"] == U.sha256sum(meta, qcow)
    a = imaged.call("layer.acquire", ref=r["fingerprint"], holder="vm1")
    assert a["path"].endswith("/disk.raw") and a["mounted"] is False
    assert U.sha256sum(a["path"]) == U.sha256sum(raw), "qcow2 → raw conversion changed the disk"
    imaged.call("layer.release", ref=r["fingerprint"], holder="vm1")


def test_vm_image_raw_ext4_disk_stays_sparse(imaged, tmp_path, needs):
    needs(tool="mkfs.ext4")
    raw = tmp_path / "rootfs.img"
    with open(raw, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "isola-root", str(raw)], check=True)
    meta = U.make_metadata_tarball(tmp_path / "meta.tar.gz")
    r = imaged.call("image.import", paths=[str(meta), str(raw)])
    assert r["type"] == "virtual-machine" and r["fingerprint"] == U.sha256sum(meta, raw)
    disk = imaged.store / r["fingerprint"] / "disk.raw"
    assert U.sha256sum(disk) == U.sha256sum(raw)
    assert disk.stat().st_blocks * 512 < (16 << 20), "a 64 MiB mostly-empty disk was copied densely"


def test_qcow2_with_backing_file_is_refused(imaged, tmp_path, needs):
    needs(tool="qemu-img")
    secret = tmp_path / "host-secret.raw"
    secret.write_bytes(b"SECRET" * 1000)
    qcow = tmp_path / "evil.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(secret), str(qcow)], check=True)
    meta = U.make_metadata_tarball(tmp_path / "meta.tar.gz")
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.import", paths=[str(meta), str(qcow)])
    assert "backing file refused" in str(e.value)
    assert imaged.tmp_dirs() == [] and imaged.call("image.list")["images"] == []


def test_squashfuse_mount(daemon_factory, split_image, needs):
    needs(tool="squashfuse")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("needs /dev/fuse (the fuse module is not loaded here)")
    d = daemon_factory("fuse", extra=["--squashfuse"])
    fp = d.call("image.import", paths=[str(p) for p in split_image])["fingerprint"]
    for h in ("a", "b", "c"):
        d.call("layer.acquire", ref=fp, holder=h)
    lines = layer_mounts(d, fp)
    assert len(lines) == 1 and "fuse" in lines[0].split(" - ")[1], lines
    assert (d.store / fp / "tree/rootfs/bin/busybox").is_file()
    assert d.call("status")["layers"][0]["mount"] == "squashfuse"
    for h in ("a", "b", "c"):
        d.call("layer.release", ref=fp, holder=h)
    assert layer_mounts(d, fp) == []


def test_explain_traces_loop_and_mount(daemon_factory, split_image):
    d = daemon_factory("explain", extra=["--explain"])
    fp = d.call("image.import", paths=[str(p) for p in split_image])["fingerprint"]
    d.call("layer.acquire", ref=fp, holder="x")
    d.call("layer.release", ref=fp, holder="x")
    log = d.log_text()
    for needle in ("LOOP_CTL_GET_FREE", "LOOP_CONFIGURE", "LO_FLAGS_READ_ONLY|LO_FLAGS_AUTOCLEAR",
                   'fsopen("squashfs"', "FSCONFIG_CMD_CREATE", "fsmount(", "MOUNT_ATTR_RDONLY", "move_mount(",
                   "umount2("):
        assert needle in log, "--explain did not trace %s:\n%s" % (needle, log)
    assert "[loop(4)]" in log and "imaged/layer.c:" in log
