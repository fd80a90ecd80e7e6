"""Self-tests of the proving ground (tests/vm/run).

Two halves:
- inside the VM (make check-vm, or make check-vm-self): what the VM promises — every cgroup v2 controller
  enforced for real (memory.max OOM-kills, pids.max stops a fork bomb, cpu.max throttles), /dev/kvm runs a
  guest to a hlt exit, user namespaces work (no chroot), the host's / is read-only underneath a tmpfs
  overlay, device-node modules are loaded and others autoload. On the host these skip with a reason.
- from the host (make check-host): what `run` promises its caller — exit codes propagate, stdout and
  stderr stream separately, argv/env/cwd arrive intact, CMD-not-found is 127, a kernel panic and a timeout
  give non-zero statuses with the console, bad input is refused before booting, no qemu outlives `run`.
  Each of these boots a VM (~10-40 s under TCG); inside the VM they skip (a TCG VM in a TCG VM is pointless).
"""
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from conftest import BUILD, REPO

RUN = REPO / "tests" / "vm" / "run"
CGROOT = pathlib.Path("/sys/fs/cgroup")
KVM_HLT = BUILD / "tests" / "vm" / "kvm_hlt"
# Generous: a boot under TCG on a loaded 2-core machine can take a minute; the test never waits on it
# unless something is wrong.
BOOT_TIMEOUT = int(os.environ.get("ISOLA_VMTEST_TIMEOUT", "600"))


# --- inside the VM -------------------------------------------------------------------------------------

class Cgroup:
    """A cgroup of this test beside /vm-cmd (the root has every controller in subtree_control)."""

    def __init__(self, what):
        self.path = CGROOT / ("vmtest-%s-%d" % (what, os.getpid()))
        self.path.mkdir()

    def write(self, name, value):
        (self.path / name).write_text(value)

    def read(self, name):
        return (self.path / name).read_text()

    def keyed(self, name):
        return {k: int(v) for k, v in (line.split() for line in self.read(name).splitlines())}

    def run(self, script, timeout=BOOT_TIMEOUT):
        """Run a sh script whose first act is to move itself into this cgroup."""
        return subprocess.run(["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && ' + script, str(self.path)],
                              capture_output=True, text=True, timeout=timeout)

    def remove(self):
        if (self.path / "cgroup.kill").exists():
            self.write("cgroup.kill", "1")
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)
        self.path.rmdir()


@pytest.fixture
def cgroup(request):
    made = []

    def make(what):
        cg = Cgroup(what)
        made.append(cg)
        return cg
    yield make
    for cg in made:
        cg.remove()


def test_cgroup2_alone_with_every_controller(needs, vm_tier):
    needs(cgroup={"cpu", "memory", "pids", "io"})
    if not vm_tier:
        pytest.skip("checks the proving ground's own layout — runs in the VM tier (make check-vm)")
    mounts = [line.split() for line in pathlib.Path("/proc/self/mounts").read_text().splitlines()]
    cg = [m for m in mounts if m[2] in ("cgroup", "cgroup2")]
    assert [(m[1], m[2]) for m in cg] == [("/sys/fs/cgroup", "cgroup2")], "cgroup mounts: %s" % cg
    controllers = set((CGROOT / "cgroup.controllers").read_text().split())
    enabled = set((CGROOT / "cgroup.subtree_control").read_text().split())
    assert controllers >= {"cpu", "cpuset", "io", "memory", "pids", "hugetlb"}, controllers
    assert enabled == controllers, "not enabled for children: %s" % (controllers - enabled)
    # CMD (and so this pytest) lives in the leaf /vm-cmd, leaving the root free to delegate.
    assert pathlib.Path("/proc/self/cgroup").read_text().strip() == "0::/vm-cmd"


def test_memory_max_oom_kills(needs, cgroup):
    needs(cgroup={"memory"})
    cg = cgroup("mem")
    cg.write("memory.max", str(32 << 20))
    if (cg.path / "memory.swap.max").exists():
        cg.write("memory.swap.max", "0")
    # 128 MiB really written (bytes * n fills every page), under a 32 MiB limit.
    r = cg.run('exec /usr/bin/python3 -c "b = b\'x\' * (128 << 20); print(\'allocated\', len(b))"')
    assert "allocated" not in r.stdout, "128 MiB allocated under memory.max=32M: %s" % r.stdout
    assert r.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), \
        "expected an OOM kill (SIGKILL), got status %s: %s" % (r.returncode, r.stderr[-400:])
    events = cg.keyed("memory.events")
    assert events.get("oom_kill", 0) >= 1, "memory.events does not count the OOM kill: %s" % events


