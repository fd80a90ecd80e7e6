/* admin init, admin snapshot-tick, and storage list/show. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"
#include "util.h"
#include "yamljson.h"
#include "manager/config.h"
#include "manager/daemons.h"
#include "manager/lock.h"
#include "manager/name.h"
#include "manager/storage.h"

static const char admin_usage[] =
    "isola admin init [--minimal | --preseed FILE] | isola admin snapshot-tick [--at UNIXTIME]";

static int pool_make(struct cli *c, const char *name, const char *driver, uint64_t size, isola_error *err)
{
	if (object_name_check("storage pool", name, err) < 0)
		return -1;
	struct pool_rec p;
	if (db_pool_get(c->m.db, name, &p, err) == 0) {
		pool_rec_clear(&p);
		return 0; /* already there: init is idempotent */
	}
	if (storage_pool_create(name, driver, size, &p, err) < 0)
		return -1;
	if (db_pool_insert(c->m.db, &p, err) < 0) {
		isola_error e;
		storage_pool_destroy(&p, &e);
		pool_rec_clear(&p);
		return -1;
	}
	printf("Storage pool %s created (driver %s)\n", name, driver);
	pool_rec_clear(&p);
	return 0;
}

static int network_make(struct cli *c, const char *name, json_t *cfg, isola_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{ss}", "name", name);
	const char *k;
	json_t *v;
	json_object_foreach(cfg, k, v)
	{
		/* the same translation as `isola network create` */
		const char *map[][2] = {
		    {"ipv4.address", "ipv4"}, {"ipv6.address", "ipv6"}, {"dns.domain", "dns_domain"}};
		const char *nk = NULL;
		for (size_t i = 0; i < 3; i++)
			if (!strcmp(k, map[i][0]))
				nk = map[i][1];
		if (!nk)
			return isola_err(err, EINVAL,
			                 "preseed network %s: key \"%s\" not supported here (ipv4.address, "
			                 "ipv6.address, dns.domain)",
			                 name, k);
		json_object_set(req, nk, v);
	}
	isola_error e;
	_cleanup_json_ json_t *shown = NULL;
	if (daemon_op(DAEMON_NETD, "network.show", json_pack("{ss}", "name", name), &shown, NULL, NULL, &e) == 0) {
		db_network_add(c->m.db, name, err);
		return 0;
	}
	if (daemon_op(DAEMON_NETD, "network.create", json_incref(req), NULL, NULL, NULL, err) < 0)
		return isola_err_wrap(err, "network %s", name);
	printf("Network %s created\n", name);
	return db_network_add(c->m.db, name, err);
}

static int profile_apply(struct cli *c, const char *name, json_t *cfg, json_t *devs, isola_error *err)
{
	struct profile_rec p;
	isola_error e = {0};
	if (db_profile_get(c->m.db, name, &p, &e) == 0)
		profile_rec_clear(&p);
	else if (profile_create(&c->m, name, NULL, err) < 0)
		return -1;
	/* YAML's empty `config:` is null: no keys */
	_cleanup_json_ json_t *doc =
	    json_pack("{so so}", "config", json_is_object(cfg) ? json_deep_copy(cfg) : json_object(), "devices",
	              json_is_object(devs) ? json_deep_copy(devs) : json_object());
	return profile_replace(&c->m, name, doc, err);
}

static int init_minimal(struct cli *c, isola_error *err)
{
	char why[256];
	bool btrfs = storage_btrfs_usable(why, sizeof why);
	if (!btrfs)
		printf("btrfs unusable (%s): using the dir driver (overlayfs)\n", why);
	if (pool_make(c, "default", btrfs ? "btrfs" : "dir", 0, err) < 0)
		return -1;
	if (network_make(c, "isolabr0", NULL, err) < 0)
		return -1;
	_cleanup_json_ json_t *devs =
	    json_pack("{s{ss ss ss} s{ss ss ss}}", "root", "type", "disk", "path", "/", "pool", "default", "eth0",
	              "type", "nic", "network", "isolabr0", "name", "eth0");
	struct profile_rec p;
	if (db_profile_get(c->m.db, "default", &p, err) < 0)
		return -1;
	_cleanup_json_ json_t *cfg = json_incref(p.config);
	profile_rec_clear(&p);
	return profile_apply(c, "default", cfg, devs, err);
}

