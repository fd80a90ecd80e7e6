/* caps: OCI process.capabilities → capabilities(7) with libcap. Contract in caps.h. */
#include "runtime/caps.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "cleanup.h"
#include "explain.h"
#include "json.h"
#include "util.h"

/* Indexed by capability number (linux/capability.h, capabilities(7)). Names are the OCI spelling. */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define CAPS_KNOWN ((int)ARRAY_SIZE(cap_names))

static const char *const set_names[CAPS_NSETS] = {"bounding", "effective", "inheritable", "permitted", "ambient"};

const char *caps_set_name(enum caps_set s)
{
	return (unsigned)s < CAPS_NSETS ? set_names[s] : "?";
}

int caps_from_name(const char *name)
{
	if (!name || strncasecmp(name, "CAP_", 4) != 0)
		return -1;
	for (int i = 0; i < CAPS_KNOWN; i++)
		if (strcasecmp(name, cap_names[i]) == 0)
			return i;
	return -1;
}

const char *caps_to_name(int cap)
{
	return cap >= 0 && cap < CAPS_KNOWN ? cap_names[cap] : "CAP_?";
}

int caps_parse(json_t *obj, const char *jpath, struct isola_caps *out, isola_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return isola_err(err, 0, "%s: expected an object", jpath);
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		int s;
		for (s = 0; s < CAPS_NSETS; s++)
			if (strcmp(key, set_names[s]) == 0)
				break;
		if (s == CAPS_NSETS)
			return isola_err(err, 0,
			                 "%s: unknown capability set \"%s\" (expected bounding, effective, "
			                 "inheritable, permitted or ambient)",
			                 json_path_key(jpath, key), key);
		char setpath[512];
		snprintf(setpath, sizeof(setpath), "%s", json_path_key(jpath, key));
		if (json_is_null(v))
			continue;
		if (!json_is_array(v))
			return isola_err(err, 0, "%s: expected an array", setpath);
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e))
				return isola_err(err, 0, "%s: expected a string", json_path_idx(setpath, i));
			int cap = caps_from_name(json_string_value(e));
			if (cap < 0)
				return isola_err(err, 0, "%s: unknown capability \"%s\"", json_path_idx(setpath, i),
				                 json_string_value(e));
			out->set[s] |= 1ULL << cap;
		}
	}
	/* capabilities(7): "the ambient set obeys the invariant that no capability can ever be ambient if it
	 * is not both permitted and inheritable" — say which one rather than letting prctl fail with EPERM. */
	for (int cap = 0; cap < CAPS_KNOWN; cap++) {
		uint64_t bit = 1ULL << cap;
		if (!(out->set[CAPS_AMBIENT] & bit))
			continue;
		const char *missing = !(out->set[CAPS_PERMITTED] & bit)     ? "permitted"
		                      : !(out->set[CAPS_INHERITABLE] & bit) ? "inheritable"
		                                                            : NULL;
		if (missing) {
			json_t *amb = json_object_get(obj, "ambient");
			size_t i;
			json_t *e;
			json_array_foreach(amb, i, e) if (caps_from_name(json_string_value(e)) == cap) break;
			return isola_err(err, 0,
			                 "%s: %s is not in %s (an ambient capability must be permitted and "
			                 "inheritable)",
			                 json_path_idx(json_path_key(jpath, "ambient"), i), cap_names[cap], missing);
		}
	}
	return 0;
}

json_t *caps_to_json(const struct isola_caps *caps)
{
	json_t *o = json_object();
	for (int s = 0; s < CAPS_NSETS; s++) {
		json_t *a = json_array();
		for (int cap = 0; cap < 64; cap++)
			if (caps->set[s] & (1ULL << cap))
				json_array_append_new(a, json_string(caps_to_name(cap)));
		json_object_set_new(o, set_names[s], a);
	}
	return o;
}

json_t *caps_default_spec_json(void)
{
	/* runc/crun's `spec` default, minus inheritable and ambient (CVE-2022-29162). */
	json_t *o = json_object();
	static const char *const sets[] = {"bounding", "effective", "permitted"};
	for (size_t s = 0; s < ARRAY_SIZE(sets); s++)
		json_object_set_new(o, sets[s],
		                    json_pack("[sss]", "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"));
	return o;
}

/* The highest capability the running kernel knows; libcap asks the kernel (cap_max_bits). */
static int last_cap(void)
{
	int n = (int)cap_max_bits() - 1;
	return n < 63 ? n : 63;
}

