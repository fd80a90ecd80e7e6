/* The container's init between clone3() and execve(); see init.h for the order. Runs in a forked copy
 * of the runtime: errors go back to the parent over the sync socket until READY, to stderr after. */
#include "runtime/init.h"
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <termios.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "path.h"
#include "runtime/hooks.h"
#include "runtime/mount.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/syscont.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Switch the filesystem ids to uid/gid (setfsuid(2), setfsgid(2)); old_uid and old_gid get the previous
 * ones. Both calls return the old id and fail silently: a second call tells whether the first took. */
static int set_fs_ids(uid_t uid, gid_t gid, uid_t *old_uid, gid_t *old_gid, isola_error *err)
{
	*old_gid = (gid_t)setfsgid(gid);
	if ((gid_t)setfsgid(gid) != gid)
		return isola_err(err, EPERM, "setfsgid %u: not mapped in the container's user namespace", gid);
	*old_uid = (uid_t)setfsuid(uid);
	if ((uid_t)setfsuid(uid) != uid) {
		setfsgid(*old_gid);
		return isola_err(err, EPERM, "setfsuid %u: not mapped in the container's user namespace", uid);
	}
	return 0;
}

/* Open a new pty of the devpts instance behind /dev/ptmx (dev.c: the container's own), unlocked. */
static int open_ptmx(isola_error *err)
{
	_cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	EXPLAIN(master, "pts(4)", "open(\"/dev/ptmx\", O_RDWR|O_NOCTTY|O_CLOEXEC)");
	if (master < 0)
		return isola_err(err, errno, "open /dev/ptmx");
	int unlock = 0;
	int ur = ioctl(master, TIOCSPTLCK, &unlock);
	EXPLAIN(ur, "ioctl_tty(2)", "ioctl(%d <ptmx>, TIOCSPTLCK, 0)  /* unlockpt */", (int)master);
	if (ur < 0)
		return isola_err(err, errno, "unlock pty");
	return steal_fd(&master);
}

int init_console(int sync_fd, unsigned rows, unsigned cols, uid_t uid, gid_t gid, bool bind_console, isola_error *err)
{
	/* devpts gives a new slave the opener's fsuid, and the mount's gid= (tty, 5) or else the opener's
	 * fsgid (pts(4), devpts mount options; what grantpt(3) would set). Opening as process.user makes it
	 * that user's terminal without a chown, which after setns(2) into a user namespace fails anyway: the
	 * slave would belong to the host's root, unmapped there (EPERM, capabilities(7) CAP_CHOWN). */
	uid_t old_uid = 0;
	gid_t old_gid = 0;
	if (set_fs_ids(uid, gid, &old_uid, &old_gid, err) < 0)
		return isola_err_wrap(err, "open the pty as process.user");
	_cleanup_close_ int master = open_ptmx(err);
	/* back to the ids before, for what init does next (exec: init_user sets every id right after) */
	setfsuid(old_uid);
	setfsgid(old_gid);
	if (master < 0)
		return -1;
	/* TIOCGPTPEER opens the slave from the master, never by a path the container could swap
	 * (CVE-2025-52565: /dev/console bound from a path that was a symlink) */
	_cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	EXPLAIN(slave, "ioctl_tty(2)", "ioctl(%d <ptmx>, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC)", (int)master);
	if (slave < 0)
		return isola_err(err, errno, "open pty slave");
	if (rows && cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		ioctl(master, TIOCSWINSZ, &ws);
	}
	if (bind_console) {
		_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0 || mount_bind_fd(root, slave, "/dev/console", err) < 0)
			return root < 0 ? isola_err(err, errno, "open /") : isola_err_wrap(err, "/dev/console");
	}
	if (sync_send(sync_fd, SYNC_PTY, 0, master) < 0)
		return isola_err(err, errno, "send the pty master");
	pid_t sid = setsid();
	EXPLAIN(sid, "setsid(2)", "setsid()");
	if (sid < 0)
		return isola_err(err, errno, "setsid");
	int r = ioctl(slave, TIOCSCTTY, 0);
	EXPLAIN(r, "ioctl_tty(2)", "ioctl(%d <pty slave>, TIOCSCTTY, 0)", (int)slave);
	if (r < 0)
		return isola_err(err, errno, "make the pty the controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return isola_err(err, errno, "dup2 pty to %d", i);
	return 0;
}

