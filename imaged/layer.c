#include "layer.h"
#include "child.h"
#include "cleanup.h"
#include "explain.h"
#include "json.h"
#include "log.h"
#include "logerr.h"
#include <fcntl.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct explain_flag mount_attr_table[] = {
    EXPLAIN_FLAG(MOUNT_ATTR_RDONLY),
    EXPLAIN_FLAG(MOUNT_ATTR_NOSUID),
    EXPLAIN_FLAG(MOUNT_ATTR_NODEV),
    EXPLAIN_FLAG(MOUNT_ATTR_NOEXEC),
    {0, NULL},
};
static const struct explain_flag lo_flags_table[] = {
    EXPLAIN_FLAG(LO_FLAGS_READ_ONLY),
    EXPLAIN_FLAG(LO_FLAGS_AUTOCLEAR),
    EXPLAIN_FLAG(LO_FLAGS_DIRECT_IO),
    {0, NULL},
};

static char *layer_path(struct store *s, const char *fp, const char *rootfs_format)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s/%s", s->root, fp, strcmp(rootfs_format, "disk") == 0 ? "disk.raw" : "tree/rootfs") < 0)
		return NULL;
	return p;
}

/* A mount's root? statx(2) STATX_ATTR_MOUNT_ROOT (Linux 5.8) answers without parsing mountinfo. */
static bool is_mount_root(const char *path)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Attach file read-only to a free loop device; returns the loop device's fd, name in dev. */
static int loop_attach(const char *file, char dev[32], isola_error *err)
{
	_cleanup_close_ int bfd = open(file, O_RDONLY | O_CLOEXEC);
	if (bfd < 0)
		return isola_err(err, errno, "open %s", file);
	/* loop(4): /dev/loop-control hands out the number of a free device (creating one if needed) */
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	EXPLAIN(ctl, "open(2), loop(4)", "open(\"/dev/loop-control\", O_RDWR|O_CLOEXEC)");
	if (ctl < 0)
		return isola_err(err, errno, "open /dev/loop-control");
	for (int attempt = 0; attempt < 16; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		EXPLAIN(n, "loop(4)", "ioctl(/dev/loop-control, LOOP_CTL_GET_FREE)");
		if (n < 0)
			return isola_err(err, errno, "LOOP_CTL_GET_FREE");
		snprintf(dev, 32, "/dev/loop%d", n);
		_cleanup_close_ int lfd = open(dev, O_RDONLY | O_CLOEXEC);
		EXPLAIN(lfd, "open(2)", "open(\"%s\", O_RDONLY|O_CLOEXEC)", dev);
		if (lfd < 0)
			return isola_err(err, errno, "open %s", dev);
		/* LOOP_CONFIGURE (Linux 5.8) binds the backing file and sets the flags in one ioctl, where
		 * LOOP_SET_FD + LOOP_SET_STATUS64 left a window with a writable, non-autoclear device.
		 * READ_ONLY: the image file is never written. AUTOCLEAR: the device detaches itself when the
		 * last user (our mount) goes, so nothing leaks when we close lfd. */
		struct loop_config cfg = {.fd = (unsigned)bfd, .block_size = 0};
		cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, LO_NAME_SIZE, "%s", file);
		int r = ioctl(lfd, LOOP_CONFIGURE, &cfg);
		EXPLAIN(r, "loop(4)", "ioctl(%s, LOOP_CONFIGURE, {fd=%s, lo_flags=%s})", dev, file,
		        explain_flags(cfg.info.lo_flags, lo_flags_table));
		if (r == 0)
			return steal_fd(&lfd);
		if (errno != EBUSY) /* EBUSY: another process took this device between GET_FREE and CONFIGURE */
			return isola_err(err, errno, "LOOP_CONFIGURE %s with %s", dev, file);
	}
	return isola_err(err, EBUSY, "no free loop device for %s", file);
}

