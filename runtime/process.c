/* clone3 and the sync channel; see process.h. */
#include "runtime/process.h"
#include <fcntl.h>
#include <stdlib.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "runtime/config.h"
#include "util.h"

int sync_send(int fd, enum sync_type type, int value, int passfd)
{
	struct sync_msg m = {.type = type, .value = value};
	struct iovec iov = {&m, sizeof m};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (passfd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof u.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	ssize_t r;
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof m ? 0 : -1;
}

void sync_send_error(int fd, const isola_error *e)
{
	struct sync_msg m = {.type = SYNC_ERROR, .errnum = e->errnum};
	snprintf(m.msg, sizeof m.msg, "%s", e->msg);
	ssize_t r = send(fd, &m, sizeof m, MSG_NOSIGNAL);
	(void)r;
}

int sync_recv(int fd, struct sync_msg *m, int *fd_out, isola_error *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {m, sizeof *m};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	if (fd_out)
		*fd_out = -1;
	ssize_t r;
	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return isola_err(err, ECONNRESET, "container init exited during setup");
	if (r < 0)
		return isola_err(err, errno, "read from container init");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int got;
			memcpy(&got, CMSG_DATA(c), sizeof got);
			if (fd_out)
				*fd_out = got;
			else
				close(got);
		}
	}
	if (r != (ssize_t)sizeof *m)
		return isola_err(err, EPROTO, "short message from container init");
	m->msg[sizeof m->msg - 1] = 0;
	return 0;
}

int sync_expect(int fd, enum sync_type type, int *fd_out, isola_error *err)
{
	struct sync_msg m = {0};
	if (sync_recv(fd, &m, fd_out, err) < 0)
		return -1;
	if (m.type == SYNC_ERROR)
		return isola_err(err, m.errnum, "%s", m.msg);
	if (m.type != (int)type)
		return isola_err(err, EPROTO, "unexpected message %d from container init (wanted %d)", m.type, type);
	return m.value;
}

pid_t process_clone3(unsigned long flags, int cgroup_fd, int *pidfd, isola_error *err)
{
	int pfd = -1;
	struct clone_args a = {
	    .flags = flags | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0) | (pidfd ? CLONE_PIDFD : 0),
	    /* CLONE_PARENT takes the caller's own exit signal; clone3 refuses one given with it */
	    .exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD,
	    .pidfd = (uint64_t)(uintptr_t)&pfd,
	    .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
	};
	long r = syscall(SYS_clone3, &a, sizeof a);
	if (r == 0)
		return 0;
	EXPLAIN(r, "clone(2), namespaces(7)", "clone3({flags=%s, exit_signal=SIGCHLD%s})", explain_clone_flags(a.flags),
	        cgroup_fd >= 0 ? ", cgroup=<container cgroup fd>" : "");
	if (r < 0)
		return isola_err(err, errno, "clone3(%s)", explain_clone_flags(a.flags));
	if (pidfd)
		*pidfd = pfd;
	return (pid_t)r;
}

int process_format_idmap(const struct rt_idmap *m, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + off, len - off, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
		if (w < 0 || (size_t)w >= len - off)
			return -1;
		off += (size_t)w;
	}
	return (int)off;
}

static int write_map(pid_t pid, const char *file, const struct rt_idmap *m, size_t n, isola_error *err)
{
	char buf[340 * 36 + 1], path[64];
	int len = process_format_idmap(m, n, buf, sizeof buf);
	if (len < 0)
		return isola_err(err, E2BIG, "%s too long", file);
	snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
	/* the kernel takes the whole map in one write(2) (user_namespaces(7)) */
	int r = write_file_at(AT_FDCWD, path, buf, (size_t)len, false, err);
	EXPLAIN(r, "user_namespaces(7)", "write(\"%s\", \"%.*s\")", path, len > 0 ? len - 1 : 0, buf);
	return r < 0 ? isola_err_wrap(err, "write %s", path) : 0;
}

int process_write_idmaps(pid_t pid, const struct rt_idmap *uid, size_t nuid, const struct rt_idmap *gid, size_t ngid,
                         isola_error *err)
{
	if (write_map(pid, "uid_map", uid, nuid, err) < 0 || write_map(pid, "gid_map", gid, ngid, err) < 0)
		return -1;
	return 0;
}

#define SYNC_BLOB_MAX (64 * 1024)

int sync_send_blob(int fd, const char *data, size_t len)
{
	if (len > SYNC_BLOB_MAX)
		return -1;
	ssize_t r;
	do
		r = send(fd, data, len, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)len ? 0 : -1;
}

int sync_recv_blob(int fd, char **out, isola_error *err)
{
	_cleanup_free_ char *buf = malloc(SYNC_BLOB_MAX + 1);
	if (!buf)
		return isola_err(err, ENOMEM, "state blob");
	ssize_t r;
	do
		r = recv(fd, buf, SYNC_BLOB_MAX, 0);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return isola_err(err, r == 0 ? ECONNRESET : errno, "read state from runtime");
	buf[r] = 0;
	*out = steal_ptr(&buf);
	return 0;
}
