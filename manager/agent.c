/* Host side of the isola-agent protocol: see agent.h for the hostile-guest rules it keeps. */
#include "agent.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "agent_proto.h"
#include "cleanup.h"
#include "json.h"
#include "util.h"

#define REPLY_TIMEOUT_MS 30000
#define DATA_TIMEOUT_MS  60000

int agent_wait_ms(void)
{
	const char *s = getenv("ISOLA_AGENT_TIMEOUT");
	long v = s ? strtol(s, NULL, 10) : 60;
	return (int)((v > 0 && v < 3600 ? v : 60) * 1000);
}

/* Text from the agent goes into our messages: printable ASCII only, so a guest cannot drive the
 * user's terminal through an error message (escape sequences). */
static const char *clean(const char *s, char *out, size_t len)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < len; i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[i] = 0;
	return out;
}

static int agent_error(json_t *m, isola_error *err)
{
	char msg[512];
	json_int_t en = json_integer_value(json_object_get(m, "errno"));
	clean(json_string_value(json_object_get(m, "error")) ?: "request failed", msg, sizeof msg);
	return isola_err(err, en > 0 && en < 4096 ? (int)en : EIO, "the agent says: %s", msg);
}

/* Connect, retrying while the guest is not listening yet (booting) until wait_ms has passed. */
static int connect_wait(const char *addr_s, int wait_ms, isola_error *err)
{
	struct agent_addr a;
	if (agent_addr_parse(addr_s, false, &a, err) < 0)
		return -1;
	uint64_t deadline = now_ns() + (uint64_t)wait_ms * 1000000ull;
	for (;;) {
		int fd = agent_connect(&a, wait_ms > 0 ? 2000 : 500, err);
		if (fd >= 0)
			return fd;
		int e = err->errnum;
		/* ESOCKTNOSUPPORT: vhost-vsock allows SOCK_SEQPACKET to a guest only once its driver has
		 * negotiated VIRTIO_VSOCK_F_SEQPACKET (drivers/vhost/vsock.c seqpacket_allow), i.e. not while the
		 * guest still boots */
		bool transient = e == ECONNREFUSED || e == ECONNRESET || e == ETIMEDOUT || e == ENODEV || e == ENOENT ||
		                 e == ESOCKTNOSUPPORT || e == EHOSTUNREACH || e == ENETUNREACH || e == EAGAIN;
		if (!transient || now_ns() >= deadline) {
			if (transient)
				return isola_err(
				    err, e,
				    "the VM's agent is not answering (is isola-agent running in the guest?): %s",
				    err->msg);
			return -1;
		}
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Receive one JSON message, refusing data frames. */
static int recv_json(int fd, char *buf, int timeout_ms, json_t **msg, isola_error *err)
{
	struct agent_packet p;
	if (agent_recv(fd, buf, timeout_ms, &p, err) < 0)
		return -1;
	if (!p.msg)
		return isola_err(err, EPROTO, "agent protocol: expected a JSON message, got a data frame ('%c')",
		                 isprint((unsigned char)p.tag) ? p.tag : '?');
	*msg = p.msg;
	return 0;
}

/* Send the request and take the first reply: {"ok":true,...} (returned) or the agent's error. */
static int hung_up(isola_error *err)
{
	/* the agent closes a connection it refuses without a word (agent/main.c peer_allowed) */
	if (err->errnum == EPIPE || err->errnum == ECONNRESET)
		return isola_err(
		    err, err->errnum,
		    "the agent hung up without answering (it answers only the host's root, from a reserved "
		    "port)");
	return -1;
}

static int request_t(int fd, char *buf, json_t *req, json_t **reply, int timeout_ms, isola_error *err)
{
	if (agent_send_json(fd, req, err) < 0)
		return hung_up(err);
	_cleanup_json_ json_t *m = NULL;
	if (recv_json(fd, buf, timeout_ms, &m, err) < 0)
		return hung_up(err);
	if (!json_is_true(json_object_get(m, "ok")))
		return agent_error(m, err);
	if (reply)
		*reply = steal_ptr(&m);
	return 0;
}
static int request(int fd, char *buf, json_t *req, json_t **reply, isola_error *err)
{
	return request_t(fd, buf, req, reply, REPLY_TIMEOUT_MS, err);
}

static int write_all_fd(int fd, const char *p, size_t len, isola_error *err)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return isola_err(err, errno, "write");
		p += w, len -= (size_t)w;
	}
	return 0;
}

