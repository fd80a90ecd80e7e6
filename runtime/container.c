/* The container lifecycle of runtime.h: create, start, state, kill, delete, stop (runtime-spec runtime.md). */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "json.h"
#include "log.h"
#include "runtime/caps.h"
#include "runtime/cgroup.h"
#include "runtime/config.h"
#include "runtime/container.h"
#include "runtime/dev.h"
#include "runtime/filtercache.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/mount.h"
#include "runtime/notify.h"
#include "runtime/process.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "util.h"

#define OCI_VERSION "1.2.0"
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static enum cgroup_manager cg_manager(const struct runtime_ctx *ctx)
{
	switch (ctx ? ctx->cgroup_manager : RUNTIME_CGROUP_CGROUPFS) {
	case RUNTIME_CGROUP_DISABLED: return CGROUP_MANAGER_DISABLED;
	case RUNTIME_CGROUP_SYSTEMD: return CGROUP_MANAGER_SYSTEMD;
	default: return CGROUP_MANAGER_CGROUPFS;
	}
}

/* Send the pty master over a console socket as SCM_RIGHTS (the protocol runc and crun use). */
int container_send_console(int sock, int master, isola_error *err)
{
	char name[] = "/dev/ptmx";
	struct iovec iov = {name, sizeof name - 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof master);
	ssize_t r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	EXPLAIN(r, "unix(7)", "sendmsg(%d <console socket>, SCM_RIGHTS [%d <pty master>])", sock, master);
	if (r < 0)
		return isola_err(err, errno, "send the pty master to the console socket");
	return 0;
}

int container_connect_console(const char *path, isola_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return isola_err(err, ENAMETOOLONG, "console socket %s", path);
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isola_err(err, errno, "socket");
	int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	EXPLAIN(r, "connect(2)", "connect(%d, \"%s\")  /* --console-socket */", (int)fd, path);
	if (r < 0)
		return isola_err(err, errno, "connect to console socket %s", path);
	return steal_fd(&fd);
}

static void devnull_close(struct devnull_src *d)
{
	closep(&d->fd);
}

struct ns_fds {
	int fd[RT_NS_COUNT];
};
static void ns_fds_close(struct ns_fds *n)
{
	for (size_t i = 0; i < RT_NS_COUNT; i++)
		closep(&n->fd[i]);
}

/* What exists of a half-created container, undone unless committed. */
struct create_guard {
	const struct runtime_ctx *ctx;
	const char *id;
	bool dir_made, committed;
	pid_t pid;
	struct isola_cgroup *cg;
};

static void create_guard_release(struct create_guard *g)
{
	if (!g->committed) {
		if (g->pid > 0) {
			kill(g->pid, SIGKILL);
			waitpid(g->pid, NULL, 0);
		}
		if (g->cg) {
			cgroup_kill(g->cg, NULL);
			cgroup_destroy(g->cg, NULL);
		}
		if (g->dir_made)
			state_dir_remove(g->ctx, g->id, NULL);
	}
	if (g->cg)
		cgroup_free(g->cg);
}

/* In the state directory, what `delete --force` must clean up when `create` died before state.json:
 * {"cgroup": PATH, "made": false} before the cgroup is created, "made": true once it is (before any
 * process is put in it). state.json supersedes it. */
#define CLEANUP_FILE "cleanup.json"

static int record_cleanup(const char *dir, const char *cgpath, bool made, isola_error *err)
{
	char p[PATH_MAX + 16];
	snprintf(p, sizeof p, "%s/" CLEANUP_FILE, dir);
	_cleanup_json_ json_t *j = json_pack("{s:s, s:b}", "cgroup", cgpath, "made", made);
	if (!j)
		return isola_err(err, ENOMEM, "cleanup record");
	return json_store_path_ex(p, j, false, false, err); /* what it names does not survive a reboot */
}

/* The cgroup cgroup_create will use, resolved as cgroup.h says: cgroupsPath absolute from the mount root,
 * relative beside the runtime's own cgroup, else /isola/<id>. NULL when it cannot be known (cgroup_create
 * then refuses the path before making anything, or the "made" record names it). */
