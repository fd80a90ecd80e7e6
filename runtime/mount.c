/* Mounts by fd. See mount.h; the kernel documentation is in fsopen(2), fsconfig(2), fsmount(2),
 * open_tree(2), move_mount(2), mount_setattr(2). */
#include "runtime/mount.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "path.h"

static const struct explain_flag attr_table[] = {
    EXPLAIN_FLAG(MOUNT_ATTR_RDONLY),     EXPLAIN_FLAG(MOUNT_ATTR_NOSUID),      EXPLAIN_FLAG(MOUNT_ATTR_NODEV),
    EXPLAIN_FLAG(MOUNT_ATTR_NOEXEC),     EXPLAIN_FLAG(MOUNT_ATTR_NOATIME),     EXPLAIN_FLAG(MOUNT_ATTR_STRICTATIME),
    EXPLAIN_FLAG(MOUNT_ATTR_NODIRATIME), EXPLAIN_FLAG(MOUNT_ATTR_NOSYMFOLLOW), {0, NULL},
};
static const struct explain_flag tree_table[] = {
    EXPLAIN_FLAG(OPEN_TREE_CLONE),
    EXPLAIN_FLAG(OPEN_TREE_CLOEXEC),
    EXPLAIN_FLAG(AT_RECURSIVE),
    EXPLAIN_FLAG(AT_EMPTY_PATH),
    {0, NULL},
};

unsigned long mount_ms_to_attr(unsigned long ms)
{
	unsigned long a = 0;
	if (ms & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (ms & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (ms & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (ms & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (ms & MS_NOATIME)
		a |= MOUNT_ATTR_NOATIME;
	else if (ms & MS_STRICTATIME)
		a |= MOUNT_ATTR_STRICTATIME;
	if (ms & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	if (ms & MS_NOSYMFOLLOW)
		a |= MOUNT_ATTR_NOSYMFOLLOW;
	return a;
}

/* Attach the detached mount mntfd onto the object behind targetfd. */
static int attach(int mntfd, int targetfd, const char *what, const char *dest, isola_error *err)
{
	int r = move_mount(mntfd, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	EXPLAIN(r, "move_mount(2)",
	        "move_mount(%d, \"\", %d <%s>, \"\", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH)", mntfd, targetfd,
	        dest);
	if (r < 0)
		return isola_err(err, errno, "mount %s on %s", what, dest);
	return 0;
}

static int set_propagation(int mntfd, unsigned long prop, const char *dest, isola_error *err)
{
	if (!prop)
		return 0;
	struct mount_attr a = {.propagation = prop & ~MS_REC};
	unsigned flags = AT_EMPTY_PATH | ((prop & MS_REC) ? AT_RECURSIVE : 0);
	int r = mount_setattr(mntfd, "", flags, &a, sizeof a);
	EXPLAIN(r, "mount_setattr(2)", "mount_setattr(%d <%s>, \"\", %s, {propagation=%s})", mntfd, dest,
	        explain_flags(flags, tree_table), explain_mount_flags(prop & ~MS_REC));
	if (r < 0)
		return isola_err(err, errno, "set propagation of %s", dest);
	return 0;
}

static int bind_entry(int rootfd, const struct rt_mount *m, isola_error *err)
{
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m->recursive ? AT_RECURSIVE : 0);
	_cleanup_close_ int src = open_tree(AT_FDCWD, m->source, flags);
	EXPLAIN(src, "open_tree(2)", "open_tree(AT_FDCWD, \"%s\", %s)", m->source, explain_flags(flags, tree_table));
	if (src < 0)
		return isola_err(err, errno, "bind source %s", m->source);
	struct stat st;
	if (fstat(src, &st) < 0)
		return isola_err(err, errno, "stat %s", m->source);
	_cleanup_close_ int target =
	    safe_create_target(rootfd, m->destination, S_ISDIR(st.st_mode), S_ISDIR(st.st_mode) ? 0755 : 0644, err);
	if (target < 0)
		return isola_err_wrap(err, "mount target %s", m->destination);
	struct mount_attr a = {.attr_set = mount_ms_to_attr(m->flags), .attr_clr = mount_ms_to_attr(m->clear)};
	if (a.attr_set & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME))
		a.attr_clr |= MOUNT_ATTR__ATIME;
	if (a.attr_set || a.attr_clr) {
		unsigned af = AT_EMPTY_PATH | (m->recursive ? AT_RECURSIVE : 0);
		int r = mount_setattr(src, "", af, &a, sizeof a);
		EXPLAIN(r, "mount_setattr(2)", "mount_setattr(%d <%s>, \"\", %s, {attr_set=%s, attr_clr=%s})", src,
		        m->source, explain_flags(af, tree_table), explain_flags(a.attr_set, attr_table),
		        explain_flags(a.attr_clr, attr_table));
		if (r < 0)
			return isola_err(err, errno, "set attributes of bind %s", m->source);
	}
	if (attach(src, target, m->source, m->destination, err) < 0)
		return -1;
	return set_propagation(src, m->propagation, m->destination, err);
}

/* fsconfig(2) each "key=value" (string) or "key" (flag) of a comma-joined option string. */
static int fs_options(int fs, const char *type, const char *data, isola_error *err)
{
	if (!data || !*data)
		return 0;
	_cleanup_free_ char *copy = strdup(data);
	if (!copy)
		return isola_err(err, ENOMEM, "options");
	char *save = NULL;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(o, '=');
		int r;
		if (eq) {
			*eq = 0;
			r = fsconfig(fs, FSCONFIG_SET_STRING, o, eq + 1, 0);
			EXPLAIN(r, "fsconfig(2)", "fsconfig(%d <%s>, FSCONFIG_SET_STRING, \"%s\", \"%s\")", fs, type, o,
			        eq + 1);
		} else {
			r = fsconfig(fs, FSCONFIG_SET_FLAG, o, NULL, 0);
			EXPLAIN(r, "fsconfig(2)", "fsconfig(%d <%s>, FSCONFIG_SET_FLAG, \"%s\")", fs, type, o);
		}
		if (r < 0)
			return isola_err(err, errno, "%s option %s%s%s", type, o, eq ? "=" : "", eq ? eq + 1 : "");
	}
	return 0;
}

/* A new filesystem instance, detached: fsopen → fsconfig → fsmount. Returns the mount fd. */
static int new_fs(const char *type, const char *source, const char *data, unsigned long attrs, isola_error *err)
{
	_cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
	EXPLAIN(fs, "fsopen(2)", "fsopen(\"%s\", FSOPEN_CLOEXEC)", type);
	if (fs < 0)
		return isola_err(err, errno, "fsopen %s", type);
	if (source && *source) {
		int r = fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0);
		EXPLAIN(r, "fsconfig(2)", "fsconfig(%d <%s>, FSCONFIG_SET_STRING, \"source\", \"%s\")", fs, type,
		        source);
		if (r < 0)
			return isola_err(err, errno, "%s source %s", type, source);
	}
	if (fs_options(fs, type, data, err) < 0)
		return -1;
	int r = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(%d <%s>, FSCONFIG_CMD_CREATE)", fs, type);
	if (r < 0)
		return isola_err(err, errno, "create %s superblock", type);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)attrs);
	EXPLAIN(mnt, "fsmount(2)", "fsmount(%d <%s>, FSMOUNT_CLOEXEC, %s)", fs, type, explain_flags(attrs, attr_table));
	if (mnt < 0)
		return isola_err(err, errno, "fsmount %s", type);
	return mnt;
}