/* ---- exec ---- */

static struct termios saved_tio;
static bool tio_saved;
static void tio_restore(void)
{
	if (tio_saved)
		tcsetattr(0, TCSANOW, &saved_tio);
	tio_saved = false;
}

static int parse_user(const char *user, int64_t *uid, int64_t *gid, isola_error *err)
{
	*uid = *gid = -1;
	if (!user)
		return 0;
	char *end;
	errno = 0;
	unsigned long u = strtoul(user, &end, 10);
	if (errno || end == user || (*end && *end != ':') || u >= UINT32_MAX || user[0] == '-')
		return isola_err(err, EINVAL, "--user \"%s\": a VM takes a numeric UID[:GID]", user);
	*uid = (int64_t)u;
	if (*end == ':') {
		const char *g = end + 1;
		unsigned long gv = strtoul(g, &end, 10);
		if (errno || end == g || *end || gv >= UINT32_MAX || g[0] == '-')
			return isola_err(err, EINVAL, "--user \"%s\": a VM takes a numeric UID[:GID]", user);
		*gid = (int64_t)gv;
	}
	return 0;
}

/* The exit message: {"exit":{"code":0..255}} or {"exit":{"signal":1..64}}; anything else is refused. */
static int exit_status(json_t *ex, int *status, isola_error *err)
{
	json_t *code = json_object_get(ex, "code"), *sig = json_object_get(ex, "signal");
	if (json_is_integer(code) && !sig) {
		json_int_t c = json_integer_value(code);
		if (c < 0 || c > 255)
			return isola_err(err, EPROTO, "agent protocol: exit code %lld out of range (0-255)",
			                 (long long)c);
		*status = (int)c;
		return 0;
	}
	if (json_is_integer(sig) && !code) {
		json_int_t s = json_integer_value(sig);
		if (s < 1 || s > 64)
			return isola_err(err, EPROTO, "agent protocol: exit signal %lld out of range (1-64)",
			                 (long long)s);
		*status = 128 + (int)s;
		return 0;
	}
	return isola_err(err, EPROTO, "agent protocol: malformed exit message");
}

struct sigmask_guard {
	sigset_t old;
	bool set;
};
static void sigmask_restore(struct sigmask_guard *g)
{
	if (g->set)
		sigprocmask(SIG_SETMASK, &g->old, NULL);
}

/* One stdin frame, without blocking: sent (pending 0), or left pending for POLLOUT (EAGAIN). Any other
 * error means the agent is done with stdin (the command exited and its status is on the way): stop
 * sending and read what is left. */
static void send_stdin(int fd, const char *frame, size_t *pending, bool *in_open)
{
	ssize_t n = send(fd, frame, *pending, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0) {
		*pending = 0;
	} else if (errno != EAGAIN && errno != EINTR) {
		*pending = 0;
		*in_open = false;
	}
}

