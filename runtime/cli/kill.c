/* kill [--all] ID [SIGNAL]  (default SIGTERM) */
#include <getopt.h>
#include <signal.h>
#include "runtime/cli/cli.h"

#define USAGE "kill [-a|--all] ID [SIGNAL]"

int cmd_kill(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
	bool all = false;
	int o;
	while ((o = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
		if (o != 'a')
			return cli_usage(c, USAGE);
		all = true;
	}
	if (optind != argc - 1 && optind != argc - 2)
		return cli_usage(c, USAGE);
	int sig = SIGTERM;
	if (optind == argc - 2 && (sig = cli_signal(argv[argc - 1])) < 0)
		return isola_err(&c->err, 0, "kill: \"%s\" is not a signal", argv[argc - 1]);
	return runtime_kill(&c->ctx, argv[optind], sig, all, &c->err) < 0 ? -1 : 0;
}