static int mount_squashfs_kernel(const char *file, const char *target, bool privileged, isola_error *err)
{
	char dev[32];
	_cleanup_close_ int lfd = loop_attach(file, dev, err);
	if (lfd < 0)
		return -1;
	/* The new mount API (fsopen(2) …): a filesystem context is created, configured, turned into a
	 * detached mount and only then attached, so a half-configured mount is never visible. */
	_cleanup_close_ int fsfd = fsopen("squashfs", FSOPEN_CLOEXEC);
	EXPLAIN(fsfd, "fsopen(2)", "fsopen(\"squashfs\", FSOPEN_CLOEXEC)");
	if (fsfd < 0)
		return isola_err(err, errno, "fsopen squashfs");
	int r = fsconfig(fsfd, FSCONFIG_SET_STRING, "source", dev, 0);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(FSCONFIG_SET_STRING, \"source\", \"%s\")", dev);
	if (r < 0)
		return isola_err(err, errno, "fsconfig source %s", dev);
	r = fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(FSCONFIG_SET_FLAG, \"ro\")");
	if (r < 0)
		return isola_err(err, errno, "fsconfig ro");
	r = fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	EXPLAIN(r, "fsconfig(2)", "fsconfig(FSCONFIG_CMD_CREATE)  /* reads the squashfs superblock of %s */", dev);
	if (r < 0)
		return isola_err(err, errno, "mount squashfs %s (%s): bad or unsupported squashfs image", file, dev);
	/* nodev unless privileged: device nodes an image carries must not work from the shared layer */
	unsigned attrs = MOUNT_ATTR_RDONLY | (privileged ? 0 : MOUNT_ATTR_NODEV);
	_cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	EXPLAIN(mfd, "fsmount(2)", "fsmount(fsfd, FSMOUNT_CLOEXEC, %s)", explain_flags(attrs, mount_attr_table));
	if (mfd < 0)
		return isola_err(err, errno, "fsmount %s", dev);
	r = move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
	EXPLAIN(r, "move_mount(2)", "move_mount(mfd, \"\", AT_FDCWD, \"%s\", MOVE_MOUNT_F_EMPTY_PATH)", target);
	if (r < 0)
		return isola_err(err, errno, "attach squashfs on %s", target);
	/* closing lfd now is what arms AUTOCLEAR: the mount is the device's only user from here on */
	return 0;
}

static int mount_squashfuse(const char *file, const char *target, isola_error *err)
{
	/* allow_other when root: the instances' (id-mapped) users must be able to read the layer */
	char *argv[] = {"squashfuse", "-o",           geteuid() == 0 ? "ro,allow_other" : "ro",
	                (char *)file, (char *)target, NULL};
	if (run_tool(argv, NULL, err) < 0)
		return isola_err_wrap(err, "squashfuse %s on %s", file, target);
	EXPLAIN(0, "fuse(4)", "squashfuse -o ro %s %s", file, target);
	return 0;
}

static int bind_readonly(const char *path, bool privileged, isola_error *err)
{
	/* open_tree(2) OPEN_TREE_CLONE: a detached copy of the tree's mount, which we can make read-only
	 * with mount_setattr(2) before it becomes visible by move_mount(2) over the original path. */
	_cleanup_close_ int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	EXPLAIN(fd, "open_tree(2)", "open_tree(AT_FDCWD, \"%s\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC)", path);
	if (fd < 0)
		return isola_err(err, errno, "open_tree %s", path);
	struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | (privileged ? 0 : MOUNT_ATTR_NODEV)};
	int r = mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof a);
	EXPLAIN(r, "mount_setattr(2)", "mount_setattr(fd, \"\", AT_EMPTY_PATH, {attr_set=%s})",
	        explain_flags(a.attr_set, mount_attr_table));
	if (r < 0)
		return isola_err(err, errno, "make %s read-only", path);
	r = move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
	EXPLAIN(r, "move_mount(2)", "move_mount(fd, \"\", AT_FDCWD, \"%s\", MOVE_MOUNT_F_EMPTY_PATH)", path);
	if (r < 0)
		return isola_err(err, errno, "bind %s read-only", path);
	return 0;
}

