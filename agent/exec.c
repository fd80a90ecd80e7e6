/* exec: run a command in the guest, stream its stdio over the connection, forward signals and window
 * sizes, and end with its exit status. Request:
 *   {"op":"exec", "argv":[...], "env":["K=V",...], "cwd":"/", "uid":N, "gid":N, "tty":bool,
 *    "rows":N, "cols":N}
 * Reply {"ok":true,"pid":N}, then frames both ways ('i' from the client; 'o'/'e' to it; JSON
 * {"signal":N} / {"window":{"rows":R,"cols":C}} from the client) and last {"exit":{"code":N}} or
 * {"exit":{"signal":N}}. Neither side blocks the other: each direction holds at most one pending frame
 * and stops reading its source until that frame is delivered (so a slow reader throttles the writer). */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "agent.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define ENV_MAX    512
#define GROUPS_MAX 64
/* after the command exits, how long its stdout/stderr may stay quiet before we stop waiting for EOF
 * (a daemon it started may hold them open for ever) */
#define DRAIN_QUIET_MS 200
/* after the client is gone: how long the command has after SIGHUP before SIGKILL */
#define HUP_GRACE_MS 5000

struct env {
	char *v[ENV_MAX + 1];
	size_t n;
};
static void env_clear(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
}
static int env_set(struct env *e, const char *kv, isola_error *err)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return isola_err(err, EINVAL, "env \"%.64s\": expected KEY=VALUE", kv);
	size_t klen = (size_t)(eq - kv) + 1;
	char *dup = strdup(kv);
	if (!dup)
		return isola_err(err, ENOMEM, "env");
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], kv, klen)) {
			free(e->v[i]);
			e->v[i] = dup;
			return 0;
		}
	if (e->n == ENV_MAX) {
		free(dup);
		return isola_err(err, E2BIG, "env: more than %d variables", ENV_MAX);
	}
	e->v[e->n++] = dup;
	e->v[e->n] = NULL;
	return 0;
}

/* The user's passwd entry and groups, read from the files (fgetpwent(3)/fgetgrent(3): no NSS, which a
 * static binary cannot load). Missing entries are fine: a bare uid runs with HOME=/. */
struct user {
	char name[64], home[256];
	gid_t gid;
	bool found;
	gid_t groups[GROUPS_MAX];
	size_t ngroups;
};
static void user_lookup(uid_t uid, struct user *u)
{
	memset(u, 0, sizeof *u);
	snprintf(u->home, sizeof u->home, "/");
	_cleanup_fclose_ FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;
	while (f && (pw = fgetpwent(f)))
		if (pw->pw_uid == uid) {
			snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
			snprintf(u->home, sizeof u->home, "%s", pw->pw_dir);
			u->gid = pw->pw_gid;
			u->found = true;
			break;
		}
	if (!u->found)
		return;
	_cleanup_fclose_ FILE *g = fopen("/etc/group", "re");
	struct group *gr;
	while (g && (gr = fgetgrent(g)) && u->ngroups < GROUPS_MAX)
		for (char **m = gr->gr_mem; m && *m; m++)
			if (!strcmp(*m, u->name)) {
				u->groups[u->ngroups++] = gr->gr_gid;
				break;
			}
}

struct exec_req {
	char **argv, **env;
	const char *cwd;
	int64_t uid, gid, rows, cols;
	bool tty;
};

static int parse_req(json_t *req, struct exec_req *r, isola_error *err)
{
	r->uid = r->gid = -1;
	r->rows = r->cols = 0;
	if (json_get_strv(req, "", "argv", true, &r->argv, err) < 0 ||
	    json_get_strv(req, "", "env", false, &r->env, err) < 0 ||
	    json_get_str(req, "", "cwd", false, &r->cwd, err) < 0 ||
	    json_get_int(req, "", "uid", false, &r->uid, err) < 0 ||
	    json_get_int(req, "", "gid", false, &r->gid, err) < 0 ||
	    json_get_bool(req, "", "tty", false, &r->tty, err) < 0 ||
	    json_get_int(req, "", "rows", false, &r->rows, err) < 0 ||
	    json_get_int(req, "", "cols", false, &r->cols, err) < 0)
		return -1;
	if (!r->argv[0])
		return isola_err(err, EINVAL, "argv: empty");
	if (r->uid < -1 || r->uid >= (int64_t)UINT32_MAX || r->gid < -1 || r->gid >= (int64_t)UINT32_MAX)
		return isola_err(err, EINVAL, "uid/gid out of range");
	if (r->rows < 0 || r->rows > 65535 || r->cols < 0 || r->cols > 65535)
		return isola_err(err, EINVAL, "rows/cols out of range");
	return 0;
}

