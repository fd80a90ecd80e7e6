"""Import, list, show, export, properties, aliases, publish, delete — the store's everyday operations."""
import errno
import json
import os
import pathlib
import subprocess
import tarfile

import pytest

import imaged_util as U


def test_unified_fingerprint_is_sha256_of_file(imaged, unified_image):
    progress = []
    r = imaged.call("image.import", progress=progress, path=str(unified_image), aliases=["bb"])
    assert r["fingerprint"] == U.sha256sum(unified_image), "fingerprint must equal sha256sum of the unified file"
    assert r["type"] == "container" and r["already"] is False
    assert progress and progress[0]["stage"] == "start", "no progress message before the reply"
    img = r["image"]
    assert img["architecture"] == "x86_64" and img["creation_date"] == 1700000000
    assert img["properties"]["os"] == "busybox" and img["properties"]["release"] == "1.36"
    assert "/etc/hostname" in img["templates"]
    assert img["aliases"] == ["bb"]
    d = imaged.store / r["fingerprint"]
    assert (d / "tree/rootfs/bin/busybox").is_file()
    assert os.readlink(d / "tree/rootfs/bin/sh") == "busybox"
    assert (d / "tree/templates/hostname.tpl").is_file()
    # ref by alias, by unique prefix, by full fingerprint
    for ref in ("bb", r["fingerprint"][:8], r["fingerprint"]):
        assert imaged.call("image.show", ref=ref)["image"]["fingerprint"] == r["fingerprint"]
    assert [i["fingerprint"] for i in imaged.call("image.list")["images"]] == [r["fingerprint"]]
    # importing the same bytes again is a no-op that reports the existing image
    again = imaged.call("image.import", path=str(unified_image))
    assert again["already"] is True and again["fingerprint"] == r["fingerprint"]
    assert imaged.tmp_dirs() == []


def test_split_fingerprint_is_sha256_of_meta_then_rootfs(imaged, split_image):
    meta, sq = split_image
    r = imaged.call("image.import", paths=[str(meta), str(sq)])
    assert r["fingerprint"] == U.sha256sum(meta, sq), "split fingerprint must be sha256(metadata || rootfs)"
    assert r["image"]["format"] == "split" and r["image"]["rootfs_format"] == "squashfs"
    assert [f["role"] for f in r["image"]["files"]] == ["metadata", "rootfs"]


def test_split_with_rootfs_tarball(imaged, tmp_path, busybox_tree):
    meta = U.make_metadata_tarball(tmp_path / "meta.tar.gz")
    rootfs = tmp_path / "rootfs.tar.xz"
    with tarfile.open(rootfs, "w:xz") as t:
        t.add(str(busybox_tree), arcname=".")
    r = imaged.call("image.import", paths=[str(meta), str(rootfs)])
    assert r["fingerprint"] == U.sha256sum(meta, rootfs)
    assert r["image"]["rootfs_format"] == "tree"
    assert (imaged.store / r["fingerprint"] / "tree/rootfs/bin/busybox").is_file()


@pytest.mark.parametrize("mode", ["w:xz", "w"])
def test_unified_other_compressions(imaged, tmp_path, busybox_tree, mode):
    p = U.make_unified(tmp_path / "img.tar", busybox_tree, mode=mode)
    r = imaged.call("image.import", path=str(p))
    assert r["fingerprint"] == U.sha256sum(p)


def test_export_then_reimport_gives_same_fingerprint(daemon_factory, unified_image, split_image, tmp_path):
    a = daemon_factory("a")
    fu = a.call("image.import", path=str(unified_image))["fingerprint"]
    fs = a.call("image.import", paths=[str(p) for p in split_image])["fingerprint"]
    out = tmp_path / "export"
    out.mkdir()
    files_u = a.call("image.export", ref=fu, dir=str(out))["files"]
    files_s = a.call("image.export", ref=fs, dir=str(out))["files"]
    assert files_u == [str(out / (fu + ".tar.gz"))]
    assert len(files_s) == 2
    b = daemon_factory("b")
    assert b.call("image.import", path=files_u[0])["fingerprint"] == fu
    assert b.call("image.import", paths=files_s)["fingerprint"] == fs


