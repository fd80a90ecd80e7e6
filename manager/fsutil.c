#include "fsutil.h"
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "cleanup.h"
#include "util.h"
#include "explain.h"

static copy_progress_fn progress_fn;
static void *progress_ud;

void fsutil_set_progress(copy_progress_fn fn, void *ud)
{
	progress_fn = fn;
	progress_ud = ud;
}

int file_clone_fd(int src, int dst, bool *reflinked, isola_error *err)
{
	if (reflinked)
		*reflinked = false;
	int r = ioctl(dst, FICLONE, src);
	EXPLAIN(r, "ioctl_ficlone(2)", "ioctl(%d, FICLONE, %d)", dst, src);
	if (r == 0) {
		if (reflinked)
			*reflinked = true;
		return 0;
	}
	/* EXDEV/EOPNOTSUPP/EINVAL: no sharing here; copy the data extents, leave the holes */
	return copy_file_sparse(src, dst, progress_fn, progress_ud, err);
}

int file_clone(const char *src, const char *dst, bool *reflinked, isola_error *err)
{
	_cleanup_close_ int s = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s < 0)
		return isola_err(err, errno, "open %s", src);
	struct stat st;
	if (fstat(s, &st) < 0)
		return isola_err(err, errno, "stat %s", src);
	_cleanup_close_ int d = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, st.st_mode & 07777);
	if (d < 0)
		return isola_err(err, errno, "create %s", dst);
	if (file_clone_fd(s, d, reflinked, err) < 0)
		return isola_err_wrap(err, "copy %s to %s", src, dst);
	return 0;
}

static void copy_xattrs(int sfd, int dfd)
{
	char names[8192];
	ssize_t n = flistxattr(sfd, names, sizeof names);
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		if (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8) &&
		    strncmp(name, "security.capability", 19))
			continue;
		char val[4096];
		ssize_t vn = fgetxattr(sfd, name, val, sizeof val);
		if (vn >= 0)
			fsetxattr(dfd, name, val, (size_t)vn, 0);
	}
}

static const struct id_shift *cur_shift; /* set for the duration of one tree_copy_shifted */

static uid_t shift_id(uint32_t id)
{
	const struct id_shift *s = cur_shift;
	if (s && id >= s->from && id - s->from < s->count)
		return id - s->from + s->to;
	return id;
}

static int copy_at(int sdir, int ddir, const char *name, const char *dname, const struct stat *st,
                   struct copy_stats *stats, const char *path, isola_error *err);

static int copy_dir_contents(int sfd, int dfd, const char *path, struct copy_stats *stats, isola_error *err)
{
	int dup_fd = dup(sfd);
	if (dup_fd < 0)
		return isola_err(err, errno, "dup");
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return isola_err(err, errno, "opendir %s", path);
	}
	struct dirent *e;
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return isola_err(err, errno, "stat %s/%s", path, e->d_name);
		char sub[4096];
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		if (copy_at(sfd, dfd, e->d_name, e->d_name, &st, stats, sub, err) < 0)
			return -1;
	}
	if (errno)
		return isola_err(err, errno, "readdir %s", path);
	return 0;
}

static int copy_at(int sdir, int ddir, const char *name, const char *dname, const struct stat *st,
                   struct copy_stats *stats, const char *path, isola_error *err)
{
	mode_t perm = st->st_mode & 07777;
	if (S_ISDIR(st->st_mode)) {
		if (mkdirat(ddir, dname, 0700) < 0)
			return isola_err(err, errno, "mkdir %s", path);
		_cleanup_close_ int s = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int d = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0)
			return isola_err(err, errno, "open %s", path);
		if (copy_dir_contents(s, d, path, stats, err) < 0)
			return -1;
		copy_xattrs(s, d);
		if (fchown(d, shift_id(st->st_uid), shift_id(st->st_gid)) < 0 || fchmod(d, perm) < 0)
			return isola_err(err, errno, "chown/chmod %s", path);
		struct timespec ts[2] = {st->st_atim, st->st_mtim};
		futimens(d, ts);
		return 0;
	}
	if (S_ISREG(st->st_mode)) {
		_cleanup_close_ int s = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0)
			return isola_err(err, errno, "open %s", path);
		_cleanup_close_ int d = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (d < 0)
			return isola_err(err, errno, "create %s", path);
		bool ref = false;
		if (st->st_size > 0 && file_clone_fd(s, d, &ref, err) < 0)
			return isola_err_wrap(err, "copy %s", path);
		copy_xattrs(s, d);
		/* chown before chmod: chown clears set-id bits (chown(2)) */
		if (fchown(d, shift_id(st->st_uid), shift_id(st->st_gid)) < 0 || fchmod(d, perm) < 0)
			return isola_err(err, errno, "chown/chmod %s", path);
		struct timespec ts[2] = {st->st_atim, st->st_mtim};
		futimens(d, ts);
		if (stats) {
			stats->files++;
			stats->bytes += (uint64_t)st->st_size;
			stats->reflinked += ref;
		}
		return 0;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sdir, name, target, sizeof target - 1);
		if (n < 0)
			return isola_err(err, errno, "readlink %s", path);
		target[n] = 0;
		if (symlinkat(target, ddir, dname) < 0)
			return isola_err(err, errno, "symlink %s", path);
		if (fchownat(ddir, dname, shift_id(st->st_uid), shift_id(st->st_gid), AT_SYMLINK_NOFOLLOW) < 0)
			return isola_err(err, errno, "chown %s", path);
		return 0;
	}
	/* device nodes (overlayfs whiteouts are 0:0 char devices), fifos, sockets */
	if (mknodat(ddir, dname, st->st_mode, st->st_rdev) < 0)
		return isola_err(err, errno, "mknod %s", path);
	if (fchownat(ddir, dname, shift_id(st->st_uid), shift_id(st->st_gid), AT_SYMLINK_NOFOLLOW) < 0)
		return isola_err(err, errno, "chown %s", path);
	return 0;
}