int agent_client_exec(const char *addr, int wait_ms, const struct exec_opts *o, int *status, isola_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{ss s[] s[] sb}", "op", "exec", "argv", "env", "tty", o->tty);
	if (!req)
		return isola_err(err, ENOMEM, "exec request");
	for (char *const *a = o->argv; a && *a; a++)
		json_array_append_new(json_object_get(req, "argv"), json_string(*a));
	bool have_term = false;
	for (char *const *e = o->env; e && *e; e++) {
		json_array_append_new(json_object_get(req, "env"), json_string(*e));
		have_term |= !strncmp(*e, "TERM=", 5);
	}
	const char *term = getenv("TERM");
	if (o->tty && !have_term && term)
		json_array_append_new(json_object_get(req, "env"), json_sprintf("TERM=%s", term));
	if (o->cwd)
		json_object_set_new(req, "cwd", json_string(o->cwd));
	int64_t uid, gid;
	if (parse_user(o->user, &uid, &gid, err) < 0)
		return -1;
	json_object_set_new(req, "uid", json_integer(uid));
	json_object_set_new(req, "gid", json_integer(gid));
	struct winsize ws;
	bool ttyin = o->tty && isatty(0);
	if (ttyin && ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		json_object_set_new(req, "rows", json_integer(ws.ws_row));
		json_object_set_new(req, "cols", json_integer(ws.ws_col));
	}
	if (json_array_size(json_object_get(req, "argv")) == 0)
		return isola_err(err, EINVAL, "exec: no command");

	_cleanup_close_ int fd = connect_wait(addr, wait_ms, err);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *buf = malloc(AGENT_MSG_MAX + 1), *inbuf = malloc(AGENT_MSG_MAX);
	if (!buf || !inbuf)
		return isola_err(err, ENOMEM, "exec buffers");
	if (request(fd, buf, req, NULL, err) < 0)
		return -1;

	/* signals we forward (non-tty: a tty sends ^C as data, the guest's line discipline makes it SIGINT) */
	sigset_t fwd;
	sigemptyset(&fwd);
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&fwd, sigs[i]);
	__attribute__((cleanup(sigmask_restore))) struct sigmask_guard g = {.set = false};
	if (sigprocmask(SIG_BLOCK, &fwd, &g.old) == 0)
		g.set = true;
	_cleanup_close_ int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ttyin && tcgetattr(0, &saved_tio) == 0) {
		tio_saved = true;
		atexit(tio_restore);
		struct termios raw = saved_tio;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	size_t pending = 0;
	bool in_open = true;
	int rc = -1;
	for (;;) {
		struct pollfd p[3] = {{fd, (short)(POLLIN | (pending ? POLLOUT : 0)), 0},
		                      {in_open && !pending ? 0 : -1, POLLIN, 0},
		                      {sfd, POLLIN, 0}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			isola_err(err, errno, "poll");
			break;
		}
		if (pending && (p[0].revents & POLLOUT))
			send_stdin(fd, inbuf, &pending, &in_open);
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				_cleanup_json_ json_t *m = NULL;
				if (si.ssi_signo == SIGWINCH) {
					if (ttyin && ioctl(0, TIOCGWINSZ, &ws) == 0)
						m = json_pack("{s{sisi}}", "window", "rows", ws.ws_row, "cols",
						              ws.ws_col);
				} else {
					m = json_pack("{si}", "signal", (int)si.ssi_signo);
				}
				isola_error e;
				if (m)
					agent_send_json(fd, m, &e); /* best effort: a full socket drops a resize */
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(0, inbuf + 1, AGENT_DATA_MAX);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				in_open = false;
			inbuf[0] = AGENT_STDIN;
			pending = n > 0 ? (size_t)n + 1 : 1; /* an empty frame is EOF */
			send_stdin(fd, inbuf, &pending, &in_open);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			struct agent_packet pk;
			if (agent_recv(fd, buf, 0, &pk, err) < 0) {
				if (err->errnum == EAGAIN)
					continue;
				isola_err_wrap(err, "exec");
				break;
			}
			if (pk.msg) {
				_cleanup_json_ json_t *m = pk.msg;
				json_t *ex = json_object_get(m, "exit");
				if (ex) {
					rc = exit_status(ex, status, err);
					break;
				}
				if (json_object_get(m, "ok") && !json_is_true(json_object_get(m, "ok"))) {
					agent_error(m, err);
					break;
				}
				isola_err(err, EPROTO, "agent protocol: unexpected message during exec");
				break;
			}
			if (pk.tag != AGENT_STDOUT && pk.tag != AGENT_STDERR) {
				isola_err(err, EPROTO, "agent protocol: unexpected frame '%c' during exec",
				          isprint((unsigned char)pk.tag) ? pk.tag : '?');
				break;
			}
			if (write_all_fd(pk.tag == AGENT_STDOUT ? 1 : 2, pk.data, pk.len, err) < 0) {
				/* our stdout is gone (a closed pipe): the command's output has nowhere to go */
				isola_err_wrap(err, "exec: relay %s", pk.tag == AGENT_STDOUT ? "stdout" : "stderr");
				break;
			}
		}
	}
	tio_restore();
	return rc;
}