def test_directory_import(imaged, tmp_path, busybox_tree):
    d = tmp_path / "imgdir"
    d.mkdir()
    (d / "metadata.yaml").write_text(U.METADATA)
    subprocess.run(["cp", "-a", str(busybox_tree), str(d / "rootfs")], check=True)
    r = imaged.call("image.import", dir=str(d), properties={"origin": "dir"})
    fp = r["fingerprint"]
    stored = imaged.store / fp / "unified.tar.gz"
    assert U.sha256sum(stored) == fp, "a directory is packed into a unified tarball whose sha256 is the fingerprint"
    assert r["image"]["properties"]["origin"] == "dir"
    assert (imaged.store / fp / "tree/rootfs/bin/busybox").is_file()


def test_publish_directory_as_new_image(imaged, tmp_path, busybox_tree):
    rootfs = tmp_path / "inst-rootfs"
    subprocess.run(["cp", "-a", str(busybox_tree), str(rootfs)], check=True)
    (rootfs / "etc/motd").write_text("published\n")
    os.chown(rootfs / "etc/motd", 1234, 5678)
    os.chmod(rootfs / "etc/motd", 0o4711)
    r = imaged.call("image.publish", dir=str(rootfs), properties={"os": "busybox", "description": "mine"},
                    aliases=["mine"])
    fp = r["fingerprint"]
    assert r["type"] == "container" and r["image"]["aliases"] == ["mine"]
    assert r["image"]["architecture"] == "x86_64"
    assert U.sha256sum(imaged.store / fp / "unified.tar.gz") == fp
    motd = imaged.store / fp / "tree/rootfs/etc/motd"
    st = motd.lstat()
    assert motd.read_text() == "published\n"
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 5678, 0o4711), "publish lost ownership or mode"


def test_properties_set_and_unset_persist(imaged, unified_image):
    fp = imaged.call("image.import", path=str(unified_image))["fingerprint"]
    img = imaged.call("image.properties", ref=fp, set={"color": "blue"}, unset=["variant"])["image"]
    assert img["properties"]["color"] == "blue" and "variant" not in img["properties"]
    imaged.restart()
    props = imaged.call("image.show", ref=fp)["image"]["properties"]
    assert props["color"] == "blue" and "variant" not in props
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.properties", ref=fp, set={"n": 1})
    assert "set.n: expected a string" in str(e.value)


def test_aliases_create_rename_delete_list(imaged, unified_image):
    fp = imaged.call("image.import", path=str(unified_image))["fingerprint"]
    imaged.call("alias.create", name="debian/12", target=fp[:10], description="d")
    imaged.call("alias.rename", name="debian/12", new_name="bookworm")
    lst = imaged.call("alias.list")["aliases"]
    assert lst == [{"name": "bookworm", "target": fp, "description": "d"}]
    imaged.restart()
    assert imaged.call("image.show", ref="bookworm")["image"]["fingerprint"] == fp
    imaged.call("alias.delete", name="bookworm")
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.show", ref="bookworm")
    assert e.value.errno == errno.ENOENT


def test_duplicate_alias_is_refused(imaged, unified_image, split_image):
    fp = imaged.call("image.import", path=str(unified_image), aliases=["x"])["fingerprint"]
    with pytest.raises(U.ImagedError) as e:
        imaged.call("alias.create", name="x", target=fp)
    assert e.value.errno == errno.EEXIST and "alias x already exists" in str(e.value)
    # an import asking for a taken alias fails before doing any work, and leaves nothing behind
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.import", paths=[str(p) for p in split_image], aliases=["x"])
    assert e.value.errno == errno.EEXIST
    assert len(imaged.call("image.list")["images"]) == 1 and imaged.tmp_dirs() == []
    with pytest.raises(U.ImagedError) as e:
        imaged.call("alias.create", name="bad:name", target=fp)
    assert e.value.errno == errno.EINVAL


