/* ps [--format table|json] ID: host pids of the container's processes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "runtime/cli/cli.h"

#define USAGE "ps [-f|--format table|json] ID"

int cmd_ps(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	bool json = false;
	int o;
	while ((o = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		if (o == 'f' && (!strcmp(optarg, "json") || !strcmp(optarg, "table")))
			json = !strcmp(optarg, "json");
		else
			return cli_usage(c, USAGE);
	}
	const char *id = cli_id(c, argc, argv, USAGE);
	if (!id)
		return -1;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (runtime_ps(&c->ctx, id, &pids, &n, &c->err) < 0)
		return -1;
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", pids[i]);
		printf("]\n");
		return 0;
	}
	printf("PID\n");
	for (size_t i = 0; i < n; i++)
		printf("%d\n", pids[i]);
	return 0;
}
