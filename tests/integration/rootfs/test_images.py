"""The image builders (rootfs/): format, fingerprints, ownership, and a busybox boot.

The busybox image is built into a temporary directory by a fixture, so these tests always run. The Debian
images take minutes the first time (debootstrap), so their tests use what `make images` left in
build/images and skip, saying so, when it is not there. The format they check is docs/images.md.
"""
import hashlib
import os
import pathlib
import select
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time

import pytest
import yaml

from conftest import BUILD, REPO

IMAGES = BUILD / "images"
BUSYBOX_BUILD = REPO / "rootfs" / "busybox" / "build.sh"
DEBIAN_BUILD = REPO / "rootfs" / "debian" / "build.sh"
TEMPLATE_TRIGGERS = {"create", "copy", "start"}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, chroot, image ownership)")


# ---------------------------------------------------------------- helpers

def sha256_of(*paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def read_fingerprints(outdir, name):
    """NAME.fingerprints → {"unified": (sha, [files]), "split": (sha, [files])}."""
    out = {}
    for line in (outdir / f"{name}.fingerprints").read_text().splitlines():
        kind, sha, *files = line.split()
        out[kind] = (sha, files)
    return out


def tar_members(path):
    with tarfile.open(path, "r:*") as tf:
        return {m.name.rstrip("/"): m for m in tf.getmembers()}


def tar_read(path, name):
    with tarfile.open(path, "r:*") as tf:
        return tf.extractfile(name).read()


def tar_rootfs_entries(members):
    """rootfs/… members of a unified tarball → {relative path: (ls-style mode, uid, gid)}; "" is the root."""
    out = {}
    for name, m in members.items():
        if name != "rootfs" and not name.startswith("rootfs/"):
            continue
        rel = name[len("rootfs/"):] if name != "rootfs" else ""
        if m.isdir():
            kind = stat.S_IFDIR
        elif m.issym():
            kind = stat.S_IFLNK
        elif m.ischr():
            kind = stat.S_IFCHR
        elif m.isblk():
            kind = stat.S_IFBLK
        elif m.isfifo():
            kind = stat.S_IFIFO
        else:  # regular files and hard links to them
            kind = stat.S_IFREG
        out[rel] = (stat.filemode(kind | m.mode), m.uid, m.gid)
    return out


def squashfs_entries(path):
    """`unsquashfs -lln` → {relative path: (ls-style mode, uid, gid)}; "" is the root."""
    res = subprocess.run(["unsquashfs", "-lln", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, f"unsquashfs -lln {path} failed: {res.stderr}"
    out = {}
    for line in res.stdout.splitlines():
        # Devices show "major, minor" where others show a size: one more field.
        fields = line.split(None, 6 if line[:1] in ("c", "b") else 5)
        if len(fields) < 6 or "/" not in fields[1]:
            continue  # headers and blank lines
        mode, owner, rest = fields[0], fields[1], fields[-1]
        if mode[0] == "l":
            rest = rest.split(" -> ", 1)[0]
        assert rest == "squashfs-root" or rest.startswith("squashfs-root/"), f"unexpected line: {line}"
        rel = rest[len("squashfs-root/"):] if rest != "squashfs-root" else ""
        uid, gid = owner.split("/")
        out[rel] = (mode, int(uid), int(gid))
    return out


def check_metadata(meta, os_name, stop_signal=None):
    assert meta["architecture"] == "x86_64", f"architecture is {meta.get('architecture')!r}"
    assert isinstance(meta["creation_date"], int) and meta["creation_date"] > 1_600_000_000, \
        f"creation_date {meta.get('creation_date')!r} is not a unix time"
    props = meta["properties"]
    for key in ("os", "release", "variant", "description"):
        assert isinstance(props.get(key), str) and props[key], f"properties.{key} missing or empty: {props}"
    assert props["os"] == os_name
    for value in props.values():
        assert isinstance(value, str), f"property value {value!r} is not a string (Incus properties are strings)"
    if stop_signal is not None:
        assert props["isola.stop_signal"] == stop_signal
        name = stop_signal
        if name.startswith("SIGRTMIN+"):
            assert signal.SIGRTMIN + int(name[len("SIGRTMIN+"):]) <= signal.SIGRTMAX
        else:
            signal.Signals[name]  # KeyError names an unknown signal
    for target, tpl in meta.get("templates", {}).items():
        assert target.startswith("/"), f"template target {target} is not absolute"
        assert set(tpl["when"]) <= TEMPLATE_TRIGGERS and tpl["when"], f"bad triggers for {target}: {tpl['when']}"
    return props


def check_split_matches_unified(outdir, name):
    unified = outdir / f"{name}.tar.gz"
    meta_tar = outdir / f"{name}.meta.tar.gz"
    squash = outdir / f"{name}.squashfs"
    fp = read_fingerprints(outdir, name)
    # Fingerprints exactly as docs/images.md defines them (the Incus rule).
    assert fp["unified"] == (sha256_of(unified), [unified.name]), "unified fingerprint is not sha256(unified tarball)"
    assert fp["split"] == (sha256_of(meta_tar, squash), [meta_tar.name, squash.name]), \
        "split fingerprint is not sha256(metadata tarball ‖ squashfs)"
    assert fp["unified"][0] != fp["split"][0]

    members = tar_members(unified)
    meta_members = tar_members(meta_tar)
    assert tar_read(unified, "metadata.yaml") == tar_read(meta_tar, "metadata.yaml"), \
        "metadata.yaml differs between the unified and the split form"
    assert not [n for n in meta_members if n.startswith("rootfs")], "the metadata tarball carries a rootfs"
    templates_u = {n for n in members if n.startswith("templates/")}
    templates_m = {n for n in meta_members if n.startswith("templates/")}
    assert templates_u == templates_m, f"templates differ: {templates_u ^ templates_m}"
    meta = yaml.safe_load(tar_read(unified, "metadata.yaml"))
    for target, tpl in meta.get("templates", {}).items():
        assert f"templates/{tpl['template']}" in templates_u, f"{target}: templates/{tpl['template']} is missing"

    from_tar = tar_rootfs_entries(members)
    from_squash = squashfs_entries(squash)
    only_tar = sorted(set(from_tar) - set(from_squash))[:10]
    only_squash = sorted(set(from_squash) - set(from_tar))[:10]
    assert not only_tar and not only_squash, f"file lists differ: only in tar {only_tar}, only in squashfs {only_squash}"
    differ = [(p, from_tar[p], from_squash[p]) for p in sorted(from_tar) if from_tar[p] != from_squash[p]]
    assert not differ, f"mode/owner differ between tar and squashfs (path, tar, squashfs): {differ[:10]}"
    return members, meta


# ---------------------------------------------------------------- busybox

@pytest.fixture(scope="session")
def busybox_dir(tmp_path_factory):
    if not shutil.which("busybox") and not os.path.exists("/bin/busybox"):
        pytest.fail("busybox-static is a build dependency (make deps) and is missing")
    outdir = tmp_path_factory.mktemp("images")
    res = subprocess.run([str(BUSYBOX_BUILD), str(outdir)], capture_output=True, text=True)
    assert res.returncode == 0, f"rootfs/busybox/build.sh failed:\n{res.stderr}"
    leftovers = [p.name for p in outdir.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"the build left temporary files behind: {leftovers}"
    return outdir


def test_busybox_outputs_exist(busybox_dir):
    names = sorted(p.name for p in busybox_dir.iterdir())
    assert names == ["busybox.fingerprints", "busybox.meta.tar.gz", "busybox.squashfs", "busybox.tar.gz"], names


def test_busybox_metadata(busybox_dir):
    meta = yaml.safe_load(tar_read(busybox_dir / "busybox.tar.gz", "metadata.yaml"))
    props = check_metadata(meta, "busybox", stop_signal="SIGUSR2")
    assert props["isola.ready"] == "file:/run/isola-booted"
    assert meta["templates"]["/etc/hostname"] == {"when": ["create", "copy"], "template": "hostname.tpl"}
    tpl = tar_read(busybox_dir / "busybox.tar.gz", "templates/hostname.tpl").decode()
    assert tpl.strip() == "{{ instance.name }}"


def test_busybox_tree(busybox_dir):
    members = tar_members(busybox_dir / "busybox.tar.gz")
    names = list(members)
    assert names[0] == "metadata.yaml", f"metadata.yaml should come first, got {names[:3]}"
    busybox = members["rootfs/bin/busybox"]
    assert busybox.isfile() and busybox.mode & 0o111, "rootfs/bin/busybox is not an executable file"
    for applet in ("sbin/init", "bin/sh", "sbin/udhcpc", "sbin/ip", "bin/hostname", "bin/mount"):
        m = members.get("rootfs/" + applet)
        assert m is not None and m.issym() and m.linkname == "/bin/busybox", f"/{applet} is not a link to busybox"
    for f in ("etc/inittab", "etc/init.d/rcS", "etc/passwd", "etc/group", "etc/hostname",
              "usr/share/udhcpc/default.script"):
        assert members.get("rootfs/" + f) is not None and members["rootfs/" + f].isfile(), f"/{f} missing"
    inittab = tar_read(busybox_dir / "busybox.tar.gz", "rootfs/etc/inittab").decode()
    assert "::sysinit:/etc/init.d/rcS" in inittab and "::shutdown:" in inittab
    passwd = tar_read(busybox_dir / "busybox.tar.gz", "rootfs/etc/passwd").decode()
    assert passwd.startswith("root:x:0:0:"), passwd
    shadow = tar_read(busybox_dir / "busybox.tar.gz", "rootfs/etc/shadow").decode()
    assert shadow.startswith("root:!"), "root's password is not locked"
    assert tar_read(busybox_dir / "busybox.tar.gz", "rootfs/etc/hostname") == b"isola\n"


def test_busybox_ownership_numeric_and_no_setuid(busybox_dir):
    members = tar_members(busybox_dir / "busybox.tar.gz")
    for name, m in members.items():
        assert (m.uid, m.gid) == (0, 0), f"{name} is owned by {m.uid}:{m.gid}, want 0:0"
        assert m.uname == "" and m.gname == "", f"{name} carries owner names {m.uname!r}/{m.gname!r}, want numeric only"
        assert not m.mode & (stat.S_ISUID | stat.S_ISGID), f"{name} is setuid/setgid ({oct(m.mode)})"
    assert members["rootfs/tmp"].mode == 0o1777
    assert members["rootfs/etc/shadow"].mode == 0o600
    assert members["rootfs/root"].mode == 0o700


def test_busybox_split_matches_unified(busybox_dir):
    check_split_matches_unified(busybox_dir, "busybox")


def test_busybox_build_is_reproducible(tmp_path):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    fps = []
    for n in (1, 2):
        out = tmp_path / str(n)
        res = subprocess.run([str(BUSYBOX_BUILD), str(out)], env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        fps.append((out / "busybox.fingerprints").read_text())
    assert fps[0] == fps[1], f"two builds with one SOURCE_DATE_EPOCH differ:\n{fps[0]}\n{fps[1]}"
    meta = yaml.safe_load(tar_read(tmp_path / "1" / "busybox.tar.gz", "metadata.yaml"))
    assert meta["creation_date"] == 1700000000


def test_busybox_build_refuses_a_dynamic_busybox(tmp_path):
    res = subprocess.run([str(BUSYBOX_BUILD), str(tmp_path)], env=dict(os.environ, ISOLA_BUSYBOX="/bin/ls"),
                         capture_output=True, text=True)
    assert res.returncode != 0 and "dynamically linked" in res.stderr, res.stderr
    assert not list(tmp_path.iterdir()), "a refused build wrote files"


def test_busybox_build_refuses_a_missing_busybox(tmp_path):
    res = subprocess.run([str(BUSYBOX_BUILD), str(tmp_path)],
                         env=dict(os.environ, ISOLA_BUSYBOX=str(tmp_path / "nope")), capture_output=True, text=True)
    assert res.returncode != 0 and "not found" in res.stderr, res.stderr


@needs_root
def test_busybox_builds_unprivileged_with_root_owned_files():
    """The busybox image declares every file root's, so an ordinary user can build it (CI, developers)."""
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if subprocess.run(drop + ["test", "-x", str(BUSYBOX_BUILD)]).returncode != 0:
        pytest.skip(f"the checkout ({REPO}) is not readable by uid 65534")
    # pytest's tmp_path sits under a 0700 root directory; this one must be reachable by uid 65534.
    with tempfile.TemporaryDirectory(prefix="rootfs-unpriv-", dir="/tmp") as d:
        out = pathlib.Path(d)
        os.chown(out, 65534, 65534)
        res = subprocess.run(drop + [str(BUSYBOX_BUILD), str(out)], capture_output=True, text=True, cwd="/")
        assert res.returncode == 0, f"unprivileged build failed:\n{res.stderr}"
        owners = {(m.uid, m.gid) for m in tar_members(out / "busybox.tar.gz").values()}
        assert owners == {(0, 0)}, f"unprivileged build recorded owners {owners}, want only 0:0"
        assert {e[1:] for e in squashfs_entries(out / "busybox.squashfs").values()} == {(0, 0)}


# ------------------------------------------- busybox boot smoke test (the runtime team owns real boots)

def _children(pid):
    try:
        return [int(c) for c in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _read_until(proc, needle, timeout):
    """Read proc.stdout until a line contains needle; returns everything read."""
    buf = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


def _netns(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def dhcp_netns(tmp_path):
    """Two namespaces of our own joined by a veth pair: the container side has `eth0`, the server side runs
    busybox udhcpd. Packets never leave them."""
    tag = f"rootfs{os.getpid() % 100000}"
    ct, srv = f"{tag}-ct", f"{tag}-srv"
    _netns("netns", "add", ct)
    _netns("netns", "add", srv)
    udhcpd = None
    try:
        _netns("link", "add", f"{tag}-a", "netns", srv, "type", "veth", "peer", "name", "eth0", "netns", ct)
        _netns("-n", srv, "addr", "add", "10.231.7.1/24", "dev", f"{tag}-a")
        _netns("-n", srv, "link", "set", f"{tag}-a", "up")
        _netns("-n", srv, "link", "set", "lo", "up")
        conf = tmp_path / "udhcpd.conf"
        conf.write_text(f"start 10.231.7.50\nend 10.231.7.60\ninterface {tag}-a\n"
                        f"lease_file {tmp_path}/leases\npidfile {tmp_path}/udhcpd.pid\n"
                        "opt subnet 255.255.255.0\nopt router 10.231.7.1\nopt dns 10.231.7.1\n"
                        "opt domain isola.test\nopt lease 3600\n")
        (tmp_path / "leases").touch()
        udhcpd = subprocess.Popen(["ip", "netns", "exec", srv, "busybox", "udhcpd", "-f", str(conf)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield ct
    finally:
        if udhcpd is not None:
            udhcpd.terminate()
            udhcpd.wait(timeout=10)
        for ns in (ct, srv):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


@needs_root
def test_busybox_boots_gets_dhcp_and_powers_off(busybox_dir, tmp_path, dhcp_netns):
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run(["tar", "-xzf", str(busybox_dir / "busybox.tar.gz"), "-C", str(tree), "--numeric-owner"],
                   check=True)
    root = tree / "rootfs"
    # Our own pid, mount, uts, ipc namespaces inside our own netns: the image's rcS mounts /proc, /sys, /run
    # itself (no runtime here) and sets the hostname, neither of which may touch the host.
    proc = subprocess.Popen(["ip", "netns", "exec", dhcp_netns, "unshare", "--fork", "--kill-child", "--pid", "--mount",
                             "--uts", "--ipc", "--propagation", "private", "chroot", str(root), "/sbin/init"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = _read_until(proc, "isola: busybox boot complete", 30)
        assert "isola: busybox boot complete" in out, f"no boot line on the console:\n{out}"
        # unshare (ip netns exec execs it) forks init; find it as unshare's child.
        init = None
        for _ in range(50):
            kids = _children(proc.pid)
            if kids:
                init = kids[0]
                break
            time.sleep(0.1)
        assert init, "cannot find the container's init"
        inside = pathlib.Path(f"/proc/{init}/root")
        assert (inside / "run/isola-booted").is_file(), "boot marker /run/isola-booted missing"
        assert pathlib.Path(f"/proc/{init}/comm").read_text().strip() == "init"
        uts = subprocess.run(["nsenter", "-t", str(init), "-u", "hostname"], capture_output=True, text=True)
        assert uts.stdout.strip() == "isola", f"hostname inside is {uts.stdout!r}"
        # udhcpc runs in the background; wait for the lease to be applied by default.script.
        addr = ""
        for _ in range(100):
            addr = subprocess.run(["ip", "-n", dhcp_netns, "-4", "-o", "addr", "show", "dev", "eth0"],
                                  capture_output=True, text=True).stdout
            if "10.231.7." in addr:
                break
            time.sleep(0.2)
        assert "inet 10.231.7.5" in addr or "inet 10.231.7.60" in addr, f"eth0 got no lease: {addr!r}"
        route = subprocess.run(["ip", "-n", dhcp_netns, "route", "show", "default"], capture_output=True, text=True)
        assert "via 10.231.7.1" in route.stdout, f"no default route from the lease: {route.stdout!r}"
        resolv = (inside / "etc/resolv.conf").read_text()
        assert "nameserver 10.231.7.1" in resolv and "search isola.test" in resolv, resolv
        lo = subprocess.run(["ip", "-n", dhcp_netns, "-o", "link", "show", "lo"], capture_output=True, text=True)
        assert "UP" in lo.stdout, f"lo is not up: {lo.stdout!r}"

        os.kill(init, signal.SIGUSR2)  # metadata isola.stop_signal
        rest = _read_until(proc, "Requesting system poweroff", 30)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "isola: busybox shutting down" in rest, f"shutdown action did not run:\n{rest}"
    # reboot(2) in a PID namespace ends its init with SIGINT for poweroff; unshare re-raises it and
    # `ip netns exec` execs unshare, so that is what we see.
    assert rc == -signal.SIGINT, f"init ended with {rc}, want SIGINT (poweroff)"
    assert not any(str(root) in line for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()), \
        "a mount of the image tree leaked into the host"


# ---------------------------------------------------------------- debian (built by `make images`)

def _need_image(*names):
    missing = [n for n in names if not (IMAGES / n).exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not built (run `make images`, minutes the first time)")


def test_debian_container_image():
    _need_image("debian.tar.gz", "debian.meta.tar.gz", "debian.squashfs", "debian.fingerprints")
    members, meta = check_split_matches_unified(IMAGES, "debian")
    props = check_metadata(meta, "Debian", stop_signal="SIGRTMIN+3")
    assert props["release"] == "bookworm" and props["isola.ready"] == "notify"
    img = IMAGES / "debian.tar.gz"

    mid = members["rootfs/etc/machine-id"]
    assert mid.isfile() and mid.size == 0, "etc/machine-id must be an empty file (generated on first boot)"
    keys = [n for n in members if n.startswith("rootfs/etc/ssh/ssh_host_")]
    assert not keys, f"ssh host keys baked into the image: {keys}"
    root_ssh = [n for n in members if n.startswith("rootfs/root/.ssh/")]
    assert not root_ssh, f"files in /root/.ssh: {root_ssh}"
    shadow = tar_read(img, "rootfs/etc/shadow").decode()
    assert shadow.startswith("root:!"), f"root's password is not locked: {shadow.splitlines()[0]}"
    assert tar_read(img, "rootfs/etc/hostname") == b"isola\n"
    assert b"Name=eth0" in tar_read(img, "rootfs/etc/systemd/network/80-isola-eth0.network")
    for unit in ("multi-user.target.wants/systemd-networkd.service",
                 "sysinit.target.wants/systemd-resolved.service",
                 "multi-user.target.wants/isola-booted.service"):
        assert f"rootfs/etc/systemd/system/{unit}" in members, f"{unit} is not enabled"
    assert members["rootfs/sbin"].issym() or "rootfs/sbin/init" in members
    assert members["rootfs/usr/sbin/init"].issym(), "no /sbin/init (systemd-sysv)"
    # Ownership other than root survives: /etc/shadow is group shadow (42), chage is setgid shadow.
    for path in ("rootfs/etc/shadow", "rootfs/usr/bin/chage"):
        m = members[path]
        assert m.gid == 42 and m.gname == "", f"{path}: gid {m.gid} name {m.gname!r}, want numeric 42"
    assert members["rootfs/usr/bin/chage"].mode & stat.S_ISGID, "setgid bit of chage lost"
    assert not [n for n in members if "/var/cache/apt/archives/" in n and n.endswith(".deb")], ".debs left in"


def _debugfs(img, request):
    res = subprocess.run(["debugfs", "-R", request, str(img)], capture_output=True)
    assert res.returncode == 0, f"debugfs {request}: {res.stderr.decode()}"
    return res.stdout


def test_debian_vm_image(tmp_path):
    _need_image("debian-vm.img", "debian-vm.meta.tar.gz", "debian-vm.vmlinuz", "debian-vm.initrd",
                "debian-vm.fingerprints")
    img = IMAGES / "debian-vm.img"
    meta_tar = IMAGES / "debian-vm.meta.tar.gz"
    fp = read_fingerprints(IMAGES, "debian-vm")
    assert "unified" not in fp, "a VM image has no unified form"
    assert fp["split"] == (sha256_of(meta_tar, img), [meta_tar.name, img.name]), \
        "split fingerprint is not sha256(metadata tarball ‖ disk image)"
    meta = yaml.safe_load(tar_read(meta_tar, "metadata.yaml"))
    props = check_metadata(meta, "Debian")
    assert "root=/dev/vda" in props["isola.cmdline"] and "console=ttyS0" in props["isola.cmdline"]

    # A whole-disk ext4 (no partition table) labelled isola-root.
    head = subprocess.run(["dumpe2fs", "-h", str(img)], capture_output=True, text=True)
    assert head.returncode == 0, f"{img} is not an ext4 filesystem: {head.stderr}"
    assert "Filesystem volume name:   isola-root" in head.stdout
    fstab = _debugfs(img, "cat /etc/fstab").decode()
    assert any(line.split()[:3] == ["/dev/vda", "/", "ext4"] for line in fstab.splitlines() if line.strip()
               and not line.startswith("#")), f"fstab has no root on /dev/vda:\n{fstab}"
    assert _debugfs(img, "cat /etc/machine-id") == b"", "machine-id is not empty in the VM image"
    assert b"ssh_host_" not in _debugfs(img, "ls -l /etc/ssh"), "ssh host keys baked into the VM image"
    assert _debugfs(img, "cat /etc/shadow").startswith(b"root:!"), "root's password is not locked"
    stat_shadow = _debugfs(img, "stat /etc/shadow").decode()
    assert "Group:    42" in stat_shadow or "Group:   42" in stat_shadow, f"ownership lost:\n{stat_shadow}"
    getty = _debugfs(img, "stat /etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service").decode()
    assert "Type: symlink" in getty, "serial getty on ttyS0 is not enabled"

    # The exported kernel and initramfs are the ones in the image's /boot.
    kernel_in = props["isola.kernel"]
    initrd_in = props["isola.initrd"]
    for inside, exported in ((kernel_in, "debian-vm.vmlinuz"), (initrd_in, "debian-vm.initrd")):
        dumped = tmp_path / pathlib.Path(inside).name
        _debugfs(img, f"dump {inside} {dumped}")
        assert sha256_of(dumped) == sha256_of(IMAGES / exported), f"{exported} differs from {inside} in the image"
    listing = subprocess.run(["lsinitramfs", str(IMAGES / "debian-vm.initrd")], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    for mod in ("virtio_blk", "virtio_pci", "ext4"):
        assert f"/{mod}.ko" in listing.stdout, f"initramfs lacks {mod}: the VM could not mount /dev/vda"

    # Boot time (docs/images.md "VM boot time"): only the VMM's hardware in the initramfs (MODULES=list),
    # kept for future kernels; quiet; no wait-online, no VT getty, no wireless autoload.
    mods = [l for l in listing.stdout.splitlines() if l.endswith(".ko")]
    assert len(mods) < 40 and not any("/nvme" in m or "/e1000" in m for m in mods), \
        f"initramfs is not MODULES=list ({len(mods)} modules)"
    assert b"MODULES=list" in _debugfs(img, "cat /etc/initramfs-tools/initramfs.conf")
    assert "quiet" in props["isola.cmdline"].split()
    wait_online = _debugfs(img, "stat /etc/systemd/system/systemd-networkd-wait-online.service").decode()
    assert "Type: symlink" in wait_online, "systemd-networkd-wait-online is not masked"
    assert b"getty@tty1" not in _debugfs(img, "ls /etc/systemd/system/getty.target.wants")
    assert b"blacklist cfg80211" in _debugfs(img, "cat /etc/modprobe.d/isola-vm.conf")


def test_debian_build_rejects_unknown_kind():
    res = subprocess.run([str(DEBIAN_BUILD), "docker"], capture_output=True, text=True)
    assert res.returncode != 0 and "unknown kind 'docker'" in res.stderr, res.stderr
