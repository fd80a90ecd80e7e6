/* resume ID: thaw a paused container. */
#include "runtime/cli/cli.h"

int cmd_resume(struct cli *c, int argc, char **argv)
{
	const char *id = cli_id(c, argc, argv, "resume ID");
	return id && runtime_resume(&c->ctx, id, &c->err) == 0 ? 0 : -1;
}
