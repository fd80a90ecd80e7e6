/* list [--format table|json] [-q] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "runtime/cli/cli.h"

#define USAGE "list [-f|--format table|json] [-q|--quiet]"

int cmd_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0}};
	bool json = false, quiet = false;
	int o;
	while ((o = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
		if (o == 'f' && (!strcmp(optarg, "json") || !strcmp(optarg, "table")))
			json = !strcmp(optarg, "json");
		else if (o == 'q')
			quiet = true;
		else
			return cli_usage(c, USAGE);
	}
	if (optind != argc)
		return cli_usage(c, USAGE);
	_cleanup_json_ json_t *arr = runtime_list(&c->ctx, &c->err);
	if (!arr)
		return -1;
	if (json) {
		char *s = json_dumps(arr, JSON_COMPACT);
		if (s)
			puts(s);
		free(s);
		return 0;
	}
	if (!quiet)
		printf("%-24s %-8s %-10s %-32s %s\n", "ID", "PID", "STATUS", "CREATED", "BUNDLE");
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));
		if (quiet) {
			puts(id);
			continue;
		}
		printf("%-24s %-8lld %-10s %-32s %s\n", id, (long long)json_integer_value(json_object_get(e, "pid")),
		       json_string_value(json_object_get(e, "status")),
		       json_string_value(json_object_get(e, "created")),
		       json_string_value(json_object_get(e, "bundle")));
	}
	return 0;
}
