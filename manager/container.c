/* Containers through libisola-runtime: the start sequence, the monitor process, stop, exec, state. */
#include "container.h"
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bundle.h"
#include "cleanup.h"
#include "config.h"
#include "daemons.h"
#include "idmap.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "netstate.h"
#include "paths.h"
#include "runtime/runtime.h"
#include "seed.h"
#include "storage.h"
#include "util.h"

static struct runtime_ctx rt_ctx(void)
{
	static char root[4096];
	isola_run_path(root, sizeof root, "runtime");
	return (struct runtime_ctx){.state_root = root, .cgroup_manager = RUNTIME_CGROUP_CGROUPFS};
}

bool container_running(struct manager *m, const struct instance_rec *r, pid_t *pid, bool *frozen)
{
	struct runtime_ctx ctx = rt_ctx();
	struct runtime_state st;
	isola_error e;
	if (runtime_state(&ctx, r->name, &st, &e) < 0)
		return false;
	if (pid)
		*pid = st.pid;
	if (frozen)
		*frozen = st.status == RUNTIME_PAUSED;
	return st.status == RUNTIME_RUNNING || st.status == RUNTIME_PAUSED || st.status == RUNTIME_CREATED;
}

/* ---- nics ---- */

static void random_mac(char *out, size_t len)
{
	unsigned char b[3];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, b, 3) != 3)
		b[0] = (unsigned char)getpid(), b[1] = (unsigned char)time(NULL),
		b[2] = (unsigned char)(time(NULL) >> 8);
	if (fd >= 0)
		close(fd);
	/* 10:66:6a is the prefix Incus uses for the MACs it makes */
	snprintf(out, len, "10:66:6a:%02x:%02x:%02x", b[0], b[1], b[2]);
}

/* volatile.<dev>.hwaddr for every nic, made once and kept (the DHCP reservation follows the MAC). */
static int ensure_macs(struct manager *m, const struct instance_rec *r, json_t *devices, isola_error *err)
{
	struct instance_rec cur;
	if (db_instance_get(m->db, r->name, &cur, err) < 0)
		return -1;
	bool changed = false;
	const char *k;
	json_t *d;
	json_object_foreach(devices, k, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "type")) ?: "", "nic"))
			continue;
		char key[128], mac[32];
		snprintf(key, sizeof key, "volatile.%s.hwaddr", k);
		if (json_object_get(cur.config, key))
			continue;
		const char *given = json_string_value(json_object_get(d, "hwaddr"));
		if (given)
			snprintf(mac, sizeof mac, "%s", given);
		else
			random_mac(mac, sizeof mac);
		json_object_set_new(cur.config, key, json_string(mac));
		changed = true;
	}
	int rc = changed ? db_instance_update(m->db, &cur, err) : 0;
	if (rc == 0)
		json_object_update(r->config, cur.config);
	instance_rec_clear(&cur);
	return rc;
}

static int nics_attach(const struct instance_rec *r, json_t *devices, pid_t pid, isola_error *err)
{
	char nsp[64], nname[32];
	snprintf(nsp, sizeof nsp, "/proc/%d/ns/net", pid);
	instance_netd_name(r, nname, sizeof nname);
	const char *k;
	json_t *d;
	json_object_foreach(devices, k, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "type")) ?: "", "nic"))
			continue;
		const char *net = json_string_value(json_object_get(d, "network"));
		if (!net)
			net = json_string_value(json_object_get(d, "parent"));
		const char *ifname = json_string_value(json_object_get(d, "name"));
		char key[128];
		snprintf(key, sizeof key, "volatile.%s.hwaddr", k);
		_cleanup_close_ int nsfd = open(nsp, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			return isola_err(err, errno, "open %s", nsp);
		/* static: netd configures the address and route inside, so any image is networked without a
		 * DHCP client; images that do run one get the same address (a reservation for the MAC) */
		_cleanup_json_ json_t *req =
		    json_pack("{ss ss ss ss ss sb}", "op", "attach", "network", net, "instance", nname, "kind", "veth",
		              "ifname", ifname ? ifname : k, "static", 1);
		const char *mac = json_string_value(json_object_get(r->config, key));
		if (mac)
			json_object_set_new(req, "mac", json_string(mac));
		const char *ip = json_string_value(json_object_get(d, "ipv4.address"));
		if (ip)
			json_object_set_new(req, "ipv4", json_string(ip));
		const char *mtu = json_string_value(json_object_get(d, "mtu"));
		if (mtu)
			json_object_set_new(req, "mtu", json_integer(atoi(mtu)));
		if (daemon_call(DAEMON_NETD, req, &nsfd, 1, NULL, NULL, NULL, NULL, NULL, err) < 0)
			return isola_err_wrap(err, "nic %s on network %s", k, net);
	}
	return 0;
}