int init_user(const struct rt_config *cfg, const struct isola_caps *caps, isola_error *err)
{
	if (caps && caps_apply_pre_setuid(caps, err) < 0)
		return -1;
	int r = setgroups(cfg->n_additional_gids, cfg->additional_gids);
	EXPLAIN(r, "setgroups(2)", "setgroups(%zu, [...])", cfg->n_additional_gids);
	/* EPERM: a user namespace with setgroups "deny" (rootless); then only an empty list is possible */
	if (r < 0 && !(errno == EPERM && cfg->n_additional_gids == 0))
		return isola_err(err, errno, "setgroups");
	r = setresgid(cfg->gid, cfg->gid, cfg->gid);
	EXPLAIN(r, "setresgid(2)", "setresgid(%u, %u, %u)", cfg->gid, cfg->gid, cfg->gid);
	if (r < 0)
		return isola_err(err, errno, "setresgid %u", cfg->gid);
	r = setresuid(cfg->uid, cfg->uid, cfg->uid);
	EXPLAIN(r, "setresuid(2)", "setresuid(%u, %u, %u)", cfg->uid, cfg->uid, cfg->uid);
	if (r < 0)
		return isola_err(err, errno, "setresuid %u", cfg->uid);
	if (caps && caps_apply_post_setuid(caps, err) < 0)
		return -1;
	return 0;
}

int init_cwd(const char *cwd, isola_error *err)
{
	int r = chdir(cwd);
	EXPLAIN(r, "chdir(2)", "chdir(\"%s\")", cwd);
	if (r < 0)
		return isola_err(err, errno, "process.cwd %s", cwd);
	/* CVE-2024-21626: a cwd reached through a leaked host fd (/proc/self/fd/N) lies outside our root;
	 * getcwd(2) then fails or returns "(unreachable)/...". Refuse anything not absolute. */
	char buf[4096];
	if (!getcwd(buf, sizeof buf) || buf[0] != '/')
		return isola_err(err, EPERM, "process.cwd %s resolves outside the container root", cwd);
	return 0;
}

