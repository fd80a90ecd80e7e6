/* Paths inside a container or an image are hostile: any component may be a symlink pointing anywhere,
 * including "/" of the host. Everything here resolves a path as if rootfd were "/", never leaving it
 * (CVE-2021-30465, CVE-2024-45310): openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) on kernels that have it,
 * and a component-by-component walk (O_NOFOLLOW at each step, symlinks re-rooted at rootfd) otherwise.
 * The fallback is forced by path_force_fallback = true (or ISOLA_NO_OPENAT2=1 in the environment), and
 * the tests run both. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

extern bool path_force_fallback;

/* Open path (relative to rootfd, a leading "/" means rootfd) with open(2) flags and mode. The final
 * component is followed if it is a symlink unless flags has O_NOFOLLOW; with O_CREAT a dangling final
 * symlink is an error (ELOOP), never a create outside. Returns an O_CLOEXEC fd. */
int safe_openat(int rootfd, const char *path, int flags, mode_t mode, isola_error *err);
/* mkdir -p inside rootfd; returns an O_PATH|O_DIRECTORY fd of the last directory. */
int safe_mkdir_p(int rootfd, const char *path, mode_t mode, isola_error *err);
/* Make sure path exists inside rootfd as a regular file (created empty, mode) or a directory (is_dir),
 * creating the parents; returns an O_PATH fd of it. Used for bind-mount targets. */
int safe_create_target(int rootfd, const char *path, bool is_dir, mode_t mode, isola_error *err);

/* "/proc/self/fd/N" for an fd (thread-local buffer, ring of 4): the way to hand an fd to APIs that take a path. */
const char *fd_path(int fd);
/* A name is safe as one path component of ours: non-empty, ≤ max bytes, no '/', not "." or "..", no NUL,
 * no control characters. Used for container ids, network names, instance names. */
bool name_is_safe_component(const char *name, size_t max);
