/* boot / halt: system containers (runtime/syscont.h).
 *
 *   boot [--image DIR | --rootfs DIR [--metadata FILE]] [--ephemeral] [--privileged] [--idmap-dir DIR]
 *        [--hostname H] [--uuid U] [--stop-signal SIG] [--ready notify|file:PATH|none] [--timeout SECS]
 *        [--memory SIZE] [--pids N] [--bind SRC:DST[:ro]]... [--netns PATH]
 *        [--console-socket SOCK | --console-log FILE] ID
 *   halt [--timeout SECS] [--idmap-dir DIR] [--keep-ids] ID
 *
 * boot returns once the container is ready and prints one JSON line (id, pid, host_id_base, ready,
 * create_ms, ready_ms). The console: the CLI makes the pty and either hands the master over the console
 * socket (runc's protocol) or leaves a small holder process that copies it to --console-log (default: it
 * is read and dropped — an unread console would block the init once the pty buffer fills). */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "runtime/cli/cli.h"
#include "runtime/container.h"
#include "util.h"

#define BOOT_USAGE                                                                                                     \
	"boot [--image DIR | --rootfs DIR [--metadata FILE]] [--ephemeral] [--privileged] [--idmap-dir DIR] "          \
	"[--hostname H] [--uuid U] [--stop-signal SIG] [--ready notify|file:PATH|none] [--timeout SECS] "              \
	"[--memory SIZE] [--pids N] [--bind SRC:DST[:ro]]... [--netns PATH] [--console-socket SOCK | "                 \
	"--console-log FILE] ID"
#define HALT_USAGE "halt [--timeout SECS] [--idmap-dir DIR] [--keep-ids] ID"
#define MAX_BINDS  32

/* The console holder: a child that keeps the pty master read until the container's init is gone. It keeps
 * a slave fd of its own open all along: with no slave open, the master reads EIO, and an init that closes
 * and reopens /dev/console (systemd does, around getty) must never find the pty gone. It learns init's pid
 * from `pidpipe` and exits when that process does (pidfd_open(2)); no pid (boot failed) → it exits. */