int tree_copy(const char *src, const char *dst, struct copy_stats *stats, isola_error *err)
{
	if (stats)
		memset(stats, 0, sizeof *stats);
	struct stat st;
	if (lstat(src, &st) < 0)
		return isola_err(err, errno, "stat %s", src);
	if (!S_ISDIR(st.st_mode))
		return isola_err(err, ENOTDIR, "copy %s: not a directory", src);
	char dcopy[4096], scopy[4096];
	if (snprintf(dcopy, sizeof dcopy, "%s", dst) >= (int)sizeof dcopy ||
	    snprintf(scopy, sizeof scopy, "%s", src) >= (int)sizeof scopy)
		return isola_err(err, ENAMETOOLONG, "copy %s", src);
	char *slash = strrchr(dcopy, '/');
	const char *dparent = ".", *dname = dcopy;
	if (slash) {
		*slash = 0;
		dparent = slash == dcopy ? "/" : dcopy;
		dname = slash + 1;
	}
	_cleanup_close_ int pd = open(dparent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pd < 0)
		return isola_err(err, errno, "open %s", dparent);
	/* copy_at needs (parent fd, name) for the source too: open src's parent */
	char *sslash = strrchr(scopy, '/');
	const char *sparent = ".", *sname = scopy;
	if (sslash) {
		*sslash = 0;
		sparent = sslash == scopy ? "/" : scopy;
		sname = sslash + 1;
	}
	_cleanup_close_ int ps = open(sparent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ps < 0)
		return isola_err(err, errno, "open %s", sparent);
	return copy_at(ps, pd, sname, dname, &st, stats, src, err);
}

static int remove_contents(int dfd, dev_t dev, const char *path, isola_error *err)
{
	int dup_fd = dup(dfd);
	if (dup_fd < 0)
		return isola_err(err, errno, "dup");
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return isola_err(err, errno, "opendir %s", path);
	}
	struct dirent *e;
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return isola_err(err, errno, "stat %s/%s", path, e->d_name);
		char sub[4096];
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		if (S_ISDIR(st.st_mode)) {
			if (st.st_dev != dev)
				return isola_err(err, EBUSY, "remove %s: a mount point (unmount it first)", sub);
			_cleanup_close_ int c = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (c < 0)
				return isola_err(err, errno, "open %s", sub);
			if (remove_contents(c, dev, sub, err) < 0)
				return -1;
			if (unlinkat(dfd, e->d_name, AT_REMOVEDIR) < 0)
				return isola_err(err, errno, "rmdir %s", sub);
		} else if (unlinkat(dfd, e->d_name, 0) < 0) {
			return isola_err(err, errno, "unlink %s", sub);
		}
	}
	if (errno)
		return isola_err(err, errno, "readdir %s", path);
	return 0;
}

int tree_remove(const char *path, isola_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : isola_err(err, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0)
			return isola_err(err, errno, "unlink %s", path);
		return 0;
	}
	{
		_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return isola_err(err, errno, "open %s", path);
		if (remove_contents(fd, st.st_dev, path, err) < 0)
			return -1;
	}
	if (rmdir(path) < 0)
		return isola_err(err, errno, "rmdir %s", path);
	return 0;
}

static int usage_at(int dfd, dev_t dev, uint64_t *bytes)
{
	int dup_fd = dup(dfd);
	if (dup_fd < 0)
		return -1;
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		*bytes += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int c = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (c >= 0)
				usage_at(c, dev, bytes);
		}
	}
	return 0;
}

int tree_usage(const char *path, uint64_t *bytes, isola_error *err)
{
	*bytes = 0;
	struct stat st;
	if (lstat(path, &st) < 0)
		return isola_err(err, errno, "stat %s", path);
	*bytes = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return 0;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "open %s", path);
	usage_at(fd, st.st_dev, bytes);
	return 0;
}

int tree_copy_contents(const char *src, const char *dst, struct copy_stats *stats, isola_error *err)
{
	if (stats)
		memset(stats, 0, sizeof *stats);
	_cleanup_close_ int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s < 0)
		return isola_err(err, errno, "open %s", src);
	_cleanup_close_ int d = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return isola_err(err, errno, "open %s", dst);
	return copy_dir_contents(s, d, src, stats, err);
}

int tree_copy_shifted(const char *src, const char *dst, const struct id_shift *shift, struct copy_stats *stats,
                      isola_error *err)
{
	cur_shift = shift;
	int r = tree_copy(src, dst, stats, err);
	cur_shift = NULL;
	return r;
}
