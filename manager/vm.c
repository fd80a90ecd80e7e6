/* Virtual machines through isola-vmm (docs/vmm.md): a monitor process of ours runs the VMM as its child
 * with the instance's disk, a tap fd from isola-netd and the serial port on the instance's console socket,
 * and cleans up when it exits (netd detach, record Stopped). Kernel and initramfs are the ones the image's
 * disk carries (image properties isola.kernel / isola.initrd / isola.cmdline), copied out of the disk once
 * with debugfs(8) — a user-space ext4 reader, so a guest-controlled filesystem is never mounted by the host
 * kernel. The serial port is also logged to console.log; the cloud-init seed is a read-only second disk. */
#include "vm.h"
#include "agent.h"
#include "agent_proto.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cleanup.h"
#include "config.h"
#include "daemons.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "paths.h"
#include "seed_disk.h"
#include "storage.h"
#include "util.h"

static void ipath(const char *name, const char *file, char *out, size_t len)
{
	isola_path(out, len, "instances/%s/%s", name, file);
}

static pid_t pid_from(const char *name, const char *file)
{
	char p[4096];
	ipath(name, file, p, sizeof p);
	_cleanup_free_ char *s = NULL;
	isola_error e;
	if (read_file_at(AT_FDCWD, p, &s, NULL, &e) < 0)
		return 0;
	pid_t pid = (pid_t)atoi(s);
	return pid > 0 && kill(pid, 0) == 0 ? pid : 0;
}

bool vm_running(struct manager *m, const struct instance_rec *r, pid_t *pid)
{
	pid_t p = pid_from(r->name, "vmm.pid");
	if (p) {
		/* the pid file could outlive its process and the number be reused: check it is a VMM */
		char path[64], comm[32] = "";
		snprintf(path, sizeof path, "/proc/%d/comm", p);
		FILE *f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof comm, f))
				comm[0] = 0;
			fclose(f);
		}
		if (strncmp(comm, "isola-vmm", 9))
			p = 0;
	}
	if (pid)
		*pid = p;
	return p != 0;
}

static int control(const char *name, const char *op, json_t **reply, isola_error *err)
{
	char sock[4096];
	ipath(name, "control.sock", sock, sizeof sock);
	_cleanup_json_ json_t *req = json_pack("{ss}", "op", op);
	return ipc_call(sock, req, NULL, 0, reply, NULL, NULL, NULL, NULL, err);
}

/* Copy path (inside the disk) out to dst with debugfs; one level of symlink (/boot/vmlinuz → vmlinuz-6.1…)
 * is followed. */