static char *intended_cgroup(const struct rt_config *cfg, const char *id)
{
	char *out = NULL;
	const char *p = cfg->cgroups_path;
	if (!p || !*p)
		return asprintf(&out, "/isola/%s", id) < 0 ? NULL : out;
	if (p[0] == '/' || strchr(p, ':'))
		return p[0] == '/' ? strdup(p) : NULL;
	_cleanup_free_ char *self = NULL;
	if (read_file_at(AT_FDCWD, "/proc/self/cgroup", &self, NULL, NULL) < 0)
		return NULL;
	char *own = str_has_prefix(self, "0::") ? self + 3 : strstr(self, "\n0::");
	if (!own)
		return NULL;
	own += own[0] == '\n' ? 4 : 0;
	own[strcspn(own, "\n")] = 0;
	char *slash = strrchr(own, '/');
	if (slash)
		*slash = 0;
	return asprintf(&out, "%s/%s", own, p) < 0 ? NULL : out;
}

json_t *container_oci_state(json_t *st, const char *status)
{
	json_t *o =
	    json_pack("{s:s, s:O, s:s, s:O, s:O}", "ociVersion", OCI_VERSION, "id", json_object_get(st, "id"), "status",
	              status, "bundle", json_object_get(st, "bundle"), "created", json_object_get(st, "created"));
	if (!o)
		return NULL;
	if (strcmp(status, "stopped") != 0 && strcmp(status, "creating") != 0)
		json_object_set(o, "pid", json_object_get(st, "pid"));
	else if (!strcmp(status, "creating"))
		json_object_set(o, "pid", json_object_get(st, "pid"));
	json_t *ann = json_object_get(st, "annotations");
	json_object_set_new(o, "annotations", ann ? json_incref(ann) : json_object());
	if (json_object_get(st, "rootfs"))
		json_object_set(o, "rootfs", json_object_get(st, "rootfs"));
	return o;
}

static char *oci_state_string(json_t *st, const char *status)
{
	_cleanup_json_ json_t *o = container_oci_state(st, status);
	return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

static int write_pid_file(const char *path, pid_t pid, isola_error *err)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp%d", path, getpid()) < 0)
		return isola_err(err, ENOMEM, "pid file");
	if (write_filef_at(AT_FDCWD, tmp, err, "%d", pid) < 0)
		return isola_err_wrap(err, "pid file");
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return isola_err(err, errno, "pid file %s", path);
	}
	return 0;
}

/* The parent's side of the sync protocol, from GO to READY. */
static int parent_sync(int sfd, const struct rt_config *cfg, const struct runtime_create_opts *o, json_t *st,
                       const struct isola_seccomp *sc, pid_t pid, int console_sock, isola_error *err)
{
	for (;;) {
		struct sync_msg m = {0};
		_cleanup_close_ int fd = -1;
		if (sync_recv(sfd, &m, &fd, err) < 0)
			return -1;
		switch (m.type) {
		case SYNC_HOOKS: {
			_cleanup_free_ char *s = oci_state_string(st, "creating");
			if (!s)
				return isola_err(err, ENOMEM, "state");
			if (hooks_run(cfg, RT_HOOK_PRESTART, s, err) < 0 ||
			    hooks_run(cfg, RT_HOOK_CREATE_RUNTIME, s, err) < 0)
				return -1;
			if (sync_send(sfd, SYNC_STATE, 0, -1) < 0 || sync_send_blob(sfd, s, strlen(s)) < 0)
				return isola_err(err, errno, "sync with container init");
			break;
		}
		case SYNC_PTY:
			if (fd < 0)
				return isola_err(err, EPROTO, "no pty master from container init");
			if (console_sock >= 0) {
				if (container_send_console(console_sock, fd, err) < 0)
					return -1;
			} else if (o->console_master_out) {
				*o->console_master_out = steal_fd(&fd);
			}
			break;
		case SYNC_SECCOMP: {
			_cleanup_json_ json_t *os = container_oci_state(st, "creating");
			if (fd < 0 || !sc || isola_seccomp_send_listener(sc, os, pid, fd, err) < 0)
				return fd < 0 || !sc ? isola_err(err, EPROTO, "seccomp listener") : -1;
			break;
		}
		case SYNC_READY: return 0;
		case SYNC_ERROR: return isola_err(err, m.errnum, "%s", m.msg);
		default: return isola_err(err, EPROTO, "unexpected message %d from container init", m.type);
		}
	}
}

