/* runtime_exec: a new process inside a running container (runc exec / crun exec). The child joins every
 * namespace of init at once through setns(pidfd, flags) (setns(2), Linux 5.8), then forks once more,
 * since a PID namespace applies only to children; that grandchild is created with CLONE_PARENT so the
 * caller is its parent and can wait for it. It enters the container's cgroup at birth
 * (CLONE_INTO_CGROUP). */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "json.h"
#include "runtime/caps.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/filtercache.h"
#include "runtime/init.h"
#include "runtime/process.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int runtime_wait(pid_t pid, isola_error *err)
{
	int status;
	pid_t r;
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return isola_err(err, errno, "wait for %d", pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int apply_overrides(struct rt_config *cfg, const struct runtime_exec_opts *o, isola_error *err)
{
	if (o->process) {
		if (config_parse_process(o->process, "process", cfg, err) < 0)
			return isola_err_wrap(err, "--process");
		return 0;
	}
	if (!o->args || !o->args[0])
		return isola_err(err, EINVAL, "exec: no command given");
	strv_freep(&cfg->args);
	size_t n = 0, ne = 0, k = 0;
	while (o->args[n])
		n++;
	if (!(cfg->args = calloc(n + 1, sizeof(char *))))
		return isola_err(err, ENOMEM, "args");
	for (size_t i = 0; i < n; i++)
		if (!(cfg->args[i] = strdup(o->args[i])))
			return isola_err(err, ENOMEM, "args");
	for (char **e = cfg->env; e && *e; e++)
		ne++;
	for (char *const *e = o->env; e && *e; e++) {
		if (!strchr(*e, '='))
			return isola_err(err, EINVAL, "--env %s: expected KEY=VALUE", *e);
		k++;
	}
	if (k) {
		char **v = realloc(cfg->env, (ne + k + 1) * sizeof *v);
		if (!v)
			return isola_err(err, ENOMEM, "env");
		cfg->env = v;
		for (char *const *e = o->env; *e; e++)
			if (!(v[ne++] = strdup(*e)))
				return isola_err(err, ENOMEM, "env");
		v[ne] = NULL;
	}
	if (o->cwd) {
		if (o->cwd[0] != '/')
			return isola_err(err, EINVAL, "--cwd %s: not an absolute path", o->cwd);
		free(cfg->cwd);
		if (!(cfg->cwd = strdup(o->cwd)))
			return isola_err(err, ENOMEM, "cwd");
	}
	if (o->user) {
		char *end;
		unsigned long u = strtoul(o->user, &end, 10), g = u;
		if (end == o->user || (*end && *end != ':'))
			return isola_err(err, EINVAL, "--user %s: expected UID[:GID] (numbers)", o->user);
		if (*end == ':') {
			const char *gs = end + 1;
			g = strtoul(gs, &end, 10);
			if (end == gs || *end)
				return isola_err(err, EINVAL, "--user %s: expected UID[:GID] (numbers)", o->user);
		}
		if (u > UINT32_MAX - 1 || g > UINT32_MAX - 1)
			return isola_err(err, EINVAL, "--user %s: out of range", o->user);
		cfg->uid = (uid_t)u;
		cfg->gid = (gid_t)g;
		cfg->n_additional_gids = 0;
	}
	cfg->terminal = o->tty;
	return 0;
}

struct exec_child {
	const struct rt_config *cfg;
	const struct isola_caps *caps;
	const struct isola_seccomp *sc;
	int pidfd, sync_fd;
	int ns_flags;
	const struct runtime_exec_opts *o;
};

static int exec_setup(const struct exec_child *x, char **path, isola_error *err)
{
	const struct rt_config *cfg = x->cfg;
	if (cfg->terminal) {
		if (init_console(x->sync_fd, cfg->console_height, cfg->console_width, cfg->uid, cfg->gid, false, err) <
		    0)
			return -1;
	} else {
		pid_t s = setsid(); /* TIOCSTI: no terminal shared with the caller */
		EXPLAIN(s, "setsid(2)", "setsid()");
	}
	bool notify = x->sc && x->sc->notify;
	if (x->sc && (!cfg->no_new_privs || notify)) {
		int lfd = isola_seccomp_install(x->sc, err);
		if (lfd < 0)
			return -1;
		if (notify && (sync_send(x->sync_fd, SYNC_SECCOMP, 0, lfd) < 0 || close(lfd) < 0))
			return isola_err(err, errno, "send the seccomp listener");
	}
	if (init_user(cfg, x->caps, err) < 0 || init_cwd(cfg->cwd, err) < 0)
		return -1;
	if (cfg->no_new_privs) {
		int r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		EXPLAIN(r, "prctl(2)", "prctl(PR_SET_NO_NEW_PRIVS, 1)");
		if (r < 0)
			return isola_err(err, errno, "no_new_privs");
	}
	umask(cfg->has_umask ? cfg->umask : 022);
	*path = init_find_exec(cfg->args, cfg->env, err);
	return *path ? 0 : -1;
}

__attribute__((noreturn)) static void exec_child_run(const struct exec_child *x)
{
	isola_error e = {0};
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0); /* until execve: /proc/<us>/exe is the runtime (CVE-2019-5736) */
	const struct runtime_exec_opts *o = x->o;
	for (int i = 0; i < 3; i++)
		if (o->stdio[i] >= 0 && o->stdio[i] != i)
			dup2(o->stdio[i], i);
	int r = setns(x->pidfd, x->ns_flags);
	EXPLAIN(r, "setns(2)", "setns(%d <pidfd of init>, %s)", x->pidfd,
	        explain_clone_flags((unsigned long)x->ns_flags));
	if (r < 0) {
		isola_err(&e, errno, "join the namespaces of the container");
		sync_send_error(x->sync_fd, &e);
		_exit(1);
	}
	pid_t pid = process_clone3(CLONE_PARENT, -1, NULL, &e);
	if (pid != 0) {
		if (pid < 0)
			sync_send_error(x->sync_fd, &e);
		else
			sync_send(x->sync_fd, SYNC_PID, pid, -1);
		_exit(pid < 0);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	_cleanup_free_ char *path = NULL;
	if (exec_setup(x, &path, &e) < 0) {
		sync_send_error(x->sync_fd, &e);
		_exit(1);
	}
	prctl(PR_SET_PDEATHSIG, 0); /* before READY: the caller may exit right after it (exec -d) */
	if (sync_send(x->sync_fd, SYNC_READY, 0, -1) < 0)
		_exit(1);
	bool late = x->sc && x->cfg->no_new_privs && !x->sc->notify;
	init_exec(path, x->cfg->args, x->cfg->env, o->preserve_fds, x->sc, late, &e);
	char buf[ISOLA_ERR_MSG_MAX + 64];
	dprintf(2, "isola-runtime exec: %s\n", isola_err_str(&e, buf, sizeof buf));
	_exit(127);
}

pid_t runtime_exec(const struct runtime_ctx *ctx, const char *id, const struct runtime_exec_opts *o, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	struct runtime_state s;
	if (container_load(ctx, id, &st, &s, err) < 0)
		return -1;
	if (s.status != RUNTIME_RUNNING && s.status != RUNTIME_CREATED)
		return isola_err(err, EINVAL, "container %s is %s: exec needs it created or running", id,
		                 runtime_status_name(s.status));
	_cleanup_config_ struct rt_config *cfg = container_config(ctx, id, st, err);
	if (!cfg || apply_overrides(cfg, o, err) < 0)
		return -1;
	if (o->no_new_privs)
		cfg->no_new_privs = true;
	bool has_console = o->console_socket || o->console_socket_fd >= 0 || o->console_master_out;
	if (cfg->terminal && !has_console)
		return isola_err(err, EINVAL, "exec -t: give --console-socket");
	struct isola_caps caps;
	if (caps_parse(cfg->capabilities, "process.capabilities", &caps, err) < 0)
		return -1;
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	if (filtercache_build(cfg->seccomp, "linux.seccomp", &sc, err) < 0)
		return -1;
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	if (container_open_cgroup(st, &cg, err) < 0)
		return -1;
	_cleanup_close_ int cgfd = cg->available ? cgroup_exec_fd(cg, s.pid, err) : -1;
	if (cg->available && cgfd < 0)
		return -1;
	_cleanup_close_ int pidfd = pidfd_open(s.pid, 0);
	EXPLAIN(pidfd, "pidfd_open(2)", "pidfd_open(%d <init of %s>, 0)", s.pid, id);
	if (pidfd < 0 || !state_init_alive(st))
		return isola_err(err, ESRCH, "container %s: init %d is gone", id, s.pid);
	int flags = 0;
	for (size_t i = 0; i < cfg->n_namespaces; i++)
		flags |= (int)cfg->namespaces[i].flag;
	_cleanup_close_ int console_sock = -1;
	if (o->console_socket && (console_sock = container_connect_console(o->console_socket, err)) < 0)
		return -1;
	int console_fd = o->console_socket_fd >= 0 ? o->console_socket_fd : console_sock;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return isola_err(err, errno, "socketpair");
	_cleanup_close_ int sfd = sv[0], cfd = sv[1];
	struct exec_child x = {
	    .cfg = cfg, .caps = &caps, .sc = sc, .pidfd = pidfd, .sync_fd = cfd, .ns_flags = flags, .o = o};
	pid_t mid = process_clone3(0, cgfd, NULL, err);
	if (mid < 0)
		return -1;
	if (mid == 0) {
		closep(&sfd);
		exec_child_run(&x);
	}
	closep(&cfd);
	/* the intermediate's SYNC_PID and the grandchild's messages race: take them in any order */
	pid_t gpid = -1;
	bool ready = false, mid_reaped = false;
	while (!ready || gpid < 0) {
		struct sync_msg m = {0};
		_cleanup_close_ int fd = -1;
		int r = sync_recv(sfd, &m, &fd, err);
		if (r == 0 && m.type == SYNC_PID) {
			gpid = m.value;
			runtime_wait(mid, NULL);
			mid_reaped = true;
			continue;
		}
		if (r < 0 || m.type == SYNC_ERROR) {
			if (r == 0)
				isola_err(err, m.errnum, "%s", m.msg);
			if (!mid_reaped)
				runtime_wait(mid, NULL);
			if (gpid > 0)
				runtime_wait(gpid, NULL);
			return isola_err_wrap(err, "exec in %s", id);
		}
		if (m.type == SYNC_READY) {
			ready = true;
		} else if (m.type == SYNC_PTY && fd >= 0) {
			if (console_fd >= 0) {
				if (container_send_console(console_fd, fd, err) < 0)
					return -1;
			} else if (o->console_master_out) {
				*o->console_master_out = steal_fd(&fd);
			}
		} else if (m.type == SYNC_SECCOMP && fd >= 0 && sc) {
			_cleanup_json_ json_t *os = container_oci_state(st, runtime_status_name(s.status));
			if (isola_seccomp_send_listener(sc, os, gpid, fd, err) < 0)
				return -1;
		}
	}
	if (o->pid_file) {
		_cleanup_free_ char *tmp = NULL;
		if (asprintf(&tmp, "%s.tmp", o->pid_file) < 0 || write_filef_at(AT_FDCWD, tmp, err, "%d", gpid) < 0 ||
		    rename(tmp, o->pid_file) < 0)
			return err->msg[0] ? -1 : isola_err(err, errno, "pid file %s", o->pid_file);
	}
	return gpid;
}
