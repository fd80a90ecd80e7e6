/* snapshot create|restore|delete|list. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"

static const char snap_usage[] =
    "isola snapshot create NAME [SNAP] | restore NAME SNAP | delete NAME SNAP | list NAME [--format F]";

static json_t *iso(int64_t t)
{
	if (!t)
		return json_null();
	char b[40];
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(b);
}

int cmd_snapshot(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc < 3)
		return usage_err(err, snap_usage);
	const char *sub = argv[1], *name = argv[2];
	if (cli_manager(c, err) < 0)
		return -1;
	if (!strcmp(sub, "create") && (argc == 3 || argc == 4)) {
		char made[64];
		if (snapshot_create(&c->m, name, argc == 4 ? argv[3] : NULL, made, sizeof made, err) < 0)
			return -1;
		if (argc == 3)
			printf("%s\n", made);
		return 0;
	}
	if (!strcmp(sub, "restore") && argc == 4)
		return snapshot_restore(&c->m, name, argv[3], err);
	if (!strcmp(sub, "delete") && argc == 4)
		return snapshot_delete(&c->m, name, argv[3], err);
	if (!strcmp(sub, "list")) {
		enum out_format fmt = FMT_TABLE;
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--format") && i + 1 < argc) {
				if (fmt_parse(argv[++i], &fmt, err) < 0)
					return -1;
			} else if (!strncmp(argv[i], "--format=", 9)) {
				if (fmt_parse(argv[i] + 9, &fmt, err) < 0)
					return -1;
			} else
				return usage_err(err, snap_usage);
		}
		struct instance_rec r;
		if (db_instance_get(c->m.db, name, &r, err) < 0)
			return -1;
		struct snapshot_rec *v;
		size_t n;
		int rc = db_snapshot_list(c->m.db, r.id, &v, &n, err);
		instance_rec_clear(&r);
		if (rc < 0)
			return -1;
		_cleanup_json_ json_t *raw = json_array(), *rows = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *o =
			    json_pack("{ss so so sO sO sO sb}", "name", v[i].name, "created_at", iso(v[i].created_at),
			              "expires_at", iso(v[i].expires_at), "config", v[i].config, "devices",
			              v[i].devices, "profiles", v[i].profiles, "stateful", 0);
			json_array_append_new(rows,
			                      json_pack("[sss]", v[i].name,
			                                json_string_value(json_object_get(o, "created_at")) ?: "",
			                                json_string_value(json_object_get(o, "expires_at")) ?: ""));
			json_array_append_new(raw, o);
		}
		snapshot_list_free(v, n);
		static const char *const h[] = {"NAME", "TAKEN AT", "EXPIRES AT"};
		print_list(fmt, h, 3, rows, raw);
		return 0;
	}
	return usage_err(err, snap_usage);
}
