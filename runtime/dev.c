/* /dev population; see dev.h. */
#include "runtime/dev.h"
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "path.h"
#include "runtime/mount.h"

static const struct {
	const char *name;
	unsigned major, minor;
} default_devs[6] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

int dev_open_host(struct dev_host_fds *h, bool as_mounts, isola_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_devs); i++)
		h->fd[i] = -1;
	for (size_t i = 0; as_mounts && i < ARRAY_SIZE(default_devs); i++) {
		char p[32];
		snprintf(p, sizeof p, "/dev/%s", default_devs[i].name);
		_cleanup_close_ int fd = open(p, O_PATH | O_CLOEXEC | O_NOFOLLOW);
		EXPLAIN(fd, "open(2)", "open(\"%s\", O_PATH|O_CLOEXEC|O_NOFOLLOW)", p);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			return isola_err(err, errno, "open host %s", p);
		/* the source of a bind must be the real device, not whatever sits at that path */
		if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != default_devs[i].major ||
		    minor(st.st_rdev) != default_devs[i].minor)
			return isola_err(err, EINVAL, "host %s is not the %u:%u character device", p,
			                 default_devs[i].major, default_devs[i].minor);
		if ((h->fd[i] = mount_clone_detached(fd, p, err)) < 0)
			return -1;
	}
	return 0;
}

void dev_close_host(struct dev_host_fds *h)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_devs); i++)
		closep(&h->fd[i]);
}

/* One node at path (absolute inside the container). */
static int make_node(int rootfd, const char *path, mode_t type, unsigned maj, unsigned min, mode_t perm, uid_t uid,
                     gid_t gid, bool in_userns, int hostfd, isola_error *err)
{
	if (in_userns) {
		if (hostfd < 0)
			return isola_err(err, EPERM, "device %s: mknod is not allowed in a user namespace", path);
		return mount_attach_detached(rootfd, hostfd, path, err);
	}
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return isola_err(err, ENOMEM, "%s", path);
	char *slash = strrchr(dir, '/');
	*slash = 0;
	_cleanup_close_ int dfd = safe_mkdir_p(rootfd, *dir ? dir : "/", 0755, err);
	if (dfd < 0)
		return isola_err_wrap(err, "device %s", path);
	const char *base = slash + 1;
	/* An image may already hold something at that name: replace a file, refuse a directory. */
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
		return isola_err(err, errno, "device %s: remove what is there", path);
	int r = mknodat(dfd, base, type | perm, makedev(maj, min));
	EXPLAIN(r, "mknod(2)", "mknodat(%d <%s>, \"%s\", %s|%04o, makedev(%u, %u))", dfd, dir, base,
	        type == S_IFCHR   ? "S_IFCHR"
	        : type == S_IFBLK ? "S_IFBLK"
	                          : "S_IFIFO",
	        perm, maj, min);
	if (r < 0)
		return isola_err(err, errno, "mknod %s", path);
	/* mknod's mode is filtered by the umask: set the exact permissions and owner */
	if (fchmodat(dfd, base, perm, 0) < 0 || fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return isola_err(err, errno, "chmod/chown %s", path);
	return 0;
}

int dev_setup(int rootfd, const struct rt_config *cfg, bool in_userns, const struct dev_host_fds *h, isola_error *err)
{
	_cleanup_close_ int devfd = safe_mkdir_p(rootfd, "/dev", 0755, err);
	if (devfd < 0)
		return isola_err_wrap(err, "/dev");
	for (size_t i = 0; i < ARRAY_SIZE(default_devs); i++) {
		char p[32];
		snprintf(p, sizeof p, "/dev/%s", default_devs[i].name);
		if (make_node(rootfd, p, S_IFCHR, default_devs[i].major, default_devs[i].minor, 0666, 0, 0, in_userns,
		              h->fd[i], err) < 0)
			return -1;
	}
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct rt_device *d = &cfg->devices[i];
		mode_t t = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
		if (make_node(rootfd, d->path, t, d->major, d->minor, d->mode, d->uid, d->gid, in_userns, -1, err) < 0)
			return isola_err_wrap(err, "linux.devices[%zu]", i);
	}
	static const char *links[][2] = {
	    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		int r = symlinkat(links[i][1], devfd, links[i][0]);
		EXPLAIN(r, "symlink(2)", "symlinkat(\"%s\", %d </dev>, \"%s\")", links[i][1], devfd, links[i][0]);
		/* an existing entry (image-provided /dev/ptmx node, for instance) is left as is */
		if (r < 0 && errno != EEXIST)
			return isola_err(err, errno, "symlink /dev/%s", links[i][0]);
	}
	return 0;
}
