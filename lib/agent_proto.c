#include "agent_proto.h"
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "cleanup.h"
#include "ipc.h"
#include "json.h"

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int agent_addr_parse(const char *s, bool for_listen, struct agent_addr *a, isola_error *err)
{
	memset(a, 0, sizeof *a);
	if (!strncmp(s, "unix:", 5)) {
		if (!s[5] || strlen(s + 5) >= sizeof a->path)
			return isola_err(err, EINVAL, "agent address \"%s\": a unix socket path (< 108 bytes)", s);
		snprintf(a->path, sizeof a->path, "%s", s + 5);
		return 0;
	}
	if (strncmp(s, "vsock:", 6))
		return isola_err(err, EINVAL, "agent address \"%s\": expected unix:PATH or vsock:[CID:]PORT", s);
	a->vsock = true;
	a->cid = VMADDR_CID_ANY;
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%s", s + 6);
	char *colon = strchr(tmp, ':');
	if (colon) {
		*colon = 0;
		if (parse_u32(tmp, &a->cid) < 0)
			return isola_err(err, EINVAL, "agent address \"%s\": bad CID", s);
	} else if (!for_listen) {
		return isola_err(err, EINVAL, "agent address \"%s\": connecting needs vsock:CID:PORT", s);
	}
	if (parse_u32(colon ? colon + 1 : tmp, &a->port) < 0 || a->port == VMADDR_PORT_ANY)
		return isola_err(err, EINVAL, "agent address \"%s\": bad port", s);
	return 0;
}

int agent_listen(const struct agent_addr *a, isola_error *err)
{
	if (!a->vsock)
		return ipc_listen(a->path, (gid_t)-1, err);
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isola_err(err, errno, "socket(AF_VSOCK, SOCK_SEQPACKET) (is the vsock transport loaded?)");
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->port};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return isola_err(err, errno, "bind vsock port %u", a->port);
	if (listen(fd, 16) < 0)
		return isola_err(err, errno, "listen on vsock port %u", a->port);
	return steal_fd(&fd);
}

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms, const char *what,
                           isola_error *err)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return isola_err(err, errno, "fcntl");
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return isola_err(err, errno, "connect to %s", what);
		struct pollfd p = {fd, POLLOUT, 0};
		int r;
		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			return isola_err(err, ETIMEDOUT, "connect to %s", what);
		int e = 0;
		socklen_t el = sizeof e;
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			return isola_err(err, errno, "connect to %s", what);
		if (e)
			return isola_err(err, e, "connect to %s", what);
	}
	if (fcntl(fd, F_SETFL, fl) < 0)
		return isola_err(err, errno, "fcntl");
	return 0;
}

int agent_connect(const struct agent_addr *a, int timeout_ms, isola_error *err)
{
	char what[160];
	if (!a->vsock) {
		snprintf(what, sizeof what, "unix:%s", a->path);
		_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return isola_err(err, errno, "socket");
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", a->path);
		if (connect_timeout(fd, (struct sockaddr *)&sa, sizeof sa, timeout_ms, what, err) < 0)
			return -1;
		return steal_fd(&fd);
	}
	snprintf(what, sizeof what, "vsock:%u:%u", a->cid, a->port);
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isola_err(err, errno, "socket(AF_VSOCK, SOCK_SEQPACKET) (is vhost_vsock loaded?)");
	/* A reserved source port: vsock_bind() lets only CAP_NET_BIND_SERVICE bind ports ≤ 1023
	 * (net/vmw_vsock/af_vsock.c, LAST_RESERVED_PORT), so the agent knows the host's root is calling and
	 * not any host user who can open AF_VSOCK. Walk down from a start spread by pid to avoid races. */
	uint32_t off = (uint32_t)getpid() % 512;
	bool bound = false;
	for (uint32_t i = 0; i < 512 && !bound; i++) {
		uint32_t port = 512 + (off + i) % 512;
		struct sockaddr_vm me = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
		if (bind(fd, (struct sockaddr *)&me, sizeof me) == 0)
			bound = true;
		else if (errno != EADDRINUSE)
			return isola_err(err, errno, "bind a reserved vsock port (needs root)");
	}
	if (!bound)
		return isola_err(err, EADDRINUSE, "bind a reserved vsock port: all 512 in use");
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->port};
	if (connect_timeout(fd, (struct sockaddr *)&sa, sizeof sa, timeout_ms, what, err) < 0)
		return -1;
	return steal_fd(&fd);
}

int agent_recv(int fd, char *buf, int timeout_ms, struct agent_packet *p, isola_error *err)
{
	memset(p, 0, sizeof *p);
	if (timeout_ms >= 0) {
		struct pollfd pf = {fd, POLLIN, 0};
		int r;
		do
			r = poll(&pf, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return isola_err(err, errno, "agent: poll");
		if (r == 0)
			return isola_err(err, ETIMEDOUT, "agent: no answer in %d ms", timeout_ms);
	}
	struct iovec iov = {.iov_base = buf, .iov_len = AGENT_MSG_MAX};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t r;
	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return isola_err(err, errno, "agent: receive");
	if (r == 0)
		return isola_err(err, ECONNRESET, "agent: peer closed the connection");
	if (mh.msg_flags & MSG_TRUNC)
		return isola_err(err, EMSGSIZE, "agent: a message over %d bytes", AGENT_MSG_MAX);
	buf[r] = 0;
	if (buf[0] == '{') {
		json_error_t je;
		json_t *m = json_loadb(buf, (size_t)r, JSON_REJECT_DUPLICATES, &je);
		if (!m || !json_is_object(m)) {
			json_decref(m);
			return isola_err(err, EPROTO, "agent: malformed JSON message: %s",
			                 m ? "not an object" : je.text);
		}
		p->tag = '{';
		p->msg = m;
		return 0;
	}
	p->tag = buf[0];
	p->data = buf + 1;
	p->len = (size_t)r - 1;
	return 0;
}

size_t agent_frame(char *out, char tag, const void *data, size_t len)
{
	out[0] = tag;
	if (len)
		memcpy(out + 1, data, len);
	return len + 1;
}

static int send_packet(int fd, const void *buf, size_t len, isola_error *err)
{
	ssize_t r;
	do
		r = send(fd, buf, len, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return isola_err(err, errno, "agent: send");
	return 0;
}

int agent_send_data(int fd, char tag, const void *data, size_t len, isola_error *err)
{
	if (len > AGENT_DATA_MAX)
		return isola_err(err, EMSGSIZE, "agent: data frame of %zu bytes", len);
	char buf[AGENT_MSG_MAX];
	return send_packet(fd, buf, agent_frame(buf, tag, data, len), err);
}

int agent_send_json(int fd, json_t *msg, isola_error *err)
{
	_cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return isola_err(err, ENOMEM, "agent: encode message");
	size_t len = strlen(s);
	if (len > AGENT_MSG_MAX)
		return isola_err(err, EMSGSIZE, "agent: message of %zu bytes (at most %d)", len, AGENT_MSG_MAX);
	return send_packet(fd, s, len, err);
}
