/* exec [-t] [-d] [--cwd D] [--env K=V]... [--user U[:G]] [--process F] [--pid-file F]
 *      [--console-socket S] [--preserve-fds N] [--no-new-privs] ID [CMD...] */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "json.h"
#include "runtime/cli/cli.h"

#define USAGE                                                                                                          \
	"exec [-t|--tty] [-d|--detach] [--cwd DIR] [-e|--env K=V]... [-u|--user UID[:GID]] [-p|--process FILE] "       \
	"[--pid-file FILE] [--console-socket SOCK] [--preserve-fds N] [--no-new-privs] ID [CMD...]"

int cmd_exec(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"tty", no_argument, NULL, 't'},
	    {"detach", no_argument, NULL, 'd'},
	    {"cwd", required_argument, NULL, 'w'},
	    {"env", required_argument, NULL, 'e'},
	    {"user", required_argument, NULL, 'u'},
	    {"process", required_argument, NULL, 'p'},
	    {"pid-file", required_argument, NULL, 'P'},
	    {"console-socket", required_argument, NULL, 'c'},
	    {"preserve-fds", required_argument, NULL, 'f'},
	    {"no-new-privs", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct runtime_exec_opts eo = {.console_socket_fd = -1, .stdio = RUNTIME_STDIO_INHERIT};
	bool detach = false;
	_cleanup_free_ char **env = calloc((size_t)argc + 1, sizeof(char *));
	size_t nenv = 0;
	_cleanup_json_ json_t *proc = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "+tdw:e:u:p:", opts, NULL)) != -1) {
		switch (o) {
		case 't': eo.tty = true; break;
		case 'd': detach = true; break;
		case 'w': eo.cwd = optarg; break;
		case 'e': env[nenv++] = optarg; break;
		case 'u': eo.user = optarg; break;
		case 'p':
			if (!(proc = json_load_path(optarg, &c->err)))
				return isola_err_wrap(&c->err, "--process");
			break;
		case 'P': eo.pid_file = optarg; break;
		case 'c': eo.console_socket = optarg; break;
		case 'f':
			if (cli_uint(c, "--preserve-fds", optarg, &eo.preserve_fds) < 0)
				return -1;
			break;
		case 'n': eo.no_new_privs = true; break;
		default: return cli_usage(c, USAGE);
		}
	}
	if (optind >= argc || (!proc && optind + 1 >= argc))
		return cli_usage(c, USAGE);
	const char *id = argv[optind];
	eo.args = &argv[optind + 1];
	eo.env = env;
	eo.process = proc;
	if (proc) {
		json_t *t = json_object_get(proc, "terminal");
		eo.tty = json_is_true(t);
	}
	_cleanup_close_ int master = -1;
	if (eo.tty && !eo.console_socket && !detach)
		eo.console_master_out = &master;
	if (!detach)
		cli_block_signals();
	pid_t pid = runtime_exec(&c->ctx, id, &eo, &c->err);
	if (pid < 0)
		return -1;
	if (detach)
		return 0;
	return cli_supervise(pid, master, &c->err);
}