/* ---- files ---- */

int agent_client_push(const char *addr, int wait_ms, int src_fd, const char *path, int uid, int gid, int mode,
                      isola_error *err)
{
	_cleanup_close_ int fd = connect_wait(addr, wait_ms, err);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *buf = malloc(AGENT_MSG_MAX + 1);
	if (!buf)
		return isola_err(err, ENOMEM, "push buffer");
	_cleanup_json_ json_t *req =
	    json_pack("{ss ss si si si}", "op", "file.push", "path", path, "mode", mode, "uid", uid, "gid", gid);
	if (request(fd, buf, req, NULL, err) < 0)
		return -1;
	for (;;) {
		ssize_t n = read(src_fd, buf + 1, AGENT_DATA_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isola_err(err, errno, "read the local file");
		if (n == 0)
			break;
		if (agent_send_data(fd, AGENT_FILE, buf + 1, (size_t)n, err) < 0)
			return -1;
	}
	_cleanup_json_ json_t *done = json_pack("{sb}", "done", 1);
	_cleanup_json_ json_t *m = NULL;
	if (agent_send_json(fd, done, err) < 0 || recv_json(fd, buf, DATA_TIMEOUT_MS, &m, err) < 0)
		return -1;
	return json_is_true(json_object_get(m, "ok")) ? 0 : agent_error(m, err);
}

int agent_client_pull(const char *addr, int wait_ms, const char *path, int dst_fd, isola_error *err)
{
	_cleanup_close_ int fd = connect_wait(addr, wait_ms, err);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *buf = malloc(AGENT_MSG_MAX + 1);
	if (!buf)
		return isola_err(err, ENOMEM, "pull buffer");
	_cleanup_json_ json_t *req = json_pack("{ss ss}", "op", "file.pull", "path", path);
	_cleanup_json_ json_t *hdr = NULL;
	if (request(fd, buf, req, &hdr, err) < 0)
		return -1;
	json_t *sz = json_object_get(hdr, "size");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return isola_err(err, EPROTO, "agent protocol: pull reply without a valid size");
	uint64_t size = (uint64_t)json_integer_value(sz), got = 0;
	for (;;) {
		struct agent_packet p;
		if (agent_recv(fd, buf, DATA_TIMEOUT_MS, &p, err) < 0)
			return isola_err_wrap(err, "pull %s", path);
		if (p.msg) {
			_cleanup_json_ json_t *m = p.msg;
			if (!json_is_true(json_object_get(m, "ok")))
				return agent_error(m, err);
			json_t *sent = json_object_get(m, "sent");
			if (!json_is_integer(sent) || (uint64_t)json_integer_value(sent) != got)
				return isola_err(err, EPROTO,
				                 "agent protocol: pull ended claiming %lld bytes, %llu received",
				                 (long long)json_integer_value(sent), (unsigned long long)got);
			return 0;
		}
		if (p.tag != AGENT_FILE)
			return isola_err(err, EPROTO, "agent protocol: unexpected frame '%c' during pull",
			                 isprint((unsigned char)p.tag) ? p.tag : '?');
		/* checked before writing: not one byte past what the agent announced reaches the file */
		if (p.len > size - got)
			return isola_err(err, EPROTO,
			                 "agent protocol: the agent sent more than the %llu bytes it announced",
			                 (unsigned long long)size);
		if (write_all_fd(dst_fd, p.data, p.len, err) < 0)
			return isola_err_wrap(err, "pull %s", path);
		got += p.len;
	}
}

/* ---- ping ---- */

static bool is_text(json_t *v, size_t max, const char *extra)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) > max)
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr(extra, *c))
			return false;
	return true;
}

