/* network verbs: isola-netd over its socket (netd/protocol.h). Incus key names are translated to netd's
 * fields: ipv4.address→ipv4, ipv6.address→ipv6, ipv4.nat→ipv4_nat, ipv6.nat→ipv6_nat, bridge.mtu→mtu,
 * dns.domain→dns_domain, ipv4.dhcp→dhcp, raw.dnsmasq is not supported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"
#include "manager/config.h"
#include "manager/daemons.h"

static const char net_usage[] =
    "isola network create NAME [KEY=VALUE]... | list [--format F] | show NAME | set NAME KEY VALUE | delete NAME | "
    "list-leases NAME [--format F]";

static const struct {
	const char *incus, *netd;
	char type; /* s string, b bool, i int */
} keymap[] = {{"ipv4.address", "ipv4", 's'}, {"ipv6.address", "ipv6", 's'},        {"ipv4.nat", "ipv4_nat", 'b'},
              {"ipv6.nat", "ipv6_nat", 'b'}, {"bridge.mtu", "mtu", 'i'},           {"dns.domain", "dns_domain", 's'},
              {"ipv4.dhcp", "dhcp", 'b'},    {"dns.upstream", "upstream_dns", 's'}};

static int map_key(const char *k, const char *v, const char **nk, json_t **nv, isola_error *err)
{
	for (size_t i = 0; i < sizeof keymap / sizeof keymap[0]; i++) {
		if (strcmp(k, keymap[i].incus) && strcmp(k, keymap[i].netd))
			continue;
		*nk = keymap[i].netd;
		if (keymap[i].type == 'b') {
			bool b;
			if (incus_parse_bool(v, &b, err) < 0)
				return isola_err_wrap(err, "%s", k);
			*nv = json_boolean(b);
		} else if (keymap[i].type == 'i') {
			*nv = json_integer(atoi(v));
		} else {
			*nv = json_string(v);
		}
		return 0;
	}
	return isola_err(err, EINVAL,
	                 "network key \"%s\" unknown; valid keys: ipv4.address, ipv6.address, ipv4.nat, ipv6.nat, "
	                 "bridge.mtu, dns.domain, ipv4.dhcp, dns.upstream",
	                 k);
}

static int fmt_args(int argc, char **argv, int from, enum out_format *fmt, isola_error *err)
{
	for (int i = from; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			if (fmt_parse(argv[++i], fmt, err) < 0)
				return -1;
		} else if (!strncmp(argv[i], "--format=", 9)) {
			if (fmt_parse(argv[i] + 9, fmt, err) < 0)
				return -1;
		} else
			return usage_err(err, net_usage);
	}
	return 0;
}

/* Incus's network object from netd's */
static json_t *incus_network(struct cli *c, json_t *n)
{
	json_t *cfg = json_object();
	for (size_t i = 0; i < sizeof keymap / sizeof keymap[0]; i++) {
		json_t *v = json_object_get(n, keymap[i].netd);
		if (json_is_string(v))
			json_object_set(cfg, keymap[i].incus, v);
		else if (json_is_boolean(v))
			json_object_set_new(cfg, keymap[i].incus, json_string(json_is_true(v) ? "true" : "false"));
		else if (json_is_integer(v))
			json_object_set_new(cfg, keymap[i].incus,
			                    json_sprintf("%lld", (long long)json_integer_value(v)));
	}
	json_t *used = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(n, "attachments"), i, a)
	{
		const char *inst = json_string_value(json_object_get(a, "instance"));
		if (inst)
			json_array_append_new(used, json_sprintf("/1.0/instances/%s", inst));
	}
	return json_pack("{sO ss so ss sb so ss}", "name", json_object_get(n, "name"), "description", "", "config", cfg,
	                 "type", "bridge", "managed", 1, "used_by", used, "status", "Created");
}

