"""Faults during an import: the store runs out of space, the daemon is killed. Either way no
half-imported image may appear, and the next start removes what was left."""
import errno
import os
import signal
import subprocess
import tarfile
import time

import pytest

import imaged_util as U


def zeros_image(path, mib):
    """A unified image with one big file of zeros: tiny compressed, large unpacked."""
    big = path.parent / ("zeros-%d" % mib)
    with open(big, "wb") as f:
        f.truncate(mib << 20)  # sparse; tar reads zeros
    with tarfile.open(path, "w:gz", compresslevel=1) as t:
        U.add_bytes(t, "metadata.yaml", U.METADATA.encode())
        U.add_entry(t, "rootfs", tarfile.DIRTYPE)
        t.add(str(big), arcname="rootfs/zeros")
    big.unlink()
    return path


@pytest.fixture
def small_store(tmp_path):
    mnt = tmp_path / "tiny-store"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "imaged-test-tmpfs", str(mnt)], check=True)
    yield mnt
    U.unmount_all_under(mnt)


def test_out_of_space_mid_unpack(daemon_factory, small_store, tmp_path):
    img = zeros_image(tmp_path / "big.tar.gz", 32)
    assert img.stat().st_size < 1 << 20, "the compressed image must fit so the failure comes mid-unpack"
    d = daemon_factory("nospace", store=small_store)
    with pytest.raises(U.ImagedError) as e:
        d.call("image.import", path=str(img))
    assert e.value.errno == errno.ENOSPC or "No space left" in str(e.value), str(e.value)
    assert d.tmp_dirs() == [] and d.image_dirs() == [], "ENOSPC left %s in the store" % d.store_entries()
    assert d.call("image.list")["images"] == []
    # and the store still works once there is room again
    small = U.hostile_tarball(tmp_path / "small.tar.gz", [])
    assert d.call("image.import", path=str(small))["fingerprint"] == U.sha256sum(small)


def test_out_of_space_mid_copy(daemon_factory, small_store, tmp_path):
    big = tmp_path / "random.tar"
    with tarfile.open(big, "w") as t:
        U.add_bytes(t, "metadata.yaml", U.METADATA.encode())
        U.add_bytes(t, "rootfs/noise", os.urandom(12 << 20))
    d = daemon_factory("nospace2", store=small_store)
    with pytest.raises(U.ImagedError) as e:
        d.call("image.import", path=str(big))
    assert e.value.errno == errno.ENOSPC and "write copy" in str(e.value), str(e.value)
    assert "No space left" in str(e.value)
    assert d.tmp_dirs() == [] and d.image_dirs() == []


def test_kill_9_mid_import_is_cleaned_at_next_start(daemon_factory, tmp_path):
    img = zeros_image(tmp_path / "slow.tar.gz", 256)
    d = daemon_factory("kill")
    conn = d.connect()
    conn.sendall(b'{"op": "image.import", "path": "%s"}' % str(img).encode())
    first = conn.recv(65536)
    assert b'"start"' in first, first
    time.sleep(0.05)  # let it get into the unpack
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    conn.close()
    left = d.tmp_dirs()
    assert left, "expected the killed import's .tmp- dir (did the import finish before the kill?)"
    assert [n for n in d.store_entries() if len(n) == 64] == []
    d.logf.close()
    d.logf = None
    d.proc = None
    d.start()
    assert d.tmp_dirs() == [], "the next start did not remove %s" % left
    assert d.call("image.list")["images"] == []
    assert "removing unfinished import" in d.log_text()
