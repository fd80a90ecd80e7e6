#include "lock.h"
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "cleanup.h"
#include "paths.h"

static int lock_open(const char *file, isola_error *err)
{
	char dir[4096], path[4096];
	isola_path(dir, sizeof dir, "locks");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", dir);
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return isola_err(err, errno, "open lock %s", path);
	return fd;
}

static int lock_take(const char *file, int how, isola_error *err)
{
	_cleanup_close_ int fd = lock_open(file, err);
	if (fd < 0)
		return -1;
	int r;
	do
		r = flock(fd, how);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return isola_err(err, errno, "lock %s", file);
	return steal_fd(&fd);
}

int instance_lock(const char *name, isola_error *err)
{
	char f[128];
	snprintf(f, sizeof f, "instance-%s.lock", name);
	return lock_take(f, LOCK_EX, err);
}

int instance_trylock(const char *name, isola_error *err)
{
	char f[128];
	snprintf(f, sizeof f, "instance-%s.lock", name);
	return lock_take(f, LOCK_EX | LOCK_NB, err);
}

bool instance_lock_held(const char *name)
{
	isola_error e;
	char f[128];
	snprintf(f, sizeof f, "instance-%s.lock", name);
	/* a new open file description conflicts even with our own other fds (flock(2)) */
	_cleanup_close_ int fd = lock_open(f, &e);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK;
	flock(fd, LOCK_UN);
	return false;
}

int global_lock(isola_error *err)
{
	return lock_take("global.lock", LOCK_EX, err);
}
