#include "extract.h"
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

DEFINE_CLEANUP(struct archive *, archive_read_free)
DEFINE_CLEANUP(struct archive *, archive_write_free)

int extract_check_name(const char *name, char *out, size_t outlen, isola_error *err)
{
	if (!name)
		return isola_err(err, EINVAL, "entry without a name");
	if (name[0] == '/')
		return isola_err(err, EINVAL, "entry \"%s\": absolute path refused", name);
	size_t n = 0;
	const char *p = name;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return isola_err(err, EINVAL, "entry \"%s\": \"..\" component refused", name);
		if (n + len + 2 > outlen)
			return isola_err(err, ENAMETOOLONG, "entry \"%s\": name too long", name);
		if (n)
			out[n++] = '/';
		memcpy(out + n, p, len);
		n += len;
		p = end;
	}
	out[n] = 0;
	return 0;
}

int extract_check_parents(int rootfd, const char *name, bool check_last, isola_error *err)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", name) >= (int)sizeof buf)
		return isola_err(err, ENAMETOOLONG, "entry \"%s\"", name);
	for (char *slash = buf;; slash++) {
		slash = strchr(slash, '/');
		bool last = !slash;
		if (last && !check_last)
			return 0;
		if (slash)
			*slash = 0;
		struct stat st;
		if (fstatat(rootfd, buf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				return 0; /* nothing below exists yet: created fresh, as directories */
			return isola_err(err, errno, "entry \"%s\": stat %s", name, buf);
		}
		if (S_ISLNK(st.st_mode))
			return isola_err(err, EINVAL, "entry \"%s\": would write through the symlink \"%s\"", name,
			                 buf);
		if (last)
			return 0;
		if (!S_ISDIR(st.st_mode))
			return isola_err(err, EINVAL, "entry \"%s\": \"%s\" is not a directory", name, buf);
		*slash = '/';
	}
}

static int check_hardlink(int rootfd, struct archive_entry *e, const char *name, isola_error *err)
{
	const char *target = archive_entry_hardlink(e);
	if (!target)
		return 0;
	char norm[4096];
	if (extract_check_name(target, norm, sizeof norm, err) < 0)
		return isola_err_wrap(err, "hardlink \"%s\"", name);
	if (!norm[0])
		return isola_err(err, EINVAL, "hardlink \"%s\": target is the root", name);
	if (extract_check_parents(rootfd, norm, false, err) < 0)
		return isola_err_wrap(err, "hardlink \"%s\"", name);
	struct stat st;
	if (fstatat(rootfd, norm, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return isola_err(err, errno == ENOENT ? EINVAL : errno,
		                 "hardlink \"%s\": target \"%s\" is not an earlier entry of the archive", name, norm);
	/* link(2) to a symlink links the symlink itself, but libarchive then opens the name to write the
	 * entry's data, which would follow it: refuse. */
	if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode))
		return isola_err(err, EINVAL, "hardlink \"%s\": target \"%s\" is a %s", name, norm,
		                 S_ISLNK(st.st_mode) ? "symlink" : "directory");
	archive_entry_copy_hardlink(e, norm);
	return 0;
}

static int read_open(struct archive *a, const char *path, isola_error *err)
{
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK)
		return isola_err(err, archive_errno(a) > 0 ? archive_errno(a) : EBADMSG, "open archive %s: %s", path,
		                 archive_error_string(a) ?: "unreadable");
	return 0;
}

bool extract_is_tarball(const char *path)
{
	_cleanup_(archive_read_freep) struct archive *a = archive_read_new();
	isola_error err;
	if (!a || read_open(a, path, &err) < 0)
		return false;
	struct archive_entry *e;
	return archive_read_next_header(a, &e) == ARCHIVE_OK;
}

