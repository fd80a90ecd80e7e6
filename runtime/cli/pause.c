/* pause ID: freeze every process of the container (cgroup.freeze). */
#include "runtime/cli/cli.h"

int cmd_pause(struct cli *c, int argc, char **argv)
{
	const char *id = cli_id(c, argc, argv, "pause ID");
	return id && runtime_pause(&c->ctx, id, &c->err) == 0 ? 0 : -1;
}