def test_pids_max_stops_fork_bomb(needs, cgroup):
    needs(cgroup={"pids"})
    cg = cgroup("pids")
    cg.write("pids.max", "16")
    # Fork as fast as possible, up to 200 children (a bound, so a broken limit cannot take the VM down);
    # with pids.max=16 fork must fail with EAGAIN after at most 15 (the forking process is the 16th).
    bomb = r"""
import os, time
made = 0
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 1)
            os.dup2(null, 2)
            time.sleep(60)
            os._exit(0)
        made += 1
    print("made", made, "refused 0", flush=True)
except BlockingIOError:
    print("made", made, "refused 1", flush=True)
"""
    r = cg.run("exec /usr/bin/python3 -c '%s'" % bomb, timeout=BOOT_TIMEOUT)
    m = re.search(r"made (\d+) refused (\d+)", r.stdout)
    assert m, "fork bomb did not report: rc=%s %s %s" % (r.returncode, r.stdout, r.stderr[-400:])
    assert m.group(2) == "1", "pids.max=16 never refused a fork: %s" % r.stdout
    assert int(m.group(1)) <= 15, "more children than pids.max allows: %s" % r.stdout
    assert int(cg.read("pids.current")) <= 16, "pids.current above pids.max"
    events = cg.keyed("pids.events")
    assert events.get("max", 0) >= 1, "pids.events does not count the refused forks: %s" % events


def test_cpu_max_throttles(needs, cgroup):
    needs(cgroup={"cpu"})
    cg = cgroup("cpu")
    cg.write("cpu.max", "10000 100000")   # 10 ms per 100 ms period
    r = cg.run('exec timeout 2 /bin/sh -c "while :; do :; done"')
    assert r.returncode == 124, "busy loop should be stopped by timeout(1): %s %s" % (r.returncode, r.stderr)
    stat = cg.keyed("cpu.stat")
    assert stat.get("nr_throttled", 0) > 0, "cpu.max did not throttle a busy loop: %s" % stat
    assert stat.get("throttled_usec", 0) > 0, "throttled but for no time: %s" % stat
    # No bound on usage_usec: under TCG the guest clock runs while the host deschedules the vCPU thread and
    # that time is charged to whatever task was running (no steal-time accounting), so the usage a loaded
    # host reports can exceed the quota without the limit being broken.


