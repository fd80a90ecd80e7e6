#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cleanup.h"
#include "cron.h"
#include "json.h"
#include "util.h"

const char *instance_type_name(enum instance_type t)
{
	return t == INSTANCE_VM ? "virtual-machine" : "container";
}

int instance_type_parse(const char *s, enum instance_type *out, isola_error *err)
{
	if (!strcmp(s, "container"))
		*out = INSTANCE_CONTAINER;
	else if (!strcmp(s, "virtual-machine") || !strcmp(s, "vm"))
		*out = INSTANCE_VM;
	else
		return isola_err(err, EINVAL, "instance type \"%s\": expected container or virtual-machine", s);
	return 0;
}

int incus_parse_bool(const char *s, bool *out, isola_error *err)
{
	static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	}
	return isola_err(err, EINVAL, "\"%s\": expected a boolean (true/false)", s);
}

int incus_parse_size(const char *s, uint64_t *out, isola_error *err)
{
	if (!s || !isdigit((unsigned char)*s))
		return isola_err(err, EINVAL, "size \"%s\": expected a number with a unit like MiB, GB", s ? s : "");
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno)
		return isola_err(err, EINVAL, "size \"%s\": out of range", s);
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"", 1},
	             {"B", 1},
	             {"kB", 1000ULL},
	             {"KB", 1000ULL},
	             {"MB", 1000ULL * 1000},
	             {"GB", 1000ULL * 1000 * 1000},
	             {"TB", 1000ULL * 1000 * 1000 * 1000},
	             {"PB", 1000ULL * 1000 * 1000 * 1000 * 1000},
	             {"EB", 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
	             {"KiB", 1ULL << 10},
	             {"MiB", 1ULL << 20},
	             {"GiB", 1ULL << 30},
	             {"TiB", 1ULL << 40},
	             {"PiB", 1ULL << 50},
	             {"EiB", 1ULL << 60}};
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(end, units[i].unit)) {
			if (n && units[i].mult > UINT64_MAX / n)
				return isola_err(err, ERANGE, "size \"%s\": too large", s);
			*out = n * units[i].mult;
			return 0;
		}
	return isola_err(err, EINVAL, "size \"%s\": unknown unit \"%s\" (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)", s,
	                 end);
}

/* ---- key table ---- */

enum key_kind { K_STRING, K_BOOL, K_INT, K_SIZE_OR_PCT, K_CPU, K_ALLOWANCE, K_CRON, K_EXPIRY, K_PATTERN };

struct key_def {
	const char *name;
	enum key_kind kind;
	bool live;      /* applied to a running instance */
	bool container; /* valid for containers */
	bool vm;        /* valid for VMs */
};

static const struct key_def keys[] = {
    {"boot.autostart", K_BOOL, true, true, true},
    {"boot.autostart.delay", K_INT, true, true, true},
    {"boot.autostart.priority", K_INT, true, true, true},
    {"cloud-init.network-config", K_STRING, true, true, true},
    {"cloud-init.user-data", K_STRING, true, true, true},
    {"cloud-init.vendor-data", K_STRING, true, true, true},
    {"limits.cpu", K_CPU, true, true, true},
    {"limits.cpu.allowance", K_ALLOWANCE, true, true, false},
    {"limits.memory", K_SIZE_OR_PCT, true, true, true},
    {"limits.processes", K_INT, true, true, false},
    {"security.nesting", K_BOOL, false, true, false},
    {"security.privileged", K_BOOL, false, true, false},
    {"snapshots.expiry", K_EXPIRY, true, true, true},
    {"snapshots.pattern", K_PATTERN, true, true, true},
    {"snapshots.schedule", K_CRON, true, true, true},
};

static const char *const prefixes[] = {"environment.", "user.", "volatile."};

const char *config_valid_keys(void)
{
	static char buf[1024];
	if (!buf[0]) {
		size_t off = 0;
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", i ? ", " : "", keys[i].name);
		snprintf(buf + off, sizeof buf - off, ", environment.*, user.*");
	}
	return buf;
}

static const struct key_def *key_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i].name, key))
			return &keys[i];
	return NULL;
}

bool config_key_live(const char *key)
{
	const struct key_def *d = key_find(key);
	return d ? d->live : true; /* environment.* is read at start, user.* is inert: both fine to change */
}

static int cpu_set_check(const char *v, isola_error *err)
{
	/* "0-3,6": comma list of N or N-M */
	const char *p = v;
	for (;;) {
		if (!isdigit((unsigned char)*p))
			return -1;
		char *end;
		long a = strtol(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			b = strtol(p, &end, 10);
			p = end;
		}
		if (a > b || b > 4095)
			return -1;
		if (!*p)
			return 0;
		if (*p++ != ',')
			return -1;
	}
	(void)err;
}