pid_t runtime_create(const struct runtime_ctx *ctx, const char *id, const struct runtime_create_opts *o,
                     isola_error *err)
{
	if (!runtime_id_valid(id)) {
		char d[64];
		return state_dir(ctx, id, d, sizeof d, err);
	}
	char bundle[PATH_MAX];
	if (!realpath(o->bundle ? o->bundle : ".", bundle))
		return isola_err(err, errno, "bundle %s", o->bundle ? o->bundle : ".");
	_cleanup_config_ struct rt_config *cfg = config_load(bundle, o->config_path, err);
	if (!cfg)
		return -1;
	if (o->force_terminal)
		config_set_terminal(cfg, true);
	bool has_console = o->console_socket || o->console_socket_fd >= 0 || o->console_master_out;
	if (cfg->terminal && !has_console)
		return isola_err(err, EINVAL, "process.terminal is true: give --console-socket (or use run -t)");
	if (!cfg->terminal && (o->console_socket || o->console_socket_fd >= 0))
		return isola_err(err, EINVAL, "--console-socket given but process.terminal is false");
	bool join_pid = false;
	for (size_t i = 0; i < cfg->n_namespaces; i++)
		join_pid |= cfg->namespaces[i].path && cfg->namespaces[i].flag == CLONE_NEWPID;
	struct isola_caps caps;
	if (caps_parse(cfg->capabilities, "process.capabilities", &caps, err) < 0)
		return isola_err_wrap(err, "config.json");
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	if (filtercache_build(cfg->seccomp, "linux.seccomp", &sc, err) < 0)
		return isola_err_wrap(err, "config.json");
	struct cgroup_resources res = {0};
	int r = cgroup_resources_parse(cfg->resources, "linux.resources", &res, err);
	if (r < 0) {
		cgroup_resources_clear(&res);
		return isola_err_wrap(err, "config.json");
	}

	if (state_dir_create(ctx, id, err) < 0) {
		cgroup_resources_clear(&res);
		return -1;
	}
	_cleanup_(create_guard_release) struct create_guard g = {.ctx = ctx, .id = id, .dir_made = true};
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/%s", state_root(ctx), id);
	_cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		cgroup_resources_clear(&res);
		return isola_err(err, errno, "open %s", dir);
	}
	/* keep a copy of the config: start/exec/delete must not depend on the bundle staying as it was */
	char cfgpath[PATH_MAX + 16];
	snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
	if (json_store_path(cfgpath, cfg->json, false, err) < 0) {
		cgroup_resources_clear(&res);
		return -1;
	}

	/* what a `delete --force` must remove if we die before state.json: recorded before it exists */
	_cleanup_free_ char *cgpath = cg_manager(ctx) == CGROUP_MANAGER_DISABLED ? NULL : intended_cgroup(cfg, id);
	if (cgpath && record_cleanup(dir, cgpath, false, err) < 0) {
		cgroup_resources_clear(&res);
		return -1;
	}
	struct cgroup_options co = {.manager = cg_manager(ctx),
	                            .id = id,
	                            .cgroups_path = cfg->cgroups_path,
	                            .inner_uid = (uid_t)-1,
	                            .inner_gid = (gid_t)-1};
	if (o->system.enabled && o->system.cgroup_inner) { /* syscont: delegation shape */
		co.inner = o->system.cgroup_inner;
		co.inner_uid = o->system.cgroup_owner_uid;
		co.inner_gid = o->system.cgroup_owner_gid;
	}
	r = cgroup_create(&co, &res, &g.cg, err);
	cgroup_resources_clear(&res);
	if (r < 0)
		return isola_err_wrap(err, "cgroup");
	if (g.cg->available && record_cleanup(dir, g.cg->path, true, err) < 0)
		return -1;
	_cleanup_close_ int cgfd = cgroup_enter_fd(g.cg, err);
	if (cgfd < 0 && g.cg->available)
		return -1;

	int rr = mkfifoat(dirfd, "exec.fifo", 0600);
	EXPLAIN(rr, "mkfifo(3)", "mkfifoat(<state dir>, \"exec.fifo\", 0600)");
	if (rr < 0)
		return isola_err(err, errno, "create %s/exec.fifo", dir);
	/* O_RDWR: opening never blocks, and the fifo keeps a reader while init waits, so `start` can tell a
	 * created container (open for writing succeeds) from a dead one (ENXIO). */
	_cleanup_close_ int fifo = openat(dirfd, "exec.fifo", O_RDWR | O_CLOEXEC);
	if (fifo < 0)
		return isola_err(err, errno, "open exec.fifo");
	_cleanup_(devnull_close) struct devnull_src devnull = {.fd = -1};
	if (mount_devnull_src(&devnull, err) < 0)
		return -1;
	bool userns = cfg->clone_flags & CLONE_NEWUSER;
	_cleanup_(dev_close_host) struct dev_host_fds devs;
	if (dev_open_host(&devs, userns, err) < 0)
		return -1;
	(void)userns;
	_cleanup_(ns_fds_close) struct ns_fds nsf;
	for (size_t i = 0; i < RT_NS_COUNT; i++)
		nsf.fd[i] = -1;
	for (size_t i = 0; i < cfg->n_namespaces; i++) {
		if (!cfg->namespaces[i].path)
			continue;
		nsf.fd[i] = open(cfg->namespaces[i].path, O_RDONLY | O_CLOEXEC);
		EXPLAIN(nsf.fd[i], "open(2)", "open(\"%s\", O_RDONLY|O_CLOEXEC)  /* namespace to join */",
		        cfg->namespaces[i].path);
		if (nsf.fd[i] < 0)
			return isola_err(err, errno, "linux.namespaces[%zu].path %s", i, cfg->namespaces[i].path);
	}
	_cleanup_close_ int console_sock = -1;
	if (o->console_socket && (console_sock = container_connect_console(o->console_socket, err)) < 0)
		return -1;
	int console_fd = o->console_socket_fd >= 0 ? o->console_socket_fd : console_sock;
	char notify_dir[PATH_MAX + 16] = "";
	if (o->notify_socket) {
		snprintf(notify_dir, sizeof notify_dir, "%s/notify", dir);
		if (mkdir(notify_dir, 0755) < 0)
			return isola_err(err, errno, "mkdir %s", notify_dir);
	}
	int sv[2];
	int sr = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	EXPLAIN(sr, "socketpair(2)",
	        "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, [%d, %d])  /* sync with init */",
	        sr < 0 ? -1 : sv[0], sr < 0 ? -1 : sv[1]);
	if (sr < 0)
		return isola_err(err, errno, "socketpair");
	_cleanup_close_ int sfd = sv[0], cfd = sv[1];
	_cleanup_close_ int console_slave = -1, console_mnt = -1;
	if (o->system.enabled && o->system.console_master >= 0) {
		/* from the master the caller holds, never by a path (CVE-2025-52565) */
		console_slave = ioctl(o->system.console_master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (console_slave < 0)
			return isola_err(err, errno, "open the console pty slave");
		if ((console_mnt = mount_clone_detached(console_slave, "console pty slave", err)) < 0)
			return -1;
	}
	struct init_args a = {
	    .cfg = cfg,
	    .bundle = bundle,
	    .sync_fd = cfd,
	    .fifo_fd = fifo,
	    .devnull = &devnull,
	    .devs = &devs,
	    .preserve_fds = o->preserve_fds,
	    .no_pivot = o->no_pivot,
	    .caps = &caps,
	    .seccomp = sc,
	    .notify_host_dir = *notify_dir ? notify_dir : NULL,
	    .system = &o->system,
	    .console_slave_fd = console_slave,
	    .console_slave_mnt = console_mnt,
	    .rootfs_mnt = o->system.enabled && o->system.rootfs_mnt_set ? o->system.rootfs_mnt : -1,
	};
	memcpy(a.ns_fds, nsf.fd, sizeof nsf.fd);
	memcpy(a.stdio, o->stdio, sizeof a.stdio);
	_cleanup_close_ int pidfd = -1;
	unsigned long flags = cfg->clone_flags & ~(unsigned long)CLONE_NEWTIME; /* time: see init.c */
	pid_t pid = process_clone3(flags, cgfd, &pidfd, err);
	if (pid == 0) {
		closep(&sfd);
		container_init(&a);
	}
	if (pid < 0)
		return -1;
	g.pid = pid;
	closep(&cfd);
	if (join_pid) {
		/* init.c forked once more inside the joined PID namespace (CLONE_PARENT: still our child);
		 * that grandchild is the container's init, the first child exits */
		int gpid = sync_expect(sfd, SYNC_PID, NULL, err);
		waitpid(pid, NULL, 0);
		g.pid = 0;
		if (gpid <= 0)
			return isola_err_wrap(err, "create %s: join the pid namespace", id);
		pid = g.pid = gpid;
	}

	if (userns && process_write_idmaps(pid, cfg->uid_map, cfg->n_uid_map, cfg->gid_map, cfg->n_gid_map, err) < 0)
		return -1;
	char created[40];
	state_now_rfc3339(created, sizeof created);
	_cleanup_json_ json_t *annotations = cfg->annotations ? json_incref(cfg->annotations) : json_object();
	_cleanup_json_ json_t *st = json_pack(
	    "{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:O, s:s, s:b, s:i, s:s}", "ociVersion", OCI_VERSION, "id", id,
	    "status", "creating", "pid", (int)pid, "start_time", (json_int_t)proc_start_time(pid), "bundle", bundle,
	    "rootfs", cfg->root_path, "created", created, "annotations", annotations, "cgroup",
	    g.cg->available && g.cg->path ? g.cg->path : "", "system", o->system.enabled, "stop_signal",
	    o->system.enabled ? (o->system.stop_signal ? o->system.stop_signal : SIGRTMIN + 3) : 0, "notify_socket",
	    o->notify_socket ? o->notify_socket : "");
	if (!st)
		return isola_err(err, ENOMEM, "state");
	if (g.cg->available && g.cg->mount)
		json_object_set_new(st, "cgroup_mount", json_string(g.cg->mount));
	if (g.cg->available && g.cg->inner)
		json_object_set_new(st, "cgroup_inner", json_string(g.cg->inner));
	if (state_store(ctx, id, st, err) < 0)
		return -1;
	if (sync_send(sfd, SYNC_GO, 0, -1) < 0)
		return isola_err(err, errno, "sync with container init");
	if (parent_sync(sfd, cfg, o, st, sc, pid, console_fd, err) < 0)
		return isola_err_wrap(err, "create %s", id);
	json_object_set_new(st, "status", json_string("created"));
	if (state_store(ctx, id, st, err) < 0)
		return -1;
	if (o->pid_file && write_pid_file(o->pid_file, pid, err) < 0)
		return -1;
	g.committed = true;
	return pid;
}