char *init_find_exec(char *const *args, char *const *env, isola_error *err)
{
	const char *name = args[0];
	if (strchr(name, '/')) {
		struct stat st;
		if (stat(name, &st) < 0 || !S_ISREG(st.st_mode) || access(name, X_OK) < 0) {
			isola_err(err, errno ? errno : EACCES, "process.args[0] %s: not an executable file", name);
			return NULL;
		}
		char *p = strdup(name);
		if (!p)
			isola_err(err, ENOMEM, "%s", name);
		return p;
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (char *const *e = env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	_cleanup_free_ char *copy = strdup(path);
	if (!copy) {
		isola_err(err, ENOMEM, "PATH");
		return NULL;
	}
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *cand = NULL;
		if (asprintf(&cand, "%s/%s", *d ? d : ".", name) < 0)
			break;
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	isola_err(err, ENOENT, "process.args[0] \"%s\": executable file not found in $PATH", name);
	return NULL;
}

int init_exec(const char *path, char *const *args, char *const *env, unsigned preserve_fds,
              const struct isola_seccomp *sc, bool seccomp_now, isola_error *err)
{
	/* The runtime ignores SIGPIPE and blocks nothing else, but an ignored disposition survives execve:
	 * hand the program a clean slate. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	for (unsigned i = 0; i < preserve_fds; i++) {
		int fl = fcntl(3 + (int)i, F_GETFD);
		if (fl >= 0)
			fcntl(3 + (int)i, F_SETFD, fl & ~FD_CLOEXEC);
	}
	/* CVE-2024-21626 / CVE-2016-9962: no fd of the runtime may reach the container, whatever its
	 * O_CLOEXEC state. */
	int r = close_range(3 + preserve_fds, ~0U, 0);
	EXPLAIN(r, "close_range(2)", "close_range(%u, ~0U, 0)", 3 + preserve_fds);
	if (r < 0)
		return isola_err(err, errno, "close_range");
	if (seccomp_now && sc) {
		/* last: from here on only execve must still be allowed by the profile */
		r = isola_seccomp_install(sc, err); /* seccomp.c explains the seccomp(2) call */
		if (r < 0)
			return -1;
	}
	EXPLAIN(0, "execve(2)", "execve(\"%s\", [\"%s\"%s], envp)", path, args[0], args[1] ? ", ..." : "");
	execve(path, args, env);
	return isola_err(err, errno, "execve %s", path);
}

static int set_sysctls(const struct rt_config *cfg, isola_error *err)
{
	if (!cfg->n_sysctl)
		return 0;
	/* Make sure /proc is a real procfs before writing through it (CVE-2019-16884 class: a fake /proc in
	 * the image would swallow the writes). */
	_cleanup_close_ int procsys = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct statfs sf;
	if (procsys < 0 || fstatfs(procsys, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return isola_err(err, procsys < 0 ? errno : EINVAL, "linux.sysctl: /proc/sys is not procfs");
	for (size_t i = 0; i < cfg->n_sysctl; i++) {
		char rel[512];
		snprintf(rel, sizeof rel, "%s", cfg->sysctl[i].key);
		for (char *c = rel; *c; c++)
			if (*c == '.')
				*c = '/';
		_cleanup_close_ int fd = safe_openat(procsys, rel, O_WRONLY | O_TRUNC, 0, err);
		if (fd < 0)
			return isola_err_wrap(err, "linux.sysctl.%s", cfg->sysctl[i].key);
		ssize_t w = write(fd, cfg->sysctl[i].value, strlen(cfg->sysctl[i].value));
		EXPLAIN(w, "sysctl(8), proc(5)", "write(/proc/sys/%s, \"%s\")", rel, cfg->sysctl[i].value);
		if (w < 0)
			return isola_err(err, errno, "linux.sysctl.%s = %s", cfg->sysctl[i].key, cfg->sysctl[i].value);
	}
	return 0;
}

static int set_time_offsets(const struct rt_config *cfg, isola_error *err)
{
	if (!(cfg->clone_flags & CLONE_NEWTIME))
		return 0;
	/* clone3(CLONE_NEWTIME) would put us in the namespace before its offsets could be set; the offsets are
	 * writable only until a process enters it (time_namespaces(7)). So: unshare, write, then enter. */
	int r = unshare(CLONE_NEWTIME);
	EXPLAIN(r, "unshare(2), time_namespaces(7)", "unshare(CLONE_NEWTIME)");
	if (r < 0)
		return isola_err(err, errno, "unshare time namespace");
	if (cfg->has_time_offsets) {
		char buf[128];
		snprintf(buf, sizeof buf, "monotonic %lld %lld\nboottime %lld %lld\n",
		         (long long)cfg->time_offset_monotonic[0], (long long)cfg->time_offset_monotonic[1],
		         (long long)cfg->time_offset_boottime[0], (long long)cfg->time_offset_boottime[1]);
		r = write_file_at(AT_FDCWD, "/proc/self/timens_offsets", buf, strlen(buf), false, err);
		EXPLAIN(r, "time_namespaces(7)", "write(\"/proc/self/timens_offsets\", \"%s\")", buf);
		if (r < 0)
			return isola_err_wrap(err, "linux.timeOffsets");
	}
	_cleanup_close_ int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? -1 : setns(fd, CLONE_NEWTIME);
	EXPLAIN(r, "setns(2)", "setns(/proc/self/ns/time_for_children, CLONE_NEWTIME)");
	if (r < 0)
		return isola_err(err, errno, "enter the new time namespace");
	return 0;
}

static int join_namespaces(const struct init_args *a, isola_error *err)
{
	const struct rt_config *cfg = a->cfg;
	/* the user namespace first: it owns the others and grants the capabilities to join them */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < cfg->n_namespaces; i++) {
			unsigned long f = cfg->namespaces[i].flag;
			if (a->ns_fds[i] < 0 || (pass == 0) != (f == CLONE_NEWUSER) || f == CLONE_NEWPID)
				continue;
			int r = setns(a->ns_fds[i], (int)f);
			EXPLAIN(r, "setns(2)", "setns(%d <%s>, %s)", a->ns_fds[i], cfg->namespaces[i].path,
			        explain_clone_flags(f));
			if (r < 0)
				return isola_err(err, errno, "join %s namespace %s", config_ns_name(f),
				                 cfg->namespaces[i].path);
		}
	}
	return 0;
}

/* A PID namespace joined by path applies only to children (setns(2)): fork once more with CLONE_PARENT,
 * so the runtime stays the parent of the real init; this first child reports its pid and exits. */
static int join_pid_namespace(const struct init_args *a, isola_error *err)
{
	const struct rt_config *cfg = a->cfg;
	for (size_t i = 0; i < cfg->n_namespaces; i++) {
		if (a->ns_fds[i] < 0 || cfg->namespaces[i].flag != CLONE_NEWPID)
			continue;
		int r = setns(a->ns_fds[i], CLONE_NEWPID);
		EXPLAIN(r, "setns(2)", "setns(%d <%s>, CLONE_NEWPID)  /* for our children */", a->ns_fds[i],
		        cfg->namespaces[i].path);
		if (r < 0)
			return isola_err(err, errno, "join pid namespace %s", cfg->namespaces[i].path);
		pid_t pid = process_clone3(CLONE_PARENT, -1, NULL, err);
		if (pid < 0)
			return -1;
		if (pid > 0) {
			sync_send(a->sync_fd, SYNC_PID, pid, -1);
			_exit(0);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_DUMPABLE, 0);
		return 0;
	}
	return 0;
}

static int set_limits(const struct rt_config *cfg, isola_error *err)
{
	for (size_t i = 0; i < cfg->n_rlimits; i++) {
		struct rlimit rl = {.rlim_cur = cfg->rlimits[i].soft, .rlim_max = cfg->rlimits[i].hard};
		int r = setrlimit(cfg->rlimits[i].resource, &rl);
		EXPLAIN(r, "setrlimit(2)", "setrlimit(%d, {%llu, %llu})", cfg->rlimits[i].resource,
		        (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
		if (r < 0)
			return isola_err(err, errno, "process.rlimits[%zu]", i);
	}
	if (cfg->has_oom_score_adj) {
		int r = write_filef_at(AT_FDCWD, "/proc/self/oom_score_adj", err, "%d", cfg->oom_score_adj);
		EXPLAIN(r, "proc(5)", "write(\"/proc/self/oom_score_adj\", \"%d\")", cfg->oom_score_adj);
		if (r < 0)
			return isola_err_wrap(err, "process.oomScoreAdj");
	}
	return 0;
}

/* The environment of the user process: the config's, plus what the runtime adds. */
static char **build_env(const struct init_args *a)
{
	size_t n = 0;
	for (char **e = a->cfg->env; e && *e; e++)
		n++;
	char **v = calloc(n + 4, sizeof *v);
	if (!v)
		return NULL;
	size_t k = 0;
	for (char **e = a->cfg->env; e && *e; e++)
		v[k++] = *e;
	if (a->system && a->system->enabled) {
		v[k++] = "container=isola";
		if (a->system->uuid && asprintf(&v[k], "container_uuid=%s", a->system->uuid) > 0)
			k++;
	}
	if (a->notify_host_dir)
		v[k++] = "NOTIFY_SOCKET=/run/isola-notify/notify.sock";
	return v;
}

static int setup(const struct init_args *a, char **exec_path, char ***envp, char **state_out, isola_error *err)
{
	const struct rt_config *cfg = a->cfg;
	int sfd = a->sync_fd;
	for (int i = 0; i < 3; i++)
		if (a->stdio[i] >= 0 && a->stdio[i] != i && dup2(a->stdio[i], i) < 0)
			return isola_err(err, errno, "stdio %d", i);
	if (join_namespaces(a, err) < 0 || join_pid_namespace(a, err) < 0)
		return -1;
	/* the parent writes uid_map/gid_map now (only it may, from outside the namespace) */
	if (sync_expect(sfd, SYNC_GO, NULL, err) < 0)
		return -1;
	/* syscont: attach the root the parent built while our fsuid is still the host's root, which may
	 * search the directories above root.path; the namespace's root may not (syscont.c) */
	_cleanup_close_ int early_root = -1;
	if (a->rootfs_mnt >= 0 &&
	    (early_root = syscont_attach_root(cfg->root_path, cfg->rootfs_propagation, a->rootfs_mnt, err)) < 0)
		return -1;
	if (cfg->clone_flags & CLONE_NEWUSER) {
		/* become the namespace's root when it is mapped, so what we create is owned by it */
		int r = setresgid(0, 0, 0);
		EXPLAIN(r, "setresgid(2)", "setresgid(0, 0, 0)  /* root of the new user namespace */");
		r = setresuid(0, 0, 0);
		EXPLAIN(r, "setresuid(2)", "setresuid(0, 0, 0)  /* root of the new user namespace */");
	}
	if (set_time_offsets(cfg, err) < 0)
		return -1;
	if (cfg->hostname) {
		int r = sethostname(cfg->hostname, strlen(cfg->hostname));
		EXPLAIN(r, "sethostname(2)", "sethostname(\"%s\")", cfg->hostname);
		if (r < 0)
			return isola_err(err, errno, "hostname %s", cfg->hostname);
	}
	if (cfg->domainname) {
		int r = setdomainname(cfg->domainname, strlen(cfg->domainname));
		EXPLAIN(r, "setdomainname(2)", "setdomainname(\"%s\")", cfg->domainname);
		if (r < 0)
			return isola_err(err, errno, "domainname %s", cfg->domainname);
	}
	/* relative bind sources are relative to the bundle (runtime-spec config.md "Mounts"); only go there
	 * when one needs it, the bundle may not be searchable by a user namespace's root */
	bool relative = false;
	for (size_t i = 0; i < cfg->n_mounts; i++)
		relative |= cfg->mounts[i].bind && cfg->mounts[i].source[0] != '/';
	if (relative && a->bundle && chdir(a->bundle) < 0)
		return isola_err(err, errno, "chdir %s", a->bundle);
	bool in_userns = cfg->clone_flags & CLONE_NEWUSER;
	_cleanup_close_ int rootfd = rootfs_prepare_mnt(cfg, in_userns, a->devs, early_root, err);
	if (rootfd < 0)
		return -1;
	if (a->notify_host_dir) {
		struct rt_mount m = {
		    .destination = "/run/isola-notify", .source = (char *)a->notify_host_dir, .bind = true, .data = ""};
		if (mount_entry(rootfd, &m, in_userns, err) < 0)
			return isola_err_wrap(err, "NOTIFY_SOCKET");
	}
	if (a->system && a->system->n_mounts &&
	    syscont_attach_mounts(rootfd, a->system->mounts, a->system->n_mounts, err) < 0)
		return -1;
	if (a->console_slave_mnt >= 0 && mount_attach_detached(rootfd, a->console_slave_mnt, "/dev/console", err) < 0)
		return isola_err_wrap(err, "/dev/console");
	/* prestart + createRuntime hooks run in the parent now, then it sends the state for ours */
	if (sync_send(sfd, SYNC_HOOKS, 0, -1) < 0)
		return isola_err(err, errno, "sync");
	_cleanup_free_ char *state_json = NULL;
	if (sync_expect(sfd, SYNC_STATE, NULL, err) < 0 || sync_recv_blob(sfd, &state_json, err) < 0)
		return -1;
	if (hooks_run(cfg, RT_HOOK_CREATE_CONTAINER, state_json, err) < 0)
		return -1;
	*state_out = steal_ptr(&state_json);
	if (rootfs_mask(rootfd, cfg, a->devnull, err) < 0)
		return -1;
	if (rootfs_pivot(rootfd, cfg, a->no_pivot, err) < 0)
		return -1;
	if (set_sysctls(cfg, err) < 0)
		return -1;
	if (cfg->terminal) {
		if (init_console(sfd, cfg->console_height, cfg->console_width, cfg->uid, cfg->gid, true, err) < 0)
			return -1;
	} else {
		/* A new session: without a controlling terminal shared with the caller, TIOCSTI cannot push
		 * keystrokes into the caller's terminal (CVE-2017-5226). */
		pid_t sid = setsid();
		EXPLAIN(sid, "setsid(2)", "setsid()  /* no controlling terminal shared with the caller */");
		if (a->console_slave_fd >= 0) {
			int r = ioctl(a->console_slave_fd, TIOCSCTTY, 0);
			EXPLAIN(r, "ioctl_tty(2)", "ioctl(<console slave>, TIOCSCTTY, 0)");
			for (int i = 0; i < 3; i++)
				dup2(a->console_slave_fd, i);
		}
	}
	if (set_limits(cfg, err) < 0)
		return -1;
	bool notify = a->seccomp && a->seccomp->notify;
	if (a->seccomp && (!cfg->no_new_privs || notify)) {
		/* Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter: before caps drop. With a
		 * listener the fd must reach the parent before READY. */
		int lfd = isola_seccomp_install(a->seccomp, err);
		if (lfd < 0)
			return -1;
		if (notify) {
			if (sync_send(sfd, SYNC_SECCOMP, 0, lfd) < 0)
				return isola_err(err, errno, "send the seccomp listener");
			close(lfd);
		}
	}
	if (init_user(cfg, a->caps, err) < 0)
		return -1;
	if (init_cwd(cfg->cwd, err) < 0)
		return -1;
	if (cfg->no_new_privs) {
		int r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		EXPLAIN(r, "prctl(2)", "prctl(PR_SET_NO_NEW_PRIVS, 1)");
		if (r < 0)
			return isola_err(err, errno, "no_new_privs");
	}
	umask(cfg->has_umask ? cfg->umask : 022);
	if (!(*envp = build_env(a)))
		return isola_err(err, ENOMEM, "environment");
	if (!(*exec_path = init_find_exec(cfg->args, *envp, err)))
		return -1;
	return 0;
}

/* After start: startContainer hooks, then execve. Returns only on failure. */
static int start_user_process(const struct init_args *a, const char *path, char **env, const char *state_json,
                              isola_error *err)
{
	if (a->fifo_fd >= 0) {
		char c;
		ssize_t r;
		do
			r = read(a->fifo_fd, &c, 1);
		while (r < 0 && errno == EINTR);
		EXPLAIN(r, "fifo(7)", "read(%d <exec.fifo>)  /* blocks until `start` */", a->fifo_fd);
		if (r != 1)
			return isola_err(err, r < 0 ? errno : EPIPE, "wait for start");
		close(a->fifo_fd);
	}
	if (hooks_run(a->cfg, RT_HOOK_START_CONTAINER, state_json ? state_json : "{}", err) < 0)
		return -1;
	bool late_seccomp = a->seccomp && a->cfg->no_new_privs && !a->seccomp->notify;
	return init_exec(path, a->cfg->args, env, a->preserve_fds, a->seccomp, late_seccomp, err);
}

void container_init(const struct init_args *a)
{
	isola_error e = {0};
	int sfd = a->sync_fd;
	/* Until execve: die with the runtime, and stay non-dumpable so no process of the container can open
	 * /proc/<us>/exe (the runtime binary, CVE-2019-5736) or our fds (CVE-2016-9962). */
	int r = prctl(PR_SET_PDEATHSIG, SIGKILL);
	EXPLAIN(r, "prctl(2)", "prctl(PR_SET_PDEATHSIG, SIGKILL)  /* die with the runtime while setting up */");
	r = prctl(PR_SET_DUMPABLE, 0);
	EXPLAIN(r, "prctl(2)", "prctl(PR_SET_DUMPABLE, 0)  /* /proc/<us>/exe and fds unreachable until execve */");
	_cleanup_free_ char *path = NULL, *state_json = NULL;
	_cleanup_free_ char **env = NULL;
	if (setup(a, &path, &env, &state_json, &e) < 0) {
		sync_send_error(sfd, &e);
		_exit(1);
	}
	/* from now on the container outlives the runtime that created it. Cleared BEFORE the parent hears
	 * READY (it exits right after); a parent gone before that makes the send fail and us exit. */
	r = prctl(PR_SET_PDEATHSIG, 0);
	EXPLAIN(r, "prctl(2)", "prctl(PR_SET_PDEATHSIG, 0)  /* the container now outlives create */");
	if (sync_send(sfd, SYNC_READY, 0, -1) < 0)
		_exit(1);
	/* While "created", hold nothing of the host but the fifo: the state dir, the cgroup dir, the host
	 * /dev/null clone and the sync socket would otherwise sit in /proc/<init>/fd until start
	 * (CVE-2024-21626 pattern; the security suite scans a created container for them). */
	unsigned first = 3 + a->preserve_fds;
	if (a->fifo_fd >= (int)first) {
		if (a->fifo_fd > (int)first)
			close_range(first, (unsigned)a->fifo_fd - 1, 0);
		close_range((unsigned)a->fifo_fd + 1, ~0U, 0);
	} else if (a->fifo_fd < 0) {
		close_range(first, ~0U, 0);
	}
	EXPLAIN(0, "close_range(2)",
	        "close_range(%u, ~0U, 0) except %d <exec.fifo>  /* nothing of the host while created */", first,
	        a->fifo_fd);
	start_user_process(a, path, env, state_json, &e);
	char buf[ISOLA_ERR_MSG_MAX + 64];
	dprintf(2, "isola-runtime: %s\n", isola_err_str(&e, buf, sizeof buf));
	_exit(127);
}