int mount_entry(int rootfd, const struct rt_mount *m, bool in_userns, isola_error *err)
{
	if (m->bind)
		return bind_entry(rootfd, m, err);
	/* "cgroup" in a config means the cgroup filesystem the container sees: cgroup v2 here (isola is
	 * v2-only); inside a cgroup namespace its root is the container's own cgroup. */
	const char *type = strcmp(m->type, "cgroup") == 0 ? "cgroup2" : m->type;
	unsigned long attrs = mount_ms_to_attr(m->flags);
	_cleanup_close_ int mnt = new_fs(type, m->source, m->data, attrs, err);
	if (mnt < 0 && !strcmp(type, "sysfs") && in_userns && (err->errnum == EPERM || err->errnum == EACCES)) {
		/* A user namespace that does not own the network namespace cannot mount sysfs: bind the
		 * host's, read-only (what crun and runc do for rootless containers). */
		unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE;
		mnt = open_tree(AT_FDCWD, "/sys", f);
		EXPLAIN(mnt, "open_tree(2)", "open_tree(AT_FDCWD, \"/sys\", %s)", explain_flags(f, tree_table));
		if (mnt < 0)
			return isola_err(err, errno, "bind /sys for %s", m->destination);
		struct mount_attr a = {.attr_set = attrs | MOUNT_ATTR_RDONLY};
		int r = mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a);
		EXPLAIN(r, "mount_setattr(2)",
		        "mount_setattr(%d </sys>, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set=%s})", mnt,
		        explain_flags(a.attr_set, attr_table));
		if (r < 0)
			return isola_err(err, errno, "make /sys read-only");
	}
	if (mnt < 0)
		return isola_err_wrap(err, "mount %s", m->destination);
	_cleanup_close_ int target = safe_create_target(rootfd, m->destination, true, 0755, err);
	if (target < 0)
		return isola_err_wrap(err, "mount target %s", m->destination);
	if (attach(mnt, target, type, m->destination, err) < 0)
		return -1;
	return set_propagation(mnt, m->propagation, m->destination, err);
}

