/* System containers: boot and halt; see syscont.h. The OCI lifecycle underneath is container.c's. */
#include "runtime/syscont.h"
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "json.h"
#include "path.h"
#include "runtime/caps.h"
#include "runtime/config.h"
#include "runtime/idmap_alloc.h"
#include "runtime/process.h"
#include "runtime/state.h"
#include "util.h"

#define NOTIFY_DIR_INSIDE        "/run/host/notify"
#define READY_TIMEOUT_DEFAULT_MS 120000u

/* ---- image metadata and init detection ---- */

static const struct {
	const char *name;
	int sig;
} sig_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"PWR", SIGPWR},   {"CONT", SIGCONT}, {"WINCH", SIGWINCH},
};

int syscont_parse_signal(const char *s)
{
	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)*s)) {
		char *e;
		long v = strtol(s, &e, 10);
		return *e || v < 1 || v >= NSIG ? -1 : (int)v;
	}
	if (!strncmp(s, "SIG", 3))
		s += 3;
	if (!strncmp(s, "RTMIN", 5)) {
		if (!s[5])
			return SIGRTMIN;
		char *e;
		long v = strtol(s + 6, &e, 10);
		if (s[5] != '+' || *e || !isdigit((unsigned char)s[6]) || v < 0 || SIGRTMIN + v > SIGRTMAX)
			return -1;
		return SIGRTMIN + (int)v;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sig_names); i++)
		if (!strcmp(s, sig_names[i].name))
			return sig_names[i].sig;
	return -1;
}

int syscont_parse_ready(const char *s, struct syscont_image_meta *m, isola_error *err)
{
	if (!strcmp(s, "notify")) {
		m->ready = SYSCONT_READY_NOTIFY;
	} else if (!strcmp(s, "none")) {
		m->ready = SYSCONT_READY_NONE;
	} else if (!strncmp(s, "file:", 5) && s[5] == '/' && strlen(s + 5) < sizeof m->ready_path &&
	           !strstr(s + 5, "/../") && !str_has_suffix(s + 5, "/..")) {
		m->ready = SYSCONT_READY_FILE;
		snprintf(m->ready_path, sizeof m->ready_path, "%s", s + 5);
	} else {
		return isola_err(err, EINVAL, "ready probe \"%s\": expected notify, none or file:/absolute/path", s);
	}
	return 0;
}

/* One YAML scalar: strip blanks, matching quotes and a trailing comment. */
static void yaml_scalar(char *v)
{
	char *s = v;
	while (*s == ' ' || *s == '\t')
		s++;
	memmove(v, s, strlen(s) + 1);
	if (*v == '"' || *v == '\'') {
		char *end = strchr(v + 1, *v);
		if (end)
			*end = 0;
		memmove(v, v + 1, strlen(v + 1) + 1);
		return;
	}
	char *hash = strstr(v, " #");
	if (hash)
		*hash = 0;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		v[--n] = 0;
}

int syscont_parse_metadata(const char *yaml, struct syscont_image_meta *m, isola_error *err)
{
	_cleanup_free_ char *copy = strdup(yaml);
	if (!copy)
		return isola_err(err, ENOMEM, "metadata.yaml");
	bool in_props = false;
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!*l || *l == '#')
			continue;
		if (*l != ' ' && *l != '\t') { /* a top-level key */
			in_props = !strncmp(l, "properties:", 11);
			continue;
		}
		if (!in_props)
			continue;
		char *k = l;
		while (*k == ' ' || *k == '\t')
			k++;
		char *colon = strchr(k, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *v = colon + 1;
		yaml_scalar(v);
		if (!strcmp(k, "isola.stop_signal")) {
			int s = syscont_parse_signal(v);
			if (s < 0)
				return isola_err(err, EINVAL,
				                 "metadata.yaml: properties.isola.stop_signal: unknown signal \"%s\"",
				                 v);
			m->stop_signal = s;
		} else if (!strcmp(k, "isola.ready")) {
			if (syscont_parse_ready(v, m, err) < 0)
				return isola_err_wrap(err, "metadata.yaml: properties.isola.ready");
		}
	}
	return 0;
}

int syscont_detect_init(const char *rootfs, struct syscont_image_meta *m, isola_error *err)
{
	if (m->stop_signal && m->ready != SYSCONT_READY_AUTO)
		return 0;
	_cleanup_close_ int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return isola_err(err, errno, "rootfs %s", rootfs);
	/* follow /sbin/init inside the image only (RESOLVE_IN_ROOT): the image is untrusted */
	_cleanup_close_ int fd = safe_openat(root, "/sbin/init", O_PATH, 0, err);
	if (fd < 0)
		return isola_err_wrap(err, "rootfs %s: no /sbin/init", rootfs);
	const char *where = fd_path(fd);
	char real[PATH_MAX];
	snprintf(real, sizeof real, "%s", where ? where : "");
	const char *base = strrchr(real, '/');
	base = base ? base + 1 : real;
	bool systemd = strstr(base, "systemd") != NULL, busybox = strstr(base, "busybox") != NULL;
	if (!m->stop_signal)
		m->stop_signal = systemd ? SIGRTMIN + 3 : busybox ? SIGUSR2 : SIGTERM;
	if (m->ready == SYSCONT_READY_AUTO)
		m->ready = systemd ? SYSCONT_READY_NOTIFY : SYSCONT_READY_NONE;
	return 0;
}