static int allowance_parse(const char *v, bool *pct, uint64_t *a, uint64_t *b)
{
	char *end;
	if (!isdigit((unsigned char)*v))
		return -1;
	unsigned long x = strtoul(v, &end, 10);
	if (!strcmp(end, "%")) {
		if (x == 0 || x > 100)
			return -1;
		*pct = true, *a = x, *b = 0;
		return 0;
	}
	if (strncmp(end, "ms/", 3))
		return -1;
	const char *q = end + 3;
	if (!isdigit((unsigned char)*q))
		return -1;
	unsigned long y = strtoul(q, &end, 10);
	if (strcmp(end, "ms") || x == 0 || y == 0)
		return -1;
	*pct = false, *a = x, *b = y;
	return 0;
}

static int value_check(const struct key_def *d, const char *v, isola_error *err)
{
	switch (d->kind) {
	case K_STRING: return 0;
	case K_BOOL: {
		bool b;
		if (incus_parse_bool(v, &b, err) < 0)
			return isola_err_wrap(err, "%s", d->name);
		return 0;
	}
	case K_INT: {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (!*v || *end || errno || n < 0)
			return isola_err(err, EINVAL, "%s: \"%s\" is not a non-negative integer", d->name, v);
		if (!strcmp(d->name, "limits.processes") && n == 0)
			return isola_err(err, EINVAL, "limits.processes: must be at least 1");
		return 0;
	}
	case K_SIZE_OR_PCT: {
		size_t n = strlen(v);
		if (n && v[n - 1] == '%') {
			char *end;
			long pct = strtol(v, &end, 10);
			if (end != v + n - 1 || pct <= 0 || pct > 100)
				return isola_err(err, EINVAL, "%s: \"%s\" is not a percentage 1%%..100%%", d->name, v);
			return 0;
		}
		uint64_t sz;
		if (incus_parse_size(v, &sz, err) < 0)
			return isola_err_wrap(err, "%s", d->name);
		if (sz < 4096 * 1024)
			return isola_err(err, EINVAL, "%s: \"%s\" is below the 4MiB minimum", d->name, v);
		return 0;
	}
	case K_CPU: {
		char *end;
		long n = strtol(v, &end, 10);
		if (*v && !*end) {
			if (n < 1 || n > 4096)
				return isola_err(err, EINVAL, "%s: \"%s\": a CPU count must be 1..4096", d->name, v);
			return 0;
		}
		if (cpu_set_check(v, err) < 0)
			return isola_err(err, EINVAL,
			                 "%s: \"%s\" is neither a CPU count (\"2\") nor a CPU set (\"0-3,6\")", d->name,
			                 v);
		return 0;
	}
	case K_ALLOWANCE: {
		bool pct;
		uint64_t a, b;
		if (allowance_parse(v, &pct, &a, &b) < 0)
			return isola_err(err, EINVAL, "%s: \"%s\": expected \"50%%\" or \"25ms/100ms\"", d->name, v);
		return 0;
	}
	case K_CRON: {
		struct cron_schedule s;
		if (cron_parse(v, &s, err) < 0)
			return isola_err_wrap(err, "%s", d->name);
		return 0;
	}
	case K_EXPIRY: {
		struct expiry e;
		if (expiry_parse(v, &e, err) < 0)
			return isola_err_wrap(err, "%s", d->name);
		return 0;
	}
	case K_PATTERN:
		if (!strstr(v, "%d") || strchr(v, '/'))
			return isola_err(err, EINVAL, "%s: \"%s\" must contain %%d and no '/'", d->name, v);
		return 0;
	}
	return 0;
}

int config_key_check(const char *key, const char *value, enum instance_type type, bool user_set, isola_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (str_has_prefix(key, prefixes[i])) {
			if (!key[strlen(prefixes[i])])
				return isola_err(err, EINVAL, "config key \"%s\": needs a name after the prefix", key);
			if (user_set && !strcmp(prefixes[i], "volatile."))
				return isola_err(err, EPERM, "config key \"%s\": volatile.* keys belong to isola", key);
			if (!strcmp(prefixes[i], "environment.")) {
				for (const char *p = key + 12; *p; p++)
					if (*p == '=' || isspace((unsigned char)*p))
						return isola_err(err, EINVAL, "config key \"%s\": bad variable name",
						                 key);
			}
			return 0;
		}
	const struct key_def *d = key_find(key);
	if (!d)
		return isola_err(err, EINVAL, "unknown config key \"%s\"; valid keys: %s", key, config_valid_keys());
	if ((type == INSTANCE_CONTAINER && !d->container) || (type == INSTANCE_VM && !d->vm))
		return isola_err(err, EINVAL, "config key \"%s\" does not apply to a %s", key,
		                 instance_type_name(type));
	if (value && value_check(d, value, err) < 0)
		return -1;
	return 0;
}

