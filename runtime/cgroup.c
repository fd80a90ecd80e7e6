/* cgroup: cgroup v2 for one container (kernel cgroup-v2.rst, cgroups(7)). Contract in cgroup.h.
 * This file: manager names, finding the mount, creating/opening/destroying the directory, moving
 * processes, freeze/kill. Resources (parse + OCI→v2 conversion + apply) are in cgroup_resources.c, stats
 * in cgroup_stats.c. */
#include "runtime/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "cleanup.h"
#include "explain.h"
#include "path.h"
#include "util.h"

int cgroup_manager_parse(const char *s, enum cgroup_manager *out, isola_error *err)
{
	if (!strcmp(s, "cgroupfs"))
		*out = CGROUP_MANAGER_CGROUPFS;
	else if (!strcmp(s, "disabled"))
		*out = CGROUP_MANAGER_DISABLED;
	else if (!strcmp(s, "systemd"))
		*out = CGROUP_MANAGER_SYSTEMD;
	else
		return isola_err(err, 0, "--cgroup-manager: unknown manager \"%s\" (cgroupfs, disabled or systemd)", s);
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo (proc(5)) */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else
			*w++ = *r;
	}
	*w = 0;
}

int cgroup_find_mount(char **out, isola_error *err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return isola_err(err, errno, "open /proc/self/mountinfo");
	_cleanup_free_ char *line = NULL, *best = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* "36 35 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw" */
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		char *fields[5] = {0};
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 5; i++, tok = strtok_r(NULL, " ", &save))
			fields[i] = tok;
		if (!fields[4])
			continue;
		unescape_octal(fields[4]);
		/* the unified mount wins; on hybrid hosts it is /sys/fs/cgroup/unified; keep the first otherwise */
		if (!strcmp(fields[4], "/sys/fs/cgroup") || !best) {
			free(best);
			best = strdup(fields[4]);
			if (!best)
				return isola_err(err, ENOMEM, "cgroup mount");
		}
	}
	if (!best)
		return isola_err(err, ENOENT, "no cgroup2 filesystem is mounted (looked in /proc/self/mountinfo)");
	*out = steal_ptr(&best);
	return 0;
}

bool cgroup_controller_bound_to_v1(const char *controller)
{
	/* /proc/cgroups: "subsys_name hierarchy num_cgroups enabled"; hierarchy 0 = v2 (or unmounted) */
	_cleanup_fclose_ FILE *f = fopen("/proc/cgroups", "re");
	if (!f)
		return false;
	char name[64];
	int hier, num, enabled;
	char line[256];
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %d %d %d", name, &hier, &num, &enabled) == 4 && !strcmp(name, controller))
			return hier != 0;
	return false;
}

void cgroup_missing_controller_err(isola_error *err, const char *controller, const char *mount, bool bound_to_v1)
{
	if (bound_to_v1)
		isola_err(err, 0,
		          "cgroup controller \"%s\" is not available in the cgroup v2 hierarchy at %s (it is bound to "
		          "cgroup v1): boot with systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all",
		          controller, mount);
	else
		isola_err(err, 0,
		          "cgroup controller \"%s\" is not available in the cgroup v2 hierarchy at %s (not in "
		          "cgroup.controllers: the kernel lacks it or a parent does not delegate it)",
		          controller, mount);
}

/* Read a cgroup file at dirfd into a malloc'd string (trailing newline kept). */
int cg_read(int dirfd, const char *file, char **out, isola_error *err)
{
	return read_file_at(dirfd, file, out, NULL, err);
}

/* cgroupfs files are never created: open without O_CREAT so a missing controller file is ENOENT. */
int cg_write(int dirfd, const char *file, const char *value, isola_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "open cgroup file %s", file);
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	EXPLAIN(n, "cgroups(7)", "write(%s, \"%s\")", file, value);
	if (n < 0)
		return isola_err(err, errno, "write \"%s\" to %s", value, file);
	if ((size_t)n != len)
		return isola_err(err, EIO, "short write of \"%s\" to %s", value, file);
	return 0;
}

