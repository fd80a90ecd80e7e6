#include "daemons.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cleanup.h"
#include "json.h"
#include "paths.h"

const char *daemon_name(enum isola_daemon d)
{
	return d == DAEMON_IMAGED ? "isola-imaged" : "isola-netd";
}

void daemon_socket(enum isola_daemon d, char *out, size_t len)
{
	const char *env = getenv(d == DAEMON_IMAGED ? "ISOLA_IMAGED_SOCKET" : "ISOLA_NETD_SOCKET");
	if (env && *env)
		snprintf(out, len, "%s", env);
	else
		isola_run_path(out, len, "%s", d == DAEMON_IMAGED ? "imaged.sock" : "netd.sock");
}

static int bin_dir(char *out, size_t len, isola_error *err)
{
	const char *env = getenv("ISOLA_BIN_DIR");
	if (env && *env) {
		snprintf(out, len, "%s", env);
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	if (n < 0)
		return isola_err(err, errno, "readlink /proc/self/exe");
	out[n] = 0;
	char *s = strrchr(out, '/');
	if (s)
		*s = 0;
	return 0;
}

static bool answers(const char *sock)
{
	isola_error e;
	int fd = ipc_connect(sock, &e);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int spawn(enum isola_daemon d, const char *sock, isola_error *err)
{
	char dir[4096], bin[4200], state[4096], logdir[4096], log[4200];
	if (bin_dir(dir, sizeof dir, err) < 0)
		return -1;
	snprintf(bin, sizeof bin, "%s/%s", dir, daemon_name(d));
	if (access(bin, X_OK) < 0)
		return isola_err(err, errno, "%s is not running (socket %s) and %s cannot be started", daemon_name(d),
		                 sock, bin);
	if (d == DAEMON_IMAGED)
		isola_path(state, sizeof state, "images");
	else
		isola_path(state, sizeof state, "netd");
	isola_path(logdir, sizeof logdir, "logs");
	mkdir(isola_dir(), 0711);
	mkdir(logdir, 0700);
	snprintf(log, sizeof log, "%s/%s.log", logdir, daemon_name(d) + 6);
	pid_t pid = fork();
	if (pid < 0)
		return isola_err(err, errno, "fork %s", bin);
	if (pid == 0) {
		/* double fork: the daemon is reparented and never our zombie */
		setsid();
		if (fork() != 0)
			_exit(0);
		int nul = open("/dev/null", O_RDWR);
		int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(lfd >= 0 ? lfd : nul, 2);
		close_range(3, ~0U, 0);
		signal(SIGPIPE, SIG_DFL);
		if (d == DAEMON_IMAGED)
			execl(bin, bin, "--socket", sock, "--store", state, (char *)NULL);
		else
			execl(bin, bin, "--socket", sock, "--state-dir", state, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	/* wait for the socket: up to 10 s (a daemon recovering state may take a moment) */
	for (int i = 0; i < 1000; i++) {
		if (answers(sock))
			return 0;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return isola_err(err, ETIMEDOUT, "started %s but its socket %s did not answer within 10 s (see %s)", bin, sock,
	                 log);
}

int daemon_ensure(enum isola_daemon d, isola_error *err)
{
	char sock[4096];
	daemon_socket(d, sock, sizeof sock);
	if (answers(sock))
		return 0;
	return spawn(d, sock, err);
}

int daemon_call(enum isola_daemon d, json_t *req, const int *fds, size_t nfds, json_t **reply, int *rfds, size_t *nrfds,
                ipc_progress_fn on_progress, void *ud, isola_error *err)
{
	if (daemon_ensure(d, err) < 0)
		return -1;
	char sock[4096];
	daemon_socket(d, sock, sizeof sock);
	return ipc_call(sock, req, fds, nfds, reply, rfds, nrfds, on_progress, ud, err);
}

int daemon_op(enum isola_daemon d, const char *op, json_t *fields, json_t **reply, ipc_progress_fn on_progress,
              void *ud, isola_error *err)
{
	_cleanup_json_ json_t *req = fields ? fields : json_object();
	json_object_set_new(req, "op", json_string(op));
	return daemon_call(d, req, NULL, 0, reply, NULL, NULL, on_progress, ud, err);
}
