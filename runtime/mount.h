/* Mounts by file descriptor (the "new mount API", Linux 5.2+; mount_setattr 5.12+):
 *   fs types:    fsopen(2) → fsconfig(2) → fsmount(2) → move_mount(2)
 *   bind mounts: open_tree(OPEN_TREE_CLONE) → mount_setattr(2) → move_mount(2)
 * Targets are always fds obtained with safe_openat/safe_create_target inside the rootfs, so a symlink
 * planted in the image cannot redirect a mount outside it (CVE-2021-30465). */
#pragma once
#include <stdbool.h>
#include "error.h"
#include "runtime/config.h"

/* Mount one config.json "mounts" entry under rootfd. A relative bind source is taken from the cwd (the
 * caller chdirs to the bundle). in_userns: sysfs falls back to a recursive bind of the host /sys when the
 * kernel refuses a new sysfs instance (a user namespace that does not own the network namespace). */
int mount_entry(int rootfd, const struct rt_mount *m, bool in_userns, isola_error *err);
/* The host's /dev/null as a detached mount (open_tree OPEN_TREE_CLONE), made in the runtime's mount
 * namespace before the container's exists: a mount can only be cloned inside the caller's namespace, but a
 * detached one can be attached anywhere. The first masked file takes it; the next ones clone that mount. */
struct devnull_src {
	int fd;
	bool attached;
};
/* Make it: open /dev/null, check it is the 1:3 character device, clone it detached. */
int mount_devnull_src(struct devnull_src *d, isola_error *err);
/* maskedPaths: a directory gets an empty read-only tmpfs, anything else a bind of the HOST /dev/null — never
 * the container's, whose path the container controls (CVE-2025-31133). A missing path is skipped. */
int mount_mask_path(int rootfd, const char *path, struct devnull_src *devnull, isola_error *err);
/* A detached mount of a host object (device node, pty slave) made in the runtime's namespace. */
int mount_clone_detached(int fd, const char *what, isola_error *err);
/* Attach a detached mount (from mount_clone_detached) onto path inside rootfd (created as a file). */
int mount_attach_detached(int rootfd, int mntfd, const char *path, isola_error *err);
/* readonlyPaths: bind the path onto itself read-only (recursively), nosuid, nodev, noexec. */
int mount_readonly_path(int rootfd, const char *path, isola_error *err);
/* Bind the object behind srcfd (a pty slave, a file) onto path inside rootfd (created as a file). */
int mount_bind_fd(int rootfd, int srcfd, const char *path, isola_error *err);
/* MS_* option flags → MOUNT_ATTR_* (for fsmount/mount_setattr). */
unsigned long mount_ms_to_attr(unsigned long ms);