int container_load(const struct runtime_ctx *ctx, const char *id, json_t **st, struct runtime_state *s,
                   isola_error *err)
{
	json_t *j = state_load(ctx, id, err);
	if (!j)
		return -1;
	if (state_decode(ctx, id, j, s, err) < 0) {
		json_decref(j);
		return -1;
	}
	*st = j;
	return 0;
}

struct rt_config *container_config(const struct runtime_ctx *ctx, const char *id, json_t *st, isola_error *err)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s/config.json", state_root(ctx), id);
	const char *bundle = json_string_value(json_object_get(st, "bundle"));
	return config_load(bundle, p, err);
}

int container_open_cgroup(json_t *st, struct isola_cgroup **cg, isola_error *err)
{
	const char *path = json_string_value(json_object_get(st, "cgroup"));
	const char *mnt = json_string_value(json_object_get(st, "cgroup_mount"));
	const char *inner = json_string_value(json_object_get(st, "cgroup_inner")); /* syscont delegation */
	return cgroup_open(mnt, path && *path ? path : NULL, inner, cg, err);
}

int runtime_start(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	struct runtime_state s;
	if (container_load(ctx, id, &st, &s, err) < 0)
		return -1;
	if (s.status != RUNTIME_CREATED)
		return isola_err(err, EINVAL, "container %s is %s, not created", id, runtime_status_name(s.status));
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/%s", state_root(ctx), id);
	_cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return isola_err(err, errno, "open %s", dir);
	_cleanup_config_ struct rt_config *cfg = container_config(ctx, id, st, err);
	if (!cfg)
		return -1;
	_cleanup_(notify_proxy_close) struct notify_proxy np = NOTIFY_PROXY_INIT;
	const char *ns = json_string_value(json_object_get(st, "notify_socket"));
	if (ns && *ns && notify_proxy_open(&np, dir, ns, err) < 0)
		return -1;
	_cleanup_close_ int fifo = openat(dirfd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	EXPLAIN(fifo, "fifo(7)", "open(\"%s/exec.fifo\", O_WRONLY|O_NONBLOCK)", dir);
	if (fifo < 0)
		return isola_err(err, errno,
		                 errno == ENXIO ? "container %s: init is gone" : "container %s: open exec.fifo", id);
	ssize_t w = write(fifo, "1", 1);
	EXPLAIN(w, "fifo(7)", "write(%d <exec.fifo>, \"1\")  /* init leaves its wait and calls execve */", (int)fifo);
	if (w != 1)
		return isola_err(err, errno, "start %s", id);
	unlinkat(dirfd, "exec.fifo", 0);
	json_object_set_new(st, "status", json_string("running"));
	if (state_store(ctx, id, st, err) < 0)
		return -1;
	if (cfg->n_hooks[RT_HOOK_POSTSTART]) {
		_cleanup_free_ char *s2 = oci_state_string(st, "running");
		isola_error he = {0};
		if (s2 && hooks_run(cfg, RT_HOOK_POSTSTART, s2, &he) < 0)
			log_warn("%s: %s", id, he.msg); /* runtime.md: a poststart failure is only a warning */
	}
	if (np.fd >= 0 && notify_proxy_forward(&np, s.pid, err) < 0)
		return -1;
	return 0;
}

int runtime_state(const struct runtime_ctx *ctx, const char *id, struct runtime_state *out, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	return container_load(ctx, id, &st, out, err);
}

json_t *runtime_state_json(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	struct runtime_state s;
	if (container_load(ctx, id, &st, &s, err) < 0)
		return NULL;
	enum runtime_status status = s.status;
	if (status == RUNTIME_RUNNING || status == RUNTIME_PAUSED) {
		/* the freezer is the truth for paused (someone else may have thawed it) */
		_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
		bool frozen = false;
		if (container_open_cgroup(st, &cg, NULL) == 0 && cg->available &&
		    cgroup_is_frozen(cg, &frozen, NULL) == 0)
			status = frozen ? RUNTIME_PAUSED : RUNTIME_RUNNING;
	}
	return container_oci_state(st, runtime_status_name(status));
}

/* Signal init through a pidfd opened only after the start time matched, so a recycled pid is never hit. */
static int signal_init(json_t *st, int sig, isola_error *err)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	_cleanup_close_ int pfd = pidfd_open(pid, 0);
	if (pfd < 0 || !state_init_alive(st))
		return isola_err(err, ESRCH, "container init %d is gone", pid);
	int r = pidfd_send_signal(pfd, sig, NULL, 0);
	EXPLAIN(r, "pidfd_send_signal(2)", "pidfd_send_signal(%d <pid %d>, %d, NULL, 0)", (int)pfd, pid, sig);
	if (r < 0)
		return isola_err(err, errno, "signal %d to %d", sig, pid);
	return 0;
}