static int extract(const char *disk, const char *path, const char *dst, isola_error *err)
{
	char cur[1024];
	snprintf(cur, sizeof cur, "%s", path);
	for (int hop = 0; hop < 3; hop++) {
		if (strchr(cur, '"') || strchr(cur, '\n'))
			return isola_err(err, EINVAL, "image path %s", cur);
		char req[1200];
		snprintf(req, sizeof req, "dump -p \"%s\" \"%s\"", cur, dst);
		unlink(dst);
		pid_t pid = fork();
		if (pid == 0) {
			int nul = open("/dev/null", O_RDWR);
			dup2(nul, 1);
			dup2(nul, 2);
			execlp("debugfs", "debugfs", "-R", req, disk, (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		struct stat sb;
		if (!WIFEXITED(st) || WEXITSTATUS(st) || stat(dst, &sb) < 0 || sb.st_size == 0)
			return isola_err(err, ENOENT, "%s not found in the VM disk %s (debugfs)", cur, disk);
		if (sb.st_size > 1024)
			return 0;
		/* small: a symlink's target (debugfs dumps the link text) */
		_cleanup_free_ char *t = NULL;
		if (read_file_at(AT_FDCWD, dst, &t, NULL, err) < 0)
			return -1;
		if (t[0] == '/')
			snprintf(cur, sizeof cur, "%s", t);
		else {
			char dir[1024];
			snprintf(dir, sizeof dir, "%s", cur);
			char *s = strrchr(dir, '/');
			if (s)
				*s = 0;
			snprintf(cur, sizeof cur, "%s/%s", dir, t);
		}
	}
	return isola_err(err, ELOOP, "%s: too many symlinks in the VM disk", path);
}

struct vm_monitor {
	struct instance_rec rec;
	json_t *devices;
	char *argv[40];
	int tap;
	char net[64], nname[32];
};

static void detach_nic(struct vm_monitor *vm)
{
	isola_error e;
	if (vm->net[0] &&
	    daemon_op(DAEMON_NETD, "detach", json_pack("{ss ss}", "network", vm->net, "instance", vm->nname), NULL,
	              NULL, NULL, &e) < 0 &&
	    e.errnum != ENOENT)
		log_warn("%s: detach: %s", vm->rec.name, e.msg);
}

static void report(int fd, int rc, const isola_error *err)
{
	if (fd < 0)
		return;
	char buf[ISOLA_ERR_MSG_MAX + 32];
	int n = rc == 0 ? snprintf(buf, sizeof buf, "OK") : snprintf(buf, sizeof buf, "%d %s", err->errnum, err->msg);
	(void)!write(fd, buf, (size_t)n);
}

static int monitor_run(struct vm_monitor *vm, int status_fd, int *fg_lock)
{
	isola_error err = {0};
	char pidp[4096], vpidp[4096], ctrl[4096];
	ipath(vm->rec.name, "monitor.pid", pidp, sizeof pidp);
	ipath(vm->rec.name, "vmm.pid", vpidp, sizeof vpidp);
	ipath(vm->rec.name, "control.sock", ctrl, sizeof ctrl);
	write_filef_at(AT_FDCWD, pidp, &err, "%d\n", getpid());
	unlink(ctrl);
	pid_t child = fork();
	if (child == 0) {
		/* the tap becomes fd 3 (--net fd=3); nothing else is inherited */
		if (vm->tap >= 0 && vm->tap != 3)
			dup2(vm->tap, 3);
		close_range(vm->tap >= 0 ? 4 : 3, ~0U, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(vm->argv[0], vm->argv);
		_exit(127);
	}
	if (child < 0) {
		isola_err(&err, errno, "fork %s", vm->argv[0]);
		goto fail;
	}
	if (vm->tap >= 0)
		close(vm->tap);
	write_filef_at(AT_FDCWD, vpidp, &err, "%d\n", child);
	/* ready when the control socket answers (the VMM creates it after setting up the VM) */
	for (int i = 0; i < 1000; i++) {
		int st;
		if (waitpid(child, &st, WNOHANG) == child) {
			isola_err(&err, EIO, "isola-vmm exited during start (status %d; see %s/instances/%s/vmm.log)",
			          WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), isola_dir(), vm->rec.name);
			goto fail;
		}
		int fd = ipc_connect(ctrl, &err);
		if (fd >= 0) {
			close(fd);
			break;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	{
		struct manager m2;
		isola_error e2;
		if (manager_open(&m2, &e2) == 0) {
			db_instance_set_status(m2.db, vm->rec.id, STATUS_RUNNING, &e2);
			manager_close(&m2);
		}
	}
	report(status_fd, 0, NULL);
	if (status_fd >= 0)
		close(status_fd);
	if (fg_lock && *fg_lock >= 0) {
		close(*fg_lock);
		*fg_lock = -1;
	}
	{
		int st;
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
	}
	detach_nic(vm);
	{
		struct manager m2;
		isola_error e2;
		if (manager_open(&m2, &e2) == 0) {
			struct instance_rec cur;
			if (db_instance_get(m2.db, vm->rec.name, &cur, &e2) == 0) {
				if (cur.id == vm->rec.id)
					db_instance_set_status(m2.db, cur.id, STATUS_STOPPED, &e2);
				bool eph = cur.ephemeral && cur.id == vm->rec.id;
				instance_rec_clear(&cur);
				int l = eph ? instance_trylock(vm->rec.name, &e2) : -1;
				if (l >= 0) {
					close(l);
					instance_delete(&m2, vm->rec.name, true, &e2);
				}
			}
			manager_close(&m2);
		}
	}
	unlink(vpidp);
	unlink(pidp);
	unlink(ctrl);
	return 0;
fail:
	report(status_fd, -1, &err);
	detach_nic(vm);
	unlink(pidp);
	unlink(vpidp);
	return -1;
}

static int bin_path(char *out, size_t len, isola_error *err)
{
	const char *env = getenv("ISOLA_BIN_DIR");
	char dir[4096];
	if (env && *env)
		snprintf(dir, sizeof dir, "%s", env);
	else {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
		if (n < 0)
			return isola_err(err, errno, "readlink /proc/self/exe");
		dir[n] = 0;
		char *s = strrchr(dir, '/');
		if (s)
			*s = 0;
	}
	snprintf(out, len, "%s/isola-vmm", dir);
	if (access(out, X_OK) < 0)
		return isola_err(err, errno, "%s", out);
	return 0;
}

/* ---- the guest agent's vsock (docs/agent.md) ---- */

/* CIDs 0-2 are reserved (vsock(7)); ours start high, away from what other hypervisors on the host number
 * from 3 up, and are the instance's row id on top: unique among instances without a scan or a race. */
#define VM_CID_BASE 10000

/* volatile.vsock_id: made at the first start and kept (Incus's key), so the agent's address is stable. */
static int vm_vsock_cid(struct manager *m, const struct instance_rec *r, uint32_t *cid, isola_error *err)
{
	json_t *v = json_object_get(r->config, "volatile.vsock_id");
	const char *s = json_string_value(v);
	if (s) {
		*cid = (uint32_t)strtoul(s, NULL, 10);
		return 0;
	}
	struct instance_rec cur;
	if (db_instance_get(m->db, r->name, &cur, err) < 0)
		return -1;
	*cid = VM_CID_BASE + (uint32_t)r->id;
	json_object_set_new(cur.config, "volatile.vsock_id", json_sprintf("%u", *cid));
	int rc = db_instance_update(m->db, &cur, err);
	if (rc == 0)
		json_object_set_new(r->config, "volatile.vsock_id", json_sprintf("%u", *cid));
	instance_rec_clear(&cur);
	return rc;
}

/* Append "--vsock cid=N" to the VMM's argv (the value lives in a static buffer, as vm_start's other
 * arguments do: the argv is used after we return). */
static int vm_vsock_args(struct manager *m, const struct instance_rec *r, char **a, int *ai, isola_error *err)
{
	uint32_t cid;
	if (vm_vsock_cid(m, r, &cid, err) < 0)
		return isola_err_wrap(err, "start %s: vsock CID", r->name);
	static char arg[32];
	snprintf(arg, sizeof arg, "cid=%u", cid);
	a[(*ai)++] = "--vsock";
	a[(*ai)++] = arg;
	return 0;
}

int vm_agent_address(const struct instance_rec *r, char *out, size_t len, isola_error *err)
{
	const char *s = json_string_value(json_object_get(r->config, "volatile.vsock_id"));
	if (!s)
		return isola_err(err, ENOENT,
		                 "VM %s has no vsock CID yet (it was started by an isola without the agent: "
		                 "restart it)",
		                 r->name);
	snprintf(out, len, "vsock:%s:%u", s, AGENT_PORT);
	return 0;
}

/* state.network and processes from the agent when it answers quickly; NULL otherwise. */
static json_t *vm_agent_state(const struct instance_rec *r)
{
	char addr[64];
	isola_error e;
	json_t *info = NULL;
	if (vm_agent_address(r, addr, sizeof addr, &e) < 0 || agent_client_ping(addr, 0, &info, &e) < 0)
		return NULL;
	return info;
}

int vm_start(struct manager *m, const struct instance_rec *r, json_t *config, json_t *devices, int *fg_lock,
             isola_error *err)
{
	static char vmm[4096], kernel[4096], initrd[4096], disk[4096], serial[4200], ctrl[4096], clog[4096],
	    hvclog[4096], mem[32], cpus[16], cmdline[1024], idir[4096], netspec[64], seed[4200], seedspec[4210];
	if (bin_path(vmm, sizeof vmm, err) < 0)
		return isola_err_wrap(err, "start %s: isola-vmm", r->name);
	if (access("/dev/kvm", R_OK | W_OK) < 0)
		return isola_err(err, errno, "start %s: /dev/kvm", r->name);
	struct pool_rec pool;
	if (db_pool_get(m->db, r->pool, &pool, err) < 0)
		return -1;
	int rc = storage_vm_disk(&pool, r->name, disk, sizeof disk, err);
	pool_rec_clear(&pool);
	if (rc < 0)
		return -1;
	isola_path(idir, sizeof idir, "instances/%s", r->name);
	mkdir(idir, 0711);
	_cleanup_json_ json_t *shown = NULL;
	if (daemon_op(DAEMON_IMAGED, "image.show", json_pack("{ss}", "ref", r->image), &shown, NULL, NULL, err) < 0)
		return isola_err_wrap(err, "start %s: image", r->name);
	json_t *props = json_object_get(json_object_get(shown, "image"), "properties");
	const char *pk = json_string_value(json_object_get(props, "isola.kernel"));
	const char *pi = json_string_value(json_object_get(props, "isola.initrd"));
	const char *pc = json_string_value(json_object_get(props, "isola.cmdline"));
	if (!pk)
		return isola_err(err, ENOENT, "start %s: the image has no isola.kernel property (a direct-boot kernel)",
		                 r->name);
	ipath(r->name, "vmlinuz", kernel, sizeof kernel);
	ipath(r->name, "initrd", initrd, sizeof initrd);
	struct stat st;
	if (stat(kernel, &st) < 0 && extract(disk, pk, kernel, err) < 0)
		return isola_err_wrap(err, "start %s: kernel", r->name);
	if (pi && stat(initrd, &st) < 0 && extract(disk, pi, initrd, err) < 0)
		return isola_err_wrap(err, "start %s: initrd", r->name);
	snprintf(cmdline, sizeof cmdline, "%s", pc ? pc : "root=/dev/vda rw");
	uint64_t memb = 0;
	if (config_memory_limit(config, 0, &memb, err) < 0)
		return -1;
	snprintf(mem, sizeof mem, "%llu", (unsigned long long)(memb ? memb >> 20 : 1024));
	unsigned ncpu = 1;
	_cleanup_free_ char *cpuset = NULL;
	if (config_cpu_limit(config, &ncpu, &cpuset, err) < 0)
		return -1;
	snprintf(cpus, sizeof cpus, "%u", ncpu ? ncpu : 1);
	snprintf(serial, sizeof serial, "unix:%s/console.sock", idir);
	ipath(r->name, "control.sock", ctrl, sizeof ctrl);
	ipath(r->name, "console.log", clog, sizeof clog);
	ipath(r->name, "hvc0.log", hvclog, sizeof hvclog);

	struct vm_monitor vm = {.rec = *r, .devices = devices, .tap = -1};
	instance_netd_name(r, vm.nname, sizeof vm.nname);
	int ai = 0;
	char **a = vm.argv;
	a[ai++] = vmm, a[ai++] = "--kernel", a[ai++] = kernel;
	if (pi)
		a[ai++] = "--initrd", a[ai++] = initrd;
	a[ai++] = "--cmdline", a[ai++] = cmdline, a[ai++] = "--cpus", a[ai++] = cpus, a[ai++] = "--memory",
	a[ai++] = mem;
	a[ai++] = "--disk", a[ai++] = disk;
	/* the cloud-init NoCloud seed, read-only, as /dev/vdb (rebuilt when the cloud-init.* keys changed) */
	if (seed_disk_build(idir, r->name, config, seed, sizeof seed, NULL, err) < 0)
		return isola_err_wrap(err, "start %s", r->name);
	snprintf(seedspec, sizeof seedspec, "%s,ro", seed);
	a[ai++] = "--disk", a[ai++] = seedspec;
	a[ai++] = "--serial", a[ai++] = serial, a[ai++] = "--control", a[ai++] = ctrl;
	/* console.log is the serial port (the guest's kernel console and getty: console=ttyS0), kept by the
	 * VMM whether or not `isola console` is attached; virtio-console (hvc0) output goes to hvc0.log. */
	a[ai++] = "--serial-log", a[ai++] = clog;
	/* anonymous guest RAM: THP-eligible, so far fewer EPT faults while the guest boots than the memfd's
	 * 4 KiB shmem pages (docs/vmm.md benchmark: ~25 % of boot time); nothing shares a VM's RAM yet */
	a[ai++] = "--memory-backend", a[ai++] = "anon";
	a[ai++] = "--console-log", a[ai++] = hvclog, a[ai++] = "--rng";
	/* the first nic: a tap from netd (virtio-net takes one inherited fd) */
	const char *k;
	json_t *d;
	json_object_foreach(devices, k, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "type")) ?: "", "nic") || vm.net[0])
			continue;
		const char *net = json_string_value(json_object_get(d, "network"));
		if (!net)
			continue;
		_cleanup_json_ json_t *req =
		    json_pack("{ss ss ss ss}", "op", "attach", "network", net, "instance", vm.nname, "kind", "tap");
		_cleanup_json_ json_t *reply = NULL;
		int fds[IPC_MAX_FDS];
		size_t nfds = 0;
		if (daemon_call(DAEMON_NETD, req, NULL, 0, &reply, fds, &nfds, NULL, NULL, err) < 0)
			return isola_err_wrap(err, "start %s: nic %s", r->name, k);
		if (nfds < 1)
			return isola_err(err, EPROTO, "start %s: netd sent no tap fd", r->name);
		for (size_t i = 1; i < nfds; i++)
			close(fds[i]);
		vm.tap = fds[0];
		snprintf(vm.net, sizeof vm.net, "%s", net);
		/* what `list` shows for the VM (no guest agent to ask) */
		json_t *info =
		    json_pack("{s{s[{ssssssss}] ss ss sO ss ss}}", k, "addresses", "family", "inet", "address",
		              json_string_value(json_object_get(reply, "ipv4")) ?: "", "netmask", "24", "scope",
		              "global", "hwaddr", json_string_value(json_object_get(reply, "mac")) ?: "", "host_name",
		              json_string_value(json_object_get(reply, "host_ifname")) ?: "", "mtu",
		              json_object_get(reply, "mtu") ?: json_integer(1500), "state", "up", "type", "broadcast");
		json_t *prefix = json_object_get(reply, "prefix4");
		if (info && json_is_integer(prefix))
			json_object_set_new(json_array_get(json_object_get(json_object_get(info, k), "addresses"), 0),
			                    "netmask", json_sprintf("%lld", (long long)json_integer_value(prefix)));
		char np[4096];
		ipath(r->name, "network.json", np, sizeof np);
		if (info)
			json_store_path(np, info, false, err);
		json_decref(info);
		/* the MAC netd reserved the address for: the guest's DHCP client then gets exactly that address */
		const char *mac = json_string_value(json_object_get(reply, "mac"));
		snprintf(netspec, sizeof netspec, "fd=3%s%s", mac ? ",mac=" : "", mac ?: "");
		a[ai++] = "--net", a[ai++] = netspec;
	}
	if (vm_vsock_args(m, r, a, &ai, err) < 0)
		return -1;
	a[ai] = NULL;

	if (fg_lock)
		return monitor_run(&vm, -1, fg_lock) < 0 ? isola_err(err, EIO, "start %s failed", r->name) : 0;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return isola_err(err, errno, "pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return isola_err(err, errno, "fork monitor");
	if (pid == 0) {
		close(pfd[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		char logp[4096];
		ipath(r->name, "vmm.log", logp, sizeof logp);
		int nul = open("/dev/null", O_RDWR);
		int lfd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(nul, 0);
		dup2(lfd >= 0 ? lfd : nul, 1);
		dup2(lfd >= 0 ? lfd : nul, 2);
		/* keep only the status pipe and the tap */
		int keep = fcntl(pfd[1], F_DUPFD_CLOEXEC, 10);
		int tap = vm.tap >= 0 ? fcntl(vm.tap, F_DUPFD, 11) : -1;
		for (int fd = 3; fd < 10; fd++)
			close(fd);
		vm.tap = tap;
		signal(SIGPIPE, SIG_IGN);
		_exit(monitor_run(&vm, keep, NULL) < 0 ? 1 : 0);
	}
	close(pfd[1]);
	if (vm.tap >= 0)
		close(vm.tap);
	waitpid(pid, NULL, 0);
	char buf[ISOLA_ERR_MSG_MAX + 32];
	ssize_t n, tot = 0;
	while ((n = read(pfd[0], buf + tot, sizeof buf - 1 - (size_t)tot)) > 0)
		tot += n;
	close(pfd[0]);
	buf[tot > 0 ? tot : 0] = 0;
	if (!strcmp(buf, "OK"))
		return 0;
	if (!tot)
		return isola_err(err, EIO, "start %s: the monitor died", r->name);
	char *sp = strchr(buf, ' ');
	return isola_err(err, atoi(buf), "%s", sp ? sp + 1 : buf);
}

static bool gone(pid_t pid, int timeout_ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return errno == ESRCH;
	struct pollfd p = {pfd, POLLIN, 0};
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	close(pfd);
	return r > 0;
}

int vm_stop(struct manager *m, const struct instance_rec *r, bool force, int timeout_s, isola_error *err)
{
	pid_t vmm = 0, mon = pid_from(r->name, "monitor.pid");
	isola_error e;
	if (vm_running(m, r, &vmm)) {
		/* the ACPI power button first: the guest shuts down cleanly; then the hard stop */
		if (!force && control(r->name, "shutdown", NULL, &e) == 0 &&
		    gone(vmm, (timeout_s > 0 ? timeout_s : 30) * 1000))
			;
		else if (control(r->name, "stop", NULL, &e) < 0 || !gone(vmm, 5000))
			kill(vmm, SIGKILL);
	}
	if (mon && !gone(mon, 15000))
		return isola_err(err, ETIMEDOUT, "stop %s: the monitor (pid %d) did not finish", r->name, mon);
	if (!mon)
		return db_instance_set_status(m->db, r->id, STATUS_STOPPED, err);
	return 0;
}

int vm_freeze(struct manager *m, const struct instance_rec *r, bool freeze, isola_error *err)
{
	if (control(r->name, freeze ? "pause" : "resume", NULL, err) < 0)
		return isola_err_wrap(err, "%s %s", freeze ? "pause" : "resume", r->name);
	return db_instance_set_status(m->db, r->id, freeze ? STATUS_FROZEN : STATUS_RUNNING, err);
}

void vm_state(struct manager *m, const struct instance_rec *r, json_t *state)
{
	pid_t pid;
	if (!vm_running(m, r, &pid))
		return;
	json_object_set_new(state, "pid", json_integer(pid));
	json_object_set_new(state, "processes", json_integer(-1)); /* Incus: unknown without an agent */
	char np[4096];
	ipath(r->name, "network.json", np, sizeof np);
	isola_error e;
	_cleanup_json_ json_t *agent = vm_agent_state(r);
	json_t *net = agent ? json_incref(json_object_get(agent, "network")) : json_load_path(np, &e);
	if (net)
		json_object_set_new(state, "network", net);
	if (agent)
		json_object_set(state, "processes", json_object_get(agent, "processes"));
	/* paused VMs report it in the VMM's status */
	_cleanup_json_ json_t *reply = NULL;
	if (control(r->name, "status", &reply, &e) == 0 &&
	    !strcmp(json_string_value(json_object_get(reply, "state")) ?: "", "paused"))
		json_object_set_new(state, "status", json_string("Frozen"));
}