static bool one_of(json_t *v, const char *const *set)
{
	const char *s = json_string_value(v);
	for (; s && *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* One nic of Incus's state.network, rebuilt from validated fields; NULL drops it. */
static json_t *clean_nic(json_t *nic)
{
	static const char *const states[] = {"up", "down", NULL}, *const types[] = {"broadcast", "loopback", NULL},
	                         *const fams[] = {"inet", "inet6", NULL},
	                         *const scopes[] = {"global", "link", "local", NULL};
	if (!json_is_object(nic))
		return NULL;
	json_t *out = json_pack(
	    "{s[] ss ss}", "addresses", "host_name", "", "state",
	    one_of(json_object_get(nic, "state"), states) ? json_string_value(json_object_get(nic, "state")) : "down");
	json_object_set_new(out, "type",
	                    json_string(one_of(json_object_get(nic, "type"), types)
	                                    ? json_string_value(json_object_get(nic, "type"))
	                                    : "broadcast"));
	json_object_set_new(out, "hwaddr",
	                    json_string(is_text(json_object_get(nic, "hwaddr"), 17, ":")
	                                    ? json_string_value(json_object_get(nic, "hwaddr"))
	                                    : ""));
	json_int_t mtu = json_integer_value(json_object_get(nic, "mtu"));
	json_object_set_new(out, "mtu", json_integer(mtu >= 0 && mtu <= 65536 ? mtu : 0));
	json_t *cnt = json_object();
	static const char *const ckeys[] = {"bytes_received", "bytes_sent", "packets_received", "packets_sent"};
	for (size_t i = 0; i < ARRAY_SIZE(ckeys); i++) {
		json_int_t c = json_integer_value(json_object_get(json_object_get(nic, "counters"), ckeys[i]));
		json_object_set_new(cnt, ckeys[i], json_integer(c > 0 ? c : 0));
	}
	json_object_set_new(out, "counters", cnt);
	json_t *addrs = json_object_get(nic, "addresses"), *a;
	size_t i;
	json_array_foreach(addrs, i, a)
	{
		if (i >= 64)
			break;
		json_t *fam = json_object_get(a, "family"), *ad = json_object_get(a, "address"),
		       *nm = json_object_get(a, "netmask"), *sc = json_object_get(a, "scope");
		unsigned char bin[16];
		const char *nms = json_string_value(nm);
		char *end = NULL;
		long pfx = nms ? strtol(nms, &end, 10) : -1;
		if (!one_of(fam, fams) || !json_is_string(ad) || !one_of(sc, scopes) || !nms || end == nms || *end ||
		    pfx < 0 || pfx > 128 ||
		    inet_pton(!strcmp(json_string_value(fam), "inet") ? AF_INET : AF_INET6, json_string_value(ad),
		              bin) != 1)
			continue;
		json_array_append_new(
		    json_object_get(out, "addresses"),
		    json_pack("{sO sO sO sO}", "family", fam, "address", ad, "netmask", nm, "scope", sc));
	}
	return out;
}

int agent_client_ping(const char *addr, int wait_ms, json_t **info, isola_error *err)
{
	_cleanup_close_ int fd = connect_wait(addr, wait_ms, err);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *buf = malloc(AGENT_MSG_MAX + 1);
	if (!buf)
		return isola_err(err, ENOMEM, "ping buffer");
	_cleanup_json_ json_t *req = json_pack("{ss}", "op", "ping"), *r = NULL;
	if (request_t(fd, buf, req, &r, wait_ms > 0 ? REPLY_TIMEOUT_MS : 2000, err) < 0)
		return -1;
	char ver[33], host[254];
	json_t *out = json_pack("{ss ss so}", "version",
	                        clean(json_string_value(json_object_get(r, "version")), ver, sizeof ver), "hostname",
	                        is_text(json_object_get(r, "hostname"), 253, "-.")
	                            ? json_string_value(json_object_get(r, "hostname"))
	                            : clean(NULL, host, sizeof host),
	                        "network", json_object());
	json_int_t np = json_integer_value(json_object_get(r, "processes"));
	json_object_set_new(out, "processes", json_integer(np > 0 && np < (1 << 22) ? np : -1));
	const char *k;
	json_t *nic;
	size_t n = 0;
	json_object_foreach(json_object_get(r, "network"), k, nic)
	{
		if (n++ >= 64)
			break;
		json_t *name = json_string(k);
		bool ok = is_text(name, 15, "-_.@") && k[0];
		json_decref(name);
		json_t *c = ok ? clean_nic(nic) : NULL;
		if (c)
			json_object_set_new(json_object_get(out, "network"), k, c);
	}
	*info = out;
	return 0;
}
