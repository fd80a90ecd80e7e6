/* create [--bundle D] [--pid-file F] [--console-socket S] [--preserve-fds N] [--no-pivot] ID */
#include <getopt.h>
#include <stdlib.h>
#include "runtime/cli/cli.h"

#define USAGE "create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N] [--no-pivot] ID"

/* Flags shared by create and run; returns 1 when o was handled. */
int cli_create_flag(struct cli *c, int o, struct runtime_create_opts *co)
{
	switch (o) {
	case 'b': co->bundle = optarg; return 1;
	case 'p': co->pid_file = optarg; return 1;
	case 'c': co->console_socket = optarg; return 1;
	case 'P': return cli_uint(c, "--preserve-fds", optarg, &co->preserve_fds) < 0 ? -1 : 1;
	case 'n': co->no_pivot = true; return 1;
	case 'k': co->no_new_keyring = true; return 1;
	}
	return 0;
}

const struct option cli_create_options[] = {
    {"bundle", required_argument, NULL, 'b'},
    {"pid-file", required_argument, NULL, 'p'},
    {"console-socket", required_argument, NULL, 'c'},
    {"preserve-fds", required_argument, NULL, 'P'},
    {"no-pivot", no_argument, NULL, 'n'},
    {"no-new-keyring", no_argument, NULL, 'k'},
    {"detach", no_argument, NULL, 'd'},
    {"tty", no_argument, NULL, 't'},
    {"keep", no_argument, NULL, 'K'},
    {NULL, 0, NULL, 0},
};

void cli_create_defaults(struct runtime_create_opts *co)
{
	*co = (struct runtime_create_opts){.console_socket_fd = -1, .stdio = RUNTIME_STDIO_INHERIT};
	co->system.console_master = -1;
	const char *ns = getenv("NOTIFY_SOCKET");
	if (ns && *ns)
		co->notify_socket = ns;
}

int cmd_create(struct cli *c, int argc, char **argv)
{
	struct runtime_create_opts co;
	cli_create_defaults(&co);
	int o;
	while ((o = getopt_long(argc, argv, "+b:", cli_create_options, NULL)) != -1) {
		int h = cli_create_flag(c, o, &co);
		if (h < 0)
			return -1;
		if (h == 0)
			return cli_usage(c, USAGE);
	}
	const char *id = cli_id(c, argc, argv, USAGE);
	if (!id)
		return -1;
	return runtime_create(&c->ctx, id, &co, &c->err) < 0 ? -1 : 0;
}
