/* exec and console. */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"
#include "manager/paths.h"
#include "util.h"

static const char exec_usage[] = "isola exec NAME [--env K=V]... [--cwd DIR] [--user UID[:GID]] [-t|-T] [--] CMD...";

int cmd_exec(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {{"env", required_argument, NULL, 'e'},
	                                     {"cwd", required_argument, NULL, 'w'},
	                                     {"user", required_argument, NULL, 'u'},
	                                     {"force-interactive", no_argument, NULL, 't'},
	                                     {"force-noninteractive", no_argument, NULL, 'T'},
	                                     {NULL, 0, NULL, 0}};
	if (argc < 3)
		return usage_err(err, exec_usage);
	const char *name = argv[1];
	/* options after NAME, up to "--" or the first non-option: parse argv[1..] with NAME as argv[0] */
	char **av = argv + 1;
	int ac = argc - 1;
	char **env = calloc((size_t)argc + 1, sizeof *env);
	size_t nenv = 0;
	struct exec_opts eo = {0};
	int tty = -1;
	int o;
	while ((o = getopt_long(ac, av, "+e:tT", opts, NULL)) != -1) {
		switch (o) {
		case 'e':
			if (!strchr(optarg, '='))
				return free(env), isola_err(err, EINVAL, "--env \"%s\": expected KEY=VALUE", optarg);
			env[nenv++] = optarg;
			break;
		case 'w': eo.cwd = optarg; break;
		case 'u': eo.user = optarg; break;
		case 't': tty = 1; break;
		case 'T': tty = 0; break;
		default: free(env); return usage_err(err, exec_usage);
		}
	}
	if (optind >= ac) {
		free(env);
		return usage_err(err, exec_usage);
	}
	eo.argv = av + optind;
	eo.env = env;
	/* like incus: a pty when stdin and stdout are terminals, unless forced either way */
	eo.tty = tty >= 0 ? tty : (isatty(0) && isatty(1));
	if (cli_manager(c, err) < 0)
		return free(env), -1;
	int status = 0;
	int rc = instance_exec(&c->m, name, &eo, &status, err);
	free(env);
	return rc < 0 ? -1 : status;
}

static struct termios saved;
static bool raw_on;
static void restore_tty(void)
{
	if (raw_on)
		tcsetattr(0, TCSANOW, &saved);
	raw_on = false;
}

int cmd_console(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {{"show-log", no_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
	bool show_log = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'l')
			return usage_err(err, "isola console NAME [--show-log]");
		show_log = true;
	}
	if (argc - optind != 1)
		return usage_err(err, "isola console NAME [--show-log]");
	const char *name = argv[optind];
	if (cli_manager(c, err) < 0)
		return -1;
	if (show_log) {
		char p[4096];
		isola_path(p, sizeof p, "instances/%s/console.log", name);
		_cleanup_free_ char *s = NULL;
		if (read_file_at(AT_FDCWD, p, &s, NULL, err) < 0)
			return -1;
		fputs(s, stdout);
		return 0;
	}
	_cleanup_close_ int fd = -1;
	if (instance_console(&c->m, name, &fd, err) < 0)
		return -1;
	if (isatty(0) && tcgetattr(0, &saved) == 0) {
		struct termios raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		raw_on = true;
		atexit(restore_tty);
		fprintf(stderr, "To detach from the console, press: <ctrl>+a q\r\n");
	}
	/* ctrl+a q detaches (as incus console); ctrl+a ctrl+a sends one ctrl+a */
	bool prefix = false;
	char buf[4096];
	for (;;) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {0, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0)
				break;
			(void)!write(1, buf, (size_t)n);
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n <= 0)
				break;
			char out[sizeof buf + 1];
			size_t k = 0;
			bool quit = false;
			for (ssize_t i = 0; i < n; i++) {
				if (prefix) {
					prefix = false;
					if (buf[i] == 'q') {
						quit = true;
						break;
					}
					if (buf[i] != 1)
						out[k++] = 1;
					out[k++] = buf[i];
				} else if (buf[i] == 1) {
					prefix = true;
				} else {
					out[k++] = buf[i];
				}
			}
			if (k)
				(void)!write(fd, out, k);
			if (quit)
				break;
		}
	}
	restore_tty();
	return 0;
}