int runtime_kill(const struct runtime_ctx *ctx, const char *id, int sig, bool all, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	struct runtime_state s;
	if (container_load(ctx, id, &st, &s, err) < 0)
		return -1;
	if (s.status == RUNTIME_STOPPED)
		return isola_err(err, EINVAL, "container %s is stopped", id);
	if (all) {
		_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
		if (sig == SIGKILL && container_open_cgroup(st, &cg, NULL) == 0 && cg->available)
			return cgroup_kill(cg, err);
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		if (runtime_ps(ctx, id, &pids, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			int r = kill(pids[i], sig);
			EXPLAIN(r, "kill(2)", "kill(%d, %d)", pids[i], sig);
		}
		return 0;
	}
	return signal_init(st, sig, err);
}

/* Wait up to ms for init to be gone. */
static bool wait_gone(json_t *st, int ms)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	_cleanup_close_ int pfd = pidfd_open(pid, 0);
	if (pfd < 0 || !state_init_alive(st))
		return true;
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	if (poll(&p, 1, ms) > 0)
		return true;
	return !state_init_alive(st);
}

/* The cgroup a killed `create` may have made before state.json recorded it, from CLEANUP_FILE (written
 * before the cgroup existed, default path or custom cgroupsPath alike). */
static void remove_orphan_cgroup(const struct runtime_ctx *ctx, const char *id)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s/" CLEANUP_FILE, state_root(ctx), id);
	_cleanup_json_ json_t *rec = json_load_path(p, NULL);
	const char *path = json_string_value(json_object_get(rec, "cgroup"));
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	if (!path || cgroup_open(NULL, path, NULL, &cg, NULL) < 0 || !cg->available)
		return; /* killed before the record, or the cgroup was never made */
	if (json_is_true(json_object_get(rec, "made"))) {
		cgroup_kill(cg, NULL);
		cgroup_destroy(cg, NULL);
		return;
	}
	/* killed before mkdir's outcome was recorded: none of our processes is in it yet (init is cloned
	 * after "made"), so kill nothing, it may be someone else's; an empty leaf is ours to remove, and
	 * rmdir(2) refuses (EBUSY) one with processes or children */
	snprintf(p, sizeof p, "%s%s", cg->mount, cg->path);
	int r = rmdir(p);
	EXPLAIN(r, "rmdir(2)", "rmdir(\"%s\")  /* cgroup of a killed create */", p);
}

