/* The container's filesystem view, built in the child inside its new mount namespace:
 *   1. "/" made rprivate (or linux.rootfsPropagation) so nothing we do propagates to the host
 *   2. root.path bind-mounted onto itself (pivot_root(2) needs a mount point), opened as rootfd
 *   3. config "mounts" in order, each by fd (mount.c); then /dev nodes (dev.c)
 *   4. (caller: createContainer hooks)  5. maskedPaths, readonlyPaths
 *   6. pivot_root(".", ".") + umount2(".", MNT_DETACH): the old root disappears (pivot_root(2) NOTES)
 *   7. root.readonly → "/" read-only */
#pragma once
#include <stdbool.h>
#include "error.h"
#include "runtime/config.h"
#include "runtime/dev.h"
#include "runtime/mount.h"

/* Steps 1–3. Returns rootfd (O_PATH|O_DIRECTORY of the new root mount). */
int rootfs_prepare(const struct rt_config *cfg, bool in_userns, const struct dev_host_fds *devs, isola_error *err);
/* The same with root_mnt >= 0: that detached mount (syscont: an idmapped image or an overlay) is attached on
 * root.path instead of a clone of root.path itself. */
int rootfs_prepare_mnt(const struct rt_config *cfg, bool in_userns, const struct dev_host_fds *devs, int root_mnt,
                       isola_error *err);
/* Step 5. devnull_fd: the host /dev/null, opened before anything of the container was touched. */
int rootfs_mask(int rootfd, const struct rt_config *cfg, struct devnull_src *devnull, isola_error *err);
/* Steps 6–7. no_pivot: MS_MOVE + chroot (for a rootfs on ramfs, where pivot_root is refused). */
int rootfs_pivot(int rootfd, const struct rt_config *cfg, bool no_pivot, isola_error *err);