/* Is word in the space-separated list s? */
static bool word_in(const char *s, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = s; (p = strstr(p, word)); p += wl)
		if ((p == s || p[-1] == ' ' || p[-1] == '\n') && (p[wl] == 0 || p[wl] == ' ' || p[wl] == '\n'))
			return true;
	return false;
}

static int own_cgroup(char **out, isola_error *err)
{
	_cleanup_free_ char *buf = NULL;
	if (read_file_at(AT_FDCWD, "/proc/self/cgroup", &buf, NULL, err) < 0)
		return -1;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (str_has_prefix(line, "0::")) {
			*out = strdup(line + 3);
			return *out ? 0 : isola_err(err, ENOMEM, "cgroup path");
		}
		line = nl ? nl + 1 : NULL;
	}
	return isola_err(err, ENOENT, "/proc/self/cgroup has no cgroup v2 (0::) line");
}

/* Validate a cgroup path ("/a/b" or "a/b") component by component: no "..", ".", empty or odd names. */
static int check_path(const char *p, isola_error *err)
{
	_cleanup_free_ char *copy = strdup(p);
	if (!copy)
		return isola_err(err, ENOMEM, "cgroup path");
	char *save = NULL;
	int n = 0;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save), n++)
		if (!name_is_safe_component(c, 255))
			return isola_err(err, EINVAL, "linux.cgroupsPath: \"%s\": component \"%s\" is not allowed", p,
			                 c);
	if (n == 0)
		return isola_err(err, EINVAL, "linux.cgroupsPath: \"%s\" names the root cgroup", p);
	return 0;
}

/* The cgroup path (relative to the mount, starting with "/") for these options. */
static int container_path(const struct cgroup_options *o, char **out, isola_error *err)
{
	if (o->cgroups_path && *o->cgroups_path) {
		if (strchr(o->cgroups_path, ':'))
			return isola_err(err, EINVAL,
			                 "linux.cgroupsPath: \"%s\" is a systemd slice:prefix:name path; "
			                 "it needs --systemd-cgroup, which isola-runtime does not implement",
			                 o->cgroups_path);
		if (check_path(o->cgroups_path, err) < 0)
			return -1;
		if (o->cgroups_path[0] == '/')
			return (*out = strdup(o->cgroups_path)) ? 0 : isola_err(err, ENOMEM, "cgroup path");
		/* relative: beside the runtime's own cgroup (its parent), as runc does — our own cgroup has
		 * processes in it, so it must not become an inner node with controllers enabled */
		_cleanup_free_ char *own = NULL;
		if (own_cgroup(&own, err) < 0)
			return -1;
		char *slash = strrchr(own, '/');
		if (slash)
			*slash = 0;
		if (asprintf(out, "%s/%s", own, o->cgroups_path) < 0)
			return isola_err(err, ENOMEM, "cgroup path");
		return 0;
	}
	if (!o->id || !name_is_safe_component(o->id, 1024))
		return isola_err(err, EINVAL, "cgroup: container id \"%s\" is not a safe directory name",
		                 o->id ? o->id : "(null)");
	if (asprintf(out, "/isola/%s", o->id) < 0)
		return isola_err(err, ENOMEM, "cgroup path");
	return 0;
}

static int open_dir_at(int dirfd, const char *name, isola_error *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "open cgroup directory %s", name);
	return fd;
}

/* One level down a walk from the cgroup2 mount: *cur becomes comp's directory fd, where its path. */
static int descend(int *cur, const char *comp, char *where, size_t len, isola_error *err)
{
	int nfd = open_dir_at(*cur, comp, err);
	if (nfd < 0)
		return -1;
	close(*cur);
	*cur = nfd;
	snprintf(where + strlen(where), len - strlen(where), "/%s", comp);
	return 0;
}

/* Make sure every controller in ctrls is in this level's cgroup.subtree_control, writing "+c" only for
 * the missing ones (the only write isola ever does outside its own cgroup). */
