#include "seed.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>
#include "cleanup.h"
#include "path.h"

/* setfsuid/setfsgid for the scope of one write; restored on every path */
struct fsid_guard {
	bool set;
};
static void fsid_restore(struct fsid_guard *g)
{
	if (g->set) {
		setfsuid(0);
		setfsgid(0);
	}
}

int rootfs_write_file(const char *rootfs, const char *path, const void *data, size_t len, mode_t mode,
                      uint32_t uid_base, isola_error *err)
{
	_cleanup_close_ int rfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return isola_err(err, errno, "open %s", rootfs);
	__attribute__((cleanup(fsid_restore))) struct fsid_guard g = {uid_base != 0};
	if (uid_base) {
		setfsuid(uid_base);
		setfsgid(uid_base);
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		_cleanup_close_ int d = safe_mkdir_p(rfd, dir, 0755, err);
		if (d < 0)
			return isola_err_wrap(err, "in %s", rootfs);
	}
	_cleanup_close_ int fd = safe_openat(rfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode, err);
	if (fd < 0)
		return isola_err_wrap(err, "in %s", rootfs);
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return isola_err(err, errno, "write %s in %s", path, rootfs);
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int seed_write(const char *rootfs, const char *name, json_t *config, uint32_t uid_base, isola_error *err)
{
	char meta[256];
	int n = snprintf(meta, sizeof meta, "instance-id: %s\nlocal-hostname: %s\n", name, name);
	if (rootfs_write_file(rootfs, "/var/lib/cloud/seed/nocloud/meta-data", meta, (size_t)n, 0644, uid_base, err) <
	    0)
		return -1;
	static const struct {
		const char *key, *file;
	} files[] = {{"cloud-init.user-data", "user-data"},
	             {"cloud-init.vendor-data", "vendor-data"},
	             {"cloud-init.network-config", "network-config"}};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		const char *v = json_string_value(json_object_get(config, files[i].key));
		char path[128];
		snprintf(path, sizeof path, "/var/lib/cloud/seed/nocloud/%s", files[i].file);
		if (v) {
			/* user-data may hold secrets: 0600 as cloud-init itself keeps it */
			if (rootfs_write_file(rootfs, path, v, strlen(v), 0600, uid_base, err) < 0)
				return -1;
		} else if (!strcmp(files[i].file, "user-data")) {
			/* NoCloud needs user-data to exist; an empty cloud-config is a no-op */
			if (rootfs_write_file(rootfs, path, "#cloud-config\n{}\n", 17, 0600, uid_base, err) < 0)
				return -1;
		}
	}
	return 0;
}
