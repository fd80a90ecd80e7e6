/* Root filesystem switch; see rootfs.h. */
#include "runtime/rootfs.h"
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "runtime/mount.h"

/* syscont: mounts and /dev on a root attached already (syscont_attach_root); the same steps as the tail of
 * rootfs_prepare_mnt. */
static int rootfs_populate_attached(const struct rt_config *cfg, bool in_userns, const struct dev_host_fds *devs,
                                    int root_mnt, isola_error *err)
{
	_cleanup_close_ int rootfd = fcntl(root_mnt, F_DUPFD_CLOEXEC, 3);
	if (rootfd < 0)
		return isola_err(err, errno, "dup the root fd");
	for (size_t i = 0; i < cfg->n_mounts; i++)
		if (mount_entry(rootfd, &cfg->mounts[i], in_userns, err) < 0)
			return isola_err_wrap(err, "mounts[%zu]", i);
	if (dev_setup(rootfd, cfg, in_userns, devs, err) < 0)
		return -1;
	return steal_fd(&rootfd);
}

int rootfs_prepare(const struct rt_config *cfg, bool in_userns, const struct dev_host_fds *devs, isola_error *err)
{
	return rootfs_prepare_mnt(cfg, in_userns, devs, -1, err);
}

int rootfs_prepare_mnt(const struct rt_config *cfg, bool in_userns, const struct dev_host_fds *devs, int root_mnt,
                       isola_error *err)
{
	unsigned long prop = cfg->rootfs_propagation ? cfg->rootfs_propagation : (MS_PRIVATE | MS_REC);
	/* Shared propagation would leak our mounts to the host (mount_namespaces(7) "Shared subtrees"). The root
	 * must not stay shared for pivot_root either; a "shared" rootfsPropagation is applied to the new root. */
	unsigned long first = (prop & MS_SHARED) ? (MS_SLAVE | MS_REC) : prop;
	int r = mount(NULL, "/", NULL, first, NULL);
	EXPLAIN(r, "mount_namespaces(7)", "mount(NULL, \"/\", NULL, %s)", explain_mount_flags(first));
	if (r < 0)
		return isola_err(err, errno, "make / %s", explain_mount_flags(first));

	if (root_mnt >= 0) /* syscont: the root is attached already (syscont_attach_root) */
		return rootfs_populate_attached(cfg, in_userns, devs, root_mnt, err);
	unsigned f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE;
	_cleanup_close_ int tree = open_tree(AT_FDCWD, cfg->root_path, f);
	EXPLAIN(tree, "open_tree(2)", "open_tree(AT_FDCWD, \"%s\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_RECURSIVE)",
	        cfg->root_path);
	if (tree < 0)
		return isola_err(err, errno, "root.path %s", cfg->root_path);
	r = move_mount(tree, "", AT_FDCWD, cfg->root_path, MOVE_MOUNT_F_EMPTY_PATH);
	EXPLAIN(r, "move_mount(2)", "move_mount(%d, \"\", AT_FDCWD, \"%s\", MOVE_MOUNT_F_EMPTY_PATH)", tree,
	        cfg->root_path);
	if (r < 0)
		return isola_err(err, errno, "bind root.path %s onto itself", cfg->root_path);
	if (prop & MS_SHARED) {
		struct mount_attr a = {.propagation = MS_SHARED};
		r = mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a);
		EXPLAIN(r, "mount_setattr(2)",
		        "mount_setattr(%d <rootfs>, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {propagation=MS_SHARED})", tree);
		if (r < 0)
			return isola_err(err, errno, "make rootfs shared");
	}
	_cleanup_close_ int rootfd = open(cfg->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	EXPLAIN(rootfd, "open(2)", "open(\"%s\", O_PATH|O_DIRECTORY|O_CLOEXEC)", cfg->root_path);
	if (rootfd < 0)
		return isola_err(err, errno, "open root.path %s", cfg->root_path);

	bool dev_mounted = false;
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		if (mount_entry(rootfd, &cfg->mounts[i], in_userns, err) < 0)
			return isola_err_wrap(err, "mounts[%zu]", i);
		dev_mounted |= strcmp(cfg->mounts[i].destination, "/dev") == 0;
	}
	/* Populate /dev only when it is ours (a tmpfs from the config); an image's own /dev is left alone
	 * unless it lacks the default nodes, which dev_setup then adds. */
	(void)dev_mounted;
	if (dev_setup(rootfd, cfg, in_userns, devs, err) < 0)
		return -1;
	return steal_fd(&rootfd);
}

int rootfs_mask(int rootfd, const struct rt_config *cfg, struct devnull_src *devnull, isola_error *err)
{
	for (char **p = cfg->masked_paths; p && *p; p++)
		if (mount_mask_path(rootfd, *p, devnull, err) < 0)
			return isola_err_wrap(err, "linux.maskedPaths[%td]", p - cfg->masked_paths);
	for (char **p = cfg->readonly_paths; p && *p; p++)
		if (mount_readonly_path(rootfd, *p, err) < 0)
			return isola_err_wrap(err, "linux.readonlyPaths[%td]", p - cfg->readonly_paths);
	return 0;
}

int rootfs_pivot(int rootfd, const struct rt_config *cfg, bool no_pivot, isola_error *err)
{
	int r = fchdir(rootfd);
	EXPLAIN(r, "fchdir(2)", "fchdir(%d <%s>)", rootfd, cfg->root_path);
	if (r < 0)
		return isola_err(err, errno, "chdir %s", cfg->root_path);
	if (no_pivot) {
		r = mount(".", "/", NULL, MS_MOVE, NULL);
		EXPLAIN(r, "mount(2)", "mount(\".\", \"/\", NULL, MS_MOVE)");
		if (r < 0)
			return isola_err(err, errno, "move rootfs to /");
		r = chroot(".");
		EXPLAIN(r, "chroot(2)", "chroot(\".\")");
		if (r < 0)
			return isola_err(err, errno, "chroot");
	} else {
		/* pivot_root(".", "."): new root and put_old are the same directory, so the old root is stacked
		 * under the new one and detached right after — no directory for it needed in the image. */
		r = (int)syscall(SYS_pivot_root, ".", ".");
		EXPLAIN(r, "pivot_root(2)", "pivot_root(\".\", \".\")");
		if (r < 0)
			return isola_err(err, errno, "pivot_root to %s", cfg->root_path);
		r = umount2(".", MNT_DETACH);
		EXPLAIN(r, "umount(2)", "umount2(\".\", MNT_DETACH)  /* the old root */");
		if (r < 0)
			return isola_err(err, errno, "detach the old root");
	}
	r = chdir("/");
	EXPLAIN(r, "chdir(2)", "chdir(\"/\")");
	if (r < 0)
		return isola_err(err, errno, "chdir /");
	if (cfg->root_readonly) {
		struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
		r = mount_setattr(AT_FDCWD, "/", 0, &a, sizeof a);
		EXPLAIN(r, "mount_setattr(2)", "mount_setattr(AT_FDCWD, \"/\", 0, {attr_set=MOUNT_ATTR_RDONLY})");
		if (r < 0)
			return isola_err(err, errno, "make / read-only");
	}
	return 0;
}
