/* File-tree helpers for storage: copies that share blocks where the filesystem can (FICLONE, the ioctl
 * behind `cp --reflink=auto`: ioctl_ficlone(2)), falling back to a sparse copy_file_range(2), and removal.
 * Trees are walked by fd (openat with O_NOFOLLOW), never by re-resolving paths, so a symlink planted in an
 * instance's tree cannot send the copy or the removal outside it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "error.h"

struct copy_stats {
	uint64_t files, bytes, reflinked; /* reflinked: files cloned with FICLONE */
};

/* Progress of long copies (a VM disk that cannot be reflinked): called every 64 MiB or so with the bytes
 * copied and the total. NULL (default): silent. Set by the caller for the duration of one copy. */
typedef void (*copy_progress_fn)(uint64_t done, uint64_t total, void *ud);
void fsutil_set_progress(copy_progress_fn fn, void *ud);

/* Copy one regular file's contents fd → fd: FICLONE, else copy_file_sparse (holes stay holes). */
int file_clone_fd(int src, int dst, bool *reflinked, isola_error *err);
/* Copy a regular file path → new file path (mode kept). */
int file_clone(const char *src, const char *dst, bool *reflinked, isola_error *err);
/* Copy the tree under src into dst (created; must not exist): dirs, files, symlinks, device nodes, fifos,
 * with owner, mode, times and the user. and trusted. xattrs (overlayfs keeps whiteouts and opaque markers that
 * way). Hard links are copied as separate files. stats may be NULL. */
int tree_copy(const char *src, const char *dst, struct copy_stats *stats, isola_error *err);
/* rm -rf that never follows symlinks and stays on one filesystem (mount points inside are an error). */
int tree_remove(const char *path, isola_error *err);
/* Bytes used under path (st_blocks · 512), one filesystem. */
int tree_usage(const char *path, uint64_t *bytes, isola_error *err);
/* Copy the contents of directory src into the existing directory dst (dst's own attributes untouched). */
int tree_copy_contents(const char *src, const char *dst, struct copy_stats *stats, isola_error *err);
/* tree_copy, moving owners in [from, from+count) to [to, to+count): a copy for an instance with another
 * id-map range (files it owns on a dir pool are stored under its host ids). */
struct id_shift {
	uint32_t from, to, count;
};
int tree_copy_shifted(const char *src, const char *dst, const struct id_shift *shift, struct copy_stats *stats,
                      isola_error *err);
