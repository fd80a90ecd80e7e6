/* events [--stats] [--interval SECS] ID: with --stats one stats object, else one every interval
 * (runc's {"type":"stats","id":...,"data":{...}} shape), until the container stops. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "json.h"
#include "runtime/cli/cli.h"

#define USAGE "events [--stats] [--interval SECS] ID"

static int emit(struct cli *c, const char *id)
{
	json_t *data = runtime_stats(&c->ctx, id, &c->err);
	if (!data)
		return -1;
	_cleanup_json_ json_t *ev = json_pack("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", data);
	char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	if (s)
		puts(s);
	fflush(stdout);
	free(s);
	return 0;
}

int cmd_events(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"stats", no_argument, NULL, 's'}, {"interval", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0}};
	bool once = false;
	unsigned interval = 5;
	int o;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 's')
			once = true;
		else if (o == 'i') {
			if (cli_uint(c, "--interval", optarg, &interval) < 0)
				return -1;
		} else
			return cli_usage(c, USAGE);
	}
	const char *id = cli_id(c, argc, argv, USAGE);
	if (!id)
		return -1;
	for (;;) {
		struct runtime_state s;
		if (runtime_state(&c->ctx, id, &s, &c->err) < 0)
			return -1;
		if (s.status == RUNTIME_STOPPED)
			return once ? isola_err(&c->err, 0, "container %s is stopped", id) : 0;
		if (emit(c, id) < 0)
			return -1;
		if (once)
			return 0;
		sleep(interval ? interval : 1);
	}
}