/* In the child: become the command. Failures go back through errfd as an errno. */
static __attribute__((noreturn)) void child(const struct exec_req *r, struct env *env, const struct user *u, int in,
                                            int out, int errfd_out, const char *pts, int errfd)
{
	int e[2] = {0, 0}; /* {step, errno}: step 0 setup, 1 user, 2 cwd, 3 exec */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	if (pts) {
		int s = open(pts, O_RDWR | O_NOCTTY);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			goto fail;
		in = out = errfd_out = s;
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd_out, 2) < 0)
		goto fail;
	e[0] = 1;
	if (r->gid >= 0 || r->uid >= 0) {
		gid_t gid = r->gid >= 0 ? (gid_t)r->gid : (u->found ? u->gid : (gid_t)r->uid);
		if (setgroups(u->ngroups, u->groups) < 0 || setgid(gid) < 0)
			goto fail;
		if (r->uid >= 0 && setuid((uid_t)r->uid) < 0)
			goto fail;
	}
	e[0] = 2;
	if (chdir(r->cwd ? r->cwd : u->home) < 0 && (r->cwd || chdir("/") < 0))
		goto fail;
	/* execvp(3) searches the PATH of environ: make the command's environment ours first */
	environ = env->v;
	e[0] = 3;
	execvp(r->argv[0], r->argv);
fail:
	e[1] = errno;
	(void)!write(errfd, e, sizeof e);
	_exit(127);
}

struct pending {
	char *buf;
	size_t len, off;
};

