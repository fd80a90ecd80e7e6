/* state ID: the OCI state JSON (runtime-spec runtime.md "State"). */
#include <stdio.h>
#include <stdlib.h>
#include "json.h"
#include "runtime/cli/cli.h"

int cmd_state(struct cli *c, int argc, char **argv)
{
	const char *id = cli_id(c, argc, argv, "state ID");
	if (!id)
		return -1;
	_cleanup_json_ json_t *st = runtime_state_json(&c->ctx, id, &c->err);
	if (!st)
		return -1;
	char *s = json_dumps(st, JSON_INDENT(2));
	if (s)
		puts(s);
	free(s);
	return 0;
}
