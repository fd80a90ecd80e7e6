/* Writing a unified image: a gzip'd pax tarball holding metadata.yaml, rootfs/ and optionally
 * templates/, read from disk with libarchive's archive_read_disk (ownership, modes, xattrs incl.
 * security.capability, ACLs kept; symlinks stored as symlinks, never followed; mount points below a
 * tree are not crossed). Used by directory import and by image.publish. */
#pragma once
#include <stddef.h>
#include "error.h"

struct pack_source {
	const char *path; /* a file or directory on disk */
	const char *name; /* its name in the archive ("rootfs", "templates", "metadata.yaml") */
};

/* Write the archive to outfd. mem_name/mem_data (may be NULL): one extra regular file written first
 * from memory (the generated metadata.yaml of a publish). */
int pack_tar_gz(int outfd, const char *mem_name, const char *mem_data, size_t mem_len, const struct pack_source *srcs,
                size_t nsrcs, isola_error *err);