int config_validate(json_t *config, enum instance_type type, bool user_set, isola_error *err)
{
	if (!config)
		return 0;
	if (!json_is_object(config))
		return isola_err(err, EINVAL, "config: expected an object of key: value");
	const char *k;
	json_t *v;
	json_object_foreach(config, k, v)
	{
		if (!json_is_string(v))
			return isola_err(err, EINVAL, "config key \"%s\": value must be a string", k);
		if (config_key_check(k, json_string_value(v), type, user_set, err) < 0)
			return -1;
	}
	return 0;
}

bool config_bool(json_t *cfg, const char *key, bool def)
{
	const char *v = json_string_value(json_object_get(cfg, key));
	bool b;
	isola_error e;
	if (!v || incus_parse_bool(v, &b, &e) < 0)
		return def;
	return b;
}

int config_memory_limit(json_t *cfg, uint64_t host_mem, uint64_t *out, isola_error *err)
{
	*out = 0;
	const char *v = json_string_value(json_object_get(cfg, "limits.memory"));
	if (!v)
		return 0;
	size_t n = strlen(v);
	if (n && v[n - 1] == '%') {
		*out = (uint64_t)((unsigned __int128)host_mem * strtoul(v, NULL, 10) / 100);
		return 0;
	}
	if (incus_parse_size(v, out, err) < 0)
		return isola_err_wrap(err, "limits.memory");
	return 0;
}

int config_cpu_limit(json_t *cfg, unsigned *count, char **cpuset, isola_error *err)
{
	*count = 0;
	*cpuset = NULL;
	const char *v = json_string_value(json_object_get(cfg, "limits.cpu"));
	if (!v)
		return 0;
	char *end;
	long n = strtol(v, &end, 10);
	if (*v && !*end) {
		*count = (unsigned)n;
		return 0;
	}
	if (cpu_set_check(v, err) < 0)
		return isola_err(err, EINVAL, "limits.cpu: \"%s\" invalid", v);
	*cpuset = strdup(v);
	/* a set limits the count too: count the CPUs in it */
	unsigned c = 0;
	for (const char *p = v; *p;) {
		long a = strtol(p, &end, 10), b = a;
		p = end;
		if (*p == '-')
			b = strtol(p + 1, &end, 10), p = end;
		c += (unsigned)(b - a + 1);
		if (*p == ',')
			p++;
	}
	*count = c;
	return *cpuset ? 0 : isola_err(err, ENOMEM, "limits.cpu");
}

int config_cpu_allowance(json_t *cfg, unsigned ncpus, uint64_t *quota_us, uint64_t *period_us, isola_error *err)
{
	*quota_us = *period_us = 0;
	const char *v = json_string_value(json_object_get(cfg, "limits.cpu.allowance"));
	if (!v)
		return 0;
	bool pct;
	uint64_t a, b;
	if (allowance_parse(v, &pct, &a, &b) < 0)
		return isola_err(err, EINVAL, "limits.cpu.allowance: \"%s\" invalid", v);
	if (pct) {
		/* Incus: a percentage is a soft share (cpu.weight) — we make it a hard cap of that share of
		 * the instance's CPUs (documented in docs/manager.md) */
		*period_us = 100000;
		*quota_us = 100000 * a / 100 * (ncpus ? ncpus : 1);
	} else {
		*quota_us = a * 1000;
		*period_us = b * 1000;
	}
	return 0;
}

/* ---- devices ---- */

static const char *const disk_keys[] = {"path", "pool", "source", "size", "readonly", NULL};
static const char *const nic_keys[] = {"network", "name", "hwaddr", "nictype", "parent", "mtu", "ipv4.address", NULL};

static bool in_list(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(k, *list))
			return true;
	return false;
}

