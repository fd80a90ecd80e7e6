#include "storage.h"
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "fsutil.h"
#include "paths.h"
#include "util.h"

extern char **environ;

bool storage_btrfs_usable(char *reason, size_t len)
{
	_cleanup_free_ char *fs = NULL;
	isola_error e;
	if (read_file_at(AT_FDCWD, "/proc/filesystems", &fs, NULL, &e) == 0 && strstr(fs, "\tbtrfs\n"))
		goto tools;
	/* not loaded: the module may still be there; a mount attempt would autoload it (request_module) */
	if (access("/sbin/modprobe", X_OK) == 0 && system("/sbin/modprobe -q btrfs 2>/dev/null") == 0 &&
	    read_file_at(AT_FDCWD, "/proc/filesystems", &fs, NULL, &e) == 0 && strstr(fs, "\tbtrfs\n"))
		goto tools;
	snprintf(reason, len, "the kernel has no btrfs (not in /proc/filesystems, modprobe btrfs failed)");
	return false;
tools:
	if (access("/sbin/mkfs.btrfs", X_OK) && access("/usr/sbin/mkfs.btrfs", X_OK) &&
	    access("/usr/bin/mkfs.btrfs", X_OK)) {
		snprintf(reason, len, "mkfs.btrfs not found (install btrfs-progs)");
		return false;
	}
	return true;
}

static int mkdirs(const char *path, mode_t mode, isola_error *err)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return isola_err(err, errno, "mkdir %s", buf);
			*p = '/';
		}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", buf);
	return 0;
}

