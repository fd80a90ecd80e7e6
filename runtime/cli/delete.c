/* delete [--force] ID */
#include <getopt.h>
#include "runtime/cli/cli.h"

#define USAGE "delete [-f|--force] ID"

int cmd_delete(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	bool force = false;
	int o;
	while ((o = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (o != 'f')
			return cli_usage(c, USAGE);
		force = true;
	}
	const char *id = cli_id(c, argc, argv, USAGE);
	return id && runtime_delete(&c->ctx, id, force, &c->err) == 0 ? 0 : -1;
}
