/* start ID: let a created container's init execve the user process. */
#include "runtime/cli/cli.h"

int cmd_start(struct cli *c, int argc, char **argv)
{
	const char *id = cli_id(c, argc, argv, "start ID");
	return id && runtime_start(&c->ctx, id, &c->err) == 0 ? 0 : -1;
}