def test_kvm_runs_a_guest_to_hlt(needs):
    needs(kvm=True)
    assert KVM_HLT.exists(), "%s is not built: run make (tests/vm/build.mk builds it)" % KVM_HLT
    r = subprocess.run([str(KVM_HLT)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "kvm_hlt failed: %s" % r.stderr
    assert "KVM_GET_API_VERSION 12" in r.stdout and "KVM_EXIT_HLT" in r.stdout, r.stdout


def test_user_namespaces_work(needs, vm_tier):
    """switch_root, not chroot: a chrooted process gets EPERM from unshare(CLONE_NEWUSER)."""
    if not vm_tier:
        pytest.skip("checks the proving ground's root switch — runs in the VM tier (make check-vm)")
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork",
                        "--mount-proc", "sh", "-c", "id -u; echo $$"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "user+mount+pid namespaces: %s" % r.stderr
    assert r.stdout.split() == ["0", "1"], r.stdout


def test_host_root_read_only_under_overlay(vm_tier):
    if not vm_tier:
        pytest.skip("checks the proving ground's root — runs in the VM tier (make check-vm)")
    mounts = {m.split()[1]: m.split() for m in pathlib.Path("/proc/self/mounts").read_text().splitlines()}
    assert mounts["/"][2] == "overlay", mounts["/"]
    # /tmp on the ext4 scratch disk: idmapped mounts work there (not on tmpfs or overlayfs in 6.1).
    assert mounts["/tmp"][2] == "ext4", mounts["/tmp"]
    repo = mounts.get(str(REPO))
    assert repo and repo[2] == "9p" and "rw" in repo[3].split(","), "checkout mount: %s" % repo
    # Root-only host files are readable (qemu reads the host as root).
    assert pathlib.Path("/etc/shadow").read_bytes(), "/etc/shadow unreadable in the VM"
    # A write to / lands in the tmpfs upper layer (the host side is checked by test_run_* below).
    probe = pathlib.Path("/etc/vmtest-overlay-probe")
    probe.write_text("vm")
    assert probe.read_text() == "vm"


def test_device_nodes_autoload_their_modules(vm_tier):
    if not vm_tier:
        pytest.skip("checks the proving ground's modules — runs in the VM tier (make check-vm)")
    assert pathlib.Path("/dev/kvm").is_char_device(), "/dev/kvm missing: kvm_amd/kvm_intel not loaded"
    # Static nodes (modules.devname): the first open autoloads the module through the host's modprobe.
    for dev, module in (("/dev/loop-control", "loop"), ("/dev/net/tun", "tun"), ("/dev/fuse", "fuse"),
                        ("/dev/vhost-net", "vhost_net"), ("/dev/vhost-vsock", "vhost_vsock")):
        assert pathlib.Path(dev).is_char_device(), "%s missing in the VM" % dev
        os.close(os.open(dev, os.O_RDWR | os.O_CLOEXEC))
        assert pathlib.Path("/sys/module", module).is_dir(), "opening %s did not load %s" % (dev, module)
    # veth is not in the initramfs: it autoloads through the host's modprobe over the 9p root.
    r = subprocess.run(["ip", "link", "add", "vmtest-v0", "type", "veth", "peer", "name", "vmtest-v1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "veth did not autoload: %s" % r.stderr
    subprocess.run(["ip", "link", "del", "vmtest-v0"], check=True, timeout=60)


# --- from the host -------------------------------------------------------------------------------------

@pytest.fixture
def host_only(vm_tier):
    if vm_tier:
        pytest.skip("drives tests/vm/run from the host (inside the VM it would nest a TCG VM in a TCG VM)")
    if os.geteuid() != 0:
        pytest.skip("tests/vm/run needs root")


def vmrun(*args, cwd=REPO, env=None, timeout=BOOT_TIMEOUT + 60):
    return subprocess.run([str(RUN), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def no_process(pid):
    try:
        cmd = pathlib.Path("/proc/%d/cmdline" % pid).read_bytes()
    except FileNotFoundError:
        return True
    return b"qemu" not in cmd


def gone(pid):
    """No such process any more (or a zombie waiting for its new parent to reap it)."""
    try:
        return pathlib.Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def test_run_exit_status_output_env_cwd(host_only, tmp_path):
    env = dict(os.environ, VMTEST_VAR="two words, it's \"quoted\"\nand $NOT_EXPANDED", **{"BASH_FUNC_vmtest%%": "() { echo; }"})
    probe = pathlib.Path("/etc/vmtest-overlay-probe")
    script = ('printf "<%s>" "$@"; echo; echo to-stderr >&2; pwd; printf "%s\\n" "$VMTEST_VAR"; '
              'echo $ISOLA_VM; echo vm > /etc/vmtest-overlay-probe || exit 3; exit 77')
    r = vmrun("--timeout", str(BOOT_TIMEOUT), "--", "sh", "-c", script, "sh", "a b", "it's", "$HOME", "",
              cwd=REPO / "tests", env=env)
    assert r.returncode == 77, "exit 77 did not propagate: %s\n%s" % (r.returncode, r.stderr[-2000:])
    assert r.stdout.splitlines() == ["<a b><it's><$HOME><>", str(REPO / "tests"), "two words, it's \"quoted\"",
                                     "and $NOT_EXPANDED", "1"], r.stdout
    assert r.stderr == "to-stderr\n", "stderr: %r" % r.stderr
    assert not probe.exists(), "a write to / in the VM reached the host's %s" % probe


def test_run_exit_status_one(host_only):
    r = vmrun("--timeout", str(BOOT_TIMEOUT), "--", "false")
    assert r.returncode == 1, "exit 1 did not propagate: %s\n%s" % (r.returncode, r.stderr[-2000:])


def test_run_done_when_controllers_and_kvm(host_only):
    """The issue's two done-when commands, in one boot."""
    r = vmrun("--timeout", str(BOOT_TIMEOUT), "--", "sh", "-c",
              "cat /sys/fs/cgroup/cgroup.controllers && test -c /dev/kvm")
    assert r.returncode == 0, "status %s: %s" % (r.returncode, r.stderr[-2000:])
    assert set(r.stdout.split()) >= {"cpu", "memory", "pids", "io"}, r.stdout


def test_run_command_not_found_is_127(host_only):
    r = vmrun("--timeout", str(BOOT_TIMEOUT), "--", "vmtest-no-such-command", "arg")
    assert r.returncode == 127, "status %s: %s" % (r.returncode, r.stderr[-2000:])
    assert "vmtest-no-such-command" in r.stderr and "not found" in r.stderr, r.stderr


def test_run_kernel_panic_is_reported(host_only):
    # sysrq c crashes the kernel on purpose: the VM never reports a status.
    r = vmrun("--timeout", str(BOOT_TIMEOUT), "--", "sh", "-c", "echo c > /proc/sysrq-trigger; sleep 60")
    assert r.returncode == 125, "status %s: %s" % (r.returncode, r.stderr[-2000:])
    assert "kernel panic" in r.stderr and "last console lines" in r.stderr, r.stderr
    assert "not syncing: sysrq triggered crash" in r.stderr, "the report does not name the panic's cause: %s" % r.stderr


def test_run_timeout_kills_the_vm(host_only):
    r = vmrun("--timeout", "4", "--", "sleep", "600", timeout=120)
    assert r.returncode == 124, "status %s: %s" % (r.returncode, r.stderr[-2000:])
    m = re.search(r"timeout: 4 s passed, killed the VM \(qemu pid (\d+)", r.stderr)
    assert m, "timeout not reported: %s" % r.stderr
    assert no_process(int(m.group(1))), "qemu pid %s outlived tests/vm/run" % m.group(1)


def children(pid):
    """Pids whose parent is pid (from /proc/*/stat; field 4 is the ppid, after the parenthesised comm)."""
    out = []
    for st in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = st.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(st.parent.name))
    return out


def marked(mark):
    """Live processes whose environment carries mark (every descendant of a run inherits it)."""
    out = []
    for env in pathlib.Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark in env.read_bytes() and not gone(int(env.parent.name)):
                out.append("%s %s" % (env.parent.name, (env.parent / "comm").read_text().strip()))
        except (OSError, ValueError):
            continue
    return out


def kill_run_when(ready, what):
    """Start a run, SIGKILL it once ready(children's comms) holds, and return it with what it left."""
    mark = "ISOLA_VM_KILL_TEST=%d.%d" % (os.getpid(), time.monotonic_ns())
    p = subprocess.Popen([str(RUN), "--", "sleep", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         cwd=REPO, env=dict(os.environ, **dict([mark.split("=", 1)])))
    try:
        for _ in range(6000):
            comms = []
            for c in children(p.pid):
                try:
                    comms.append(pathlib.Path("/proc/%d/comm" % c).read_text().strip())
                except OSError:
                    pass
            if ready(comms):
                break
            time.sleep(0.01)
        else:
            raise AssertionError("tests/vm/run never reached %s" % what)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        left = marked(mark.encode())
        for _ in range(100):
            if not left:
                break
            time.sleep(0.1)
            left = marked(mark.encode())
        return p, left
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_run_killed_outright_takes_qemu_with_it(host_only):
    # A caller's own timeout (subprocess.run's kill(), CI's) sends SIGKILL: no trap runs, so qemu, the
    # watchdog and the cats must die by PR_SET_PDEATHSIG, not by the script's cleanup — also when the
    # kill lands while they are still being started (before setpriv's prctl).
    _, left = kill_run_when(lambda comms: bool(comms) and any(c in ("setpriv", "sh") for c in comms),
                            "its first child being started")
    assert not left, "outlived a SIGKILL of tests/vm/run during its children's start: %s" % left
    p, left = kill_run_when(lambda comms: any(c.startswith("qemu") for c in comms), "a running qemu")
    assert not left, "outlived a SIGKILL of tests/vm/run: %s" % left
    # no trap ran, so its run directory (an 8 GiB sparse scratch disk) stayed; the next run sweeps it
    mine = [o.parent for o in (REPO / "build" / "vm").glob("run.*/owner") if o.read_text().strip() == str(p.pid)]
    assert mine, "the killed run's directory (owner %d) was not found" % p.pid
    r = vmrun("--timeout", str(BOOT_TIMEOUT), "--", "true")
    assert r.returncode == 0, r.stderr[-2000:]
    assert not mine[0].exists(), "the next run did not sweep the killed run's %s" % mine[0]


def test_run_refuses_missing_kernel(host_only):
    r = vmrun("--kernel", "/nonexistent/vmlinuz", "--", "true", timeout=60)
    assert r.returncode == 2, r
    assert "linux-image-amd64" in r.stderr and "make deps" in r.stderr, r.stderr


def test_run_refuses_too_little_memory(host_only):
    r = vmrun("--mem", "64", "--", "true", timeout=120)
    assert r.returncode == 2, r
    assert re.search(r"--mem 64 MiB is too small .* at least \d+ MiB", r.stderr), r.stderr


def test_run_refuses_bad_usage(host_only):
    for args in (["true"], ["--mem", "lots", "--", "true"], ["--timeout", "0", "--", "true"], ["--"]):
        r = vmrun(*args, timeout=60)
        assert r.returncode == 2 and r.stderr.startswith("tests/vm/run:"), (args, r.stderr)
