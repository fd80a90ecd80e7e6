/* /dev inside the container (runtime-spec config-linux.md "Default Devices" and "Devices"):
 * null, zero, full, random, urandom, tty, plus linux.devices, the /dev/fd, stdin/out/err symlinks and
 * /dev/ptmx → pts/ptmx for the container's own devpts instance.
 *
 * /dev is opened with safe_openat inside the rootfs, so a /dev symlink in the image cannot redirect node
 * creation onto the host (CVE-2026-47766 class). Without a user namespace nodes are made with mknodat(2);
 * in one (mknod is not allowed there) the host's node is bind-mounted from an fd opened before. */
#pragma once
#include <stdbool.h>
#include "error.h"
#include "runtime/config.h"

/* The host's default device nodes as detached mounts (only needed in a user namespace, where mknod is
 * refused), made in the runtime's mount namespace; each is attached once. */
struct dev_host_fds {
	int fd[6];
};
/* as_mounts false: nothing to do (all fds -1). */
int dev_open_host(struct dev_host_fds *h, bool as_mounts, isola_error *err);
void dev_close_host(struct dev_host_fds *h);

int dev_setup(int rootfd, const struct rt_config *cfg, bool in_userns, const struct dev_host_fds *h, isola_error *err);