/* Send the pending frame without blocking; returns 0 (sent or still pending) or -1 (connection gone). */
static int flush_conn(int conn, struct pending *q)
{
	if (!q->len)
		return 0;
	ssize_t n = send(conn, q->buf, q->len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	q->len = 0;
	return 0;
}

int agent_exec(int conn, json_t *req, char *buf, isola_error *err)
{
	struct exec_req r = {0};
	_cleanup_strv_ char **argv = NULL, **reqenv = NULL;
	int prc = parse_req(req, &r, err);
	argv = r.argv;
	reqenv = r.env;
	if (prc < 0)
		return -1;
	struct user u;
	user_lookup(r.uid >= 0 ? (uid_t)r.uid : 0, &u);
	__attribute__((cleanup(env_clear))) struct env env = {.n = 0};
	char kv[512];
	/* the defaults of a login (login(1)), then the caller's variables over them */
	if (env_set(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", err) < 0)
		return -1;
	snprintf(kv, sizeof kv, "HOME=%s", u.found ? u.home : (r.uid > 0 ? "/" : "/root"));
	if (env_set(&env, kv, err) < 0 || env_set(&env, "LANG=C.UTF-8", err) < 0)
		return -1;
	if (u.found) {
		snprintf(kv, sizeof kv, "USER=%s", u.name);
		if (env_set(&env, kv, err) < 0)
			return -1;
	}
	if (r.tty && env_set(&env, "TERM=xterm-256color", err) < 0)
		return -1;
	for (char **p = r.env; p && *p; p++)
		if (env_set(&env, *p, err) < 0)
			return -1;

	_cleanup_close_ int master = -1, in_w = -1, out_r = -1, err_r = -1;
	int in_r = -1, out_w = -1, err_w = -1;
	char pts[64] = "";
	if (r.tty) {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, pts, sizeof pts))
			return isola_err(err, errno, "allocate a pty");
		struct winsize ws = {.ws_row = (unsigned short)(r.rows ? r.rows : 24),
		                     .ws_col = (unsigned short)(r.cols ? r.cols : 80)};
		ioctl(master, TIOCSWINSZ, &ws);
	} else {
		int p[3][2];
		if (pipe2(p[0], O_CLOEXEC) < 0)
			return isola_err(err, errno, "pipe");
		if (pipe2(p[1], O_CLOEXEC) < 0) {
			close(p[0][0]), close(p[0][1]);
			return isola_err(err, errno, "pipe");
		}
		if (pipe2(p[2], O_CLOEXEC) < 0) {
			close(p[0][0]), close(p[0][1]), close(p[1][0]), close(p[1][1]);
			return isola_err(err, errno, "pipe");
		}
		in_r = p[0][0], in_w = p[0][1], out_r = p[1][0], out_w = p[1][1], err_r = p[2][0], err_w = p[2][1];
	}
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0)
		return isola_err(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0)
		return isola_err(err, errno, "fork");
	if (pid == 0)
		child(&r, &env, &u, in_r, out_w, err_w, r.tty ? pts : NULL, ep[1]);
	close(ep[1]);
	if (!r.tty)
		close(in_r), close(out_w), close(err_w);
	int ce[2];
	ssize_t en = read(ep[0], ce, sizeof ce);
	close(ep[0]);
	if (en == (ssize_t)sizeof ce) {
		waitpid(pid, NULL, 0);
		if (ce[0] == 1)
			return isola_err(err, ce[1], "switch to uid %lld gid %lld", (long long)r.uid, (long long)r.gid);
		if (ce[0] == 2)
			return isola_err(err, ce[1], "chdir %.200s", r.cwd ? r.cwd : u.home);
		if (ce[0] == 3)
			return isola_err(err, ce[1], "exec %.200s", r.argv[0]);
		return isola_err(err, ce[1], "set up the command's stdio");
	}
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return isola_err(err, errno, "pidfd_open");
	_cleanup_json_ json_t *started = json_pack("{sI}", "pid", (json_int_t)pid);
	if (agent_reply_ok(conn, started, err) < 0) {
		kill(pid, SIGKILL);
		return -1;
	}
	if (r.tty) {
		in_w = fcntl(master, F_DUPFD_CLOEXEC, 3);
		out_r = steal_fd(&master);
	}
	fcntl(in_w, F_SETFL, O_NONBLOCK);
	_cleanup_free_ char *outbuf = malloc(AGENT_MSG_MAX), *inbuf = malloc(AGENT_DATA_MAX);
	if (!outbuf || !inbuf)
		return isola_err(err, ENOMEM, "buffers");
	struct pending oq = {outbuf, 0, 0}, iq = {inbuf, 0, 0};
	bool in_eof = false, conn_eof = false, exited = false;
	int status = 0;
	uint64_t hup_at = 0;
	for (;;) {
		if (conn_eof && !exited && !hup_at) {
			/* the client is gone: hang up on the command, as a terminal does; its output is read and
			 * dropped meanwhile, so a shell's trap is not killed by SIGPIPE before it runs */
			log_debug("exec: client gone, SIGHUP to %d", pid);
			kill(-pid, SIGHUP);
			kill(pid, SIGHUP);
			hup_at = now_ns();
		}
		if (hup_at && !exited && now_ns() - hup_at > HUP_GRACE_MS * 1000000ull) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		if (conn_eof && exited)
			return 0; /* nobody to tell the status to */
		if (exited && out_r < 0 && err_r < 0 && !oq.len)
			break;
		struct pollfd p[5] = {
		    {conn, (short)((!iq.len && !conn_eof ? POLLIN : 0) | (oq.len ? POLLOUT : 0)), 0},
		    {!oq.len ? out_r : -1, POLLIN, 0},
		    {!oq.len ? err_r : -1, POLLIN, 0},
		    {iq.len ? in_w : -1, POLLOUT, 0},
		    {!exited ? pidfd : -1, POLLIN, 0},
		};
		if (conn_eof && !p[0].events)
			p[0].fd = -1;
		int n = poll(p, 5, exited ? DRAIN_QUIET_MS : hup_at ? 100 : -1);
		if (n < 0 && errno != EINTR)
			return isola_err(err, errno, "poll");
		if (n == 0 && exited) {
			if (oq.len) /* the client is not reading: it gets the status once it does */
				continue;
			break; /* quiet since the exit: whatever holds stdout open is not ours to wait for */
		}
		if (n <= 0)
			continue;
		if (p[4].revents) {
			siginfo_t si = {0};
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == pid) {
				exited = true;
				status = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
			}
		}
		if (p[0].revents & POLLOUT && flush_conn(conn, &oq) < 0)
			conn_eof = true;
		if (!iq.len && !conn_eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			struct agent_packet pk;
			isola_error e;
			if (agent_recv(conn, buf, 0, &pk, &e) < 0) {
				conn_eof = true;
				if (e.errnum != ECONNRESET)
					log_warn("exec: %s", e.msg);
			} else if (pk.msg) {
				_cleanup_json_ json_t *m = pk.msg;
				json_t *sig = json_object_get(m, "signal"), *win = json_object_get(m, "window");
				json_int_t s = json_integer_value(sig);
				if (json_is_integer(sig) && s >= 1 && s < NSIG && !exited)
					kill(pid, (int)s);
				else if (win && r.tty) {
					json_int_t rows = json_integer_value(json_object_get(win, "rows")),
					           cols = json_integer_value(json_object_get(win, "cols"));
					struct winsize ws = {.ws_row = (unsigned short)rows,
					                     .ws_col = (unsigned short)cols};
					if (rows > 0 && rows < 65536 && cols > 0 && cols < 65536)
						ioctl(in_w, TIOCSWINSZ, &ws);
				}
			} else if (pk.tag == AGENT_STDIN && !in_eof) {
				if (pk.len == 0)
					in_eof = true;
				memcpy(iq.buf, pk.data, pk.len);
				iq.len = pk.len, iq.off = 0;
			}
		}
		if (iq.len && p[3].revents) {
			ssize_t w = write(in_w, iq.buf + iq.off, iq.len - iq.off);
			if (w > 0 && (iq.off += (size_t)w) == iq.len)
				iq.len = 0;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				iq.len = 0; /* EPIPE: the command closed its stdin; drop what it will never read */
		}
		if (in_eof && !iq.len && in_w >= 0) {
			if (r.tty) {
				/* a pty has no EOF of its own: send the terminal's EOF character (termios(3) VEOF) */
				struct termios t;
				char eof = tcgetattr(in_w, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
				(void)!write(in_w, &eof, 1);
				in_eof = false;
			} else {
				closep(&in_w);
			}
		}
		for (int i = 1; i <= 2; i++) {
			int *fd = i == 1 ? &out_r : &err_r;
			if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)) || oq.len)
				continue;
			ssize_t rn = read(*fd, outbuf + 1, AGENT_DATA_MAX);
			if (rn < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (rn <= 0) { /* EOF, or EIO on a pty master once the last slave fd closed (pty(7)) */
				closep(fd);
				if (r.tty)
					closep(&in_w);
				continue;
			}
			outbuf[0] = i == 1 ? AGENT_STDOUT : AGENT_STDERR;
			oq.len = (size_t)rn + 1;
			if (flush_conn(conn, &oq) < 0)
				conn_eof = true;
		}
		if (conn_eof && !oq.len && exited)
			break;
		if (conn_eof)
			oq.len = 0;
	}
	if (!exited) {
		siginfo_t si = {0};
		waitid(P_PID, (id_t)pid, &si, WEXITED);
		status = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
	}
	int fl = fcntl(conn, F_GETFL);
	fcntl(conn, F_SETFL, fl & ~O_NONBLOCK);
	_cleanup_json_ json_t *m = status >= 0 ? json_pack("{s{si}}", "exit", "code", status)
	                                       : json_pack("{s{si}}", "exit", "signal", -status);
	return agent_send_json(conn, m, err) < 0 && !conn_eof ? -1 : 0;
}
