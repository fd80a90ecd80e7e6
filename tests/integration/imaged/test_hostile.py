"""Bad input: every entry of an image is hostile. Each test tries one attack or one kind of damage and
checks for a clear error, nothing written outside the store, and nothing half-imported inside it."""
import errno
import gzip
import os
import pathlib
import stat
import subprocess
import tarfile

import pytest

import imaged_util as U


def refused(imaged, path, *needles, err=None, **kw):
    before = imaged.call("image.list")["images"]
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.import", path=str(path), **kw)
    msg = str(e.value)
    for n in needles:
        assert n in msg, "error %r does not say %r" % (msg, n)
    if err is not None:
        assert e.value.errno == err, "errno %d, expected %d (%s)" % (e.value.errno, err, msg)
    assert imaged.call("image.list")["images"] == before, "a refused import changed the image list"
    assert imaged.tmp_dirs() == [], "a refused import left %s" % imaged.tmp_dirs()
    assert [n for n in imaged.store_entries() if len(n) == 64] == [i["fingerprint"] for i in before]
    return msg


def test_truncated_tarball(imaged, unified_image, tmp_path):
    data = unified_image.read_bytes()
    p = tmp_path / "trunc.tar.gz"
    p.write_bytes(data[: len(data) // 2])
    refused(imaged, p, "truncated")


def test_corrupt_tarball(imaged, unified_image, tmp_path):
    data = bytearray(unified_image.read_bytes())
    for i in range(2000, 2600):
        data[i] ^= 0x5A
    p = tmp_path / "corrupt.tar.gz"
    p.write_bytes(bytes(data))
    refused(imaged, p, "unpack")


def test_not_an_archive(imaged, tmp_path):
    p = tmp_path / "junk.tar.gz"
    p.write_bytes(gzip.compress(b"this is not a tar archive at all" * 100))
    refused(imaged, p)


def test_dotdot_entry(imaged, tmp_path):
    victim = tmp_path / "victim"
    p = U.hostile_tarball(tmp_path / "dotdot.tar.gz",
                          [lambda t: U.add_bytes(t, "rootfs/../../../../../../%s" % victim, b"pwned")])
    refused(imaged, p, '".." component refused', err=errno.EINVAL)
    assert not victim.exists()


def test_absolute_entry(imaged, tmp_path):
    victim = tmp_path / "abs-victim"
    p = U.hostile_tarball(tmp_path / "abs.tar.gz", [lambda t: U.add_bytes(t, str(victim), b"pwned")])
    refused(imaged, p, "absolute path refused", err=errno.EINVAL)
    assert not victim.exists()


def test_symlink_then_file_escape(imaged, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    p = U.hostile_tarball(tmp_path / "symfile.tar.gz", [
        lambda t: U.add_entry(t, "rootfs/escape", tarfile.SYMTYPE, linkname=str(outside)),
        lambda t: U.add_bytes(t, "rootfs/escape/pwned", b"pwned"),
    ])
    refused(imaged, p, 'would write through the symlink "rootfs/escape"', err=errno.EINVAL)
    assert list(outside.iterdir()) == [], "a file was written through the symlink"


def test_relative_symlink_then_file_escape(imaged, tmp_path):
    outside = tmp_path / "outside2"
    outside.mkdir()
    rel = os.path.relpath(outside, imaged.store)  # relative from somewhere in the store up and out
    p = U.hostile_tarball(tmp_path / "symfile2.tar.gz", [
        lambda t: U.add_entry(t, "rootfs/up", tarfile.SYMTYPE, linkname="../../../../../../../../" + rel),
        lambda t: U.add_bytes(t, "rootfs/up/pwned", b"pwned"),
    ])
    refused(imaged, p, "symlink")
    assert list(outside.iterdir()) == []


def test_symlink_then_overwrite_final_component(imaged, tmp_path):
    target = tmp_path / "target-file"
    target.write_text("original")
    p = U.hostile_tarball(tmp_path / "symover.tar.gz", [
        lambda t: U.add_entry(t, "rootfs/f", tarfile.SYMTYPE, linkname=str(target)),
        lambda t: U.add_bytes(t, "rootfs/f", b"pwned"),
    ])
    refused(imaged, p, "symlink")
    assert target.read_text() == "original"


def test_hardlink_escape_dotdot(imaged, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    rel = "../" * 12 + str(secret).lstrip("/")
    p = U.hostile_tarball(tmp_path / "hl.tar.gz", [lambda t: U.add_entry(t, "rootfs/h", tarfile.LNKTYPE, linkname=rel)])
    refused(imaged, p, "hardlink", '".." component refused', err=errno.EINVAL)
    assert secret.stat().st_nlink == 1, "the host file gained a hard link"


def test_hardlink_escape_absolute(imaged, tmp_path):
    secret = tmp_path / "secret-abs"
    secret.write_text("host secret")
    p = U.hostile_tarball(tmp_path / "hla.tar.gz",
                          [lambda t: U.add_entry(t, "rootfs/h", tarfile.LNKTYPE, linkname=str(secret))])
    refused(imaged, p, "hardlink", "absolute", err=errno.EINVAL)
    assert secret.stat().st_nlink == 1


def test_hardlink_escape_through_symlink(imaged, tmp_path):
    d = tmp_path / "hostdir"
    d.mkdir()
    secret = d / "shadow"
    secret.write_text("host secret")
    p = U.hostile_tarball(tmp_path / "hls.tar.gz", [
        lambda t: U.add_entry(t, "rootfs/etc", tarfile.SYMTYPE, linkname=str(d)),
        lambda t: U.add_entry(t, "rootfs/h", tarfile.LNKTYPE, linkname="rootfs/etc/shadow"),
    ])
    refused(imaged, p, "hardlink", "symlink", err=errno.EINVAL)
    assert secret.stat().st_nlink == 1


def test_hardlink_to_symlink_then_data(imaged, tmp_path):
    target = tmp_path / "tgt"
    target.write_text("original")
    p = U.hostile_tarball(tmp_path / "hl2s.tar.gz", [
        lambda t: U.add_entry(t, "rootfs/s", tarfile.SYMTYPE, linkname=str(target)),
        lambda t: U.add_entry(t, "rootfs/h", tarfile.LNKTYPE, linkname="rootfs/s"),
    ])
    refused(imaged, p, "is a symlink")
    assert target.read_text() == "original"


def test_missing_metadata_yaml(imaged, tmp_path, busybox_tree):
    p = tmp_path / "nometa.tar.gz"
    with tarfile.open(p, "w:gz") as t:
        t.add(str(busybox_tree), arcname="rootfs")
    refused(imaged, p, "no metadata.yaml", err=errno.EINVAL)


def test_invalid_metadata_yaml(imaged, tmp_path, busybox_tree):
    p = U.make_unified(tmp_path / "badmeta.tar.gz", busybox_tree, metadata="architecture: [x86_64\ncreation_date: 1\n")
    refused(imaged, p, "metadata.yaml", "line", err=errno.EINVAL)


def test_metadata_without_creation_date(imaged, tmp_path, busybox_tree):
    p = U.make_unified(tmp_path / "nodate.tar.gz", busybox_tree, metadata="architecture: x86_64\n")
    refused(imaged, p, "creation_date: missing")


def test_metadata_symlink_is_refused(imaged, tmp_path):
    p = tmp_path / "metalink.tar.gz"
    with tarfile.open(p, "w:gz") as t:
        U.add_entry(t, "metadata.yaml", tarfile.SYMTYPE, linkname="/etc/passwd")
        U.add_entry(t, "rootfs", tarfile.DIRTYPE)
    refused(imaged, p, "metadata.yaml")


def test_unknown_architecture(imaged, tmp_path, busybox_tree):
    p = U.make_unified(tmp_path / "arch.tar.gz", busybox_tree,
                       metadata="architecture: vax\ncreation_date: 1700000000\n")
    refused(imaged, p, 'unknown architecture "vax"', err=errno.ENOTSUP)


def test_yaml_alias_bomb(imaged, tmp_path, busybox_tree):
    bomb = "architecture: x86_64\ncreation_date: 1700000000\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    p = U.make_unified(tmp_path / "bomb.tar.gz", busybox_tree, metadata=bomb)
    refused(imaged, p, "anchors (&name) are not accepted")


def test_device_nodes_only_when_privileged(daemon_factory, tmp_path):
    p = U.hostile_tarball(tmp_path / "dev.tar.gz", [
        lambda t: U.add_entry(t, "rootfs/dev", tarfile.DIRTYPE),
        lambda t: U.add_entry(t, "rootfs/dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0),
        lambda t: U.add_entry(t, "rootfs/dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
    ])
    a = daemon_factory("unpriv")
    r = a.call("image.import", path=str(p))
    assert r["image"]["skipped_devices"] == 2 and r["image"]["privileged"] is False
    devdir = a.store / r["fingerprint"] / "tree/rootfs/dev"
    assert list(devdir.iterdir()) == [], "an unprivileged image got device nodes"
    b = daemon_factory("priv")
    r = b.call("image.import", path=str(p), privileged=True)
    st = (b.store / r["fingerprint"] / "tree/rootfs/dev/sda").lstat()
    assert stat.S_ISBLK(st.st_mode) and os.major(st.st_rdev) == 8


def test_ownership_modes_xattrs_and_file_capabilities_kept(imaged, tmp_path):
    probe = tmp_path / "xattr-probe"
    probe.write_text("")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError as e:
        pytest.skip("the store's filesystem (%s) has no user.* xattrs: %s" % (tmp_path, e))
    # security.capability v2 for cap_net_raw (bit 13) effective+permitted: what `setcap cap_net_raw+ep` writes
    cap = bytes([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    p = U.hostile_tarball(tmp_path / "own.tar.gz", [
        lambda t: U.add_bytes(t, "rootfs/bin/ping", b"\x7fELF", mode=0o4755, uid=0, gid=0,
                              pax_headers={"SCHILY.xattr.security.capability": cap.decode("latin-1"),
                                           "SCHILY.xattr.user.origin": "isola"}),
        lambda t: U.add_bytes(t, "rootfs/home-file", b"x", mode=0o640, uid=1000, gid=1001),
    ])
    r = imaged.call("image.import", path=str(p))
    root = imaged.store / r["fingerprint"] / "tree/rootfs"
    st = (root / "home-file").lstat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o640)
    assert stat.S_IMODE((root / "bin/ping").lstat().st_mode) == 0o4755, "setuid bit lost"
    assert os.getxattr(root / "bin/ping", "user.origin") == b"isola"
    assert os.getxattr(root / "bin/ping", "security.capability") == cap, "file capability lost"


def test_deep_tree_imports_and_deletes(daemon_factory, tmp_path):
    """1,500 nested directories (a 3,000-byte path): unpacked, then removed without running out of fds,
    even when started with the usual soft limit of 1,024 open files."""
    imaged = daemon_factory("deep", soft_nofile=1024)
    deep = "rootfs/" + "/".join(["d"] * 1500)
    p = U.hostile_tarball(tmp_path / "deep.tar.gz", [lambda t: U.add_bytes(t, deep + "/leaf", b"x")])
    try:
        fp = imaged.call("image.import", path=str(p))["fingerprint"]
        assert len(imaged.call("image.list")["images"]) == 1
        imaged.call("image.delete", ref=fp)
        assert imaged.image_dirs() == [] and imaged.tmp_dirs() == [], imaged.log_text()[-2000:]
    finally:
        # if the daemon failed, rm(1) removes what is left: pytest's own cleanup recurses in Python and
        # would hit the recursion limit on this tree in every later run
        subprocess.run(["rm", "-rf", str(imaged.store)], check=False)