/* ---- the id-mapped root ---- */

/* A user namespace with the container's mapping, only to name the mapping to mount_setattr(2): a child
 * unshares it and waits, we write its maps, keep an fd of /proc/<child>/ns/user and let it go. (The
 * mount keeps a copy of the mapping; the namespace itself may die with the fd.) */
static int mapping_userns(uint64_t base, isola_error *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return isola_err(err, errno, "pipe");
	_cleanup_close_ int rd = p[0], wr = p[1];
	pid_t pid = process_clone3(CLONE_NEWUSER, -1, NULL, err);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char c;
		closep(&wr);
		ssize_t r = read(rd, &c, 1); /* until the parent is done (EOF) */
		_exit(r < 0);
	}
	closep(&rd);
	struct rt_idmap m = {0, (uint32_t)base, IDMAP_RANGE_SIZE};
	int fd = -1;
	if (process_write_idmaps(pid, &m, 1, &m, 1, err) == 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		EXPLAIN(fd, "user_namespaces(7)",
		        "open(\"%s\", O_RDONLY|O_CLOEXEC)  /* the mapping for MOUNT_ATTR_IDMAP */", path);
		if (fd < 0)
			isola_err(err, errno, "open %s", path);
	}
	closep(&wr);
	waitpid(pid, NULL, 0);
	return fd;
}

/* A detached clone of path with the mapping of usernsfd: files owned by k on disk appear owned by the
 * host id base+k, i.e. by k inside the container (mount_setattr(2) "ID-mapped mounts"). */
static int idmapped_clone(int dirfd, const char *path, int usernsfd, unsigned extra_attr, isola_error *err)
{
	unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (*path ? 0 : AT_EMPTY_PATH);
	_cleanup_close_ int mnt = open_tree(dirfd, path, f);
	EXPLAIN(mnt, "open_tree(2)", "open_tree(%d, \"%s\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC%s)", dirfd, path,
	        *path ? "" : "|AT_EMPTY_PATH");
	if (mnt < 0)
		return isola_err(err, errno, "clone a mount of %s", *path ? path : "layer");
	struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP | extra_attr, .userns_fd = (uint64_t)usernsfd};
	int r = mount_setattr(mnt, "", AT_EMPTY_PATH, &a, sizeof a);
	EXPLAIN(r, "mount_setattr(2)",
	        "mount_setattr(%d, \"\", AT_EMPTY_PATH, {attr_set=MOUNT_ATTR_IDMAP%s, userns_fd=%d})", (int)mnt,
	        extra_attr & MOUNT_ATTR_RDONLY ? "|MOUNT_ATTR_RDONLY" : "", usernsfd);
	if (r < 0)
		return isola_err(
		    err, errno,
		    "id-map the mount of %s (the filesystem must support idmapped mounts: ext4, xfs, btrfs, tmpfs, "
		    "overlayfs and squashfs do on 6.x kernels)",
		    *path ? path : "layer");
	return steal_fd(&mnt);
}

static int fsconfig_str(int fs, const char *key, const char *val, isola_error *err)
{
	int r = fsconfig(fs, FSCONFIG_SET_STRING, key, val, 0);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(%d, FSCONFIG_SET_STRING, \"%s\", \"%s\")", fs, key, val);
	return r < 0 ? isola_err(err, errno, "%s=%s", key, val) : 0;
}

static int fsconfig_fd(int fs, const char *key, int fd, isola_error *err)
{
	int r = fsconfig(fs, FSCONFIG_SET_FD, key, NULL, fd);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(%d <overlay>, FSCONFIG_SET_FD, \"%s\", NULL, %d)", fs, key, fd);
	return r < 0 ? isola_err(err, errno, "overlay %s (layers by fd need Linux 6.13+)", key) : 0;
}

/* ephemeral: overlayfs with the id-mapped image as its only lower layer and a private tmpfs as upper and
 * work dir. Layers are given by fd
 * (overlayfs "lowerdir+", "upperdir", "workdir" with FSCONFIG_SET_FD), so nothing is ever mounted on a
 * host path. Returns the detached overlay mount. */
