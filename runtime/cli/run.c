/* run [-d] [-t] [create flags] ID: create + start, then (without -d) wait for init, forwarding signals
 * and, with a terminal, proxying the pty; the container is deleted once it exited (as runc run does). */
#include <getopt.h>
#include <unistd.h>
#include "cleanup.h"
#include "runtime/cli/cli.h"

#define USAGE                                                                                                          \
	"run [-d|--detach] [-t|--tty] [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N] ID"

int cmd_run(struct cli *c, int argc, char **argv)
{
	struct runtime_create_opts co;
	cli_create_defaults(&co);
	bool detach = false, keep = false;
	int o;
	while ((o = getopt_long(argc, argv, "+b:dt", cli_create_options, NULL)) != -1) {
		int h = cli_create_flag(c, o, &co);
		if (h < 0)
			return -1;
		if (h)
			continue;
		if (o == 'd')
			detach = true;
		else if (o == 't')
			co.force_terminal = true;
		else if (o == 'K')
			keep = true;
		else
			return cli_usage(c, USAGE);
	}
	const char *id = cli_id(c, argc, argv, USAGE);
	if (!id)
		return -1;
	_cleanup_close_ int master = -1;
	if (!co.console_socket && !detach)
		co.console_master_out = &master;
	if (detach && co.force_terminal && !co.console_socket)
		return isola_err(&c->err, 0, "run -d -t needs --console-socket (nobody would hold the terminal)");
	if (!detach)
		cli_block_signals();
	pid_t pid = runtime_create(&c->ctx, id, &co, &c->err);
	if (pid < 0)
		return -1;
	if (runtime_start(&c->ctx, id, &c->err) < 0) {
		isola_error e2 = {0};
		runtime_delete(&c->ctx, id, true, &e2);
		return -1;
	}
	if (detach)
		return 0;
	int status = cli_supervise(pid, master, &c->err);
	if (status < 0)
		return -1;
	if (!keep && runtime_delete(&c->ctx, id, true, &c->err) < 0)
		return -1;
	return status;
}