/* Preseed: Incus's layout (doc/howto/initialize.md), as YAML or JSON —
 * {"config": {...}, "storage_pools": [{"name", "driver", "config": {"size"}}],
 *  "networks": [{"name", "config": {...}}], "profiles": [{"name", "config": {...}, "devices": {...}}]} */
static int init_preseed(struct cli *c, const char *file, isola_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (!strcmp(file, "-")) {
		int n = read_all_fd(0, &text, err);
		if (n < 0)
			return isola_err_wrap(err, "preseed from stdin");
		len = (size_t)n;
	} else if (read_file_at(AT_FDCWD, file, &text, &len, err) < 0) {
		return isola_err_wrap(err, "preseed %s", file);
	}
	char what[4200];
	snprintf(what, sizeof what, "preseed %s", !strcmp(file, "-") ? "(stdin)" : file);
	_cleanup_json_ json_t *doc = doc_to_json(text, len, YAML_STRINGS, what, err);
	if (!doc)
		return -1;
	/* the whole document is checked before anything is made: a bad entry late in it changes nothing */
	static const char *const lists[] = {"storage_pools", "networks", "profiles"};
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_t *list = json_object_get(doc, lists[l]);
		if (list && !json_is_null(list) && !json_is_array(list))
			return isola_err(err, EINVAL, "%s: %s: expected a list", what, lists[l]);
		size_t i;
		json_t *e;
		json_array_foreach(list, i, e)
		{
			if (!json_is_object(e) || !json_is_string(json_object_get(e, "name")))
				return isola_err(err, EINVAL, "%s: %s[%zu]: expected a mapping with a name", what,
				                 lists[l], i);
			if (l == 0 && !json_is_string(json_object_get(e, "driver")))
				return isola_err(err, EINVAL, "%s: %s[%zu]: needs a driver (dir or btrfs)", what,
				                 lists[l], i);
			static const char *const maps[] = {"config", "devices"};
			for (size_t k = 0; k < ARRAY_SIZE(maps); k++) {
				json_t *mv = json_object_get(e, maps[k]);
				if (mv && !json_is_null(mv) && !json_is_object(mv))
					return isola_err(err, EINVAL, "%s: %s[%zu].%s: expected a mapping", what,
					                 lists[l], i, maps[k]);
				const char *ck;
				json_t *cv;
				if (k == 0 && json_is_object(mv))
					json_object_foreach(mv, ck, cv)
					{
						if (!json_is_string(cv))
							return isola_err(
							    err, EINVAL,
							    "%s: %s[%zu].config.%s: expected a string value", what,
							    lists[l], i, ck);
					}
			}
		}
	}
	json_t *server = json_object_get(doc, "config");
	if (json_is_object(server) && json_object_size(server))
		return isola_err(err, ENOTSUP, "%s: config: server keys are not supported by isola (got \"%s\")", what,
		                 json_object_iter_key(json_object_iter(server)));
	static const char *const top[] = {"storage_pools", "networks", "profiles", "config", NULL};
	const char *k;
	json_t *v;
	json_object_foreach(doc, k, v)
	{
		bool ok = false;
		for (const char *const *t = top; *t; t++)
			ok |= !strcmp(k, *t);
		if (!ok)
			return isola_err(err, EINVAL,
			                 "preseed %s: unknown section \"%s\" (storage_pools, networks, profiles)", file,
			                 k);
	}
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(doc, "storage_pools"), i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *driver = json_string_value(json_object_get(e, "driver"));
		const char *size = json_string_value(json_object_get(json_object_get(e, "config"), "size"));
		uint64_t sz = 0;
		if (!name || !driver)
			return isola_err(err, EINVAL, "preseed storage_pools[%zu]: needs name and driver", i);
		if (size && incus_parse_size(size, &sz, err) < 0)
			return isola_err_wrap(err, "preseed storage_pools[%zu].config.size", i);
		if (pool_make(c, name, driver, sz, err) < 0)
			return -1;
	}
	json_array_foreach(json_object_get(doc, "networks"), i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		if (!name)
			return isola_err(err, EINVAL, "preseed networks[%zu]: needs name", i);
		if (network_make(c, name, json_object_get(e, "config"), err) < 0)
			return -1;
	}
	json_array_foreach(json_object_get(doc, "profiles"), i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		if (!name)
			return isola_err(err, EINVAL, "preseed profiles[%zu]: needs name", i);
		if (profile_apply(c, name, json_object_get(e, "config"), json_object_get(e, "devices"), err) < 0)
			return -1;
	}
	return 0;
}