static int ephemeral_overlay(int lower, uint64_t base, isola_error *err)
{
	_cleanup_close_ int tfs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	EXPLAIN(tfs, "fsopen(2)", "fsopen(\"tmpfs\", FSOPEN_CLOEXEC)  /* the ephemeral upper layer */");
	if (tfs < 0)
		return isola_err(err, errno, "fsopen tmpfs");
	if (fsconfig_str(tfs, "mode", "0755", err) < 0)
		return -1;
	int r = fsconfig(tfs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(%d <tmpfs>, FSCONFIG_CMD_CREATE)", (int)tfs);
	if (r < 0)
		return isola_err(err, errno, "create tmpfs");
	_cleanup_close_ int tmnt = fsmount(tfs, FSMOUNT_CLOEXEC, 0);
	EXPLAIN(tmnt, "fsmount(2)", "fsmount(%d <tmpfs>, FSMOUNT_CLOEXEC, 0)", (int)tfs);
	if (tmnt < 0)
		return isola_err(err, errno, "fsmount tmpfs");
	if (mkdirat(tmnt, "upper", 0755) < 0 || mkdirat(tmnt, "work", 0755) < 0)
		return isola_err(err, errno, "mkdir upper/work on the ephemeral tmpfs");
	/* The merged root takes the upper root's owner and mode: make them the image root's, as the container
	 * sees it (fstat through the id-mapped lower gives host ids already). This is our private tmpfs, not
	 * the image. */
	struct stat lst;
	if (fstat(lower, &lst) < 0)
		return isola_err(err, errno, "stat the image root");
	(void)base;
	int r0 = fchownat(tmnt, "upper", lst.st_uid, lst.st_gid, AT_SYMLINK_NOFOLLOW);
	EXPLAIN(r0, "chown(2)",
	        "fchownat(<ephemeral tmpfs>, \"upper\", %u, %u)  /* the image root's owner, host ids */",
	        (unsigned)lst.st_uid, (unsigned)lst.st_gid);
	if (r0 < 0 || fchmodat(tmnt, "upper", lst.st_mode & 07777, 0) < 0)
		return isola_err(err, errno, "chown/chmod the upper layer's root");
	/* The upper layer is NOT id-mapped: overlayfs creates work/work and does copy-up with the mounter's
	 * credentials (the host's root, uid 0), which an id-mapped upper could not represent (EOVERFLOW, and
	 * the overlay silently falls back to read-only). Files the container creates are stored under their
	 * host ids (base + k) in the private tmpfs, which nobody else sees. */
	int itmnt = tmnt;
	_cleanup_close_ int upper = openat(itmnt, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int work = openat(itmnt, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upper < 0 || work < 0)
		return isola_err(err, errno, "open upper/work");
	_cleanup_close_ int ofs = fsopen("overlay", FSOPEN_CLOEXEC);
	EXPLAIN(ofs, "fsopen(2)", "fsopen(\"overlay\", FSOPEN_CLOEXEC)");
	if (ofs < 0)
		return isola_err(err, errno, "fsopen overlay");
	if (fsconfig_str(ofs, "source", "isola-ephemeral", err) < 0 || fsconfig_fd(ofs, "lowerdir+", lower, err) < 0 ||
	    fsconfig_fd(ofs, "upperdir", upper, err) < 0 || fsconfig_fd(ofs, "workdir", work, err) < 0)
		return -1;
	r = fsconfig(ofs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(%d <overlay>, FSCONFIG_CMD_CREATE)", (int)ofs);
	if (r < 0)
		return isola_err(err, errno, "create the overlay");
	int mnt = fsmount(ofs, FSMOUNT_CLOEXEC, 0);
	EXPLAIN(mnt, "fsmount(2)", "fsmount(%d <overlay>, FSMOUNT_CLOEXEC, 0)", (int)ofs);
	if (mnt < 0)
		return isola_err(err, errno, "fsmount overlay");
	return mnt;
}

/* The root the container gets: the image id-mapped (or, privileged, a plain clone), under an overlay when
 * ephemeral. Returns a detached mount fd. */
static int build_root(const struct runtime_boot_opts *o, uint64_t base, isola_error *err)
{
	_cleanup_close_ int usernsfd = -1;
	if (!o->privileged && !o->rootfs_idmapped && (usernsfd = mapping_userns(base, err)) < 0)
		return isola_err_wrap(err, "user namespace for the id-mapped root");
	_cleanup_close_ int img = -1;
	if (usernsfd >= 0) {
		img = idmapped_clone(AT_FDCWD, o->rootfs, usernsfd, o->ephemeral ? MOUNT_ATTR_RDONLY : 0, err);
	} else {
		unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE;
		img = open_tree(AT_FDCWD, o->rootfs, f);
		EXPLAIN(img, "open_tree(2)",
		        "open_tree(AT_FDCWD, \"%s\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_RECURSIVE)", o->rootfs);
		if (img < 0)
			isola_err(err, errno, "clone a mount of %s", o->rootfs);
	}
	if (img < 0)
		return -1;
	if (!o->ephemeral)
		return steal_fd(&img);
	return ephemeral_overlay(img, base, err);
}

/* ---- the bundle ---- */

static bool hostname_valid(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-')
			return false;
	return true;
}

static json_t *mnt(const char *dest, const char *type, const char *src, const char *opts)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:[]}", "destination", dest, "type", type, "source", src, "options");
	_cleanup_free_ char *copy = strdup(opts);
	char *save = NULL;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(json_object_get(o, "options"), json_string(t));
	return o;
}

static json_t *all_caps(void)
{
	json_t *a = json_array();
	for (int c = 0; c <= 40; c++)
		if (caps_to_name(c)[4] != '?')
			json_array_append_new(a, json_string(caps_to_name(c)));
	return a;
}

/* Capabilities a privileged container does not get (its root is the host's root): loading modules, raw
 * I/O, the clock, LSM policy, the audit configuration — nspawn's keep-list drops the same ones. */
static bool privileged_drop(int c)
{
	static const int drop[] = {
	    16 /* SYS_MODULE */, 17 /* SYS_RAWIO */,     25 /* SYS_TIME */, 32 /* MAC_OVERRIDE */,
	    33 /* MAC_ADMIN */,  30 /* AUDIT_CONTROL */, 34 /* SYSLOG */,   22 /* SYS_BOOT */};
	for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
		if (drop[i] == c)
			return true;
	return false;
}

/* Host paths the container needs (the notify socket's directory, --bind sources) are cloned here, by the
 * host's root, into detached mounts (open_tree(2) OPEN_TREE_CLONE) and attached by fd in the child
 * (syscont_attach_mounts): the child runs as the user namespace's root, an unprivileged uid on the host
 * that may not even search the directories above them (/run/isola is 0700), and a path would be
 * resolved late (a race). */
struct host_mounts {
	struct runtime_system_mount m[65];
	size_t n;
};

static void host_mounts_close(struct host_mounts *h)
{
	for (size_t i = 0; i < h->n; i++)
		closep(&h->m[i].fd);
}

static int host_mount_add(struct host_mounts *h, const char *src, const char *dest, bool ro, isola_error *err)
{
	if (h->n == ARRAY_SIZE(h->m))
		return isola_err(err, E2BIG, "too many mounts");
	unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
	int fd = open_tree(AT_FDCWD, src, f);
	EXPLAIN(fd, "open_tree(2)", "open_tree(AT_FDCWD, \"%s\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC)  /* for %s */", src,
	        dest);
	if (fd < 0)
		return isola_err(err, errno, "bind source %s", src);
	h->m[h->n].fd = fd;
	h->m[h->n++].destination = dest;
	struct mount_attr a = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (ro ? MOUNT_ATTR_RDONLY : 0)};
	int r = mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof a);
	EXPLAIN(r, "mount_setattr(2)",
	        "mount_setattr(%d <%s>, \"\", AT_EMPTY_PATH, {attr_set=MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV%s})", fd, src,
	        ro ? "|MOUNT_ATTR_RDONLY" : "");
	if (r < 0)
		return isola_err(err, errno, "set attributes of bind %s", src);
	return 0;
}