static int layer_mount(struct store *s, const char *fp, json_t *img, const char *path, const char **how,
                       isola_error *err)
{
	const char *rf = json_string_value(json_object_get(img, "rootfs_format"));
	bool priv = json_is_true(json_object_get(img, "privileged"));
	if (strcmp(rf, "disk") == 0) {
		*how = "none";
		return 0;
	}
	if (strcmp(rf, "tree") == 0) {
		*how = "bind";
		return bind_readonly(path, priv, err);
	}
	/* squashfs: the rootfs file is the split image's second file */
	const char *name = json_string_value(json_object_get(json_array_get(json_object_get(img, "files"), 1), "name"));
	_cleanup_free_ char *file = NULL;
	if (!name || asprintf(&file, "%s/%s/%s", s->root, fp, name) < 0)
		return isola_err(err, EINVAL, "image %s: no squashfs file recorded", fp);
	if (geteuid() == 0 && !s->force_squashfuse) {
		*how = "kernel";
		return mount_squashfs_kernel(file, path, priv, err);
	}
	*how = "squashfuse";
	return mount_squashfuse(file, path, err);
}

static int layer_unmount(const char *path, const char *how, isola_error *err)
{
	if (strcmp(how, "none") == 0 || !is_mount_root(path))
		return 0;
	if (strcmp(how, "squashfuse") == 0 && geteuid() != 0) {
		char *argv[] = {"fusermount3", "-u", (char *)path, NULL};
		return run_tool(argv, NULL, err);
	}
	int r = umount2(path, UMOUNT_NOFOLLOW);
	EXPLAIN(r, "umount2(2)", "umount2(\"%s\", UMOUNT_NOFOLLOW)", path);
	if (r < 0 && errno == EBUSY) {
		/* someone still has a file open below it although no holder is registered: detach it from the
		 * tree now; the kernel frees it (and AUTOCLEAR the loop device) when the last user goes */
		r = umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH);
		EXPLAIN(r, "umount2(2)", "umount2(\"%s\", UMOUNT_NOFOLLOW|MNT_DETACH)", path);
	}
	if (r < 0)
		return isola_err(err, errno, "unmount %s", path);
	return 0;
}

static json_t *holder_index(json_t *holders, const char *holder, size_t *idx)
{
	size_t i;
	json_t *h;
	json_array_foreach(holders, i, h)
	{
		if (strcmp(json_string_value(h), holder) == 0) {
			*idx = i;
			return h;
		}
	}
	return NULL;
}

int layer_acquire(struct store *s, const char *ref, const char *holder, json_t **out, isola_error *err)
{
	const char *fp;
	if (store_resolve(s, ref, &fp, err) < 0)
		return -1;
	if (!holder || !*holder || strlen(holder) > 255)
		return isola_err(err, EINVAL, "layer.acquire: holder: a name of 1-255 bytes is required");
	json_t *img = json_object_get(s->images, fp);
	const char *rf = json_string_value(json_object_get(img, "rootfs_format"));
	_cleanup_free_ char *path = layer_path(s, fp, rf);
	json_t *l = json_object_get(s->layers, fp);
	if (!l) {
		l = json_pack("{s:[], s:s}", "holders", "mount", "none");
		json_object_set_new(s->layers, fp, l);
	}
	json_t *holders = json_object_get(l, "holders");
	size_t idx;
	bool had = holder_index(holders, holder, &idx) != NULL;
	bool mounted_now = false;
	if (strcmp(rf, "disk") != 0 && !is_mount_root(path)) {
		const char *how;
		if (layer_mount(s, fp, img, path, &how, err) < 0) {
			if (json_array_size(holders) == 0)
				json_object_del(s->layers, fp);
			return isola_err_wrap(err, "layer %.12s", fp);
		}
		json_object_set_new(l, "mount", json_string(how));
		mounted_now = true;
	}
	if (!had)
		json_array_append_new(holders, json_string(holder));
	if (store_save_layers(s, err) < 0) {
		if (!had)
			json_array_remove(holders, json_array_size(holders) - 1);
		if (mounted_now && json_array_size(holders) == 0) {
			isola_error e;
			layer_unmount(path, json_string_value(json_object_get(l, "mount")), &e);
			json_object_del(s->layers, fp);
		}
		return -1;
	}
	*out = json_pack("{s:s, s:O, s:s, s:s, s:b, s:I}", "fingerprint", fp, "type", json_object_get(img, "type"),
	                 "path", path, "rootfs_format", rf, "mounted", mounted_now, "holders",
	                 (json_int_t)json_array_size(holders));
	return 0;
}