static int enable_controllers(int dirfd, const char *where, char **ctrls, isola_error *err)
{
	if (!ctrls || !*ctrls)
		return 0;
	_cleanup_free_ char *cur = NULL;
	if (cg_read(dirfd, "cgroup.subtree_control", &cur, err) < 0)
		return isola_err_wrap(err, "cgroup %s", where);
	for (char **c = ctrls; *c; c++) {
		if (word_in(cur, *c))
			continue;
		char v[80];
		snprintf(v, sizeof(v), "+%s", *c);
		if (cg_write(dirfd, "cgroup.subtree_control", v, err) < 0)
			return isola_err_wrap(err, "enable controller %s in cgroup %s", *c, where);
	}
	return 0;
}

int cgroup_enable_above(const struct isola_cgroup *cg, char **ctrls, isola_error *err)
{
	if (!cg->available)
		return isola_err(err, ENOTSUP, "no cgroup");
	_cleanup_close_ int cur = open(cg->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return isola_err(err, errno, "open cgroup2 mount %s", cg->mount);
	_cleanup_free_ char *walk = strdup(cg->path);
	if (!walk)
		return isola_err(err, ENOMEM, "cgroup path");
	char where[4096];
	snprintf(where, sizeof(where), "%s", cg->mount);
	char *save = NULL;
	for (char *comp = strtok_r(walk, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (enable_controllers(cur, where, ctrls, err) < 0)
			return -1;
		if (descend(&cur, comp, where, sizeof(where), err) < 0)
			return -1;
	}
	return 0;
}

static struct isola_cgroup *cg_new_unavailable(const char *reason)
{
	struct isola_cgroup *cg = calloc(1, sizeof(*cg));
	if (!cg)
		return NULL;
	cg->dirfd = -1;
	if (reason)
		cg->degraded_reason = strdup(reason);
	return cg;
}

void cgroup_free(struct isola_cgroup *cg)
{
	if (!cg)
		return;
	if (cg->dirfd >= 0)
		close(cg->dirfd);
	free(cg->mount);
	free(cg->path);
	free(cg->inner);
	free(cg->degraded_reason);
	free(cg);
}

static bool procs_empty(int dirfd)
{
	isola_error e;
	_cleanup_free_ char *s = NULL;
	if (cg_read(dirfd, "cgroup.procs", &s, &e) < 0)
		return false;
	return s[strspn(s, " \n")] == 0;
}

/* Delegation: the inner cgroup belongs to the container's root (cgroup-v2.rst "Delegation Containment"). */
static int delegate_inner(int outerfd, const struct cgroup_options *o, isola_error *err)
{
	int r = mkdirat(outerfd, o->inner, 0755);
	EXPLAIN(r, "mkdir(2)", "mkdirat(<outer cgroup>, \"%s\")", o->inner);
	if (r < 0 && errno != EEXIST)
		return isola_err(err, errno, "create inner cgroup %s", o->inner);
	if (o->inner_uid == (uid_t)-1)
		return 0;
	_cleanup_close_ int ifd = open_dir_at(outerfd, o->inner, err);
	if (ifd < 0)
		return -1;
	static const char *const files[] = {".", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (fchownat(ifd, files[i], o->inner_uid, o->inner_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return isola_err(err, errno, "chown inner cgroup %s/%s to %d:%d", o->inner, files[i],
			                 (int)o->inner_uid, (int)o->inner_gid);
	/* the container's init may enable what the outer cgroup has (systemd inside wants them all) */
	_cleanup_free_ char *avail = NULL;
	if (cg_read(outerfd, "cgroup.controllers", &avail, err) < 0)
		return -1;
	char *save = NULL;
	for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		char v[80];
		snprintf(v, sizeof(v), "+%s", c);
		isola_error ignored;
		(void)cg_write(outerfd, "cgroup.subtree_control", v, &ignored); /* best-effort: limits stay outside */
	}
	return 0;
}

int cgroup_create(const struct cgroup_options *opts, const struct cgroup_resources *res, struct isola_cgroup **out,
                  isola_error *err)
{
	*out = NULL;
	if (opts->manager == CGROUP_MANAGER_SYSTEMD)
		return isola_err(err, ENOTSUP,
		                 "--systemd-cgroup: the systemd cgroup manager (a transient scope over "
		                 "D-Bus) is not implemented by isola-runtime; use --cgroup-manager cgroupfs");
	if (opts->inner && !name_is_safe_component(opts->inner, 255))
		return isola_err(err, EINVAL, "cgroup: inner directory name \"%s\" is not allowed", opts->inner);

	/* Convert first: bad resources are an error whatever the host has. */
	struct cgroup_kv *files = NULL;
	size_t nfiles = 0;
	if (cgroup_resources_to_files(res, &files, &nfiles, err) < 0)
		return -1;
	_cleanup_(cgroup_kv_arrayp) struct cgroup_kv_array fa = {files, nfiles};
	if (opts->manager == CGROUP_MANAGER_DISABLED) {
		/* limits that nothing would enforce are an error, never silently dropped */
		if (nfiles)
			return isola_err(err, EINVAL,
			                 "linux.resources sets %s, but --cgroup-manager disabled creates no "
			                 "cgroup to enforce it",
			                 files[0].key);
		*out = cg_new_unavailable("--cgroup-manager disabled");
		return *out ? 0 : isola_err(err, ENOMEM, "cgroup");
	}
	_cleanup_strv_ char **ctrls = cgroup_files_controllers(files, nfiles);
	if (!ctrls)
		return isola_err(err, ENOMEM, "cgroup controllers");
	bool limits = nfiles > 0;

	_cleanup_free_ char *path = NULL;
	if (container_path(opts, &path, err) < 0)
		return -1;

	_cleanup_cgroup_ struct isola_cgroup *cg = calloc(1, sizeof(*cg));
	if (!cg)
		return isola_err(err, ENOMEM, "cgroup");
	cg->dirfd = -1;
	isola_error merr;
	if (cgroup_find_mount(&cg->mount, &merr) < 0) {
		if (limits)
			return isola_err(err, merr.errnum, "%s (linux.resources sets limits)", merr.msg);
		cgroup_free(steal_ptr(&cg));
		*out = cg_new_unavailable(merr.msg);
		return *out ? 0 : isola_err(err, ENOMEM, "cgroup");
	}

	_cleanup_close_ int cur = open(cg->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return isola_err(err, errno, "open cgroup2 mount %s", cg->mount);
	/* every needed controller must be offered at the root: else say which one and why */
	_cleanup_free_ char *avail = NULL;
	if (cg_read(cur, "cgroup.controllers", &avail, err) < 0)
		return isola_err_wrap(err, "cgroup2 mount %s", cg->mount);
	for (char **c = ctrls; *c; c++)
		if (!word_in(avail, *c)) {
			cgroup_missing_controller_err(err, *c, cg->mount, cgroup_controller_bound_to_v1(*c));
			return -1;
		}

	/* Walk down from the mount, enabling controllers in each ancestor and creating what is missing. */
	_cleanup_free_ char *walk = strdup(path);
	if (!walk)
		return isola_err(err, ENOMEM, "cgroup path");
	char *save = NULL, *comp = strtok_r(walk, "/", &save);
	char where[4096];
	snprintf(where, sizeof(where), "%s", cg->mount);
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		if (enable_controllers(cur, where, ctrls, err) < 0)
			return -1;
		int r = mkdirat(cur, comp, 0755);
		int saved = errno;
		EXPLAIN(r, "mkdir(2)", "mkdirat(%s, \"%s\")", where, comp);
		if (r < 0 && saved != EEXIST) {
			if (limits)
				return isola_err(err, saved, "create cgroup %s/%s", where, comp);
			/* no limits asked: run without a cgroup of our own (e.g. a read-only or foreign cgroupfs) */
			char reason[ISOLA_ERR_MSG_MAX];
			snprintf(reason, sizeof(reason), "create cgroup %s/%s: %s", where, comp, strerror(saved));
			cgroup_free(steal_ptr(&cg));
			*out = cg_new_unavailable(reason);
			return *out ? 0 : isola_err(err, ENOMEM, "cgroup");
		}
		if (r < 0 && !next) {
			/* the leaf exists: a stale one (runtime killed between create and delete) is reused when
			 * empty; one with processes belongs to someone else */
			_cleanup_close_ int leaf = open_dir_at(cur, comp, err);
			if (leaf < 0)
				return -1;
			if (!procs_empty(leaf))
				return isola_err(err, EEXIST, "cgroup %s%s already exists and has processes", cg->mount,
				                 path);
		}
		if (descend(&cur, comp, where, sizeof(where), err) < 0)
			return -1;
		comp = next;
	}
	cg->dirfd = steal_fd(&cur);
	cg->path = steal_ptr(&path);
	cg->available = true;
	if (opts->inner) {
		if (!(cg->inner = strdup(opts->inner)))
			return isola_err(err, ENOMEM, "cgroup");
		if (delegate_inner(cg->dirfd, opts, err) < 0) {
			isola_error e2;
			(void)cgroup_destroy(cg, &e2);
			return -1;
		}
	}
	if (cgroup_apply_files(cg, files, nfiles, err) < 0) {
		isola_error e2;
		(void)cgroup_destroy(cg, &e2);
		return -1;
	}
	*out = steal_ptr(&cg);
	return 0;
}

int cgroup_open(const char *mount, const char *path, const char *inner, struct isola_cgroup **out, isola_error *err)
{
	*out = NULL;
	if (!path) {
		*out = cg_new_unavailable("no cgroup was created for this container");
		return *out ? 0 : isola_err(err, ENOMEM, "cgroup");
	}
	if (path[0] != '/' || check_path(path, err) < 0)
		return isola_err(err, EINVAL, "cgroup path \"%s\" is not an absolute cgroup path", path);
	if (inner && !name_is_safe_component(inner, 255))
		return isola_err(err, EINVAL, "cgroup: inner directory name \"%s\" is not allowed", inner);
	_cleanup_cgroup_ struct isola_cgroup *cg = calloc(1, sizeof(*cg));
	if (!cg)
		return isola_err(err, ENOMEM, "cgroup");
	cg->dirfd = -1;
	if (mount) {
		if (!(cg->mount = strdup(mount)))
			return isola_err(err, ENOMEM, "cgroup");
	} else if (cgroup_find_mount(&cg->mount, err) < 0)
		return -1;
	if (!(cg->path = strdup(path)) || (inner && !(cg->inner = strdup(inner))))
		return isola_err(err, ENOMEM, "cgroup");
	char full[4096];
	snprintf(full, sizeof(full), "%s%s", cg->mount, path);
	cg->dirfd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dirfd < 0)
		return isola_err(err, errno, "open cgroup %s", full);
	cg->available = true;
	*out = steal_ptr(&cg);
	return 0;
}

static int not_available(const struct isola_cgroup *cg, const char *what, isola_error *err)
{
	return isola_err(err, ENOTSUP, "%s needs the container's cgroup, and it has none (%s)", what,
	                 cg->degraded_reason ? cg->degraded_reason : "not created");
}

int cgroup_enter_fd(const struct isola_cgroup *cg, isola_error *err)
{
	if (!cg || !cg->available)
		return -1;
	if (!cg->inner) {
		int fd = fcntl(cg->dirfd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? isola_err(err, errno, "dup cgroup fd") : fd;
	}
	return open_dir_at(cg->dirfd, cg->inner, err);
}

int cgroup_exec_fd(const struct isola_cgroup *cg, pid_t init, isola_error *err)
{
	if (!cg || !cg->available)
		return -1;
	if (!cg->inner)
		return cgroup_enter_fd(cg, err);
	_cleanup_close_ int ifd = open_dir_at(cg->dirfd, cg->inner, err);
	if (ifd < 0)
		return -1;
	/* "0::/isola/c1/init/init.scope" (cgroups(7) "/proc/[pid]/cgroup"); the container chose everything
	 * below the inner directory, so it is resolved beneath it (RESOLVE_IN_ROOT) and must be a directory */
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/cgroup", (int)init);
	_cleanup_free_ char *text = NULL;
	size_t len;
	isola_error ig = {0};
	if (read_file_at(AT_FDCWD, p, &text, &len, &ig) < 0)
		return steal_fd(&ifd);
	char prefix[4200];
	snprintf(prefix, sizeof prefix, "0::%s/%s", cg->path, cg->inner);
	size_t pl = strlen(prefix);
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, prefix, pl) || (l[pl] != '/' && l[pl] != '\n' && l[pl]))
			continue;
		char *rel = l + pl;
		rel[strcspn(rel, "\n")] = 0;
		if (!*rel || !strcmp(rel, "/"))
			break; /* init sits in the inner cgroup itself */
		_cleanup_close_ int leaf = safe_openat(ifd, rel, O_RDONLY | O_DIRECTORY, 0, &ig);
		EXPLAIN(leaf, "cgroups(7)", "openat2(<inner cgroup>, \"%s\", RESOLVE_IN_ROOT)  /* init's own leaf */",
		        rel);
		if (leaf >= 0)
			return steal_fd(&leaf);
		break;
	}
	return steal_fd(&ifd);
}

int cgroup_add_pid(const struct isola_cgroup *cg, pid_t pid, isola_error *err)
{
	if (!cg->available)
		return 0; /* nothing to join: the process stays in the runtime's cgroup */
	_cleanup_close_ int fd =
	    cg->inner ? open_dir_at(cg->dirfd, cg->inner, err) : fcntl(cg->dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return isola_err(err, errno, "open cgroup %s", cg->path);
	char v[32];
	snprintf(v, sizeof(v), "%d", (int)pid);
	if (cg_write(fd, "cgroup.procs", v, err) < 0)
		return isola_err_wrap(err, "move pid %d into cgroup %s", (int)pid, cg->path);
	return 0;
}

/* Append the pids of dirfd's cgroup and every cgroup below it. */
static int collect_pids(int dirfd, pid_t **pids, size_t *n, size_t *cap, int depth, isola_error *err)
{
	if (depth > 64)
		return isola_err(err, ELOOP, "cgroup tree deeper than 64");
	_cleanup_free_ char *s = NULL;
	if (cg_read(dirfd, "cgroup.procs", &s, err) < 0)
		return -1;
	for (char *p = s, *end; *p; p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			pid_t *np = realloc(*pids, nc * sizeof(pid_t));
			if (!np)
				return isola_err(err, ENOMEM, "pid list");
			*pids = np;
			*cap = nc;
		}
		(*pids)[(*n)++] = (pid_t)v;
	}
	int dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return isola_err(err, errno, "dup cgroup fd");
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return isola_err(err, errno, "read cgroup directory");
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_close_ int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* removed meanwhile */
		if (collect_pids(sub, pids, n, cap, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_pids(const struct isola_cgroup *cg, pid_t **pids, size_t *n, isola_error *err)
{
	*pids = NULL;
	*n = 0;
	if (!cg->available)
		return not_available(cg, "listing the container's processes", err);
	size_t cap = 0;
	if (collect_pids(cg->dirfd, pids, n, &cap, 0, err) < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* "frozen 1" in cgroup.events */
int cgroup_is_frozen(const struct isola_cgroup *cg, bool *frozen, isola_error *err)
{
	if (!cg->available)
		return not_available(cg, "pause", err);
	_cleanup_free_ char *s = NULL;
	if (cg_read(cg->dirfd, "cgroup.events", &s, err) < 0)
		return -1;
	const char *p = strstr(s, "frozen ");
	*frozen = p && p[7] == '1';
	return 0;
}

int cgroup_freeze(const struct isola_cgroup *cg, bool frozen, isola_error *err)
{
	if (!cg->available)
		return not_available(cg, frozen ? "pause" : "resume", err);
	if (cg_write(cg->dirfd, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return isola_err_wrap(err, "cgroup %s", cg->path);
	/* cgroup-v2.rst: freezing is asynchronous; cgroup.events "frozen" flips when done and the file is
	 * modified (poll POLLPRI). A task in uninterruptible sleep can hold it up: give up after 5 s. */
	_cleanup_close_ int ev = openat(cg->dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (ev < 0)
		return isola_err(err, errno, "open %s/cgroup.events", cg->path);
	uint64_t deadline = now_ns() + 5000000000ULL;
	for (;;) {
		char buf[512];
		ssize_t n = pread(ev, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			return isola_err(err, errno, "read %s/cgroup.events", cg->path);
		buf[n] = 0;
		const char *p = strstr(buf, "frozen ");
		if (p && (p[7] == '1') == frozen)
			return 0;
		if (now_ns() > deadline)
			return isola_err(err, ETIMEDOUT, "cgroup %s did not %s within 5 s", cg->path,
			                 frozen ? "freeze" : "thaw");
		struct pollfd pfd = {.fd = ev, .events = POLLPRI};
		(void)poll(&pfd, 1, 50);
	}
}

int cgroup_kill(const struct isola_cgroup *cg, isola_error *err)
{
	if (!cg->available)
		return not_available(cg, "killing every process of the container", err);
	isola_error kerr;
	if (cg_write(cg->dirfd, "cgroup.kill", "1", &kerr) == 0)
		return 0;
	if (kerr.errnum != ENOENT) {
		return isola_err(err, kerr.errnum, "cgroup %s: %s", cg->path, kerr.msg);
	}
	/* kernel < 5.14: no cgroup.kill; freeze so nothing forks meanwhile, then signal every pid */
	isola_error ferr;
	bool froze = cgroup_freeze(cg, true, &ferr) == 0;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (cgroup_pids(cg, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
			return isola_err(err, errno, "kill %d", (int)pids[i]);
	if (froze)
		(void)cgroup_freeze(cg, false, &ferr);
	return 0;
}

/* rmdir every cgroup below dirfd (depth first), then name itself in parent. */
static int remove_tree(int parentfd, const char *name, int depth, isola_error *err)
{
	if (depth > 64)
		return isola_err(err, ELOOP, "cgroup tree deeper than 64");
	_cleanup_close_ int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : isola_err(err, errno, "open cgroup %s", name);
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return isola_err(err, errno, "dup");
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return isola_err(err, errno, "read cgroup %s", name);
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.' && remove_tree(fd, de->d_name, depth + 1, err) < 0)
			return -1;
	/* EBUSY while the last tasks are still exiting: retry for about a second */
	for (int i = 0;; i++) {
		int r = unlinkat(parentfd, name, AT_REMOVEDIR);
		if (r == 0 || errno == ENOENT) {
			EXPLAIN(0, "rmdir(2)", "rmdir(cgroup %s)", name);
			return 0;
		}
		if (errno != EBUSY || i >= 100)
			return isola_err(err, errno, "remove cgroup %s", name);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int cgroup_destroy(struct isola_cgroup *cg, isola_error *err)
{
	if (!cg || !cg->available)
		return 0;
	char full[4096];
	snprintf(full, sizeof(full), "%s%s", cg->mount, cg->path);
	char *slash = strrchr(full, '/');
	*slash = 0;
	_cleanup_close_ int parent = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return errno == ENOENT ? 0 : isola_err(err, errno, "open cgroup %s", full);
	if (remove_tree(parent, slash + 1, 0, err) < 0)
		return isola_err_wrap(err, "destroy cgroup %s", cg->path);
	return 0;
}
