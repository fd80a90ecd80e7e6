import shutil

import pytest

import imaged_util as U  # pytest puts this directory on sys.path (rootdir-relative "prepend" import mode)


@pytest.fixture
def daemon_factory(tmp_path):
    """Start private isola-imaged instances; everything they mounted is released at the end."""
    started = []

    def make(name="d", store=None, extra=(), soft_nofile=None):
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        d = U.Daemon(root, store=store, extra=extra, soft_nofile=soft_nofile).start()
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()
        U.unmount_all_under(d.store)


@pytest.fixture
def imaged(daemon_factory):
    if not U.IMAGED.exists():
        pytest.fail("%s is not built (make)" % U.IMAGED)
    return daemon_factory()


@pytest.fixture(scope="session")
def busybox_tree(tmp_path_factory):
    return U.busybox_rootfs(tmp_path_factory.mktemp("bb") / "rootfs")


@pytest.fixture(scope="session")
def unified_image(tmp_path_factory, busybox_tree):
    return U.make_unified(tmp_path_factory.mktemp("img") / "busybox.tar.gz", busybox_tree)


@pytest.fixture(scope="session")
def split_image(tmp_path_factory, busybox_tree):
    if not shutil.which("mksquashfs"):
        pytest.skip("needs the mksquashfs command (squashfs-tools) to build a split test image")
    d = tmp_path_factory.mktemp("split")
    return U.make_metadata_tarball(d / "meta.tar.gz"), U.make_squashfs(d / "rootfs.squashfs", busybox_tree)
