#include "ipc.h"
#include "cleanup.h"
#include "json.h"
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *a, const char *path, isola_error *err)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path)
		return isola_err(err, ENAMETOOLONG, "socket path %s", path);
	strcpy(a->sun_path, path);
	return 0;
}

int ipc_listen(const char *path, gid_t gid, isola_error *err)
{
	struct sockaddr_un a;
	if (fill_addr(&a, path, err) < 0)
		return -1;
	_cleanup_free_ char *dir = strdup(path);
	if (dir && strcmp(dirname(dir), ".") != 0)
		mkdir(dir, 0755);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isola_err(err, errno, "socket for %s", path);
	unlink(path);
	/* bind under a umask that never exposes the socket before chmod/chown run */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (r < 0)
		return isola_err(err, errno, "bind %s", path);
	if (gid != (gid_t)-1 && (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0))
		return isola_err(err, errno, "set group of %s", path);
	if (listen(fd, 64) < 0)
		return isola_err(err, errno, "listen on %s", path);
	return steal_fd(&fd);
}

int ipc_accept(int lfd, gid_t gid, struct ucred *peer, isola_error *err)
{
	_cleanup_close_ int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "accept");
	struct ucred c;
	socklen_t len = sizeof c;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0)
		return isola_err(err, errno, "SO_PEERCRED");
	if (c.uid != 0 && c.uid != geteuid() && (gid == (gid_t)-1 || c.gid != gid))
		return isola_err(err, EACCES, "peer pid %d uid %u refused", c.pid, c.uid);
	if (peer)
		*peer = c;
	return steal_fd(&fd);
}

int ipc_connect(const char *path, isola_error *err)
{
	struct sockaddr_un a;
	if (fill_addr(&a, path, err) < 0)
		return -1;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isola_err(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return isola_err(err, errno, "connect to %s", path);
	return steal_fd(&fd);
}

int ipc_send(int fd, json_t *msg, const int *fds, size_t nfds, isola_error *err)
{
	if (nfds > IPC_MAX_FDS)
		return isola_err(err, E2BIG, "ipc: %zu fds (at most %d)", nfds, IPC_MAX_FDS);
	_cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return isola_err(err, ENOMEM, "ipc: encode message");
	size_t len = strlen(s);
	if (len > IPC_MAX_MSG)
		return isola_err(err, EMSGSIZE, "ipc: message of %zu bytes (at most %d)", len, IPC_MAX_MSG);
	struct iovec iov = {.iov_base = s, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		memset(&u, 0, sizeof u);
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t r;
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return isola_err(err, errno, "ipc: send");
	return 0;
}

int ipc_recv(int fd, json_t **msg, int *fds, size_t *nfds, isola_error *err)
{
	*msg = NULL;
	if (nfds)
		*nfds = 0;
	_cleanup_free_ char *buf = malloc(IPC_MAX_MSG + 1);
	if (!buf)
		return isola_err(err, ENOMEM, "ipc: receive");
	struct iovec iov = {.iov_base = buf, .iov_len = IPC_MAX_MSG};
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	ssize_t r;
	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return isola_err(err, errno, "ipc: receive");
	/* Take ownership of every passed fd first, so none leaks on any error below. */
	int got[IPC_MAX_FDS];
	size_t ngot = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			if (ngot < IPC_MAX_FDS)
				got[ngot++] = p[i];
			else
				close(p[i]);
		}
	}
	bool bad = r == 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (!fds && ngot);
	if (bad) {
		for (size_t i = 0; i < ngot; i++)
			close(got[i]);
		if (r == 0)
			return isola_err(err, ECONNRESET, "ipc: peer closed the connection");
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			return isola_err(err, EMSGSIZE, "ipc: message truncated");
		return isola_err(err, EPROTO, "ipc: unexpected fds");
	}
	buf[r] = 0;
	json_error_t je;
	json_t *m = json_loadb(buf, (size_t)r, 0, &je);
	if (!m || !json_is_object(m)) {
		json_decref(m);
		for (size_t i = 0; i < ngot; i++)
			close(got[i]);
		return isola_err(err, EPROTO, "ipc: malformed message: %s", m ? "not an object" : je.text);
	}
	if (fds) {
		memcpy(fds, got, ngot * sizeof(int));
		*nfds = ngot;
	}
	*msg = m;
	return 0;
}

int ipc_reply_ok(int fd, json_t *extra, const int *fds, size_t nfds)
{
	_cleanup_json_ json_t *m = json_object();
	json_object_set_new(m, "ok", json_true());
	if (extra)
		json_object_update(m, extra);
	return ipc_send(fd, m, fds, nfds, NULL);
}

int ipc_reply_err(int fd, const isola_error *e)
{
	/* message and errno travel apart, so the client rebuilds the very same isola_error */
	_cleanup_json_ json_t *m = json_pack("{s:b,s:s,s:i}", "ok", 0, "error", e->msg, "errno", e->errnum);
	return ipc_send(fd, m, NULL, 0, NULL);
}

int ipc_progress(int fd, json_t *p)
{
	_cleanup_json_ json_t *m = json_pack("{s:O}", "progress", p);
	return ipc_send(fd, m, NULL, 0, NULL);
}

int ipc_call(const char *path, json_t *req, const int *fds, size_t nfds, json_t **reply, int *rfds, size_t *nrfds,
             ipc_progress_fn on_progress, void *ud, isola_error *err)
{
	if (reply)
		*reply = NULL;
	if (nrfds)
		*nrfds = 0;
	_cleanup_close_ int c = ipc_connect(path, err);
	if (c < 0)
		return -1;
	if (ipc_send(c, req, fds, nfds, err) < 0)
		return -1;
	for (;;) {
		int got[IPC_MAX_FDS];
		size_t ngot = 0;
		_cleanup_json_ json_t *m = NULL;
		if (ipc_recv(c, &m, got, &ngot, err) < 0)
			return isola_err_wrap(err, "%s", path);
		json_t *p = json_object_get(m, "progress");
		if (p) {
			for (size_t i = 0; i < ngot; i++)
				close(got[i]);
			if (on_progress)
				on_progress(p, ud);
			continue;
		}
		if (!json_is_true(json_object_get(m, "ok"))) {
			for (size_t i = 0; i < ngot; i++)
				close(got[i]);
			const char *e = json_string_value(json_object_get(m, "error"));
			json_int_t en = json_integer_value(json_object_get(m, "errno"));
			return isola_err(err, (int)en, "%s", e ? e : "request failed");
		}
		if (rfds && nrfds) {
			memcpy(rfds, got, ngot * sizeof(int));
			*nrfds = ngot;
		} else {
			for (size_t i = 0; i < ngot; i++)
				close(got[i]);
		}
		if (reply)
			*reply = steal_ptr(&m);
		return 0;
	}
}