int cmd_network(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc < 2)
		return usage_err(err, net_usage);
	const char *sub = argv[1];
	if (!strcmp(sub, "list")) {
		enum out_format fmt = FMT_TABLE;
		if (fmt_args(argc, argv, 2, &fmt, err) < 0)
			return -1;
		_cleanup_json_ json_t *reply = NULL;
		if (daemon_op(DAEMON_NETD, "network.list", NULL, &reply, NULL, NULL, err) < 0)
			return -1;
		_cleanup_json_ json_t *rows = json_array(), *raw = json_array();
		size_t i;
		json_t *n;
		json_array_foreach(json_object_get(reply, "networks"), i, n)
		{
			json_t *o = incus_network(c, n);
			json_t *cfg = json_object_get(o, "config");
			char used[16];
			snprintf(used, sizeof used, "%zu", json_array_size(json_object_get(o, "used_by")));
			json_array_append_new(
			    rows, json_pack("[ssssss]", json_string_value(json_object_get(n, "name")) ?: "", "bridge",
			                    "YES", json_string_value(json_object_get(cfg, "ipv4.address")) ?: "",
			                    json_string_value(json_object_get(cfg, "ipv6.address")) ?: "", used));
			json_array_append_new(raw, o);
		}
		static const char *const h[] = {"NAME", "TYPE", "MANAGED", "IPV4", "IPV6", "USED BY"};
		print_list(fmt, h, 6, rows, raw);
		return 0;
	}
	if (argc < 3)
		return usage_err(err, net_usage);
	const char *name = argv[2];
	if (!strcmp(sub, "create")) {
		_cleanup_json_ json_t *req = json_pack("{ss}", "name", name);
		for (int i = 3; i < argc; i++) {
			char *k, *v;
			const char *nk;
			json_t *nv;
			if (split_kv(argv[i], &k, &v, err) < 0 || map_key(k, v, &nk, &nv, err) < 0)
				return -1;
			json_object_set_new(req, nk, nv);
		}
		if (daemon_op(DAEMON_NETD, "network.create", json_incref(req), NULL, NULL, NULL, err) < 0)
			return -1;
		if (cli_manager(c, err) == 0)
			db_network_add(c->m.db, name, err);
		return 0;
	}
	if (!strcmp(sub, "show") && argc == 3) {
		_cleanup_json_ json_t *reply = NULL;
		if (daemon_op(DAEMON_NETD, "network.show", json_pack("{ss}", "name", name), &reply, NULL, NULL, err) <
		    0)
			return -1;
		_cleanup_json_ json_t *o = incus_network(c, json_object_get(reply, "network"));
		print_yaml(o);
		return 0;
	}
	if (!strcmp(sub, "set") && argc == 5) {
		const char *nk;
		json_t *nv;
		if (map_key(argv[3], argv[4], &nk, &nv, err) < 0)
			return -1;
		return daemon_op(DAEMON_NETD, "network.set",
		                 json_pack("{ss ss so}", "name", name, "key", nk, "value", nv), NULL, NULL, NULL, err);
	}
	if (!strcmp(sub, "delete") && argc == 3) {
		if (daemon_op(DAEMON_NETD, "network.delete", json_pack("{ss}", "name", name), NULL, NULL, NULL, err) <
		    0)
			return -1;
		if (cli_manager(c, err) == 0)
			db_network_remove(c->m.db, name, err);
		return 0;
	}
	if (!strcmp(sub, "list-leases")) {
		enum out_format fmt = FMT_TABLE;
		if (fmt_args(argc, argv, 3, &fmt, err) < 0)
			return -1;
		_cleanup_json_ json_t *reply = NULL;
		if (daemon_op(DAEMON_NETD, "network.leases", json_pack("{ss}", "name", name), &reply, NULL, NULL, err) <
		    0)
			return -1;
		json_t *leases = json_object_get(reply, "leases");
		_cleanup_json_ json_t *rows = json_array();
		size_t i;
		json_t *l;
		json_array_foreach(leases, i, l)
		{
			const char *ip = json_string_value(json_object_get(l, "ipv4"))
			                     ?: json_string_value(json_object_get(l, "ipv6"));
			json_array_append_new(
			    rows, json_pack("[ssss]", json_string_value(json_object_get(l, "hostname")) ?: "",
			                    json_string_value(json_object_get(l, "mac")) ?: "", ip ? ip : "",
			                    json_string_value(json_object_get(l, "kind")) ?: ""));
		}
		static const char *const h[] = {"HOSTNAME", "MAC ADDRESS", "IP ADDRESS", "TYPE"};
		print_list(fmt, h, 4, rows, leases);
		return 0;
	}
	return usage_err(err, net_usage);
}
