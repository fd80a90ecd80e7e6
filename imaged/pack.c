#include "pack.h"
#include "cleanup.h"
#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <time.h>

DEFINE_CLEANUP(struct archive *, archive_read_free)
DEFINE_CLEANUP(struct archive *, archive_write_free)
DEFINE_CLEANUP(struct archive_entry *, archive_entry_free)

static int werr(struct archive *w, const char *what, isola_error *err)
{
	return isola_err(err, archive_errno(w) > 0 ? archive_errno(w) : EIO, "pack %s: %s", what,
	                 archive_error_string(w) ?: "write error");
}

static int pack_one(struct archive *w, const struct pack_source *s, isola_error *err)
{
	_cleanup_(archive_read_freep) struct archive *d = archive_read_disk_new();
	if (!d)
		return isola_err(err, ENOMEM, "libarchive");
	archive_read_disk_set_symlink_physical(d);
	archive_read_disk_set_behavior(d, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	if (archive_read_disk_open(d, s->path) != ARCHIVE_OK)
		return isola_err(err, archive_errno(d) > 0 ? archive_errno(d) : EIO, "read %s: %s", s->path,
		                 archive_error_string(d) ?: "error");
	size_t plen = strlen(s->path);
	_cleanup_free_ char *buf = malloc(1 << 20);
	if (!buf)
		return isola_err(err, ENOMEM, "pack");
	for (;;) {
		_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
		int r = archive_read_next_header2(d, e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return isola_err(err, archive_errno(d) > 0 ? archive_errno(d) : EIO, "read %s: %s", s->path,
			                 archive_error_string(d) ?: "error");
		const char *p = archive_entry_pathname(e);
		if (strncmp(p, s->path, plen) != 0)
			return isola_err(err, EINVAL, "pack: %s is not below %s", p, s->path);
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, "%s%s", s->name, p + plen) < 0)
			return isola_err(err, ENOMEM, "pack");
		archive_entry_copy_pathname(e, name);
		archive_read_disk_descend(d);
		r = archive_write_header(w, e);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return werr(w, name, err);
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
			for (;;) {
				la_ssize_t n = archive_read_data(d, buf, 1 << 20);
				if (n < 0)
					return isola_err(err, archive_errno(d) > 0 ? archive_errno(d) : EIO,
					                 "read %s: %s", name, archive_error_string(d) ?: "error");
				if (n == 0)
					break;
				if (archive_write_data(w, buf, (size_t)n) < 0)
					return werr(w, name, err);
			}
		}
	}
	return 0;
}

int pack_tar_gz(int outfd, const char *mem_name, const char *mem_data, size_t mem_len, const struct pack_source *srcs,
                size_t nsrcs, isola_error *err)
{
	_cleanup_(archive_write_freep) struct archive *w = archive_write_new();
	if (!w)
		return isola_err(err, ENOMEM, "libarchive");
	/* pax keeps xattrs (SCHILY.xattr.*), ACLs and long names; gzip level 1 because the point of
	 * publish is speed and gzip -1 already removes most of the redundancy of a rootfs. */
	archive_write_set_format_pax_restricted(w);
	archive_write_add_filter_gzip(w);
	archive_write_set_filter_option(w, "gzip", "compression-level", "1");
	archive_write_set_bytes_in_last_block(w, 1);
	if (archive_write_open_fd(w, outfd) != ARCHIVE_OK)
		return werr(w, "open", err);
	if (mem_name) {
		_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, mem_name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)mem_len);
		archive_entry_set_mtime(e, time(NULL), 0);
		if (archive_write_header(w, e) != ARCHIVE_OK || archive_write_data(w, mem_data, mem_len) < 0)
			return werr(w, mem_name, err);
	}
	for (size_t i = 0; i < nsrcs; i++)
		if (pack_one(w, &srcs[i], err) < 0)
			return -1;
	if (archive_write_close(w) != ARCHIVE_OK)
		return werr(w, "close", err);
	return 0;
}