static int run_tool(char *const argv[], isola_error *err)
{
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return isola_err(err, r, "run %s", argv[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return isola_err(err, errno, "wait %s", argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return isola_err(err, EIO, "%s failed (status %d)", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

/* Attach file to a free loop device with autoclear and return the device's fd (its path in dev). Autoclear
 * detaches the device at its last close, so the caller keeps the fd open until the mount holds the device
 * (loop(4): LOOP_CTL_GET_FREE, then LOOP_CONFIGURE (5.8+)). */
static int loop_attach(const char *file, char *dev, size_t len, isola_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return isola_err(err, errno, "open /dev/loop-control");
	_cleanup_close_ int ffd = open(file, O_RDWR | O_CLOEXEC);
	if (ffd < 0)
		return isola_err(err, errno, "open %s", file);
	for (int tries = 0; tries < 8; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		EXPLAIN(n, "loop(4)", "ioctl(/dev/loop-control, LOOP_CTL_GET_FREE)");
		if (n < 0)
			return isola_err(err, errno, "LOOP_CTL_GET_FREE");
		snprintf(dev, len, "/dev/loop%d", n);
		_cleanup_close_ int lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			return isola_err(err, errno, "open %s", dev);
		struct loop_config cfg = {.fd = (unsigned)ffd, .info = {.lo_flags = LO_FLAGS_AUTOCLEAR}};
		snprintf((char *)cfg.info.lo_file_name, LO_NAME_SIZE, "%s", file);
		int r = ioctl(lfd, LOOP_CONFIGURE, &cfg);
		EXPLAIN(r, "loop(4)", "ioctl(%s, LOOP_CONFIGURE, %s, LO_FLAGS_AUTOCLEAR)", dev, file);
		if (r == 0)
			return steal_fd(&lfd);
		if (errno != EBUSY) /* raced with another user of the same free device: take the next one */
			return isola_err(err, errno, "LOOP_CONFIGURE %s", dev);
	}
	return isola_err(err, EBUSY, "no free loop device for %s", file);
}

static bool is_btrfs_mount(const char *dir)
{
	struct statfs sf;
	return statfs(dir, &sf) == 0 && sf.f_type == BTRFS_SUPER_MAGIC;
}

int storage_pool_mount(const struct pool_rec *pool, char *dir, size_t len, isola_error *err)
{
	isola_path(dir, len, "storage-pools/%s", pool->name);
	if (strcmp(pool->driver, "btrfs"))
		return mkdirs(dir, 0711, err);
	if (is_btrfs_mount(dir))
		return 0;
	if (mkdirs(dir, 0711, err) < 0)
		return -1;
	char dev[64];
	_cleanup_close_ int lfd = loop_attach(pool->source, dev, sizeof dev, err);
	if (lfd < 0)
		return isola_err_wrap(err, "storage pool %s", pool->name);
	int r = mount(dev, dir, "btrfs", MS_NOATIME, "user_subvol_rm_allowed");
	EXPLAIN(r, "mount(2)", "mount(%s, %s, \"btrfs\", MS_NOATIME)", dev, dir);
	if (r < 0) {
		isola_err(err, errno, "storage pool %s: mount %s on %s", pool->name, dev, dir);
		/* the autoclear loop device detaches when lfd closes: nothing to undo */
		return -1;
	}
	return 0;
}

int storage_pool_create(const char *name, const char *driver, uint64_t size, struct pool_rec *out, isola_error *err)
{
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", name);
	snprintf(out->driver, sizeof out->driver, "%s", driver);
	out->config = json_object();
	char dir[4096];
	if (!strcmp(driver, "dir")) {
		isola_path(out->source, sizeof out->source, "storage-pools/%s", name);
		if (storage_pool_mount(out, dir, sizeof dir, err) < 0)
			return -1;
	} else if (!strcmp(driver, "btrfs")) {
		char why[256];
		if (!storage_btrfs_usable(why, sizeof why))
			return isola_err(err, ENOTSUP, "storage pool %s: btrfs unusable: %s", name, why);
		char disks[4096];
		isola_path(disks, sizeof disks, "disks");
		if (mkdirs(disks, 0700, err) < 0)
			return -1;
		isola_path(out->source, sizeof out->source, "disks/%s.img", name);
		_cleanup_close_ int fd = open(out->source, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return isola_err(err, errno, "create %s", out->source);
		if (ftruncate(fd, (off_t)(size ? size : 10ULL << 30)) < 0)
			return isola_err(err, errno, "size %s", out->source);
		char sz[32];
		snprintf(sz, sizeof sz, "%llu", (unsigned long long)(size ? size : 10ULL << 30));
		json_object_set_new(out->config, "size", json_string(sz));
		char *argv[] = {"mkfs.btrfs", "-q", "-f", out->source, NULL};
		if (run_tool(argv, err) < 0 || storage_pool_mount(out, dir, sizeof dir, err) < 0) {
			unlink(out->source);
			return isola_err_wrap(err, "storage pool %s", name);
		}
	} else {
		return isola_err(err, EINVAL, "storage driver \"%s\" not supported (dir, btrfs)", driver);
	}
	for (const char *const *sub =
	         (const char *const[]){"containers", "virtual-machines", "snapshots", "images", NULL};
	     *sub; sub++) {
		char p[4200];
		snprintf(p, sizeof p, "%s/%s", dir, *sub);
		if (mkdirs(p, 0711, err) < 0)
			return -1;
	}
	return 0;
}

int storage_pool_destroy(const struct pool_rec *pool, isola_error *err)
{
	char dir[4096];
	isola_path(dir, sizeof dir, "storage-pools/%s", pool->name);
	if (!strcmp(pool->driver, "btrfs")) {
		if (is_btrfs_mount(dir) && umount2(dir, MNT_DETACH) < 0)
			return isola_err(err, errno, "umount %s", dir);
		unlink(pool->source);
		rmdir(dir);
		return 0;
	}
	return tree_remove(dir, err);
}

/* ---- btrfs subvolumes (ioctls from linux/btrfs.h; btrfs-progs does the same) ---- */

static int split_parent(const char *path, char *parent, size_t len, const char **name)
{
	snprintf(parent, len, "%s", path);
	char *s = strrchr(parent, '/');
	if (!s)
		return -1;
	*s = 0;
	*name = path + (s - parent) + 1;
	return 0;
}

static int subvol_create(const char *path, isola_error *err)
{
	char parent[4096];
	const char *name;
	if (split_parent(path, parent, sizeof parent, &name) < 0)
		return isola_err(err, EINVAL, "subvolume %s", path);
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return isola_err(err, errno, "open %s", parent);
	struct btrfs_ioctl_vol_args a = {0};
	snprintf(a.name, sizeof a.name, "%s", name);
	int r = ioctl(pfd, BTRFS_IOC_SUBVOL_CREATE, &a);
	EXPLAIN(r, "ioctl_btrfs", "ioctl(%s, BTRFS_IOC_SUBVOL_CREATE, \"%s\")", parent, name);
	if (r < 0)
		return isola_err(err, errno, "create subvolume %s", path);
	return 0;
}

static int subvol_snapshot(const char *src, const char *dst, bool readonly, isola_error *err)
{
	char parent[4096];
	const char *name;
	if (split_parent(dst, parent, sizeof parent, &name) < 0)
		return isola_err(err, EINVAL, "snapshot %s", dst);
	_cleanup_close_ int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return isola_err(err, errno, "open %s", src);
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return isola_err(err, errno, "open %s", parent);
	struct btrfs_ioctl_vol_args_v2 a = {.fd = sfd, .flags = readonly ? BTRFS_SUBVOL_RDONLY : 0};
	snprintf(a.name, sizeof a.name, "%s", name);
	int r = ioctl(pfd, BTRFS_IOC_SNAP_CREATE_V2, &a);
	EXPLAIN(r, "ioctl_btrfs", "ioctl(%s, BTRFS_IOC_SNAP_CREATE_V2, %s → \"%s\"%s)", parent, src, name,
	        readonly ? ", BTRFS_SUBVOL_RDONLY" : "");
	if (r < 0)
		return isola_err(err, errno, "snapshot %s to %s", src, dst);
	return 0;
}

static int subvol_delete(const char *path, isola_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : isola_err(err, errno, "stat %s", path);
	char parent[4096];
	const char *name;
	if (split_parent(path, parent, sizeof parent, &name) < 0)
		return isola_err(err, EINVAL, "subvolume %s", path);
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return isola_err(err, errno, "open %s", parent);
	struct btrfs_ioctl_vol_args a = {0};
	snprintf(a.name, sizeof a.name, "%s", name);
	int r = ioctl(pfd, BTRFS_IOC_SNAP_DESTROY, &a);
	EXPLAIN(r, "ioctl_btrfs", "ioctl(%s, BTRFS_IOC_SNAP_DESTROY, \"%s\")", parent, name);
	if (r < 0)
		return isola_err(err, errno, "delete subvolume %s", path);
	return 0;
}

/* ---- volumes ---- */

static void vol_path(const struct pool_rec *pool, char *out, size_t len, const char *name, enum instance_type t)
{
	isola_path(out, len, "storage-pools/%s/%s/%s", pool->name, t == INSTANCE_VM ? "virtual-machines" : "containers",
	           name);
}

static int btrfs_image_subvol(const char *pooldir, const char *image_path, const char *fp, char *out, size_t len,
                              isola_error *err)
{
	snprintf(out, len, "%s/images/%s", pooldir, fp);
	struct stat st;
	if (stat(out, &st) == 0)
		return 0;
	/* build under a temporary name and rename: a concurrent launch of the same image never sees half */
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s/images/.%s.%d", pooldir, fp, getpid());
	if (subvol_create(tmp, err) < 0)
		return -1;
	struct copy_stats cs;
	if (tree_copy_contents(image_path, tmp, &cs, err) < 0) {
		isola_error e2;
		subvol_delete(tmp, &e2);
		return isola_err_wrap(err, "unpack image %s into the pool", fp);
	}
	if (rename(tmp, out) < 0) {
		isola_error e2;
		subvol_delete(tmp, &e2);
		if (errno != EEXIST && errno != ENOTEMPTY)
			return isola_err(err, errno, "rename %s", tmp);
	}
	return 0;
}

int storage_volume_create(const struct pool_rec *pool, const char *name, enum instance_type type,
                          const char *image_path, const char *fingerprint, isola_error *err)
{
	char pooldir[4096], vol[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	vol_path(pool, vol, sizeof vol, name, type);
	if (type == INSTANCE_VM) {
		if (mkdirs(vol, 0700, err) < 0)
			return -1;
		char disk[4200];
		snprintf(disk, sizeof disk, "%s/root.img", vol);
		bool ref;
		if (file_clone(image_path, disk, &ref, err) < 0)
			return isola_err_wrap(err, "instance %s disk", name);
		return 0;
	}
	if (!strcmp(pool->driver, "btrfs")) {
		char img[4200];
		if (btrfs_image_subvol(pooldir, image_path, fingerprint, img, sizeof img, err) < 0)
			return -1;
		return subvol_snapshot(img, vol, false, err);
	}
	if (mkdir(vol, 0700) < 0)
		return isola_err(err, errno, "mkdir %s", vol);
	for (const char *const *sub = (const char *const[]){"upper", "work", "lower", NULL}; *sub; sub++) {
		char p[4200];
		snprintf(p, sizeof p, "%s/%s", vol, *sub);
		if (mkdir(p, 0755) < 0)
			return isola_err(err, errno, "mkdir %s", p);
	}
	return 0;
}

int storage_volume_delete(const struct pool_rec *pool, const char *name, enum instance_type type, isola_error *err)
{
	char pooldir[4096], vol[4096], snaps[4200];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	vol_path(pool, vol, sizeof vol, name, type);
	snprintf(snaps, sizeof snaps, "%s/snapshots/%s", pooldir, name);
	if (!strcmp(pool->driver, "btrfs") && type == INSTANCE_CONTAINER) {
		/* snapshots first: each is its own subvolume */
		_cleanup_closedir_ DIR *d = opendir(snaps);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.') {
				char p[4400];
				snprintf(p, sizeof p, "%s/%s", snaps, e->d_name);
				if (subvol_delete(p, err) < 0)
					return -1;
			}
		rmdir(snaps);
		return subvol_delete(vol, err);
	}
	if (tree_remove(snaps, err) < 0)
		return -1;
	return tree_remove(vol, err);
}

int storage_volume_rename(const struct pool_rec *pool, const char *from, const char *to, enum instance_type type,
                          isola_error *err)
{
	char pooldir[4096], a[4096], b[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	vol_path(pool, a, sizeof a, from, type);
	vol_path(pool, b, sizeof b, to, type);
	if (rename(a, b) < 0)
		return isola_err(err, errno, "rename %s to %s", a, b);
	return storage_snapshots_rename(pool, from, to, err);
}

int storage_snapshots_rename(const struct pool_rec *pool, const char *from, const char *to, isola_error *err)
{
	char a[4096], b[4096];
	isola_path(a, sizeof a, "storage-pools/%s/snapshots/%s", pool->name, from);
	isola_path(b, sizeof b, "storage-pools/%s/snapshots/%s", pool->name, to);
	if (rename(a, b) < 0 && errno != ENOENT)
		return isola_err(err, errno, "rename %s to %s", a, b);
	return 0;
}

int storage_volume_copy(const struct pool_rec *pool, const char *from, const char *to, enum instance_type type,
                        uint32_t from_base, uint32_t to_base, isola_error *err)
{
	char pooldir[4096], a[4096], b[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	vol_path(pool, a, sizeof a, from, type);
	vol_path(pool, b, sizeof b, to, type);
	if (type == INSTANCE_VM) {
		if (mkdirs(b, 0700, err) < 0)
			return -1;
		char sa[4200], sb[4200];
		snprintf(sa, sizeof sa, "%s/root.img", a);
		snprintf(sb, sizeof sb, "%s/root.img", b);
		return file_clone(sa, sb, NULL, err);
	}
	if (!strcmp(pool->driver, "btrfs"))
		return subvol_snapshot(a, b, false, err);
	/* btrfs keeps on-disk ids 0-based (the instance sees them through an idmapped mount); a dir pool's
	 * upper layer holds host ids of the source's range */
	struct id_shift sh = {from_base, to_base, 65536};
	if (tree_copy_shifted(a, b, from_base != to_base ? &sh : NULL, NULL, err) < 0)
		return -1;
	/* work/ belongs to one overlay mount; the copy starts with an empty one */
	char w[4200];
	snprintf(w, sizeof w, "%s/work", b);
	if (tree_remove(w, err) < 0 || mkdir(w, 0755) < 0)
		return isola_err(err, errno, "reset %s", w);
	return 0;
}

int storage_vm_disk(const struct pool_rec *pool, const char *name, char *out, size_t len, isola_error *err)
{
	char pooldir[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	isola_path(out, len, "storage-pools/%s/virtual-machines/%s/root.img", pool->name, name);
	return 0;
}

int storage_volume_usage(const struct pool_rec *pool, const char *name, enum instance_type type, uint64_t *bytes,
                         isola_error *err)
{
	char vol[4096], p[4200];
	vol_path(pool, vol, sizeof vol, name, type);
	if (type == INSTANCE_CONTAINER && !strcmp(pool->driver, "dir")) {
		snprintf(p, sizeof p, "%s/upper", vol);
		return tree_usage(p, bytes, err);
	}
	return tree_usage(vol, bytes, err);
}

/* ---- id-mapped mounts ---- */

int userns_fd_for_range(uint32_t base, uint32_t size, isola_error *err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return isola_err(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0)
		return isola_err(err, errno, "fork");
	if (pid == 0) {
		/* the child only holds the namespace open until the parent has opened it */
		char c;
		close(pipefd[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	char path[64], map[64];
	int fd = -1;
	snprintf(map, sizeof map, "0 %u %u\n", base, size);
	/* wait until the child is in its namespace (its ns/user differs from ours) */
	struct stat self, child;
	stat("/proc/self/ns/user", &self);
	snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
	for (int i = 0; i < 5000; i++) {
		if (stat(path, &child) == 0 && child.st_ino != self.st_ino)
			break;
		usleep(200);
	}
	snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
	int r1 = write_file_at(AT_FDCWD, path, map, strlen(map), false, err);
	snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
	int r2 = r1 < 0 ? -1 : write_file_at(AT_FDCWD, path, map, strlen(map), false, err);
	if (r2 == 0) {
		snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			isola_err(err, errno, "open %s", path);
	}
	close(pipefd[1]);
	waitpid(pid, NULL, 0);
	if (fd >= 0)
		EXPLAIN(fd, "user_namespaces(7)", "userns with uid_map/gid_map \"0 %u %u\" = fd %d", base, size, fd);
	return fd;
}

/* Clone the tree at src and attach it at dst, id-mapped when uid_base != 0:
 * open_tree(OPEN_TREE_CLONE) → mount_setattr(MOUNT_ATTR_IDMAP) → move_mount (mount_setattr(2)). */
static int bind_idmapped(const char *src, const char *dst, uint32_t uid_base, bool rdonly, isola_error *err)
{
	_cleanup_close_ int tfd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	EXPLAIN(tfd, "open_tree(2)", "open_tree(%s, OPEN_TREE_CLONE)", src);
	if (tfd < 0)
		return isola_err(err, errno, "open_tree %s", src);
	if (uid_base || rdonly) {
		_cleanup_close_ int ns = -1;
		struct mount_attr attr = {0};
		if (uid_base) {
			ns = userns_fd_for_range(uid_base, 65536, err);
			if (ns < 0)
				return -1;
			attr.attr_set |= MOUNT_ATTR_IDMAP;
			attr.userns_fd = (uint64_t)ns;
		}
		if (rdonly)
			attr.attr_set |= MOUNT_ATTR_RDONLY;
		int r = mount_setattr(tfd, "", AT_EMPTY_PATH, &attr, sizeof attr);
		EXPLAIN(r, "mount_setattr(2)", "mount_setattr(%s, MOUNT_ATTR_IDMAP → %u)", src, uid_base);
		if (r < 0)
			return isola_err(err, errno,
			                 "id-map the mount of %s (the filesystem must support idmapped mounts; or set "
			                 "security.privileged=true)",
			                 src);
	}
	int r = move_mount(tfd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH);
	EXPLAIN(r, "move_mount(2)", "move_mount(%s → %s)", src, dst);
	if (r < 0)
		return isola_err(err, errno, "move_mount %s to %s", src, dst);
	return 0;
}

static bool is_mountpoint(const char *path)
{
	struct stat a, b;
	char parent[4200];
	snprintf(parent, sizeof parent, "%s/..", path);
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return false;
	if (a.st_dev != b.st_dev)
		return true;
	/* same device: a bind mount of the same filesystem; compare mount ids */
	struct statx sa, sb;
	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &sa) < 0 || statx(AT_FDCWD, parent, 0, STATX_MNT_ID, &sb) < 0)
		return false;
	return sa.stx_mnt_id != sb.stx_mnt_id;
}

int storage_rootfs_mount(const struct pool_rec *pool, const char *name, const char *lower, uint32_t uid_base,
                         char *rootfs, size_t len, isola_error *err)
{
	char pooldir[4096], vol[4096], idir[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	vol_path(pool, vol, sizeof vol, name, INSTANCE_CONTAINER);
	isola_path(idir, sizeof idir, "instances/%s", name);
	if (mkdirs(idir, 0711, err) < 0)
		return -1;
	snprintf(rootfs, len, "%s/rootfs", idir);
	if (mkdir(rootfs, 0755) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", rootfs);
	if (is_mountpoint(rootfs))
		return 0;
	if (!strcmp(pool->driver, "btrfs"))
		return bind_idmapped(vol, rootfs, uid_base, false, err);
	char low[4200], up[4200], work[4200];
	snprintf(low, sizeof low, "%s/lower", vol);
	snprintf(up, sizeof up, "%s/upper", vol);
	snprintf(work, sizeof work, "%s/work", vol);
	if (!lower)
		return isola_err(err, EINVAL, "instance %s: no image layer for the overlay", name);
	if (!is_mountpoint(low) && bind_idmapped(lower, low, uid_base, true, err) < 0)
		return -1;
	/* the overlay root takes its owner from upper's root directory */
	if (chown(up, uid_base, uid_base) < 0)
		return isola_err(err, errno, "chown %s", up);
	char opts[13000];
	/* userxattr is not needed: we mount as real root; index=off,metacopy=off: plain, portable overlay */
	snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", low, up, work);
	int r = mount("overlay", rootfs, "overlay", 0, opts);
	EXPLAIN(r, "mount(2)", "mount(overlay, %s, \"overlay\", \"%s\")", rootfs, opts);
	if (r < 0) {
		int e = errno;
		umount2(low, MNT_DETACH);
		return isola_err(err, e, "mount overlay on %s", rootfs);
	}
	return 0;
}

int storage_rootfs_unmount(const struct pool_rec *pool, const char *name, isola_error *err)
{
	char rootfs[4096], low[4096];
	isola_path(rootfs, sizeof rootfs, "instances/%s/rootfs", name);
	isola_path(low, sizeof low, "storage-pools/%s/containers/%s/lower", pool->name, name);
	const char *paths[] = {rootfs, low};
	for (size_t i = 0; i < 2; i++)
		while (is_mountpoint(paths[i])) {
			int r = umount2(paths[i], MNT_DETACH);
			EXPLAIN(r, "umount(2)", "umount2(%s, MNT_DETACH)", paths[i]);
			if (r < 0)
				return isola_err(err, errno, "umount %s", paths[i]);
		}
	return 0;
}

/* ---- snapshots ---- */

static void snap_path(const struct pool_rec *pool, char *out, size_t len, const char *name, const char *snap)
{
	isola_path(out, len, "storage-pools/%s/snapshots/%s/%s", pool->name, name, snap);
}

int storage_snapshot_create(const struct pool_rec *pool, const char *name, enum instance_type type, const char *snap,
                            isola_error *err)
{
	char pooldir[4096], vol[4096], dst[4096], dir[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	vol_path(pool, vol, sizeof vol, name, type);
	snap_path(pool, dst, sizeof dst, name, snap);
	isola_path(dir, sizeof dir, "storage-pools/%s/snapshots/%s", pool->name, name);
	if (mkdirs(dir, 0700, err) < 0)
		return -1;
	if (type == INSTANCE_VM) {
		if (mkdir(dst, 0700) < 0)
			return isola_err(err, errno, "mkdir %s", dst);
		char a[4200], b[4200];
		snprintf(a, sizeof a, "%s/root.img", vol);
		snprintf(b, sizeof b, "%s/root.img", dst);
		return file_clone(a, b, NULL, err);
	}
	if (!strcmp(pool->driver, "btrfs"))
		return subvol_snapshot(vol, dst, true, err);
	if (mkdir(dst, 0700) < 0)
		return isola_err(err, errno, "mkdir %s", dst);
	char up[4200], sup[4200];
	snprintf(up, sizeof up, "%s/upper", vol);
	snprintf(sup, sizeof sup, "%s/upper", dst);
	if (tree_copy(up, sup, NULL, err) < 0) {
		isola_error e2;
		tree_remove(dst, &e2);
		return -1;
	}
	return 0;
}

int storage_snapshot_restore(const struct pool_rec *pool, const char *name, enum instance_type type, const char *snap,
                             isola_error *err)
{
	char pooldir[4096], vol[4096], src[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	vol_path(pool, vol, sizeof vol, name, type);
	snap_path(pool, src, sizeof src, name, snap);
	struct stat st;
	if (stat(src, &st) < 0)
		return isola_err(err, errno, "snapshot %s of %s", snap, name);
	if (type == INSTANCE_VM) {
		char a[4200], b[4200], tmp[4200];
		snprintf(a, sizeof a, "%s/root.img", src);
		snprintf(b, sizeof b, "%s/root.img", vol);
		snprintf(tmp, sizeof tmp, "%s/.root.img.restore", vol);
		unlink(tmp);
		if (file_clone(a, tmp, NULL, err) < 0)
			return -1;
		if (rename(tmp, b) < 0)
			return isola_err(err, errno, "rename %s", tmp);
		return 0;
	}
	if (!strcmp(pool->driver, "btrfs")) {
		/* new subvolume from the snapshot first, then swap: a failure leaves the old one intact */
		char tmp[4200];
		snprintf(tmp, sizeof tmp, "%s.restore", vol);
		isola_error e2;
		subvol_delete(tmp, &e2);
		if (subvol_snapshot(src, tmp, false, err) < 0)
			return -1;
		if (subvol_delete(vol, err) < 0)
			return -1;
		if (rename(tmp, vol) < 0)
			return isola_err(err, errno, "rename %s", tmp);
		return 0;
	}
	char up[4200], sup[4200], tmp[4200], old[4200], work[4200];
	snprintf(up, sizeof up, "%s/upper", vol);
	snprintf(sup, sizeof sup, "%s/upper", src);
	snprintf(tmp, sizeof tmp, "%s/upper.restore", vol);
	snprintf(old, sizeof old, "%s/upper.old", vol);
	snprintf(work, sizeof work, "%s/work", vol);
	if (tree_remove(tmp, err) < 0 || tree_remove(old, err) < 0)
		return -1;
	if (tree_copy(sup, tmp, NULL, err) < 0)
		return -1;
	if (rename(up, old) < 0 || rename(tmp, up) < 0)
		return isola_err(err, errno, "swap %s", up);
	if (tree_remove(old, err) < 0 || tree_remove(work, err) < 0)
		return -1;
	if (mkdir(work, 0755) < 0)
		return isola_err(err, errno, "mkdir %s", work);
	return 0;
}

int storage_snapshot_delete(const struct pool_rec *pool, const char *name, enum instance_type type, const char *snap,
                            isola_error *err)
{
	char pooldir[4096], dst[4096];
	if (storage_pool_mount(pool, pooldir, sizeof pooldir, err) < 0)
		return -1;
	snap_path(pool, dst, sizeof dst, name, snap);
	if (type == INSTANCE_CONTAINER && !strcmp(pool->driver, "btrfs"))
		return subvol_delete(dst, err);
	return tree_remove(dst, err);
}