int caps_apply_pre_setuid(const struct isola_caps *caps, isola_error *err)
{
	int last = last_cap();
	for (int cap = 0; cap <= last; cap++) {
		if (caps->set[CAPS_BOUNDING] & (1ULL << cap))
			continue;
		int r = cap_get_bound(cap);
		if (r <= 0)
			continue; /* already dropped (or not supported) */
		/* PR_CAPBSET_DROP needs CAP_SETPCAP in the current user namespace (prctl(2)) */
		r = cap_drop_bound(cap);
		EXPLAIN(r, "prctl(2)", "prctl(PR_CAPBSET_DROP, %s)", caps_to_name(cap));
		if (r < 0)
			return isola_err(err, errno, "drop %s from the bounding set", caps_to_name(cap));
	}
	/* keep permitted across setresuid from 0 to non-zero (capabilities(7) "Effect of user ID changes") */
	int r = prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
	EXPLAIN(r, "prctl(2)", "prctl(PR_SET_KEEPCAPS, 1)");
	if (r < 0)
		return isola_err(err, errno, "prctl PR_SET_KEEPCAPS");
	return 0;
}

static void cap_tp(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

int caps_apply_post_setuid(const struct isola_caps *caps, isola_error *err)
{
	int r = prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (r < 0)
		return isola_err(err, errno, "prctl PR_SET_KEEPCAPS 0");
	__attribute__((cleanup(cap_tp))) cap_t c = cap_init();
	if (!c)
		return isola_err(err, errno, "cap_init");
	int last = last_cap();
	static const struct {
		enum caps_set set;
		cap_flag_t flag;
	} map[] = {
	    {CAPS_EFFECTIVE, CAP_EFFECTIVE},
	    {CAPS_PERMITTED, CAP_PERMITTED},
	    {CAPS_INHERITABLE, CAP_INHERITABLE},
	};
	for (size_t m = 0; m < ARRAY_SIZE(map); m++)
		for (int cap = 0; cap <= last; cap++) {
			if (!(caps->set[map[m].set] & (1ULL << cap)))
				continue;
			cap_value_t v = cap;
			if (cap_set_flag(c, map[m].flag, 1, &v, CAP_SET) < 0)
				return isola_err(err, errno, "cap_set_flag %s", caps_to_name(cap));
		}
	r = cap_set_proc(c);
	EXPLAIN(r, "capset(2)", "capset(eff=%#llx, prm=%#llx, inh=%#llx)",
	        (unsigned long long)caps->set[CAPS_EFFECTIVE], (unsigned long long)caps->set[CAPS_PERMITTED],
	        (unsigned long long)caps->set[CAPS_INHERITABLE]);
	if (r < 0)
		return isola_err(err, errno, "capset (effective %#llx, permitted %#llx, inheritable %#llx)",
		                 (unsigned long long)caps->set[CAPS_EFFECTIVE],
		                 (unsigned long long)caps->set[CAPS_PERMITTED],
		                 (unsigned long long)caps->set[CAPS_INHERITABLE]);
	/* Start from an empty ambient set whatever the parent had, then raise only what was asked. */
	r = cap_reset_ambient();
	EXPLAIN(r, "prctl(2)", "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)");
	if (r < 0 && errno != EINVAL)
		return isola_err(err, errno, "clear the ambient capability set");
	for (int cap = 0; cap <= last; cap++) {
		if (!(caps->set[CAPS_AMBIENT] & (1ULL << cap)))
			continue;
		r = cap_set_ambient(cap, CAP_SET);
		EXPLAIN(r, "prctl(2)", "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, %s)", caps_to_name(cap));
		if (r < 0)
			return isola_err(err, errno, "raise ambient %s", caps_to_name(cap));
	}
	return 0;
}

int caps_read_proc(pid_t pid, struct isola_caps *out, isola_error *err)
{
	char path[64];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	_cleanup_free_ char *buf = NULL;
	if (read_file_at(AT_FDCWD, path, &buf, NULL, err) < 0)
		return -1;
	static const struct {
		const char *key;
		enum caps_set set;
	} keys[] = {
	    {"CapInh:", CAPS_INHERITABLE}, {"CapPrm:", CAPS_PERMITTED}, {"CapEff:", CAPS_EFFECTIVE},
	    {"CapBnd:", CAPS_BOUNDING},    {"CapAmb:", CAPS_AMBIENT},
	};
	memset(out, 0, sizeof(*out));
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		const char *p = strstr(buf, keys[k].key);
		if (!p)
			return isola_err(err, 0, "%s: no %s line", path, keys[k].key);
		out->set[keys[k].set] = strtoull(p + strlen(keys[k].key), NULL, 16);
	}
	return 0;
}