int syscont_attach_root(const char *root_path, unsigned long propagation, int mnt, isola_error *err)
{
	unsigned long prop = propagation ? propagation : (MS_PRIVATE | MS_REC);
	unsigned long first = (prop & MS_SHARED) ? (MS_SLAVE | MS_REC) : prop;
	int r = mount(NULL, "/", NULL, first, NULL);
	EXPLAIN(r, "mount_namespaces(7)", "mount(NULL, \"/\", NULL, %s)  /* before attaching the root */",
	        explain_mount_flags(first));
	if (r < 0)
		return isola_err(err, errno, "make / %s", explain_mount_flags(first));
	r = move_mount(mnt, "", AT_FDCWD, root_path, MOVE_MOUNT_F_EMPTY_PATH);
	EXPLAIN(r, "move_mount(2)", "move_mount(%d <id-mapped root>, \"\", AT_FDCWD, \"%s\", MOVE_MOUNT_F_EMPTY_PATH)",
	        mnt, root_path);
	if (r < 0)
		return isola_err(err, errno, "attach the root on %s", root_path);
	int fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	EXPLAIN(fd, "open(2)", "open(\"%s\", O_PATH|O_DIRECTORY|O_CLOEXEC)", root_path);
	if (fd < 0)
		return isola_err(err, errno, "open root %s", root_path);
	return fd;
}

