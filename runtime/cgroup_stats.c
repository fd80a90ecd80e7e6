/* cgroup stats for `events --stats`, read from the v2 files (cgroup-v2.rst "cpu.stat", "memory.stat",
 * "io.stat", "pids.current"). The shape is runc's (libcontainer/cgroups/stats.go as printed by
 * `runc events --stats`), so tools that read one read the other. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "cgroup_internal.h"
#include "cleanup.h"
#include "json.h"

/* "key value\n" lines → object; "max" values are left out (no number to give) */
static json_t *flat_keyed(const char *s)
{
	json_t *o = json_object();
	char key[128];
	unsigned long long v;
	for (const char *p = s; p && *p;) {
		if (sscanf(p, "%127s %llu", key, &v) == 2)
			json_object_set_new(o, key, json_integer((json_int_t)v));
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return o;
}

static bool read_u64(int dirfd, const char *file, uint64_t *v)
{
	isola_error e;
	_cleanup_free_ char *s = NULL;
	if (cg_read(dirfd, file, &s, &e) < 0)
		return false;
	char *end;
	*v = strtoull(s, &end, 10);
	return end != s; /* "max" → false */
}

static json_int_t get(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

int cgroup_stats(const struct isola_cgroup *cg, json_t **out, isola_error *err)
{
	*out = NULL;
	if (!cg->available)
		return isola_err(err, ENOTSUP, "stats need the container's cgroup, and it has none (%s)",
		                 cg->degraded_reason ? cg->degraded_reason : "not created");
	_cleanup_json_ json_t *data = json_object();
	_cleanup_free_ char *s = NULL;
	isola_error e;

	/* cpu.stat exists in every v2 cgroup (usage); throttling lines only with the cpu controller */
	if (cg_read(cg->dirfd, "cpu.stat", &s, &e) == 0) {
		_cleanup_json_ json_t *st = flat_keyed(s);
		json_t *cpu = json_pack("{s:{s:I, s:I, s:I}}", "usage", "total", get(st, "usage_usec") * 1000, "user",
		                        get(st, "user_usec") * 1000, "kernel", get(st, "system_usec") * 1000);
		if (json_object_get(st, "nr_periods"))
			json_object_set_new(cpu, "throttling",
			                    json_pack("{s:I, s:I, s:I}", "periods", get(st, "nr_periods"),
			                              "throttledPeriods", get(st, "nr_throttled"), "throttledTime",
			                              get(st, "throttled_usec") * 1000));
		json_object_set_new(data, "cpu", cpu);
	}
	free(steal_ptr(&s));

	uint64_t v;
	if (read_u64(cg->dirfd, "memory.current", &v)) {
		json_t *mem = json_object();
		json_t *usage = json_pack("{s:I}", "usage", (json_int_t)v);
		uint64_t lim;
		if (read_u64(cg->dirfd, "memory.max", &lim))
			json_object_set_new(usage, "limit", json_integer((json_int_t)lim));
		if (read_u64(cg->dirfd, "memory.peak", &lim))
			json_object_set_new(usage, "max", json_integer((json_int_t)lim));
		json_object_set_new(mem, "usage", usage);
		if (read_u64(cg->dirfd, "memory.swap.current", &v)) {
			json_t *sw = json_pack("{s:I}", "usage", (json_int_t)v);
			if (read_u64(cg->dirfd, "memory.swap.max", &lim))
				json_object_set_new(sw, "limit", json_integer((json_int_t)lim));
			json_object_set_new(mem, "swap", sw);
		}
		if (cg_read(cg->dirfd, "memory.stat", &s, &e) == 0)
			json_object_set_new(mem, "raw", flat_keyed(s));
		free(steal_ptr(&s));
		if (cg_read(cg->dirfd, "memory.events", &s, &e) == 0) {
			_cleanup_json_ json_t *ev = flat_keyed(s);
			json_object_set_new(mem, "oomKills", json_integer(get(ev, "oom_kill")));
		}
		free(steal_ptr(&s));
		json_object_set_new(data, "memory", mem);
	}

	if (read_u64(cg->dirfd, "pids.current", &v)) {
		json_t *p = json_pack("{s:I}", "current", (json_int_t)v);
		uint64_t lim;
		if (read_u64(cg->dirfd, "pids.max", &lim))
			json_object_set_new(p, "limit", json_integer((json_int_t)lim));
		json_object_set_new(data, "pids", p);
	}

	/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device */
	if (cg_read(cg->dirfd, "io.stat", &s, &e) == 0) {
		json_t *bytes = json_array(), *ios = json_array();
		for (char *line = s; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			unsigned maj, min;
			unsigned long long rb = 0, wb = 0, ri = 0, wi = 0;
			if (sscanf(line, "%u:%u", &maj, &min) == 2) {
				for (char *tok = strchr(line, ' '); tok; tok = strchr(tok + 1, ' ')) {
					sscanf(tok, " rbytes=%llu", &rb);
					sscanf(tok, " wbytes=%llu", &wb);
					sscanf(tok, " rios=%llu", &ri);
					sscanf(tok, " wios=%llu", &wi);
				}
				json_array_append_new(bytes, json_pack("{s:i,s:i,s:s,s:I}", "major", maj, "minor", min,
				                                       "op", "Read", "value", (json_int_t)rb));
				json_array_append_new(bytes, json_pack("{s:i,s:i,s:s,s:I}", "major", maj, "minor", min,
				                                       "op", "Write", "value", (json_int_t)wb));
				json_array_append_new(ios, json_pack("{s:i,s:i,s:s,s:I}", "major", maj, "minor", min,
				                                     "op", "Read", "value", (json_int_t)ri));
				json_array_append_new(ios, json_pack("{s:i,s:i,s:s,s:I}", "major", maj, "minor", min,
				                                     "op", "Write", "value", (json_int_t)wi));
			}
			line = nl ? nl + 1 : NULL;
		}
		json_object_set_new(
		    data, "blkio",
		    json_pack("{s:o, s:o}", "ioServiceBytesRecursive", bytes, "ioServicedRecursive", ios));
	}
	*out = steal_ptr(&data);
	return 0;
}
