/* config get/set/unset/show/edit and config device add/remove/list/show. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "cli.h"
#include "edit.h"
#include "json.h"
#include "manager/config.h"

static const char config_usage[] =
    "isola config get NAME KEY [--expanded] | set NAME KEY=VALUE... | set NAME KEY VALUE | unset NAME KEY | "
    "show NAME [--expanded] | edit NAME | device add NAME DEV TYPE [K=V]... | device remove NAME DEV | "
    "device list NAME | device show NAME";

static int load(struct cli *c, const char *name, struct instance_rec *r, isola_error *err)
{
	if (cli_manager(c, err) < 0)
		return -1;
	return db_instance_get(c->m.db, name, r, err);
}

static json_t *instance_doc(struct cli *c, struct instance_rec *r, bool expanded, isola_error *err)
{
	_cleanup_json_ json_t *cfg = NULL, *devs = NULL;
	if (expanded && instance_effective(&c->m, r, &cfg, &devs, err) < 0)
		return NULL;
	return json_pack("{ss sO sO sb sO sb ss}", "architecture", "x86_64", "config", expanded ? cfg : r->config,
	                 "devices", expanded ? devs : r->devices, "ephemeral", r->ephemeral, "profiles", r->profiles,
	                 "stateful", 0, "description", r->description ? r->description : "");
}

static int device_cmd(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc < 3)
		return usage_err(err, config_usage);
	const char *sub = argv[1], *name = argv[2];
	if (cli_manager(c, err) < 0)
		return -1;
	if (!strcmp(sub, "add") && argc >= 5) {
		_cleanup_json_ json_t *d = device_from_args(argv[4], argv + 5, argc - 5, err);
		if (!d)
			return -1;
		return instance_device_add(&c->m, name, argv[3], d, err);
	}
	if (!strcmp(sub, "remove") && argc == 4)
		return instance_device_remove(&c->m, name, argv[3], err);
	if ((!strcmp(sub, "list") || !strcmp(sub, "show")) && argc == 3) {
		struct instance_rec r;
		if (db_instance_get(c->m.db, name, &r, err) < 0)
			return -1;
		_cleanup_json_ json_t *devs = NULL;
		int rc = instance_effective(&c->m, &r, NULL, &devs, err);
		instance_rec_clear(&r);
		if (rc < 0)
			return -1;
		if (!strcmp(sub, "show")) {
			print_yaml(devs);
			return 0;
		}
		const char *k;
		json_t *v;
		json_object_foreach(devs, k, v)
		{
			printf("%s\n", k);
		}
		return 0;
	}
	return usage_err(err, config_usage);
}

int cmd_config(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc < 3)
		return usage_err(err, config_usage);
	const char *sub = argv[1];
	if (!strcmp(sub, "device"))
		return device_cmd(c, argc - 1, argv + 1, err);
	bool expanded = false;
	int n = 0;
	char *pos[16];
	for (int i = 2; i < argc && n < 16; i++) {
		if (!strcmp(argv[i], "--expanded") || !strcmp(argv[i], "-e"))
			expanded = true;
		else
			pos[n++] = argv[i];
	}
	if (n < 1)
		return usage_err(err, config_usage);
	const char *name = pos[0];
	struct instance_rec r;
	if (!strcmp(sub, "get") && n == 2) {
		if (load(c, name, &r, err) < 0)
			return -1;
		_cleanup_json_ json_t *cfg = NULL;
		int rc = expanded ? instance_effective(&c->m, &r, &cfg, NULL, err) : 0;
		if (rc == 0) {
			const char *v = json_string_value(json_object_get(expanded ? cfg : r.config, pos[1]));
			/* an unknown key is an error even for get: a typo should not read as "unset" */
			if (!v && config_key_check(pos[1], NULL, r.type, false, err) < 0)
				rc = -1;
			else
				printf("%s\n", v ? v : "");
		}
		instance_rec_clear(&r);
		return rc;
	}
	if (!strcmp(sub, "set") && n >= 2) {
		if (cli_manager(c, err) < 0)
			return -1;
		if (n == 3 && !strchr(pos[1], '='))
			return instance_config_set(&c->m, name, pos[1], pos[2], err);
		for (int i = 1; i < n; i++) {
			char *k, *v;
			if (split_kv(pos[i], &k, &v, err) < 0 || instance_config_set(&c->m, name, k, v, err) < 0)
				return -1;
		}
		return 0;
	}
	if (!strcmp(sub, "unset") && n == 2) {
		if (cli_manager(c, err) < 0)
			return -1;
		return instance_config_set(&c->m, name, pos[1], NULL, err);
	}
	if (!strcmp(sub, "show") && n == 1) {
		if (load(c, name, &r, err) < 0)
			return -1;
		_cleanup_json_ json_t *doc = instance_doc(c, &r, expanded, err);
		instance_rec_clear(&r);
		if (!doc)
			return -1;
		print_yaml(doc);
		return 0;
	}
	if (!strcmp(sub, "edit") && n == 1) {
		if (load(c, name, &r, err) < 0)
			return -1;
		_cleanup_json_ json_t *doc = instance_doc(c, &r, false, err);
		instance_rec_clear(&r);
		if (!doc)
			return -1;
		_cleanup_json_ json_t *edited = edit_document(doc, err);
		if (!edited)
			return -1;
		return instance_config_replace(&c->m, name, edited, err);
	}
	return usage_err(err, config_usage);
}