int syscont_attach_mounts(int rootfd, const struct runtime_system_mount *m, size_t n, isola_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (fstat(m[i].fd, &st) < 0)
			return isola_err(err, errno, "stat the mount for %s", m[i].destination);
		_cleanup_close_ int target = safe_create_target(rootfd, m[i].destination, S_ISDIR(st.st_mode),
		                                                S_ISDIR(st.st_mode) ? 0755 : 0644, err);
		if (target < 0)
			return isola_err_wrap(err, "mount target %s", m[i].destination);
		int r = move_mount(m[i].fd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
		EXPLAIN(r, "move_mount(2)",
		        "move_mount(%d, \"\", %d <%s>, \"\", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH)", m[i].fd,
		        (int)target, m[i].destination);
		if (r < 0)
			return isola_err(err, errno, "mount on %s", m[i].destination);
	}
	return 0;
}

static json_t *build_config(const char *id, const struct runtime_boot_opts *o, uint64_t base, bool notify)
{
	json_t *caps = all_caps();
	if (!o->privileged) {
		/* CAP_SYS_RAWIO grants nothing in a user namespace (iopl/ioperm and /dev/mem need it in the
		 * initial one), but systemd reads the bounding set: sys-kernel-{debug,tracing}.mount carry
		 * ConditionCapability=CAP_SYS_RAWIO and would try, and fail, to mount debugfs/tracefs, leaving the
		 * system "degraded". LXC's default drop list has it for the same reason. */
		json_t *k = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(caps, i, e)
		{
			if (caps_from_name(json_string_value(e)) != 17 /* SYS_RAWIO */)
				json_array_append(k, e);
		}
		json_decref(caps);
		caps = k;
	} else {
		json_t *k = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(caps, i, e)
		{
			int c = caps_from_name(json_string_value(e));
			/* only what the runtime itself holds can be kept (capset(2) refuses the rest) */
			if (!privileged_drop(c) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
				json_array_append(k, e);
		}
		json_decref(caps);
		caps = k;
	}
	json_t *env =
	    json_pack("[s, s]", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=linux");
	if (notify)
		json_array_append_new(env, json_string("NOTIFY_SOCKET=" NOTIFY_DIR_INSIDE "/notify.sock"));
	for (char *const *e = o->env; e && *e; e++)
		json_array_append_new(env, json_string(*e));
	const char *hostname = o->hostname ? o->hostname : hostname_valid(id) ? id : "isola";
	json_t *cfg = json_pack(
	    "{s:s, s:{s:s, s:b}, s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:o, s:s, s:{s:O, s:O, s:O, s:[], s:[]}, s:b}}",
	    "ociVersion", "1.2.0", "root", "path", o->rootfs, "readonly", false, "hostname", hostname, "process",
	    "terminal", false, "user", "uid", 0, "gid", 0, "args", "/sbin/init", "env", env, "cwd", "/", "capabilities",
	    "bounding", caps, "effective", caps, "permitted", caps, "inheritable", "ambient", "noNewPrivileges", false);
	json_decref(caps);
	if (!cfg)
		return NULL;
	json_t *mounts = json_array();
	json_array_append_new(mounts, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mnt("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_array_append_new(mounts, mnt("/sys/fs/cgroup", "cgroup2", "cgroup2", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mnt("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(
	    mounts, mnt("/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(mounts, mnt("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(mounts, mnt("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	/* CONTAINER_INTERFACE.md: /run and /run/lock are tmpfs the container owns */
	json_array_append_new(mounts, mnt("/run", "tmpfs", "tmpfs", "nosuid,nodev,mode=755,size=20%"));
	json_array_append_new(mounts, mnt("/run/lock", "tmpfs", "tmpfs", "nosuid,nodev,noexec,mode=1777,size=5m"));
	json_object_set_new(cfg, "mounts", mounts);

	json_t *lx = json_object();
	json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "mount", "type", "ipc",
	                       "type", "uts", "type", "cgroup");
	json_array_append_new(ns, o->netns ? json_pack("{s:s, s:s}", "type", "network", "path", o->netns)
	                                   : json_pack("{s:s}", "type", "network"));
	if (!o->privileged) {
		json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
		json_t *map = json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID", (json_int_t)base, "size",
		                        (json_int_t)IDMAP_RANGE_SIZE);
		json_object_set(lx, "uidMappings", map);
		json_object_set_new(lx, "gidMappings", map);
		/* a user namespace owns its sysctls: /proc/sys stays writable (CONTAINER_INTERFACE.md) */
		json_object_set_new(lx, "readonlyPaths", json_pack("[s, s]", "/proc/sysrq-trigger", "/proc/irq"));
	} else {
		json_object_set_new(
		    lx, "readonlyPaths",
		    json_pack("[s, s, s, s]", "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"));
		json_object_set_new(lx, "maskedPaths",
		                    json_pack("[s, s, s, s, s]", "/proc/kcore", "/proc/keys", "/proc/timer_list",
		                              "/sys/firmware", "/proc/acpi"));
	}
	json_object_set_new(lx, "namespaces", ns);
	char cg[RUNTIME_ID_MAX + 16];
	snprintf(cg, sizeof cg, "/isola/%s", id);
	json_object_set_new(lx, "cgroupsPath", json_string(cg));
	json_t *res = o->resources ? json_deep_copy(o->resources) : json_object();
	if (o->resources) {
		/* the caller's whole set (the manager's limits.*); the device list is not the runtime's business
		 * for a system container (its /dev is a tmpfs with the standard nodes) */
		json_object_del(res, "devices");
	} else {
		if (o->memory_limit > 0)
			json_object_set_new(res, "memory", json_pack("{s:I}", "limit", (json_int_t)o->memory_limit));
		if (o->pids_limit > 0)
			json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)o->pids_limit));
	}
	json_object_set_new(lx, "resources", res);
	json_object_set_new(cfg, "linux", lx);
	json_object_set_new(cfg, "annotations",
	                    json_pack("{s:s}", "org.isola.system", o->privileged ? "privileged" : "unprivileged"));
	return cfg;
}

/* ---- readiness ---- */

static int notify_socket_open(const char *dir, isola_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify.sock", dir) >= (int)sizeof sa.sun_path)
		return isola_err(err, ENAMETOOLONG, "notify socket in %s", dir);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return isola_err(err, errno, "socket");
	unlink(sa.sun_path);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	EXPLAIN(r, "bind(2), sd_notify(3)",
	        "bind(%d, \"%s\")  /* NOTIFY_SOCKET=" NOTIFY_DIR_INSIDE "/notify.sock inside */", (int)fd, sa.sun_path);
	if (r < 0)
		return isola_err(err, errno, "bind %s", sa.sun_path);
	/* every uid of the container may notify (systemd's own socket is world-writable too) */
	if (chmod(sa.sun_path, 0666) < 0)
		return isola_err(err, errno, "chmod %s", sa.sun_path);
	return steal_fd(&fd);
}

/* Does a datagram hold the line READY=1 (sd_notify(3): newline-separated assignments)? */
static bool has_ready(const char *buf)
{
	for (const char *l = buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, "READY=1", 7) && (l[7] == '\n' || !l[7]))
			return true;
	return false;
}

/* Is path present inside the container? Looked up under /proc/<pid>/root with RESOLVE_IN_ROOT, so a
 * symlink in the container cannot point the probe at a host file. */
static bool marker_present(pid_t pid, const char *path)
{
	char root[64];
	snprintf(root, sizeof root, "/proc/%d/root", pid);
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return false;
	isola_error ig = {0};
	_cleanup_close_ int fd = safe_openat(rfd, path, O_PATH, 0, &ig);
	return fd >= 0;
}

static int wait_ready(const char *id, pid_t pid, enum syscont_ready kind, const char *path, int nfd,
                      unsigned timeout_ms, isola_error *err)
{
	_cleanup_close_ int pfd = pidfd_open(pid, 0);
	if (pfd < 0)
		return isola_err(err, errno, "%s: init %d is gone", id, pid);
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		if (kind == SYSCONT_READY_FILE && marker_present(pid, path)) {
			EXPLAIN(0, "openat2(2)",
			        "openat2(/proc/%d/root, \"%s\", RESOLVE_IN_ROOT)  /* ready marker present */", pid,
			        path);
			return 0;
		}
		uint64_t now = now_ns();
		if (now >= deadline)
			return isola_err(err, ETIMEDOUT, "%s: not ready after %u ms (waiting for %s)", id, timeout_ms,
			                 kind == SYSCONT_READY_NOTIFY ? "READY=1 on NOTIFY_SOCKET" : path);
		int left = (int)((deadline - now) / 1000000ull) + 1;
		struct pollfd p[2] = {{.fd = pfd, .events = POLLIN}, {.fd = nfd, .events = POLLIN}};
		int r = poll(p, kind == SYSCONT_READY_NOTIFY ? 2 : 1,
		             kind == SYSCONT_READY_FILE ? (left < 10 ? left : 10) : left);
		if (r < 0 && errno != EINTR)
			return isola_err(err, errno, "poll");
		if (r > 0 && (p[0].revents & POLLIN))
			return isola_err(err, ECHILD, "%s: init exited while booting", id);
		if (r > 0 && kind == SYSCONT_READY_NOTIFY && (p[1].revents & POLLIN)) {
			char buf[4097];
			ssize_t n;
			while ((n = recv(nfd, buf, sizeof buf - 1, 0)) > 0) {
				buf[n] = 0;
				if (has_ready(buf)) {
					EXPLAIN(n, "recv(2), sd_notify(3)", "recv(%d <notify socket>) = \"READY=1\"",
					        nfd);
					return 0;
				}
			}
		}
	}
}

/* ---- boot / halt ---- */

static void syscont_dir(const struct runtime_ctx *ctx, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s-syscont/%s", state_root(ctx), id);
}

static void remove_syscont_dir(const struct runtime_ctx *ctx, const char *id)
{
	char d[PATH_MAX], p[PATH_MAX + 32];
	syscont_dir(ctx, id, d, sizeof d);
	static const char *const files[] = {"notify/notify.sock", "config.json", "boot.json"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof p, "%s/%s", d, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof p, "%s/notify", d);
	rmdir(p);
	rmdir(d);
}

static int mkdir_p(const char *path, mode_t mode, isola_error *err)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(tmp, 0711) < 0 &&
		    errno != EEXIST) /* searchable: the bind source is opened as the container's root */
			return isola_err(err, errno, "mkdir %s", tmp);
		*s = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", tmp);
	return 0;
}