int runtime_delete(const struct runtime_ctx *ctx, const char *id, bool force, isola_error *err)
{
	char dir[PATH_MAX];
	if (state_dir(ctx, id, dir, sizeof dir, err) < 0)
		return -1;
	_cleanup_json_ json_t *st = NULL;
	struct runtime_state s;
	if (container_load(ctx, id, &st, &s, err) < 0) {
		/* a `create` killed before it wrote state.json leaves only the directory: force removes it */
		struct stat sb;
		if (err->errnum == ENOENT && force && stat(dir, &sb) == 0) {
			isola_err_clear(err);
			remove_orphan_cgroup(ctx, id);
			return state_dir_remove(ctx, id, err);
		}
		return -1;
	}
	if (s.status != RUNTIME_STOPPED && !force)
		return isola_err(err, EBUSY, "container %s is %s: stop it first or use --force", id,
		                 runtime_status_name(s.status));
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	if (container_open_cgroup(st, &cg, NULL) < 0)
		cg = NULL;
	if (s.status != RUNTIME_STOPPED) {
		if (cg && cg->available)
			cgroup_kill(cg, NULL);
		signal_init(st, SIGKILL, NULL);
		if (!wait_gone(st, 5000))
			return isola_err(err, EBUSY, "container %s: init did not die after SIGKILL", id);
	}
	_cleanup_config_ struct rt_config *cfg = container_config(ctx, id, st, NULL);
	if (cfg && cfg->n_hooks[RT_HOOK_POSTSTOP]) {
		_cleanup_free_ char *s2 = oci_state_string(st, "stopped");
		isola_error he = {0};
		if (s2 && hooks_run(cfg, RT_HOOK_POSTSTOP, s2, &he) < 0)
			log_warn("%s: %s", id, he.msg); /* runtime.md: a poststop failure is only a warning */
	}
	if (cg && cg->available) {
		if (cgroup_kill(cg, NULL), cgroup_destroy(cg, err) < 0)
			return isola_err_wrap(err, "delete %s", id);
	}
	return state_dir_remove(ctx, id, err);
}

int runtime_stop(const struct runtime_ctx *ctx, const char *id, unsigned timeout_ms, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	struct runtime_state s;
	if (container_load(ctx, id, &st, &s, err) < 0)
		return -1;
	if (s.status == RUNTIME_STOPPED)
		return 0;
	int sig = s.stop_signal ? s.stop_signal : SIGTERM;
	if (signal_init(st, sig, err) < 0)
		return -1;
	if (wait_gone(st, (int)timeout_ms))
		return 0;
	return runtime_kill(ctx, id, SIGKILL, true, err);
}