def test_delete_removes_image_and_aliases(imaged, unified_image):
    fp = imaged.call("image.import", path=str(unified_image), aliases=["bb"])["fingerprint"]
    imaged.call("image.delete", ref="bb")
    assert not (imaged.store / fp).exists() and imaged.tmp_dirs() == []
    assert imaged.call("alias.list")["aliases"] == []
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.delete", ref=fp)
    assert e.value.errno == errno.ENOENT


def test_ambiguous_prefix_and_unknown_op(imaged, unified_image, split_image):
    imaged.call("image.import", path=str(unified_image))
    imaged.call("image.import", paths=[str(p) for p in split_image])
    fps = [i["fingerprint"] for i in imaged.call("image.list")["images"]]
    common = os.path.commonprefix(fps)
    if common:
        with pytest.raises(U.ImagedError) as e:
            imaged.call("image.show", ref=common)
        assert "ambiguous" in str(e.value)
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.frobnicate")
    assert "unknown op" in str(e.value)


def rootfs_fingerprints(name):
    """build/images/<name>.fingerprints (rootfs/): {"unified": (fp, [files]), "split": (fp, [files])}."""
    f = U.IMAGES / (name + ".fingerprints")
    if not f.exists():
        pytest.skip("%s not built (make images, rootfs/)" % f)
    out = {}
    for line in f.read_text().splitlines():
        kind, fp, *files = line.split()
        out[kind] = (fp, [U.IMAGES / x for x in files])
    return out


@pytest.mark.parametrize("name", ["busybox", "debian"])
def test_rootfs_images_unified_and_split(imaged, name):
    """The images rootfs/ builds: our fingerprints equal sha256sum of the files and the builder's own."""
    fps = rootfs_fingerprints(name)
    fp, files = fps["unified"]
    r = imaged.call("image.import", path=str(files[0]))
    assert r["fingerprint"] == fp == U.sha256sum(files[0])
    fp, files = fps["split"]
    r = imaged.call("image.import", paths=[str(p) for p in files])
    assert r["fingerprint"] == fp == U.sha256sum(*files) and r["image"]["rootfs_format"] == "squashfs"
    path = imaged.call("layer.acquire", ref=fp, holder="t")["path"]
    assert os.path.exists(os.path.join(path, "sbin/init")) or os.path.islink(os.path.join(path, "sbin/init"))
    imaged.call("layer.release", ref=fp, holder="t")


def test_rootfs_vm_image_raw_disk(imaged):
    fp, files = rootfs_fingerprints("debian-vm")["split"]
    r = imaged.call("image.import", paths=[str(p) for p in files])
    assert r["fingerprint"] == fp and r["type"] == "virtual-machine"
    disk = imaged.store / fp / "disk.raw"
    st, orig = disk.stat(), files[1].stat()
    assert st.st_size == orig.st_size
    assert st.st_blocks * 512 < st.st_size, "the copy of a sparse disk must stay sparse"


def test_relative_paths_refused_and_call_mode_resolves_them(imaged, unified_image, tmp_path):
    with pytest.raises(U.ImagedError) as e:
        imaged.call("image.import", path="busybox.tar.gz")
    assert e.value.errno == errno.EINVAL and "not an absolute path" in str(e.value)
    # `isola-imaged call` is for shells: it resolves relative paths against its own cwd
    r = subprocess.run([str(U.IMAGED), "--socket", imaged.sock, "call", "image.import",
                        '{"path": "%s", "aliases": ["viacall"]}' % unified_image.name],
                       cwd=str(unified_image.parent), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert json.loads(lines[0]) == {"stage": "start", "bytes": 0, "total": 0}
    reply = json.loads("\n".join(l for l in lines if not l.startswith('{"stage"')))
    assert reply["fingerprint"] == U.sha256sum(unified_image)
    r = subprocess.run([str(U.IMAGED), "--socket", imaged.sock, "call", "image.show", '{"ref": "nope"}'],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no such alias or fingerprint" in r.stderr
