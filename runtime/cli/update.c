/* update [--memory N] [--pids-limit N] [--cpu-quota N] [--cpu-period N] [-r FILE] ID
 * The flags build an OCI linux.resources object; -r reads one from FILE ("-" = stdin). */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "util.h"
#include "runtime/cli/cli.h"

#define USAGE "update [--memory N] [--pids-limit N] [--cpu-quota N] [--cpu-period N] [-r|--resources FILE] ID"

static json_t *section(json_t *res, const char *key)
{
	json_t *o = json_object_get(res, key);
	if (!o) {
		o = json_object();
		json_object_set_new(res, key, o);
	}
	return o;
}

static int num(struct cli *c, const char *flag, const char *s, long long *out)
{
	char *end;
	*out = strtoll(s, &end, 10);
	if (!*s || *end)
		return isola_err(&c->err, 0, "%s: \"%s\" is not a number", flag, s);
	return 0;
}

int cmd_update(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"memory", required_argument, NULL, 'm'},    {"pids-limit", required_argument, NULL, 'p'},
	    {"cpu-quota", required_argument, NULL, 'q'}, {"cpu-period", required_argument, NULL, 'P'},
	    {"resources", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0},
	};
	_cleanup_json_ json_t *res = json_object();
	int o;
	long long v;
	while ((o = getopt_long(argc, argv, "+r:", opts, NULL)) != -1) {
		switch (o) {
		case 'm': {
			uint64_t b;
			if (parse_size(optarg, &b, &c->err) < 0)
				return isola_err_wrap(&c->err, "--memory");
			json_object_set_new(section(res, "memory"), "limit", json_integer((json_int_t)b));
			break;
		}
		case 'p':
			if (num(c, "--pids-limit", optarg, &v) < 0)
				return -1;
			json_object_set_new(section(res, "pids"), "limit", json_integer(v));
			break;
		case 'q':
			if (num(c, "--cpu-quota", optarg, &v) < 0)
				return -1;
			json_object_set_new(section(res, "cpu"), "quota", json_integer(v));
			break;
		case 'P':
			if (num(c, "--cpu-period", optarg, &v) < 0)
				return -1;
			json_object_set_new(section(res, "cpu"), "period", json_integer(v));
			break;
		case 'r': {
			json_t *f = strcmp(optarg, "-") ? json_load_path(optarg, &c->err) : json_loadf(stdin, 0, NULL);
			if (!f)
				return c->err.msg[0] ? -1 : isola_err(&c->err, 0, "--resources: stdin is not JSON");
			json_decref(res);
			res = f;
			break;
		}
		default: return cli_usage(c, USAGE);
		}
	}
	const char *id = cli_id(c, argc, argv, USAGE);
	return id && runtime_update(&c->ctx, id, res, &c->err) == 0 ? 0 : -1;
}
