/* profile verbs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "cli.h"
#include "edit.h"
#include "json.h"
#include "manager/config.h"

static const char profile_usage[] =
    "isola profile list [--format F] | show P | create P | copy P NEW | rename P NEW | delete P | edit P | "
    "get P KEY | set P KEY=VALUE... | unset P KEY | device add P DEV TYPE [K=V]... | device remove P DEV | "
    "device list P | add INSTANCE P | remove INSTANCE P | assign INSTANCE P1,P2,...";

static json_t *profile_doc(struct cli *c, struct profile_rec *p, isola_error *err)
{
	json_t *used = db_profile_used_by(c->m.db, p->name, err);
	if (!used)
		return NULL;
	/* Incus: used_by holds API paths */
	json_t *paths = json_array();
	size_t i;
	json_t *u;
	json_array_foreach(used, i, u)
	{
		json_array_append_new(paths, json_sprintf("/1.0/instances/%s", json_string_value(u)));
	}
	json_decref(used);
	return json_pack("{ss ss sO sO so}", "name", p->name, "description", p->description ? p->description : "",
	                 "config", p->config, "devices", p->devices, "used_by", paths);
}

static int instance_profiles_change(struct cli *c, const char *inst, const char *op, const char *arg, isola_error *err)
{
	struct instance_rec r;
	if (db_instance_get(c->m.db, inst, &r, err) < 0)
		return -1;
	_cleanup_json_ json_t *list = json_deep_copy(r.profiles);
	instance_rec_clear(&r);
	if (!strcmp(op, "add")) {
		size_t i;
		json_t *v;
		json_array_foreach(list, i, v) if (!strcmp(json_string_value(v), arg)) return isola_err(
		    err, EEXIST, "instance %s already has profile %s", inst, arg);
		json_array_append_new(list, json_string(arg));
	} else if (!strcmp(op, "remove")) {
		size_t i;
		json_t *v;
		bool found = false;
		json_array_foreach(list, i, v) if (!strcmp(json_string_value(v), arg))
		{
			json_array_remove(list, i);
			found = true;
			break;
		}
		if (!found)
			return isola_err(err, ENOENT, "instance %s does not have profile %s", inst, arg);
	} else {
		json_array_clear(list);
		_cleanup_free_ char *dup = strdup(arg);
		for (char *save = NULL, *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(list, json_string(t));
	}
	return instance_profiles_set(&c->m, inst, list, err);
}

int cmd_profile(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc < 2)
		return usage_err(err, profile_usage);
	const char *sub = argv[1];
	if (cli_manager(c, err) < 0)
		return -1;
	if (!strcmp(sub, "list")) {
		enum out_format fmt = FMT_TABLE;
		for (int i = 2; i < argc; i++) {
			const char *f = NULL;
			if (!strncmp(argv[i], "--format=", 9))
				f = argv[i] + 9;
			else if ((!strcmp(argv[i], "--format") || !strcmp(argv[i], "-f")) && i + 1 < argc)
				f = argv[++i];
			else
				return usage_err(err, profile_usage);
			if (fmt_parse(f, &fmt, err) < 0)
				return -1;
		}
		struct profile_rec *v;
		size_t n;
		if (db_profile_list(c->m.db, &v, &n, err) < 0)
			return -1;
		_cleanup_json_ json_t *raw = json_array(), *rows = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *d = profile_doc(c, &v[i], err);
			if (!d)
				return profile_list_free(v, n), -1;
			char used[16];
			snprintf(used, sizeof used, "%zu", json_array_size(json_object_get(d, "used_by")));
			json_array_append_new(rows, json_pack("[sss]", v[i].name, v[i].description, used));
			json_array_append_new(raw, d);
		}
		profile_list_free(v, n);
		static const char *const h[] = {"NAME", "DESCRIPTION", "USED BY"};
		print_list(fmt, h, 3, rows, raw);
		return 0;
	}
	if (argc < 3)
		return usage_err(err, profile_usage);
	const char *p = argv[2];
	if (!strcmp(sub, "show") && argc == 3) {
		struct profile_rec r;
		if (db_profile_get(c->m.db, p, &r, err) < 0)
			return -1;
		_cleanup_json_ json_t *d = profile_doc(c, &r, err);
		profile_rec_clear(&r);
		if (!d)
			return -1;
		print_yaml(d);
		return 0;
	}
	if (!strcmp(sub, "create") && argc == 3)
		return profile_create(&c->m, p, NULL, err);
	if (!strcmp(sub, "copy") && argc == 4)
		return profile_copy(&c->m, p, argv[3], err);
	if (!strcmp(sub, "rename") && argc == 4)
		return profile_rename(&c->m, p, argv[3], err);
	if (!strcmp(sub, "delete") && argc == 3)
		return profile_delete(&c->m, p, err);
	if (!strcmp(sub, "edit") && argc == 3) {
		struct profile_rec r;
		if (db_profile_get(c->m.db, p, &r, err) < 0)
			return -1;
		_cleanup_json_ json_t *d =
		    json_pack("{ss sO sO}", "description", r.description, "config", r.config, "devices", r.devices);
		profile_rec_clear(&r);
		_cleanup_json_ json_t *edited = edit_document(d, err);
		if (!edited)
			return -1;
		return profile_replace(&c->m, p, edited, err);
	}
	if (!strcmp(sub, "get") && argc == 4) {
		struct profile_rec r;
		if (db_profile_get(c->m.db, p, &r, err) < 0)
			return -1;
		const char *v = json_string_value(json_object_get(r.config, argv[3]));
		printf("%s\n", v ? v : "");
		profile_rec_clear(&r);
		return 0;
	}
	if (!strcmp(sub, "set") && argc >= 4) {
		if (argc == 5 && !strchr(argv[3], '='))
			return profile_set(&c->m, p, argv[3], argv[4], err);
		for (int i = 3; i < argc; i++) {
			char *k, *v;
			if (split_kv(argv[i], &k, &v, err) < 0 || profile_set(&c->m, p, k, v, err) < 0)
				return -1;
		}
		return 0;
	}
	if (!strcmp(sub, "unset") && argc == 4)
		return profile_set(&c->m, p, argv[3], NULL, err);
	if ((!strcmp(sub, "add") || !strcmp(sub, "remove") || !strcmp(sub, "assign")) && argc == 4)
		return instance_profiles_change(c, argv[2], sub, argv[3], err);
	if (!strcmp(sub, "device") && argc >= 4) {
		const char *dsub = argv[2];
		const char *prof = argv[3];
		if (!strcmp(dsub, "add") && argc >= 6) {
			_cleanup_json_ json_t *d = device_from_args(argv[5], argv + 6, argc - 6, err);
			if (!d)
				return -1;
			return profile_device_add(&c->m, prof, argv[4], d, err);
		}
		if (!strcmp(dsub, "remove") && argc == 5)
			return profile_device_remove(&c->m, prof, argv[4], err);
		if ((!strcmp(dsub, "list") || !strcmp(dsub, "show")) && argc == 4) {
			struct profile_rec r;
			if (db_profile_get(c->m.db, prof, &r, err) < 0)
				return -1;
			if (!strcmp(dsub, "show"))
				print_yaml(r.devices);
			else {
				const char *k;
				json_t *v;
				json_object_foreach(r.devices, k, v)
				{
					printf("%s\n", k);
				}
			}
			profile_rec_clear(&r);
			return 0;
		}
	}
	return usage_err(err, profile_usage);
}