int cmd_admin(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc < 2)
		return usage_err(err, admin_usage);
	if (cli_manager(c, err) < 0)
		return -1;
	if (!strcmp(argv[1], "snapshot-tick") && (argc == 2 || (argc == 4 && !strcmp(argv[2], "--at")))) {
		/* --at UNIXTIME: act as if it were then (tests, and catching up a missed tick by hand) */
		time_t now = argc == 4 ? (time_t)strtoll(argv[3], NULL, 10) : time(NULL);
		int n = snapshot_tick(&c->m, now, err);
		if (n < 0)
			return -1;
		if (isatty(1))
			printf("%d snapshot(s) made or expired\n", n);
		return 0;
	}
	if (strcmp(argv[1], "init"))
		return usage_err(err, admin_usage);
	_cleanup_close_ int lock = global_lock(err);
	if (lock < 0)
		return -1;
	if (argc == 2 || (argc == 3 && !strcmp(argv[2], "--minimal")))
		return init_minimal(c, err);
	if (argc == 4 && !strcmp(argv[2], "--preseed"))
		return init_preseed(c, argv[3], err);
	if (argc == 3 && !strncmp(argv[2], "--preseed=", 10))
		return init_preseed(c, argv[2] + 10, err);
	return usage_err(err, admin_usage);
}

int cmd_storage(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const char usage[] = "isola storage list [--format F] | show POOL | create POOL dir|btrfs [size=SIZE]";
	if (argc < 2)
		return usage_err(err, usage);
	if (cli_manager(c, err) < 0)
		return -1;
	if (!strcmp(argv[1], "list")) {
		enum out_format fmt = FMT_TABLE;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--format") && i + 1 < argc) {
				if (fmt_parse(argv[++i], &fmt, err) < 0)
					return -1;
			} else if (!strncmp(argv[i], "--format=", 9)) {
				if (fmt_parse(argv[i] + 9, &fmt, err) < 0)
					return -1;
			} else
				return usage_err(err, usage);
		}
		struct pool_rec *v;
		size_t n;
		if (db_pool_list(c->m.db, &v, &n, err) < 0)
			return -1;
		_cleanup_json_ json_t *rows = json_array(), *raw = json_array();
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(rows, json_pack("[sss]", v[i].name, v[i].driver, v[i].source));
			json_t *cfg = json_deep_copy(v[i].config);
			json_object_set_new(cfg, "source", json_string(v[i].source));
			json_array_append_new(raw,
			                      json_pack("{ss ss ss so ss}", "name", v[i].name, "driver", v[i].driver,
			                                "description", "", "config", cfg, "status", "Created"));
		}
		pool_list_free(v, n);
		static const char *const h[] = {"NAME", "DRIVER", "SOURCE"};
		print_list(fmt, h, 3, rows, raw);
		return 0;
	}
	if (!strcmp(argv[1], "show") && argc == 3) {
		struct pool_rec p;
		if (db_pool_get(c->m.db, argv[2], &p, err) < 0)
			return -1;
		json_t *cfg = json_deep_copy(p.config);
		json_object_set_new(cfg, "source", json_string(p.source));
		_cleanup_json_ json_t *o = json_pack("{ss ss ss so ss}", "name", p.name, "driver", p.driver,
		                                     "description", "", "config", cfg, "status", "Created");
		pool_rec_clear(&p);
		print_yaml(o);
		return 0;
	}
	if (!strcmp(argv[1], "create") && (argc == 4 || argc == 5)) {
		uint64_t sz = 0;
		if (argc == 5) {
			if (strncmp(argv[4], "size=", 5))
				return usage_err(err, usage);
			if (incus_parse_size(argv[4] + 5, &sz, err) < 0)
				return -1;
		}
		return pool_make(c, argv[2], argv[3], sz, err);
	}
	return usage_err(err, usage);
}