struct boot_guard {
	const struct runtime_ctx *ctx;
	const char *id;
	const char *idmap_dir;
	bool allocated, created, dir_made, committed;
};

static void boot_guard_release(struct boot_guard *g)
{
	if (g->committed)
		return;
	isola_error ig = {0};
	if (g->created)
		runtime_delete(g->ctx, g->id, true, &ig);
	if (g->dir_made)
		remove_syscont_dir(g->ctx, g->id);
	if (g->allocated)
		idmap_range_release(g->idmap_dir, g->id, &ig);
}

int runtime_boot(const struct runtime_ctx *ctx, const char *id, const struct runtime_boot_opts *o,
                 struct runtime_boot_result *res, isola_error *err)
{
	uint64_t t0 = now_ns();
	memset(res, 0, sizeof *res);
	if (!runtime_id_valid(id))
		return isola_err(err, EINVAL, "container id \"%s\" is not valid", id);
	if (!o->rootfs)
		return isola_err(err, EINVAL, "boot %s: no root filesystem given", id);
	struct syscont_image_meta meta = {0};
	if (o->metadata) {
		_cleanup_free_ char *yaml = NULL;
		size_t len;
		if (read_file_at(AT_FDCWD, o->metadata, &yaml, &len, err) < 0 ||
		    syscont_parse_metadata(yaml, &meta, err) < 0)
			return isola_err_wrap(err, "boot %s: %s", id, o->metadata);
	}
	if (o->stop_signal)
		meta.stop_signal = o->stop_signal;
	if (o->ready != SYSCONT_READY_AUTO) {
		meta.ready = o->ready;
		if (o->ready == SYSCONT_READY_FILE) {
			if (!o->ready_path || o->ready_path[0] != '/')
				return isola_err(err, EINVAL, "boot %s: the ready file must be an absolute path", id);
			snprintf(meta.ready_path, sizeof meta.ready_path, "%s", o->ready_path);
		}
	}
	if (syscont_detect_init(o->rootfs, &meta, err) < 0)
		return isola_err_wrap(err, "boot %s", id);
	res->ready = meta.ready;
	res->stop_signal = meta.stop_signal;