int mount_devnull_src(struct devnull_src *d, isola_error *err)
{
	d->attached = false;
	_cleanup_close_ int fd = open("/dev/null", O_PATH | O_CLOEXEC);
	EXPLAIN(fd, "open(2)", "open(\"/dev/null\", O_PATH|O_CLOEXEC)  /* source for maskedPaths */");
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return isola_err(err, errno, "open host /dev/null");
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
		return isola_err(err, EINVAL, "host /dev/null is not the 1:3 character device");
	d->fd = mount_clone_detached(fd, "host /dev/null", err);
	return d->fd < 0 ? -1 : 0;
}

int mount_clone_detached(int fd, const char *what, isola_error *err)
{
	unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
	int mnt = open_tree(fd, "", f);
	EXPLAIN(mnt, "open_tree(2)", "open_tree(%d <%s>, \"\", %s)", fd, what, explain_flags(f, tree_table));
	if (mnt < 0)
		return isola_err(err, errno, "clone a mount of %s", what);
	return mnt;
}

int mount_attach_detached(int rootfd, int mntfd, const char *path, isola_error *err)
{
	_cleanup_close_ int target = safe_create_target(rootfd, path, false, 0600, err);
	if (target < 0)
		return isola_err_wrap(err, "bind target");
	return attach(mntfd, target, "host node", path, err);
}

int mount_mask_path(int rootfd, const char *path, struct devnull_src *devnull, isola_error *err)
{
	_cleanup_close_ int target = safe_openat(rootfd, path, O_PATH | O_NOFOLLOW, 0, err);
	if (target < 0) {
		if (err->errnum == ENOENT) {
			isola_err_clear(err);
			return 0;
		}
		return isola_err_wrap(err, "masked path");
	}
	struct stat st;
	if (fstat(target, &st) < 0)
		return isola_err(err, errno, "stat masked path %s", path);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int mnt =
		    new_fs("tmpfs", "tmpfs", "mode=0555",
		           MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
		if (mnt < 0)
			return isola_err_wrap(err, "mask %s", path);
		return attach(mnt, target, "empty read-only tmpfs", path, err);
	}
	if (!devnull->attached) {
		if (attach(devnull->fd, target, "host /dev/null", path, err) < 0)
			return -1;
		devnull->attached = true;
		return 0;
	}
	/* the fd now names the host /dev/null mounted in our namespace: clone that mount, not a path */
	_cleanup_close_ int mnt = mount_clone_detached(devnull->fd, "host /dev/null", err);
	if (mnt < 0)
		return isola_err_wrap(err, "mask %s", path);
	return attach(mnt, target, "host /dev/null", path, err);
}

int mount_readonly_path(int rootfd, const char *path, isola_error *err)
{
	_cleanup_close_ int target = safe_openat(rootfd, path, O_PATH, 0, err);
	if (target < 0) {
		if (err->errnum == ENOENT) {
			isola_err_clear(err);
			return 0;
		}
		return isola_err_wrap(err, "read-only path");
	}
	unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE;
	_cleanup_close_ int mnt = open_tree(target, "", f);
	EXPLAIN(mnt, "open_tree(2)", "open_tree(%d <%s>, \"\", %s)", target, path, explain_flags(f, tree_table));
	if (mnt < 0)
		return isola_err(err, errno, "clone %s", path);
	struct mount_attr a = {.attr_set =
	                           MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	int r = mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a);
	EXPLAIN(r, "mount_setattr(2)", "mount_setattr(%d <%s>, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set=%s})", mnt,
	        path, explain_flags(a.attr_set, attr_table));
	if (r < 0)
		return isola_err(err, errno, "make %s read-only", path);
	return attach(mnt, target, path, path, err);
}

int mount_bind_fd(int rootfd, int srcfd, const char *path, isola_error *err)
{
	_cleanup_close_ int target = safe_create_target(rootfd, path, false, 0600, err);
	if (target < 0)
		return isola_err_wrap(err, "bind target");
	unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
	_cleanup_close_ int mnt = open_tree(srcfd, "", f);
	EXPLAIN(mnt, "open_tree(2)", "open_tree(%d, \"\", %s)", srcfd, explain_flags(f, tree_table));
	if (mnt < 0)
		return isola_err(err, errno, "clone fd %d for %s", srcfd, path);
	return attach(mnt, target, "fd", path, err);
}