int layer_release(struct store *s, const char *ref, const char *holder, json_t **out, isola_error *err)
{
	const char *fp;
	if (store_resolve(s, ref, &fp, err) < 0)
		return -1;
	json_t *l = json_object_get(s->layers, fp);
	json_t *holders = json_object_get(l, "holders");
	size_t idx;
	if (!holder || !holder_index(holders, holder, &idx))
		return isola_err(err, ENOENT, "layer %.12s: %s is not a holder", fp, holder ? holder : "(none)");
	json_array_remove(holders, idx);
	size_t left = json_array_size(holders);
	if (left == 0) {
		json_t *img = json_object_get(s->images, fp);
		_cleanup_free_ char *path = layer_path(s, fp, json_string_value(json_object_get(img, "rootfs_format")));
		if (layer_unmount(path, json_string_value(json_object_get(l, "mount")) ?: "bind", err) < 0) {
			json_array_append_new(holders, json_string(holder));
			return -1;
		}
		json_object_del(s->layers, fp);
	}
	if (store_save_layers(s, err) < 0)
		return -1;
	*out = json_pack("{s:s, s:I}", "fingerprint", fp, "holders", (json_int_t)left);
	return 0;
}

int layer_restore(struct store *s, isola_error *err)
{
	const char *fp;
	json_t *img;
	void *tmp;
	json_object_foreach_safe(s->layers, tmp, fp, img)
	{
		if (!json_object_get(s->images, fp) || json_array_size(json_object_get(img, "holders")) == 0)
			json_object_del(s->layers, fp);
	}
	json_object_foreach(s->images, fp, img)
	{
		const char *rf = json_string_value(json_object_get(img, "rootfs_format"));
		if (!rf || strcmp(rf, "disk") == 0)
			continue;
		_cleanup_free_ char *path = layer_path(s, fp, rf);
		json_t *l = json_object_get(s->layers, fp);
		bool mounted = is_mount_root(path);
		isola_error e;
		if (l && !mounted) {
			const char *how;
			if (layer_mount(s, fp, img, path, &how, &e) < 0)
				log_warn("layer %.12s: cannot re-mount for its holders: %s", fp, ERR_STR(&e));
			else
				json_object_set_new(l, "mount", json_string(how));
		} else if (!l && mounted) {
			/* mounted, but the holder was never recorded (crash between mount and save) */
			if (layer_unmount(path, "bind", &e) < 0)
				log_warn("layer %.12s: cannot unmount stale mount: %s", fp, ERR_STR(&e));
		}
	}
	return store_save_layers(s, err);
}

json_t *layer_status(struct store *s)
{
	json_t *arr = json_array();
	const char *fp;
	json_t *l;
	json_object_foreach(s->layers, fp, l)
	{
		json_t *img = json_object_get(s->images, fp);
		_cleanup_free_ char *path =
		    layer_path(s, fp, json_string_value(json_object_get(img, "rootfs_format")) ?: "tree");
		json_array_append_new(arr, json_pack("{s:s, s:s, s:O, s:O, s:b}", "fingerprint", fp, "path", path,
		                                     "holders", json_object_get(l, "holders"), "mount",
		                                     json_object_get(l, "mount"), "mounted", is_mount_root(path)));
	}
	return arr;
}