	_cleanup_(boot_guard_release) struct boot_guard g = {.ctx = ctx, .id = id, .idmap_dir = o->idmap_dir};
	/* refuse a taken id before allocating anything for it */
	struct runtime_state st;
	isola_error probe = {0};
	if (runtime_state(ctx, id, &st, &probe) == 0)
		return isola_err(err, EEXIST, "boot %s: a container with this id exists", id);
	uint64_t base = 0;
	if (!o->privileged && o->host_id_base) {
		base = o->host_id_base; /* the caller's block: it keeps and releases it */
		res->host_id_base = base;
	} else if (!o->privileged) {
		isola_error had = {0};
		bool existed = idmap_range_lookup(o->idmap_dir, id, &base, &had) == 0;
		if (idmap_range_alloc(o->idmap_dir, id, &base, err) < 0)
			return isola_err_wrap(err, "boot %s", id);
		g.allocated = !existed;
		res->host_id_base = base;
	}
	char dir[PATH_MAX], notify_dir[PATH_MAX + 16], cfgpath[PATH_MAX + 16];
	syscont_dir(ctx, id, dir, sizeof dir);
	if (mkdir_p(dir, 0711, err) < 0)
		return isola_err_wrap(err, "boot %s", id);
	g.dir_made = true;
	bool notify = meta.ready == SYSCONT_READY_NOTIFY;
	_cleanup_close_ int nfd = -1;
	snprintf(notify_dir, sizeof notify_dir, "%s/notify", dir);
	if (notify) {
		if (mkdir(notify_dir, 0755) < 0 && errno != EEXIST)
			return isola_err(err, errno, "mkdir %s", notify_dir);
		if ((nfd = notify_socket_open(notify_dir, err)) < 0)
			return isola_err_wrap(err, "boot %s", id);
	}
	_cleanup_(host_mounts_close) struct host_mounts hm = {.n = 0};
	if (notify && host_mount_add(&hm, notify_dir, NOTIFY_DIR_INSIDE, false, err) < 0)
		return isola_err_wrap(err, "boot %s", id);
	for (size_t i = 0; i < o->n_binds; i++)
		if (host_mount_add(&hm, o->binds[i].source, o->binds[i].destination, o->binds[i].readonly, err) < 0)
			return isola_err_wrap(err, "boot %s: --bind", id);
	_cleanup_json_ json_t *cfg = build_config(id, o, base, notify);
	if (!cfg)
		return isola_err(err, ENOMEM, "boot %s: config", id);
	snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
	if (json_store_path(cfgpath, cfg, true, err) < 0)
		return isola_err_wrap(err, "boot %s", id);