static void console_holder(int master, int pidpipe, int logfd)
{
	setsid();
	/* nothing of the caller's: its stdio may be a pipe someone waits to see closed */
	int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3 && dn >= 0; i++)
		dup2(dn, i);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	int keep = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	(void)keep;
	int pfd = -1;
	char buf[8192];
	for (;;) {
		struct pollfd p[3] = {
		    {.fd = master, .events = POLLIN}, {.fd = pidpipe, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
		if (poll(p, 3, -1) < 0)
			continue;
		if (p[0].revents & POLLIN) {
			ssize_t n = read(master, buf, sizeof buf);
			if (n > 0 && logfd >= 0 && write(logfd, buf, (size_t)n) < 0)
				closep(&logfd);
		}
		if (pidpipe >= 0 && (p[1].revents & (POLLIN | POLLHUP))) {
			pid_t pid = 0;
			ssize_t n = read(pidpipe, &pid, sizeof pid);
			if (n != sizeof pid || pid <= 0 || (pfd = pidfd_open(pid, 0)) < 0)
				_exit(0);
			closep(&pidpipe);
		}
		if (pfd >= 0 && (p[2].revents & POLLIN)) {
			/* init is gone: drain what is left, then go */
			fcntl(master, F_SETFL, O_NONBLOCK);
			ssize_t n;
			while ((n = read(master, buf, sizeof buf)) > 0)
				if (logfd >= 0 && write(logfd, buf, (size_t)n) < 0)
					break;
			_exit(0);
		}
	}
}

static int parse_bind(struct cli *c, char *spec, struct syscont_bind *b)
{
	char *c1 = strchr(spec, ':');
	if (!c1 || c1 == spec || c1[1] != '/')
		return isola_err(&c->err, EINVAL, "--bind %s: expected SRC:/DST[:ro]", spec);
	*c1 = 0;
	char *c2 = strchr(c1 + 1, ':');
	b->readonly = false;
	if (c2) {
		if (strcmp(c2 + 1, "ro") && strcmp(c2 + 1, "rw"))
			return isola_err(&c->err, EINVAL, "--bind: \"%s\" is not ro or rw", c2 + 1);
		b->readonly = !strcmp(c2 + 1, "ro");
		*c2 = 0;
	}
	b->source = spec;
	b->destination = c1 + 1;
	return 0;
}

static const char *ready_name(enum syscont_ready r)
{
	return r == SYSCONT_READY_NOTIFY ? "notify" : r == SYSCONT_READY_FILE ? "file" : "none";
}

int cmd_boot(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"image", required_argument, NULL, 'i'},       {"rootfs", required_argument, NULL, 'r'},
	    {"metadata", required_argument, NULL, 'm'},    {"ephemeral", no_argument, NULL, 'e'},
	    {"privileged", no_argument, NULL, 'P'},        {"idmap-dir", required_argument, NULL, 'I'},
	    {"hostname", required_argument, NULL, 'h'},    {"uuid", required_argument, NULL, 'u'},
	    {"stop-signal", required_argument, NULL, 's'}, {"ready", required_argument, NULL, 'R'},
	    {"timeout", required_argument, NULL, 't'},     {"memory", required_argument, NULL, 'M'},
	    {"pids", required_argument, NULL, 'p'},        {"bind", required_argument, NULL, 'b'},
	    {"netns", required_argument, NULL, 'n'},       {"console-socket", required_argument, NULL, 'c'},
	    {"console-log", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0},
	};
	struct runtime_boot_opts bo = {.console_master = -1};
	struct syscont_bind binds[MAX_BINDS];
	const char *image = NULL, *console_socket = NULL, *console_log = NULL;
	char rootfs_buf[4096], meta_buf[4096];
	int o;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (o) {
		case 'i': image = optarg; break;
		case 'r': bo.rootfs = optarg; break;
		case 'm': bo.metadata = optarg; break;
		case 'e': bo.ephemeral = true; break;
		case 'P': bo.privileged = true; break;
		case 'I': bo.idmap_dir = optarg; break;
		case 'h': bo.hostname = optarg; break;
		case 'u': bo.uuid = optarg; break;
		case 's':
			if ((bo.stop_signal = syscont_parse_signal(optarg)) < 0)
				return isola_err(&c->err, EINVAL, "--stop-signal: unknown signal \"%s\"", optarg);
			break;
		case 'R': {
			struct syscont_image_meta m = {0};
			if (syscont_parse_ready(optarg, &m, &c->err) < 0)
				return isola_err_wrap(&c->err, "--ready");
			bo.ready = m.ready;
			bo.ready_path = m.ready == SYSCONT_READY_FILE ? optarg + 5 : NULL;
			break;
		}
		case 't': {
			unsigned s;
			if (cli_uint(c, "--timeout", optarg, &s) < 0)
				return -1;
			bo.ready_timeout_ms = s * 1000;
			break;
		}
		case 'M': {
			uint64_t v;
			if (parse_size(optarg, &v, &c->err) < 0)
				return isola_err_wrap(&c->err, "--memory");
			bo.memory_limit = (int64_t)v;
			break;
		}
		case 'p': {
			unsigned v;
			if (cli_uint(c, "--pids", optarg, &v) < 0)
				return -1;
			bo.pids_limit = v;
			break;
		}
		case 'b':
			if (bo.n_binds == MAX_BINDS)
				return isola_err(&c->err, E2BIG, "at most %d --bind", MAX_BINDS);
			if (parse_bind(c, optarg, &binds[bo.n_binds]) < 0)
				return -1;
			bo.n_binds++;
			break;
		case 'n': bo.netns = optarg; break;
		case 'c': console_socket = optarg; break;
		case 'l': console_log = optarg; break;
		default: return cli_usage(c, BOOT_USAGE);
		}
	}
	const char *id = cli_id(c, argc, argv, BOOT_USAGE);
	if (!id)
		return -1;
	bo.binds = binds;
	if (image) {
		if (bo.rootfs || bo.metadata)
			return isola_err(&c->err, EINVAL, "--image DIR replaces --rootfs and --metadata");
		snprintf(rootfs_buf, sizeof rootfs_buf, "%s/rootfs", image);
		snprintf(meta_buf, sizeof meta_buf, "%s/metadata.yaml", image);
		bo.rootfs = rootfs_buf;
		if (access(meta_buf, R_OK) == 0)
			bo.metadata = meta_buf;
	}
	if (!bo.rootfs)
		return cli_usage(c, BOOT_USAGE);
	if (console_socket && console_log)
		return isola_err(&c->err, EINVAL, "--console-socket and --console-log exclude each other");

	_cleanup_close_ int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	EXPLAIN(master, "posix_openpt(3), pts(4)", "posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC)  /* the console pty */");
	if (master < 0 || unlockpt(master) < 0)
		return isola_err(&c->err, errno, "console pty");
	bo.console_master = master;
	_cleanup_close_ int sock = -1, pidw = -1;
	pid_t holder = -1;
	if (console_socket) {
		if ((sock = container_connect_console(console_socket, &c->err)) < 0)
			return -1;
	} else {
		_cleanup_close_ int logfd = open(console_log ? console_log : "/dev/null",
		                                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
		if (logfd < 0)
			return isola_err(&c->err, errno, "--console-log %s", console_log ? console_log : "/dev/null");
		int pp[2];
		if (pipe2(pp, O_CLOEXEC) < 0)
			return isola_err(&c->err, errno, "pipe");
		holder = fork();
		if (holder < 0)
			return isola_err(&c->err, errno, "fork the console holder");
		if (holder == 0) {
			close(pp[1]);
			/* a grandchild, so that nobody has to reap it */
			if (fork() != 0)
				_exit(0);
			console_holder(master, pp[0], logfd);
		}
		close(pp[0]);
		pidw = pp[1];
		waitpid(holder, NULL, 0);
	}
	struct runtime_boot_result res;
	if (runtime_boot(&c->ctx, id, &bo, &res, &c->err) < 0)
		return -1; /* the holder sees the pipe close and exits */
	if (pidw >= 0 && write(pidw, &res.pid, sizeof res.pid) != sizeof res.pid)
		return isola_err(&c->err, errno, "tell the console holder");
	if (sock >= 0 && container_send_console(sock, master, &c->err) < 0)
		return -1;
	printf("{\"id\": \"%s\", \"pid\": %d, \"host_id_base\": %llu, \"ready\": \"%s\", \"stop_signal\": %d, "
	       "\"create_ms\": %.1f, \"ready_ms\": %.1f}\n",
	       id, res.pid, (unsigned long long)res.host_id_base, ready_name(res.ready), res.stop_signal,
	       res.created_ns / 1e6, res.ready_ns / 1e6);
	return 0;
}

int cmd_halt(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"idmap-dir", required_argument, NULL, 'I'},
	    {"keep-ids", no_argument, NULL, 'k'},
	    {NULL, 0, NULL, 0},
	};
	unsigned timeout = 30;
	const char *idmap_dir = NULL;
	bool keep = false;
	int o;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 't') {
			if (cli_uint(c, "--timeout", optarg, &timeout) < 0)
				return -1;
		} else if (o == 'I') {
			idmap_dir = optarg;
		} else if (o == 'k') {
			keep = true;
		} else {
			return cli_usage(c, HALT_USAGE);
		}
	}
	const char *id = cli_id(c, argc, argv, HALT_USAGE);
	if (!id)
		return -1;
	return runtime_halt(&c->ctx, id, timeout * 1000, idmap_dir, !keep, &c->err) < 0 ? -1 : 0;
}