static int copy_data(struct archive *in, struct archive *out, const char *name, uint64_t *bytes, isola_error *err)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(in, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return isola_err(err, archive_errno(in) > 0 ? archive_errno(in) : EBADMSG, "entry \"%s\": %s",
			                 name, archive_error_string(in) ?: "read error");
		if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK)
			return isola_err(err, archive_errno(out) > 0 ? archive_errno(out) : EIO, "write \"%s\": %s",
			                 name, archive_error_string(out) ?: "write error");
		*bytes += size;
	}
}

static int extract_entries(struct archive *a, struct archive *w, int rootfd, const struct extract_opts *o,
                           struct extract_stats *st, const char *path, isola_error *err)
{
	struct archive_entry *e;
	char norm[4096];
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return isola_err(err, archive_errno(a) > 0 ? archive_errno(a) : EBADMSG,
			                 "%s: corrupt or truncated archive after %" PRIu64 " entries: %s", path,
			                 st->entries, archive_error_string(a) ?: "bad header");
		const char *name = archive_entry_pathname(e);
		if (extract_check_name(name, norm, sizeof norm, err) < 0)
			return -1;
		if (!norm[0]) /* "./": the root is ours, not the image's */
			continue;
		mode_t type = archive_entry_filetype(e);
		if ((type == AE_IFCHR || type == AE_IFBLK) && !o->privileged) {
			st->skipped_devices++;
			continue;
		}
		if (extract_check_parents(rootfd, norm, type != AE_IFLNK && type != AE_IFDIR, err) < 0)
			return -1;
		if (check_hardlink(rootfd, e, norm, err) < 0)
			return -1;
		archive_entry_copy_pathname(e, norm);
		r = archive_write_header(w, e);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return isola_err(err, archive_errno(w) > 0 ? archive_errno(w) : EINVAL, "entry \"%s\": %s",
			                 norm, archive_error_string(w) ?: "refused");
		if (archive_entry_size(e) > 0 && copy_data(a, w, norm, &st->bytes, err) < 0)
			return -1;
		r = archive_write_finish_entry(w);
		/* ARCHIVE_WARN: metadata the store's filesystem cannot hold (xattrs on a filesystem without
		 * them, an ACL): the file is there, so go on, but say so — a lost security.capability matters */
		if (r == ARCHIVE_WARN && st->warnings++ < 5)
			log_warn("entry \"%s\": %s", norm, archive_error_string(w) ?: "metadata not restored");
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return isola_err(err, archive_errno(w) > 0 ? archive_errno(w) : EIO, "entry \"%s\": %s", norm,
			                 archive_error_string(w) ?: "finish");
		if (++st->entries % 2048 == 0 && o->progress)
			o->progress(st->entries, st->bytes, o->ud);
	}
	return 0;
}

int extract_archive(const char *path, int rootfd, const struct extract_opts *o, struct extract_stats *st,
                    isola_error *err)
{
	_cleanup_(archive_read_freep) struct archive *a = archive_read_new();
	_cleanup_(archive_write_freep) struct archive *w = archive_write_disk_new();
	if (!a || !w)
		return isola_err(err, ENOMEM, "libarchive");
	if (read_open(a, path, err) < 0)
		return -1;
	int flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	            ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
	            ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL;
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	archive_write_disk_set_options(w, flags);
	/* numeric ids only: the image's /etc/passwd is what names them, not the host's */
	_cleanup_close_ int oldcwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (oldcwd < 0)
		return isola_err(err, errno, "open cwd");
	if (fchdir(rootfd) < 0)
		return isola_err(err, errno, "chdir into the extraction root");
	struct extract_stats local = {0};
	int r = extract_entries(a, w, rootfd, o, st ? st : &local, path, err);
	if (r == 0 && archive_write_close(w) != ARCHIVE_OK)
		r = isola_err(err, archive_errno(w) > 0 ? archive_errno(w) : EIO, "%s: finishing: %s", path,
		              archive_error_string(w) ?: "error");
	if (fchdir(oldcwd) < 0 && r == 0)
		r = isola_err(err, errno, "restore cwd");
	return r;
}