	_cleanup_close_ int root = build_root(o, base, err);
	if (root < 0)
		return isola_err_wrap(err, "boot %s", id);
	/* the console pty slave must belong to the container's root, or init cannot reopen /dev/console */
	if (o->console_master >= 0 && !o->privileged) {
		_cleanup_close_ int slave = ioctl(o->console_master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		EXPLAIN(slave, "ioctl_tty(2)", "ioctl(%d <console master>, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC)",
		        o->console_master);
		int r = slave < 0 ? -1 : fchown(slave, (uid_t)base, (gid_t)(base + 5));
		EXPLAIN(r, "chown(2)", "fchown(<console slave>, %llu, %llu)  /* root:tty of the container */",
		        (unsigned long long)base, (unsigned long long)base + 5);
		if (r < 0)
			return isola_err(err, errno, "boot %s: give the console to the container's root", id);
	}
	_cleanup_free_ char *uuid = NULL;
	if (!o->uuid) {
		size_t len;
		if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/uuid", &uuid, &len, err) < 0)
			return isola_err_wrap(err, "boot %s: uuid", id);
		uuid[strcspn(uuid, "\n")] = 0;
	}
	struct runtime_create_opts co = {
	    .bundle = dir,
	    .console_socket_fd = -1,
	    .stdio = RUNTIME_STDIO_INHERIT,
	    .system = {.enabled = true,
	               .uuid = o->uuid ? o->uuid : uuid,
	               .console_master = o->console_master,
	               .stop_signal = meta.stop_signal,
	               .rootfs_mnt_set = true,
	               .rootfs_mnt = root,
	               .cgroup_inner = "init",
	               .cgroup_owner_uid = (uid_t)base,
	               .cgroup_owner_gid = (gid_t)base,
	               .mounts = hm.m,
	               .n_mounts = hm.n},
	};
	_cleanup_close_ int devnull = -1;
	if (o->console_master < 0) {
		/* no console: init's stdio goes nowhere rather than to the caller's terminal */
		if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			return isola_err(err, errno, "open /dev/null");
		co.stdio[0] = co.stdio[1] = co.stdio[2] = devnull;
	}
	pid_t pid = runtime_create(ctx, id, &co, err);
	if (pid < 0)
		return isola_err_wrap(err, "boot %s", id);
	res->pid = pid;
	g.created = true;
	closep(&root);
	if (o->created && o->created(pid, o->created_ud, err) < 0)
		return isola_err_wrap(err, "boot %s", id);
	if (runtime_start(ctx, id, err) < 0)
		return isola_err_wrap(err, "boot %s", id);
	res->created_ns = now_ns() - t0;
	if (meta.ready != SYSCONT_READY_NONE &&
	    wait_ready(id, res->pid, meta.ready, meta.ready_path, nfd,
	               o->ready_timeout_ms ? o->ready_timeout_ms : READY_TIMEOUT_DEFAULT_MS, err) < 0)
		return -1;
	res->ready_ns = now_ns() - t0;
	g.committed = true;
	return 0;
}

int runtime_halt(const struct runtime_ctx *ctx, const char *id, unsigned timeout_ms, const char *idmap_dir,
                 bool release_ids, isola_error *err)
{
	struct runtime_state s;
	if (runtime_state(ctx, id, &s, err) < 0)
		return -1;
	/* taken while init is known to be alive (so not a reused pid): its exit wakes the wait below */
	_cleanup_close_ int pfd = s.status != RUNTIME_STOPPED ? pidfd_open(s.pid, 0) : -1;
	if (s.status != RUNTIME_STOPPED && runtime_stop(ctx, id, timeout_ms, err) < 0)
		return isola_err_wrap(err, "halt %s", id);
	/* runtime_stop returns once init is gone (or after cgroup.kill): wait for the kill to land */
	for (int i = 0; i < 500; i++) {
		if (runtime_state(ctx, id, &s, err) < 0)
			return -1;
		if (s.status == RUNTIME_STOPPED)
			break;
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		if (pfd < 0 || poll(&p, 1, 10) < 0)
			usleep(10000);
	}
	if (runtime_delete(ctx, id, s.status != RUNTIME_STOPPED, err) < 0)
		return isola_err_wrap(err, "halt %s", id);
	remove_syscont_dir(ctx, id);
	if (release_ids && idmap_range_release(idmap_dir, id, err) < 0)
		return isola_err_wrap(err, "halt %s", id);
	return 0;
}
