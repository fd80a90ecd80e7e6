/* Unpacking a tarball from an image: every entry name and link target is hostile.
 *
 * Rules (each has an integration test that tries the attack):
 *  - names are normalised ("./a//b/" → "a/b"); an absolute name or any ".." component is refused
 *    (CVE-2001-1267-style traversal);
 *  - no entry may be written through a symlink: every existing component of its path is checked with
 *    fstatat(AT_SYMLINK_NOFOLLOW) under the destination root fd, so "link -> /etc" then "link/passwd"
 *    is refused (the symlink-then-file escape, CVE-2021-20206-style);
 *  - a hardlink's target obeys the same rules and must be an existing non-symlink, non-directory entry
 *    already inside the tree (the hardlink escape: "h" hardlinked to "../../etc/shadow" or to a path
 *    through a symlink);
 *  - character and block devices are created only when opts->privileged (else skipped and counted);
 *  - libarchive's own ARCHIVE_EXTRACT_SECURE_SYMLINKS|SECURE_NODOTDOT|SECURE_NOABSOLUTEPATHS stay on as
 *    a second line of defence;
 *  - ownership (when root), permission bits incl. setuid, mtimes, xattrs (so security.capability file
 *    capabilities) and POSIX ACLs are restored.
 * Any refused entry fails the whole extraction: the caller throws the partial tree away. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

struct extract_opts {
	bool privileged;                                              /* create device nodes */
	void (*progress)(uint64_t entries, uint64_t bytes, void *ud); /* may be NULL */
	void *ud;
};

struct extract_stats {
	uint64_t entries;
	uint64_t bytes;
	uint64_t skipped_devices;
	uint64_t warnings; /* entries whose metadata (xattrs, ACLs) could not all be restored */
};

/* Normalise one entry name into out. "" (the archive's "./") means the root itself. Pure function
 * (unit-tested). Errors (EINVAL) name the entry. */
int extract_check_name(const char *name, char *out, size_t outlen, isola_error *err);
/* Every existing component of name (normalised, relative) under rootfd: none may be a symlink; all but
 * the last must be directories. Pure filesystem check, no writes. */
int extract_check_parents(int rootfd, const char *name, bool check_last, isola_error *err);
/* Extract the tarball at path (any compression libarchive detects: gzip, xz, bzip2, zstd, lz4, none)
 * into the directory rootfd. Changes the process's cwd for the duration (restored before return): the
 * daemon serves one request at a time. */
int extract_archive(const char *path, int rootfd, const struct extract_opts *opts, struct extract_stats *st,
                    isola_error *err);
/* Is the file a tar archive libarchive can read (checks the first header only)? */
bool extract_is_tarball(const char *path);