static const char *list_join(const char *const *list)
{
	static __thread char buf[256];
	size_t off = 0;
	buf[0] = 0;
	for (size_t i = 0; list[i]; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", i ? ", " : "", list[i]);
	return buf;
}

int device_validate(const char *name, json_t *dev, isola_error *err)
{
	if (!name || !*name || strchr(name, '/') || strlen(name) > 63)
		return isola_err(err, EINVAL, "device name \"%s\": 1..63 bytes, no '/'", name ? name : "");
	if (!json_is_object(dev))
		return isola_err(err, EINVAL, "device %s: expected an object", name);
	const char *type = json_string_value(json_object_get(dev, "type"));
	if (!type)
		return isola_err(err, EINVAL, "device %s: missing \"type\" (disk or nic)", name);
	const char *const *allowed;
	if (!strcmp(type, "disk"))
		allowed = disk_keys;
	else if (!strcmp(type, "nic"))
		allowed = nic_keys;
	else
		return isola_err(err, EINVAL, "device %s: type \"%s\" not supported (disk, nic)", name, type);
	const char *k;
	json_t *v;
	json_object_foreach(dev, k, v)
	{
		if (!strcmp(k, "type"))
			continue;
		if (!json_is_string(v))
			return isola_err(err, EINVAL, "device %s: %s: value must be a string", name, k);
		if (!in_list(k, allowed))
			return isola_err(err, EINVAL, "device %s: unknown %s key \"%s\"; valid keys: %s", name, type, k,
			                 list_join(allowed));
	}
	if (!strcmp(type, "disk")) {
		const char *path = json_string_value(json_object_get(dev, "path"));
		if (!path || path[0] != '/')
			return isola_err(err, EINVAL, "device %s: disk needs an absolute \"path\"", name);
		bool root = !strcmp(path, "/");
		if (root && !json_object_get(dev, "pool"))
			return isola_err(err, EINVAL, "device %s: the root disk (path /) needs \"pool\"", name);
		if (!root && !json_object_get(dev, "source"))
			return isola_err(err, EINVAL, "device %s: a disk at %s needs \"source\" (a host path)", name,
			                 path);
		const char *size = json_string_value(json_object_get(dev, "size"));
		uint64_t sz;
		if (size && incus_parse_size(size, &sz, err) < 0)
			return isola_err_wrap(err, "device %s", name);
	} else {
		const char *nictype = json_string_value(json_object_get(dev, "nictype"));
		if (nictype && strcmp(nictype, "bridged"))
			return isola_err(err, EINVAL, "device %s: nictype \"%s\" not supported (bridged)", name,
			                 nictype);
		if (!json_object_get(dev, "network") && !json_object_get(dev, "parent"))
			return isola_err(err, EINVAL, "device %s: nic needs \"network\"", name);
		const char *ifname = json_string_value(json_object_get(dev, "name"));
		if (ifname && (strlen(ifname) > 15 || !*ifname || strchr(ifname, '/') || strchr(ifname, ' ')))
			return isola_err(err, EINVAL, "device %s: interface name \"%s\" invalid (1..15 bytes)", name,
			                 ifname);
	}
	return 0;
}

int devices_validate(json_t *devices, isola_error *err)
{
	if (!devices)
		return 0;
	if (!json_is_object(devices))
		return isola_err(err, EINVAL, "devices: expected an object of name: device");
	const char *k;
	json_t *v;
	int roots = 0;
	json_object_foreach(devices, k, v)
	{
		if (device_validate(k, v, err) < 0)
			return -1;
		const char *path = json_string_value(json_object_get(v, "path"));
		if (path && !strcmp(path, "/") && !strcmp(json_string_value(json_object_get(v, "type")), "disk"))
			roots++;
	}
	if (roots > 1)
		return isola_err(err, EINVAL, "devices: more than one root disk (path /)");
	return 0;
}

json_t *device_from_args(const char *type, char *const *kv, int nkv, isola_error *err)
{
	_cleanup_json_ json_t *dev = json_pack("{ss}", "type", type);
	if (!dev)
		return isola_err(err, ENOMEM, "device"), NULL;
	for (int i = 0; i < nkv; i++) {
		const char *eq = strchr(kv[i], '=');
		if (!eq || eq == kv[i]) {
			isola_err(err, EINVAL, "device option \"%s\": expected key=value", kv[i]);
			return NULL;
		}
		_cleanup_free_ char *k = strndup(kv[i], (size_t)(eq - kv[i]));
		json_object_set_new(dev, k, json_string(eq + 1));
	}
	return steal_ptr(&dev);
}

json_t *config_stack(json_t *const *profile_objs, size_t n, json_t *local)
{
	json_t *out = json_object();
	for (size_t i = 0; i < n; i++)
		if (profile_objs[i])
			json_object_update(out, profile_objs[i]);
	if (local)
		json_object_update(out, local);
	/* json_object_update shares the member values: deep-copy so callers may edit the result freely */
	json_t *copy = json_deep_copy(out);
	json_decref(out);
	return copy;
}