static void nics_detach(const struct instance_rec *r, json_t *devices)
{
	char nname[32];
	instance_netd_name(r, nname, sizeof nname);
	const char *k;
	json_t *d;
	json_object_foreach(devices, k, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "type")) ?: "", "nic"))
			continue;
		const char *net = json_string_value(json_object_get(d, "network"));
		if (!net)
			continue;
		isola_error e;
		if (daemon_op(DAEMON_NETD, "detach", json_pack("{ss ss}", "network", net, "instance", nname), NULL,
		              NULL, NULL, &e) < 0 &&
		    e.errnum != ENOENT)
			log_warn("%s: detach %s from %s: %s", r->name, k, net, e.msg);
	}
}

/* ---- the monitor ---- */

static void idir_path(const char *name, const char *file, char *out, size_t len)
{
	if (file)
		isola_path(out, len, "instances/%s/%s", name, file);
	else
		isola_path(out, len, "instances/%s", name);
}

static int console_listen(const char *name, isola_error *err)
{
	char path[4096];
	idir_path(name, "console.sock", path, sizeof path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return isola_err(err, ENAMETOOLONG, "console socket %s", path);
	strcpy(sa.sun_path, path);
	unlink(path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return isola_err(err, errno, "socket");
	mode_t old = umask(077);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, 4) < 0)
		return isola_err(err, errno, "listen on %s", path);
	return steal_fd(&fd);
}

struct monitor {
	char name[64];
	int64_t id;
	pid_t init;
	int ptm;
	json_t *devices;
	struct instance_rec rec;
	int stop_signal;          /* the image's isola.stop_signal, 0: runtime_boot detects it */
	enum syscont_ready ready; /* the image's isola.ready, AUTO: runtime_boot detects it */
	char ready_path[256];     /* SYSCONT_READY_FILE */
	uint32_t uid_base;        /* 0: privileged */
	json_t *resources;        /* OCI linux.resources from limits.* */
	char **env;               /* environment.* as KEY=VALUE, NULL-terminated */
};

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Serve the console until init exits: one client at a time (a new one replaces the old, like `incus
 * console --force`), output also appended to console.log (truncated at 1 MiB). */
static void monitor_loop(struct monitor *mo, int lfd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, mo->init, 0);
	char logp[4096];
	idir_path(mo->name, "console.log", logp, sizeof logp);
	_cleanup_close_ int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int client = -1;
	char buf[4096];
	for (;;) {
		struct pollfd p[4] = {{pidfd, POLLIN, 0}, {lfd, POLLIN, 0}, {mo->ptm, POLLIN, 0}, {client, POLLIN, 0}};
		int r = poll(p, client >= 0 ? 4 : 3, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (p[0].revents & POLLIN))
			break;
		if (p[1].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (client >= 0)
					close(client);
				client = c;
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(mo->ptm, buf, sizeof buf);
			if (n > 0) {
				if (logfd >= 0) {
					struct stat st;
					if (fstat(logfd, &st) == 0 && st.st_size > (1 << 20))
						(void)!ftruncate(logfd, 0);
					write_all(logfd, buf, (size_t)n);
				}
				if (client >= 0)
					write_all(client, buf, (size_t)n);
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* EIO: no slave open right now (init closed it, or is exiting): keep waiting for init
				 * without spinning on the hung-up master, but wake the moment it exits — a stop waits
				 * for this process */
				struct pollfd ex = {pidfd, POLLIN, 0};
				poll(&ex, pidfd >= 0 ? 1 : 0, 50);
			}
		}
		if (client >= 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(client, buf, sizeof buf);
			if (n <= 0) {
				close(client);
				client = -1;
			} else {
				write_all(mo->ptm, buf, (size_t)n);
			}
		}
	}
	if (client >= 0)
		close(client);
	if (pidfd >= 0)
		close(pidfd);
	/* drain what init wrote last, then say how it ended (monitor.log: the first place to look) */
	for (;;) {
		struct pollfd p = {mo->ptm, POLLIN, 0};
		ssize_t n = poll(&p, 1, 0) > 0 ? read(mo->ptm, buf, sizeof buf) : 0;
		if (n <= 0)
			break;
		if (logfd >= 0)
			write_all(logfd, buf, (size_t)n);
	}
	int st;
	pid_t w;
	while ((w = waitpid(-1, &st, WNOHANG)) > 0)
		if (w == mo->init)
			log_info("%s: init (pid %d) %s %d", mo->name, w,
			         WIFEXITED(st) ? "exited with status" : "was killed by signal",
			         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* After init exited: undo the start. Runs in the monitor (no instance lock: the stopping command, if
 * any, holds it and waits for us). */
static void monitor_cleanup(struct monitor *mo)
{
	struct runtime_ctx ctx = rt_ctx();
	isola_error e;
	nics_detach(&mo->rec, mo->devices);
	/* init ended by itself (poweroff inside, a crash): undo the boot here. When `isola stop` holds the
	 * lock, its runtime_halt does that (two deletes of one container would race). */
	int held = instance_trylock(mo->name, &e);
	if (held >= 0) {
		if (runtime_halt(&ctx, mo->name, 0, NULL, false, &e) < 0 && e.errnum != ENOENT)
			log_warn("%s: runtime halt: %s", mo->name, e.msg);
		close(held);
	}
	struct manager m2;
	if (manager_open(&m2, &e) < 0) {
		log_warn("%s: %s", mo->name, e.msg);
		return;
	}
	struct pool_rec pool;
	if (db_pool_get(m2.db, mo->rec.pool, &pool, &e) == 0) {
		if (storage_rootfs_unmount(&pool, mo->name, &e) < 0)
			log_warn("%s: %s", mo->name, e.msg);
		pool_rec_clear(&pool);
	}
	struct instance_rec cur;
	if (db_instance_get(m2.db, mo->name, &cur, &e) == 0) {
		if (cur.id == mo->id && db_instance_set_status(m2.db, cur.id, STATUS_STOPPED, &e) < 0)
			log_warn("%s: %s", mo->name, e.msg);
		bool eph = cur.ephemeral && cur.id == mo->id;
		instance_rec_clear(&cur);
		/* ephemeral: deleted when it stops. If a command holds the lock it is `isola stop`, which deletes
		 * it itself once we are gone. */
		if (eph) {
			int l = instance_trylock(mo->name, &e);
			if (l >= 0) {
				close(l);
				if (instance_delete(&m2, mo->name, true, &e) < 0)
					log_warn("%s: ephemeral delete: %s", mo->name, e.msg);
			}
		}
	}
	manager_close(&m2);
	char p[4096];
	idir_path(mo->name, "monitor.pid", p, sizeof p);
	unlink(p);
	idir_path(mo->name, "console.sock", p, sizeof p);
	unlink(p);
}

static void report(int fd, int rc, const isola_error *err)
{
	if (fd < 0)
		return;
	char buf[ISOLA_ERR_MSG_MAX + 32];
	int n = rc == 0 ? snprintf(buf, sizeof buf, "OK") : snprintf(buf, sizeof buf, "%d %s", err->errnum, err->msg);
	write_all(fd, buf, (size_t)n);
}

static void sd_notify_ready(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	if (!sock || (sock[0] != '/' && sock[0] != '@'))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(sock);
	if (n >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, sock, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* abstract namespace (sd_notify(3)) */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	static const char msg[] = "READY=1\nSTATUS=instance running";
	sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

/* runtime_boot's hook between create and start: the nics go into init's new network namespace before
 * init runs, so the image's network configuration finds them. */
static int boot_created(pid_t pid, void *ud, isola_error *err)
{
	struct monitor *mo = ud;
	mo->init = pid;
	return nics_attach(&mo->rec, mo->devices, pid, err);
}

/* In the monitor: runtime_boot (create, nics, start, readiness), then serve until init exits. status_fd
 * gets "OK" or the error once the container is ready (or failed). */
static int monitor_run(struct monitor *mo, const char *rootfs, int status_fd, int *fg_lock)
{
	isola_error err = {0};
	struct runtime_ctx ctx = rt_ctx();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	char pidp[4096];
	idir_path(mo->name, "monitor.pid", pidp, sizeof pidp);
	write_filef_at(AT_FDCWD, pidp, &err, "%d\n", getpid());
	int rc = -1;
	_cleanup_close_ int lfd = -1;
	isola_error e2;
	mo->ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (mo->ptm < 0 || grantpt(mo->ptm) < 0 || unlockpt(mo->ptm) < 0) {
		isola_err(&err, errno, "console pty");
		goto out;
	}
	lfd = console_listen(mo->name, &err);
	if (lfd < 0)
		goto out;
	/* a stale runtime state (host crash, a monitor killed) would make the boot fail with EEXIST; the
	 * caller checked that the instance is not running */
	struct runtime_state st;
	if (runtime_state(&ctx, mo->name, &st, &e2) == 0 && st.status == RUNTIME_STOPPED)
		runtime_halt(&ctx, mo->name, 0, NULL, false, &e2);
	struct runtime_boot_opts bo = {
	    .rootfs = rootfs,
	    /* the storage layer mounted the instance's root id-mapped already (storage.h); boot must not map
	     * it a second time, nor allocate: the block is the instance's (idmap.h) */
	    .rootfs_idmapped = mo->uid_base != 0,
	    .host_id_base = mo->uid_base,
	    .privileged = mo->uid_base == 0,
	    .hostname = mo->name,
	    .console_master = mo->ptm,
	    .stop_signal = mo->stop_signal,
	    .ready = mo->ready,
	    .ready_path = mo->ready_path[0] ? mo->ready_path : NULL,
	    .resources = mo->resources,
	    .env = mo->env,
	    .created = boot_created,
	    .created_ud = mo,
	};
	struct runtime_boot_result br;
	if (runtime_boot(&ctx, mo->name, &bo, &br, &err) < 0) {
		if (mo->init)
			nics_detach(&mo->rec, mo->devices);
		goto out;
	}
	mo->init = br.pid;
	{
		struct manager m2;
		if (manager_open(&m2, &err) < 0)
			goto out;
		db_instance_set_status(m2.db, mo->id, STATUS_RUNNING, &e2);
		manager_close(&m2);
	}
	rc = 0;
out:
	if (rc < 0) {
		isola_err_wrap(&err, "start %s", mo->name);
		report(status_fd, rc, &err);
		struct manager m2;
		if (manager_open(&m2, &e2) == 0) {
			struct pool_rec pool;
			if (db_pool_get(m2.db, mo->rec.pool, &pool, &e2) == 0) {
				storage_rootfs_unmount(&pool, mo->name, &e2);
				pool_rec_clear(&pool);
			}
			manager_close(&m2);
		}
		unlink(pidp);
		return -1;
	}
	report(status_fd, 0, NULL);
	if (status_fd >= 0)
		close(status_fd);
	if (fg_lock && *fg_lock >= 0) {
		close(*fg_lock);
		*fg_lock = -1;
	}
	sd_notify_ready();
	monitor_loop(mo, lfd);
	monitor_cleanup(mo);
	return 0;
}

/* Incus image templates (image_format.md "templates"): render each template whose `when` has the trigger
 * into the rootfs. isola's images use only {{ instance.name }} (and LXD's {{ container.name }}), which is
 * all this renderer substitutes. */
static int templates_apply(const struct instance_rec *r, json_t *image, const char *image_dir, const char *rootfs,
                           uint32_t base, const char *trigger, isola_error *err)
{
	const char *target;
	json_t *t;
	json_object_foreach(json_object_get(image, "templates"), target, t)
	{
		bool want = false;
		size_t i;
		json_t *w;
		json_array_foreach(json_object_get(t, "when"), i, w) want |=
		    !strcmp(json_string_value(w) ?: "", trigger);
		const char *tpl = json_string_value(json_object_get(t, "template"));
		if (!want || !tpl || strchr(tpl, '/') || target[0] != '/')
			continue;
		char path[4200];
		_cleanup_free_ char *text = NULL;
		snprintf(path, sizeof path, "%s/tree/templates/%s", image_dir, tpl);
		if (read_file_at(AT_FDCWD, path, &text, NULL, err) < 0) {
			snprintf(path, sizeof path, "%s/templates/%s", image_dir, tpl);
			if (read_file_at(AT_FDCWD, path, &text, NULL, err) < 0)
				return isola_err_wrap(err, "template %s", tpl);
		}
		char *out = NULL;
		size_t olen = 0;
		FILE *f = open_memstream(&out, &olen);
		for (const char *p = text; *p;) {
			const char *open = strstr(p, "{{");
			if (!open) {
				fputs(p, f);
				break;
			}
			fwrite(p, 1, (size_t)(open - p), f);
			const char *close = strstr(open, "}}");
			if (!close) {
				fputs(open, f);
				break;
			}
			char expr[64];
			snprintf(expr, sizeof expr, "%.*s", (int)(close - open - 2), open + 2);
			char *e = expr;
			while (*e == ' ')
				e++;
			char *end = e + strlen(e);
			while (end > e && end[-1] == ' ')
				*--end = 0;
			if (!strcmp(e, "instance.name") || !strcmp(e, "container.name"))
				fputs(r->name, f);
			else
				fwrite(open, 1, (size_t)(close + 2 - open), f); /* unknown: left as written */
			p = close + 2;
		}
		fclose(f);
		int rc = rootfs_write_file(rootfs, target, out, olen, 0644, base, err);
		free(out);
		if (rc < 0)
			return isola_err_wrap(err, "template %s", target);
	}
	return 0;
}

/* environment.<KEY> = VALUE → "KEY=VALUE" for init (Incus: the instance's environment). */
static int environment_of(json_t *config, char ***out, isola_error *err)
{
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(config, k, v) n += !strncmp(k, "environment.", 12);
	char **env = calloc(n + 1, sizeof *env);
	if (!env)
		return isola_err(err, ENOMEM, "environment");
	size_t i = 0;
	json_object_foreach(config, k, v)
	{
		if (strncmp(k, "environment.", 12))
			continue;
		if (asprintf(&env[i], "%s=%s", k + 12, json_string_value(v) ?: "") < 0) {
			env[i] = NULL;
			strv_freep(&env);
			return isola_err(err, ENOMEM, "environment");
		}
		i++;
	}
	*out = env;
	return 0;
}

int container_start(struct manager *m, const struct instance_rec *r, json_t *config, json_t *devices, int *fg_lock,
                    isola_error *err)
{
	uint32_t base = 0;
	if (!config_bool(config, "security.privileged", false) && idmap_acquire(m->db, r->id, &base, err) < 0)
		return -1;
	struct pool_rec pool;
	if (db_pool_get(m->db, r->pool, &pool, err) < 0)
		return -1;
	char lower[4096] = "";
	if (!strcmp(pool.driver, "dir")) {
		char holder[128];
		instance_layer_holder(r->name, holder, sizeof holder);
		_cleanup_json_ json_t *layer = NULL;
		if (daemon_op(DAEMON_IMAGED, "layer.acquire", json_pack("{ss ss}", "ref", r->image, "holder", holder),
		              &layer, m->progress, m->progress_ud, err) < 0) {
			pool_rec_clear(&pool);
			return isola_err_wrap(err, "start %s: image layer", r->name);
		}
		snprintf(lower, sizeof lower, "%s", json_string_value(json_object_get(layer, "path")) ?: "");
	}
	char rootfs[4096];
	int rc = storage_rootfs_mount(&pool, r->name, lower[0] ? lower : NULL, base, rootfs, sizeof rootfs, err);
	pool_rec_clear(&pool);
	if (rc < 0)
		return isola_err_wrap(err, "start %s", r->name);
	if (seed_write(rootfs, r->name, config, base, err) < 0)
		return isola_err_wrap(err, "start %s: cloud-init seed", r->name);
	struct monitor mo = {.init = 0, .ptm = -1, .devices = devices, .rec = *r, .id = r->id, .uid_base = base};
	snprintf(mo.name, sizeof mo.name, "%s", r->name);
	{
		_cleanup_json_ json_t *shown = NULL;
		if (daemon_op(DAEMON_IMAGED, "image.show", json_pack("{ss}", "ref", r->image), &shown, NULL, NULL,
		              err) < 0)
			return isola_err_wrap(err, "start %s: image %s", r->name, r->image);
		json_t *img = json_object_get(shown, "image");
		const char *idir = json_string_value(json_object_get(shown, "path")) ?: "";
		/* how the image's init stops and says it is up (docs/images.md); unset: runtime_boot looks at
		 * /sbin/init */
		json_t *props = json_object_get(img, "properties");
		const char *sig = json_string_value(json_object_get(props, "isola.stop_signal"));
		const char *ready = json_string_value(json_object_get(props, "isola.ready"));
		if (sig && (mo.stop_signal = syscont_parse_signal(sig)) < 0)
			return isola_err(err, EINVAL, "start %s: image %s: isola.stop_signal \"%s\" is not a signal",
			                 r->name, r->image, sig);
		struct syscont_image_meta meta = {0};
		if (ready && syscont_parse_ready(ready, &meta, err) < 0)
			return isola_err_wrap(err, "start %s: image %s: isola.ready", r->name, r->image);
		mo.ready = meta.ready;
		snprintf(mo.ready_path, sizeof mo.ready_path, "%s", meta.ready_path);
		/* volatile.apply_template: "create" or "copy" once after that event (as Incus), then every start */
		const char *pending = json_string_value(json_object_get(r->config, "volatile.apply_template"));
		if ((pending && templates_apply(r, img, idir, rootfs, base, pending, err) < 0) ||
		    templates_apply(r, img, idir, rootfs, base, "start", err) < 0)
			return isola_err_wrap(err, "start %s", r->name);
		if (pending && instance_clear_volatile(m, r->name, "volatile.apply_template", err) < 0)
			return -1;
	}
	struct sysinfo si;
	sysinfo(&si);
	_cleanup_json_ json_t *res = bundle_resources(config, (uint64_t)si.totalram * si.mem_unit, err);
	if (!res)
		return isola_err_wrap(err, "start %s", r->name);
	_cleanup_strv_ char **env = NULL;
	if (environment_of(config, &env, err) < 0)
		return isola_err_wrap(err, "start %s", r->name);
	mo.resources = res;
	mo.env = env;
	if (ensure_macs(m, r, devices, err) < 0)
		return -1;
	if (fg_lock)
		return monitor_run(&mo, rootfs, -1, fg_lock) < 0 ? isola_err(err, EIO, "start %s failed", r->name) : 0;

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
		/* the monitor: stdio to its log, nothing inherited but the status pipe */
		char logp[4096];
		idir_path(r->name, "monitor.log", logp, sizeof logp);
		int nul = open("/dev/null", O_RDWR);
		int lfd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(lfd >= 0 ? lfd : nul, 2);
		int keep = pfd[1];
		if (keep != 3) {
			dup2(keep, 3);
			keep = 3;
		}
		close_range(4, ~0U, 0);
		signal(SIGPIPE, SIG_IGN);
		_exit(monitor_run(&mo, rootfs, keep, NULL) < 0 ? 1 : 0);
	}
	close(pfd[1]);
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
		return isola_err(err, EIO, "start %s: the monitor died (see %s/instances/%s/monitor.log)", r->name,
		                 isola_dir(), r->name);
	char *sp = strchr(buf, ' ');
	return isola_err(err, atoi(buf), "%s", sp ? sp + 1 : buf);
}

static pid_t monitor_pid(const char *name)
{
	char p[4096];
	idir_path(name, "monitor.pid", p, sizeof p);
	_cleanup_free_ char *s = NULL;
	isola_error e;
	if (read_file_at(AT_FDCWD, p, &s, NULL, &e) < 0)
		return 0;
	pid_t pid = (pid_t)atoi(s);
	return pid > 0 && kill(pid, 0) == 0 ? pid : 0;
}

/* true once pid has exited (a pidfd polls readable then, zombie or not: pidfd_open(2)) */
static bool wait_pid_gone(pid_t pid, int timeout_ms)
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

int container_stop(struct manager *m, const struct instance_rec *r, bool force, int timeout_s, isola_error *err)
{
	struct runtime_ctx ctx = rt_ctx();
	pid_t mon = monitor_pid(r->name);
	pid_t pid;
	bool frozen = false;
	if (container_running(m, r, &pid, &frozen)) {
		isola_error e;
		if (frozen)
			runtime_resume(&ctx, r->name, &e); /* a frozen init cannot act on a signal */
		if (force)
			runtime_kill(&ctx, r->name, SIGKILL, true, &e);
		/* the image's stop signal, up to the timeout, then cgroup.kill; then the runtime's delete (cgroup,
		 * state, bundle). The block of host ids stays the instance's (release_ids = false). */
		unsigned ms = force ? 0 : (unsigned)(timeout_s > 0 ? timeout_s : 30) * 1000;
		if (runtime_halt(&ctx, r->name, ms, NULL, false, err) < 0 && container_running(m, r, NULL, NULL))
			return isola_err_wrap(err, "stop %s", r->name);
	}
	if (mon) {
		if (!wait_pid_gone(mon, 30000))
			return isola_err(err, ETIMEDOUT, "stop %s: the monitor (pid %d) did not finish", r->name, mon);
		return 0;
	}
	/* no monitor (killed, or the host rebooted): clean up in its place */
	_cleanup_json_ json_t *devs = NULL;
	if (instance_effective(m, r, NULL, &devs, err) < 0)
		return -1;
	struct monitor mo = {.devices = devs, .rec = *r, .id = r->id};
	snprintf(mo.name, sizeof mo.name, "%s", r->name);
	nics_detach(r, devs);
	container_cleanup(m, r);
	struct pool_rec pool;
	if (db_pool_get(m->db, r->pool, &pool, err) == 0) {
		storage_rootfs_unmount(&pool, r->name, err);
		pool_rec_clear(&pool);
	}
	return db_instance_set_status(m->db, r->id, STATUS_STOPPED, err);
}

int container_freeze(struct manager *m, const struct instance_rec *r, bool freeze, isola_error *err)
{
	struct runtime_ctx ctx = rt_ctx();
	int rc = freeze ? runtime_pause(&ctx, r->name, err) : runtime_resume(&ctx, r->name, err);
	if (rc < 0)
		return isola_err_wrap(err, "%s %s", freeze ? "pause" : "resume", r->name);
	return db_instance_set_status(m->db, r->id, freeze ? STATUS_FROZEN : STATUS_RUNNING, err);
}

int container_update(struct manager *m, const struct instance_rec *r, json_t *config, isola_error *err)
{
	struct sysinfo si;
	sysinfo(&si);
	_cleanup_json_ json_t *res = bundle_resources(config, (uint64_t)si.totalram * si.mem_unit, err);
	if (!res)
		return -1;
	json_object_del(res, "devices");
	struct runtime_ctx ctx = rt_ctx();
	if (runtime_update(&ctx, r->name, res, err) < 0)
		return isola_err_wrap(err, "apply limits to running %s", r->name);
	return 0;
}

void container_cleanup(struct manager *m, const struct instance_rec *r)
{
	struct runtime_ctx ctx = rt_ctx();
	isola_error e;
	if (runtime_halt(&ctx, r->name, 0, NULL, false, &e) < 0)
		runtime_delete(&ctx, r->name, true, &e); /* a state halt cannot read: force it out */
}

/* ---- exec ---- */

#include <termios.h>
#include <sys/ioctl.h>

static struct termios saved_tio;
static bool tio_saved;
static void tio_restore(void)
{
	if (tio_saved)
		tcsetattr(0, TCSANOW, &saved_tio);
}

static int relay_pty(int master, pid_t pid)
{
	if (isatty(0) && tcgetattr(0, &saved_tio) == 0) {
		tio_saved = true;
		atexit(tio_restore);
		struct termios raw = saved_tio;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	char buf[4096];
	bool in_open = true;
	int status = 0;
	for (;;) {
		struct pollfd p[2] = {{master, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}};
		int r = poll(p, 2, 200);
		if (r < 0 && errno != EINTR)
			break;
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(master, buf, sizeof buf);
			if (n <= 0)
				break;
			write_all(1, buf, (size_t)n);
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n <= 0)
				in_open = false;
			else
				write_all(master, buf, (size_t)n);
		}
		if (r == 0 && waitpid(pid, &status, WNOHANG) == pid)
			goto reaped;
	}
	waitpid(pid, &status, 0);
reaped:
	tio_restore();
	tio_saved = false;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int container_exec(struct manager *m, const struct instance_rec *r, const struct exec_opts *o, int *status,
                   isola_error *err)
{
	struct runtime_ctx ctx = rt_ctx();
	struct runtime_exec_opts eo = {.args = o->argv,
	                               .env = o->env,
	                               .cwd = o->cwd,
	                               .user = o->user,
	                               .tty = o->tty,
	                               .console_socket_fd = -1,
	                               .stdio = RUNTIME_STDIO_INHERIT};
	int master = -1;
	if (o->tty)
		eo.console_master_out = &master; /* we relay the pty and reap the process */
	pid_t pid = runtime_exec(&ctx, r->name, &eo, err);
	if (pid <= 0)
		return isola_err_wrap(err, "exec in %s", r->name);
	if (!o->tty) {
		int rc = runtime_wait(pid, err);
		if (rc < 0)
			return isola_err_wrap(err, "exec in %s", r->name);
		*status = rc;
		return 0;
	}
	*status = relay_pty(master, pid);
	close(master);
	return 0;
}

/* ---- state ---- */

/* A number at a path of a stats object, trying a few spellings (runtime_stats follows the
 * `runc events --stats` shape: memory.usage.usage, cpu.usage.total, pids.current). */
static json_int_t stat_at(json_t *s, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(s, a);
	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

void container_state(struct manager *m, const struct instance_rec *r, json_t *state)
{
	pid_t pid = 0;
	bool frozen;
	if (!container_running(m, r, &pid, &frozen))
		return;
	json_object_set_new(state, "pid", json_integer(pid));
	struct runtime_ctx ctx = rt_ctx();
	isola_error e;
	pid_t *pids = NULL;
	size_t n = 0;
	if (runtime_ps(&ctx, r->name, &pids, &n, &e) == 0)
		json_object_set_new(state, "processes", json_integer((json_int_t)n));
	free(pids);
	_cleanup_json_ json_t *st = runtime_stats(&ctx, r->name, &e);
	if (st) {
		json_int_t mem = stat_at(st, "memory", "usage", "usage");
		json_int_t peak = stat_at(st, "memory", "usage", "max");
		json_int_t cpu = stat_at(st, "cpu", "usage", "total");
		if (mem < 0)
			mem = stat_at(st, "memory", "current", NULL);
		if (cpu < 0)
			cpu = stat_at(st, "cpu", "usage_usec", NULL) * 1000;
		json_t *mo = json_object_get(state, "memory");
		if (mem >= 0)
			json_object_set_new(mo, "usage", json_integer(mem));
		if (peak >= 0)
			json_object_set_new(mo, "usage_peak", json_integer(peak));
		if (cpu >= 0)
			json_object_set_new(json_object_get(state, "cpu"), "usage", json_integer(cpu));
	}
	char nsp[64];
	snprintf(nsp, sizeof nsp, "/proc/%d/ns/net", pid);
	_cleanup_close_ int ns = open(nsp, O_RDONLY | O_CLOEXEC);
	json_t *net = ns >= 0 ? netstate_interfaces_in(ns) : NULL;
	if (net)
		json_object_set_new(state, "network", net);
}
