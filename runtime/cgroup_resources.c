/* cgroup resources: OCI linux.resources (runtime-spec config-linux.md) → cgroup v2 files
 * (kernel cgroup-v2.rst "Controllers"), and writing them. Contract in cgroup.h. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "cleanup.h"
#include "json.h"
#include "path.h"

void cgroup_kv_free(struct cgroup_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void cgroup_resources_clear(struct cgroup_resources *r)
{
	free(r->cpuset_cpus);
	free(r->cpuset_mems);
	free(r->io_weights);
	free(r->io_max);
	cgroup_kv_free(r->hugetlb, r->n_hugetlb);
	cgroup_kv_free(r->unified, r->n_unified);
	memset(r, 0, sizeof(*r));
}

static int get_i64(json_t *o, const char *jp, const char *key, bool *has, int64_t *v, isola_error *err)
{
	if (!json_object_get(o, key) || json_is_null(json_object_get(o, key)))
		return 0;
	if (json_get_int(o, jp, key, true, v, err) < 0)
		return -1;
	*has = true;
	return 0;
}

static int get_u64(json_t *o, const char *jp, const char *key, bool *has, uint64_t *v, isola_error *err)
{
	if (!json_object_get(o, key) || json_is_null(json_object_get(o, key)))
		return 0;
	if (json_get_uint(o, jp, key, true, v, err) < 0)
		return -1;
	*has = true;
	return 0;
}

static int dup_str(json_t *o, const char *jp, const char *key, char **out, isola_error *err)
{
	const char *s = NULL;
	if (json_get_str(o, jp, key, false, &s, err) < 0)
		return -1;
	if (!s)
		return 0;
	/* cpuset lists are "0-3,7": anything else would only make the kernel say EINVAL later */
	if (s[strspn(s, "0123456789,- ")] != 0)
		return isola_err(err, 0, "%s: \"%s\" is not a cpu/node list like \"0-3,7\"", json_path_key(jp, key), s);
	free(*out);
	*out = strdup(s);
	return *out ? 0 : isola_err(err, ENOMEM, "%s", json_path_key(jp, key));
}

static int kv_push(struct cgroup_kv **kv, size_t *n, const char *key, const char *value, isola_error *err)
{
	struct cgroup_kv *nk = realloc(*kv, (*n + 1) * sizeof(**kv));
	if (!nk)
		return isola_err(err, ENOMEM, "cgroup files");
	*kv = nk;
	nk[*n].key = strdup(key);
	nk[*n].value = strdup(value);
	if (!nk[*n].key || !nk[*n].value) {
		free(nk[*n].key);
		free(nk[*n].value);
		return isola_err(err, ENOMEM, "cgroup files");
	}
	(*n)++;
	return 0;
}

static int kv_pushf(struct cgroup_kv **kv, size_t *n, const char *key, isola_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int kv_pushf(struct cgroup_kv **kv, size_t *n, const char *key, isola_error *err, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return kv_push(kv, n, key, buf, err);
}

/* Put (or replace) key in a kv list. */
static int kv_set(struct cgroup_kv **kv, size_t *n, const char *key, const char *value, isola_error *err)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*kv)[i].key, key)) {
			char *v = strdup(value);
			if (!v)
				return isola_err(err, ENOMEM, "cgroup");
			free((*kv)[i].value);
			(*kv)[i].value = v;
			return 0;
		}
	return kv_push(kv, n, key, value, err);
}

static int parse_throttle(json_t *blk, const char *jp, const char *key, int which, struct cgroup_resources *r,
                          isola_error *err)
{
	json_t *arr = NULL;
	if (json_get_arr(blk, jp, key, false, &arr, err) < 0)
		return -1;
	if (!arr)
		return 0;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		char ep[256];
		snprintf(ep, sizeof(ep), "%s", json_path_idx(json_path_key(jp, key), i));
		int64_t major = 0, minor = 0;
		uint64_t rate = 0;
		if (!json_is_object(e))
			return isola_err(err, 0, "%s: expected an object", ep);
		if (json_get_int(e, ep, "major", true, &major, err) < 0 ||
		    json_get_int(e, ep, "minor", true, &minor, err) < 0 ||
		    json_get_uint(e, ep, "rate", true, &rate, err) < 0)
			return -1;
		size_t d;
		for (d = 0; d < r->n_io_max; d++)
			if (r->io_max[d].major == major && r->io_max[d].minor == minor)
				break;
		if (d == r->n_io_max) {
			struct cgroup_io_max *n = realloc(r->io_max, (r->n_io_max + 1) * sizeof(*n));
			if (!n)
				return isola_err(err, ENOMEM, "%s", ep);
			r->io_max = n;
			r->io_max[d] = (struct cgroup_io_max){.major = major, .minor = minor};
			r->n_io_max++;
		}
		uint64_t *slot[] = {&r->io_max[d].rbps, &r->io_max[d].wbps, &r->io_max[d].riops, &r->io_max[d].wiops};
		*slot[which] = rate;
	}
	return 0;
}

static int parse_blockio(json_t *blk, const char *jp, struct cgroup_resources *r, isola_error *err)
{
	uint64_t w = 0;
	bool has = false;
	if (get_u64(blk, jp, "weight", &has, &w, err) < 0)
		return -1;
	if (has) {
		if (w < 10 || w > 1000)
			return isola_err(err, 0, "%s: %llu is out of range (10..1000)", json_path_key(jp, "weight"),
			                 (unsigned long long)w);
		r->has_blkio_weight = true;
		r->blkio_weight = (uint16_t)w;
	}
	json_t *arr = NULL;
	if (json_get_arr(blk, jp, "weightDevice", false, &arr, err) < 0)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		char ep[256];
		snprintf(ep, sizeof(ep), "%s", json_path_idx(json_path_key(jp, "weightDevice"), i));
		int64_t major = 0, minor = 0;
		uint64_t dw = 0;
		bool hw = false;
		if (!json_is_object(e))
			return isola_err(err, 0, "%s: expected an object", ep);
		if (json_get_int(e, ep, "major", true, &major, err) < 0 ||
		    json_get_int(e, ep, "minor", true, &minor, err) < 0 || get_u64(e, ep, "weight", &hw, &dw, err) < 0)
			return -1;
		if (!hw)
			continue;
		if (dw < 10 || dw > 1000)
			return isola_err(err, 0, "%s: %llu is out of range (10..1000)", json_path_key(ep, "weight"),
			                 (unsigned long long)dw);
		struct cgroup_io_weight *n = realloc(r->io_weights, (r->n_io_weights + 1) * sizeof(*n));
		if (!n)
			return isola_err(err, ENOMEM, "%s", ep);
		r->io_weights = n;
		r->io_weights[r->n_io_weights++] = (struct cgroup_io_weight){major, minor, (uint16_t)dw};
	}
	static const char *const keys[] = {"throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
	                                   "throttleWriteIOPSDevice"};
	for (int k = 0; k < 4; k++) {
		if (parse_throttle(blk, jp, keys[k], k, r, err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_resources_parse(json_t *obj, const char *jpath, struct cgroup_resources *out, isola_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return isola_err(err, 0, "%s: expected an object", jpath);
	struct cgroup_resources r = {0};
	json_t *mem = NULL, *cpu = NULL, *pids = NULL, *blk = NULL, *huge = NULL, *uni = NULL;
	char mp[256], cp[256], pp[256], bp[256];
	snprintf(mp, sizeof(mp), "%s", json_path_key(jpath, "memory"));
	snprintf(cp, sizeof(cp), "%s", json_path_key(jpath, "cpu"));
	snprintf(pp, sizeof(pp), "%s", json_path_key(jpath, "pids"));
	snprintf(bp, sizeof(bp), "%s", json_path_key(jpath, "blockIO"));
	int rc = json_get_obj(obj, jpath, "memory", false, &mem, err) < 0 ||
	                 json_get_obj(obj, jpath, "cpu", false, &cpu, err) < 0 ||
	                 json_get_obj(obj, jpath, "pids", false, &pids, err) < 0 ||
	                 json_get_obj(obj, jpath, "blockIO", false, &blk, err) < 0 ||
	                 json_get_arr(obj, jpath, "hugepageLimits", false, &huge, err) < 0 ||
	                 json_get_obj(obj, jpath, "unified", false, &uni, err) < 0
	             ? -1
	             : 0;
	if (rc == 0 && mem)
		rc = get_i64(mem, mp, "limit", &r.has_memory_limit, &r.memory_limit, err) < 0 ||
		             get_i64(mem, mp, "reservation", &r.has_memory_reservation, &r.memory_reservation, err) <
		                 0 ||
		             get_i64(mem, mp, "swap", &r.has_memory_swap, &r.memory_swap, err) < 0
		         ? -1
		         : 0;
	if (rc == 0 && cpu)
		rc = get_u64(cpu, cp, "shares", &r.has_cpu_shares, &r.cpu_shares, err) < 0 ||
		             get_i64(cpu, cp, "quota", &r.has_cpu_quota, &r.cpu_quota, err) < 0 ||
		             get_u64(cpu, cp, "period", &r.has_cpu_period, &r.cpu_period, err) < 0 ||
		             dup_str(cpu, cp, "cpus", &r.cpuset_cpus, err) < 0 ||
		             dup_str(cpu, cp, "mems", &r.cpuset_mems, err) < 0
		         ? -1
		         : 0;
	if (rc == 0 && pids)
		rc = get_i64(pids, pp, "limit", &r.has_pids_limit, &r.pids_limit, err);
	if (rc == 0 && blk)
		rc = parse_blockio(blk, bp, &r, err);
	size_t i;
	json_t *e;
	if (rc == 0 && huge)
		json_array_foreach(huge, i, e)
		{
			char hp[256];
			snprintf(hp, sizeof(hp), "%s", json_path_idx(json_path_key(jpath, "hugepageLimits"), i));
			const char *size = NULL;
			uint64_t limit = 0;
			if (!json_is_object(e)) {
				rc = isola_err(err, 0, "%s: expected an object", hp);
				break;
			}
			if (json_get_str(e, hp, "pageSize", true, &size, err) < 0 ||
			    json_get_uint(e, hp, "limit", true, &limit, err) < 0) {
				rc = -1;
				break;
			}
			if (!name_is_safe_component(size, 16) || strchr(size, '.')) {
				rc = isola_err(err, 0, "%s: bad page size \"%s\"", json_path_key(hp, "pageSize"), size);
				break;
			}
			char file[64], val[32];
			snprintf(file, sizeof(file), "hugetlb.%s.max", size);
			snprintf(val, sizeof(val), "%llu", (unsigned long long)limit);
			if ((rc = kv_push(&r.hugetlb, &r.n_hugetlb, file, val, err)) < 0)
				break;
		}
	const char *key;
	json_t *v;
	if (rc == 0 && uni)
		json_object_foreach(uni, key, v)
		{
			/* a file of our own cgroup: a plain name, never a path out of it */
			if (!name_is_safe_component(key, 255) || !strchr(key, '.')) {
				rc = isola_err(err, 0, "%s: \"%s\" is not a cgroup file name",
				               json_path_key(jpath, "unified"), key);
				break;
			}
			if (!json_is_string(v)) {
				rc = isola_err(err, 0, "%s: expected a string",
				               json_path_key(json_path_key(jpath, "unified"), key));
				break;
			}
			if ((rc = kv_push(&r.unified, &r.n_unified, key, json_string_value(v), err)) < 0)
				break;
		}
	if (rc < 0) {
		cgroup_resources_clear(&r);
		return -1;
	}
	*out = r;
	return 0;
}

int cgroup_resources_merge(struct cgroup_resources *dst, const struct cgroup_resources *src, isola_error *err)
{
#define MERGE(f)                                                                                                       \
	if (src->has_##f) {                                                                                            \
		dst->has_##f = true;                                                                                   \
		dst->f = src->f;                                                                                       \
	}
	MERGE(memory_limit)
	MERGE(memory_reservation)
	MERGE(memory_swap)
	MERGE(cpu_shares)
	MERGE(cpu_quota)
	MERGE(cpu_period)
	MERGE(pids_limit)
	MERGE(blkio_weight)
#undef MERGE
	if (src->cpuset_cpus) {
		free(dst->cpuset_cpus);
		if (!(dst->cpuset_cpus = strdup(src->cpuset_cpus)))
			return isola_err(err, ENOMEM, "cgroup");
	}
	if (src->cpuset_mems) {
		free(dst->cpuset_mems);
		if (!(dst->cpuset_mems = strdup(src->cpuset_mems)))
			return isola_err(err, ENOMEM, "cgroup");
	}
	if (src->n_io_max) {
		void *n = malloc(src->n_io_max * sizeof(*src->io_max));
		if (!n)
			return isola_err(err, ENOMEM, "cgroup");
		memcpy(n, src->io_max, src->n_io_max * sizeof(*src->io_max));
		free(dst->io_max);
		dst->io_max = n;
		dst->n_io_max = src->n_io_max;
	}
	if (src->n_io_weights) {
		void *n = malloc(src->n_io_weights * sizeof(*src->io_weights));
		if (!n)
			return isola_err(err, ENOMEM, "cgroup");
		memcpy(n, src->io_weights, src->n_io_weights * sizeof(*src->io_weights));
		free(dst->io_weights);
		dst->io_weights = n;
		dst->n_io_weights = src->n_io_weights;
	}
	for (size_t i = 0; i < src->n_hugetlb; i++)
		if (kv_set(&dst->hugetlb, &dst->n_hugetlb, src->hugetlb[i].key, src->hugetlb[i].value, err) < 0)
			return -1;
	for (size_t i = 0; i < src->n_unified; i++)
		if (kv_set(&dst->unified, &dst->n_unified, src->unified[i].key, src->unified[i].value, err) < 0)
			return -1;
	return 0;
}

/* runc's ConvertCPUSharesToCgroupV2Value: [2, 262144] → [1, 10000] linearly */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

/* blkio weight [10, 1000] → io.weight [1, 10000] */
static uint64_t blkio_to_io_weight(uint64_t w)
{
	return 1 + ((w - 10) * 9999) / 990;
}

static int memory_files(const struct cgroup_resources *r, struct cgroup_kv **kv, size_t *n, isola_error *err)
{
	if (r->has_memory_reservation) {
		if (r->memory_reservation == -1
		        ? kv_push(kv, n, "memory.low", "max", err) < 0
		        : kv_pushf(kv, n, "memory.low", err, "%lld", (long long)r->memory_reservation) < 0)
			return -1;
	}
	if (r->has_memory_limit) {
		if (r->memory_limit < -1 || r->memory_limit == 0)
			return isola_err(err, 0, "linux.resources.memory.limit: %lld is not a limit (bytes > 0, or -1)",
			                 (long long)r->memory_limit);
		if (r->memory_limit == -1 ? kv_push(kv, n, "memory.max", "max", err) < 0
		                          : kv_pushf(kv, n, "memory.max", err, "%lld", (long long)r->memory_limit) < 0)
			return -1;
	}
	if (r->has_memory_swap) {
		/* OCI memory.swap is memory+swap (the cgroup v1 memsw meaning); v2's memory.swap.max is swap alone */
		int64_t mem = r->has_memory_limit ? r->memory_limit : -1, sw = r->memory_swap;
		if (sw == -1)
			return kv_push(kv, n, "memory.swap.max", "max", err);
		if (sw == 0 && mem == -1)
			return 0; /* "unset" with an unlimited memory: nothing to say */
		if (sw < 0)
			return isola_err(err, 0, "linux.resources.memory.swap: %lld is not a limit", (long long)sw);
		if (mem == -1)
			return isola_err(err, 0,
			                 "linux.resources.memory.swap: a swap limit needs a memory limit "
			                 "(OCI swap counts memory+swap)");
		if (sw < mem)
			return isola_err(err, 0,
			                 "linux.resources.memory.swap: %lld is below memory.limit %lld (OCI swap "
			                 "counts memory+swap, so it must be >= the memory limit)",
			                 (long long)sw, (long long)mem);
		return kv_pushf(kv, n, "memory.swap.max", err, "%lld", (long long)(sw - mem));
	}
	return 0;
}

int cgroup_resources_to_files(const struct cgroup_resources *r, struct cgroup_kv **out, size_t *nout, isola_error *err)
{
	struct cgroup_kv *kv = NULL;
	size_t n = 0;
	_cleanup_(cgroup_kv_arrayp) struct cgroup_kv_array guard = {NULL, 0};
	*out = NULL;
	*nout = 0;
	if (!r)
		return 0;
#define FAIL()                                                                                                         \
	do {                                                                                                           \
		guard.kv = kv;                                                                                         \
		guard.n = n;                                                                                           \
		return -1;                                                                                             \
	} while (0)
	if (r->has_cpu_shares && r->cpu_shares > 0 &&
	    kv_pushf(&kv, &n, "cpu.weight", err, "%llu", (unsigned long long)shares_to_weight(r->cpu_shares)) < 0)
		FAIL();
	if (r->has_cpu_quota || r->has_cpu_period) {
		uint64_t period = r->has_cpu_period && r->cpu_period ? r->cpu_period : 100000;
		if (period < 1000 || period > 1000000) {
			isola_err(err, 0, "linux.resources.cpu.period: %llu is out of range (1000..1000000 us)",
			          (unsigned long long)period);
			FAIL();
		}
		int rc;
		if (!r->has_cpu_quota || r->cpu_quota <= 0)
			rc = kv_pushf(&kv, &n, "cpu.max", err, "max %llu", (unsigned long long)period);
		else
			rc = kv_pushf(&kv, &n, "cpu.max", err, "%lld %llu", (long long)r->cpu_quota,
			              (unsigned long long)period);
		if (rc < 0)
			FAIL();
	}
	if (r->cpuset_cpus && kv_push(&kv, &n, "cpuset.cpus", r->cpuset_cpus, err) < 0)
		FAIL();
	if (r->cpuset_mems && kv_push(&kv, &n, "cpuset.mems", r->cpuset_mems, err) < 0)
		FAIL();
	if (memory_files(r, &kv, &n, err) < 0)
		FAIL();
	if (r->has_pids_limit &&
	    (r->pids_limit > 0 ? kv_pushf(&kv, &n, "pids.max", err, "%lld", (long long)r->pids_limit)
	                       : kv_push(&kv, &n, "pids.max", "max", err)) < 0)
		FAIL();
	if (r->has_blkio_weight && kv_pushf(&kv, &n, "io.weight", err, "default %llu",
	                                    (unsigned long long)blkio_to_io_weight(r->blkio_weight)) < 0)
		FAIL();
	for (size_t i = 0; i < r->n_io_weights; i++)
		if (kv_pushf(&kv, &n, "io.weight", err, "%lld:%lld %llu", (long long)r->io_weights[i].major,
		             (long long)r->io_weights[i].minor,
		             (unsigned long long)blkio_to_io_weight(r->io_weights[i].weight)) < 0)
			FAIL();
	for (size_t i = 0; i < r->n_io_max; i++) {
		const struct cgroup_io_max *m = &r->io_max[i];
		char line[256];
		int len = snprintf(line, sizeof(line), "%lld:%lld", (long long)m->major, (long long)m->minor);
		const uint64_t vals[] = {m->rbps, m->wbps, m->riops, m->wiops};
		static const char *const names[] = {"rbps", "wbps", "riops", "wiops"};
		for (int k = 0; k < 4; k++)
			if (vals[k])
				len += snprintf(line + len, sizeof(line) - (size_t)len, " %s=%llu", names[k],
				                (unsigned long long)vals[k]);
		if (kv_push(&kv, &n, "io.max", line, err) < 0)
			FAIL();
	}
	for (size_t i = 0; i < r->n_hugetlb; i++)
		if (kv_push(&kv, &n, r->hugetlb[i].key, r->hugetlb[i].value, err) < 0)
			FAIL();
	/* unified last: it is the escape hatch and overrides what the structured fields said */
	for (size_t i = 0; i < r->n_unified; i++)
		if (kv_push(&kv, &n, r->unified[i].key, r->unified[i].value, err) < 0)
			FAIL();
#undef FAIL
	*out = kv;
	*nout = n;
	return 0;
}

char **cgroup_files_controllers(const struct cgroup_kv *files, size_t n)
{
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *dot = strchr(files[i].key, '.');
		size_t len = dot ? (size_t)(dot - files[i].key) : strlen(files[i].key);
		if (len == 6 && !strncmp(files[i].key, "cgroup", 6))
			continue; /* core files: no controller */
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strlen(v[j]) == len && !strncmp(v[j], files[i].key, len);
		if (dup)
			continue;
		if (!(v[k] = strndup(files[i].key, len))) {
			char **p = v;
			strv_freep(&p);
			return NULL;
		}
		k++;
	}
	return v;
}

int cgroup_apply_files(const struct isola_cgroup *cg, const struct cgroup_kv *files, size_t n, isola_error *err)
{
	for (size_t i = 0; i < n; i++) {
		isola_error werr;
		if (cg_write(cg->dirfd, files[i].key, files[i].value, &werr) == 0)
			continue;
		if (werr.errnum == ENOENT) {
			/* the file exists only when its controller is enabled for this cgroup */
			char ctrl[64];
			snprintf(ctrl, sizeof(ctrl), "%.*s", (int)strcspn(files[i].key, "."), files[i].key);
			isola_error e2;
			cgroup_missing_controller_err(&e2, ctrl, cg->mount, cgroup_controller_bound_to_v1(ctrl));
			return isola_err(err, ENOENT, "cgroup %s has no %s: %s", cg->path, files[i].key, e2.msg);
		}
		return isola_err(err, werr.errnum, "cgroup %s: %s", cg->path, werr.msg);
	}
	return 0;
}

int cgroup_apply(const struct isola_cgroup *cg, const struct cgroup_resources *res, isola_error *err)
{
	struct cgroup_kv *files = NULL;
	size_t n = 0;
	if (cgroup_resources_to_files(res, &files, &n, err) < 0)
		return -1;
	_cleanup_(cgroup_kv_arrayp) struct cgroup_kv_array guard = {files, n};
	if (n == 0)
		return 0;
	if (!cg->available)
		return isola_err(err, ENOTSUP, "resource limits need the container's cgroup, and it has none (%s)",
		                 cg->degraded_reason ? cg->degraded_reason : "not created");
	/* a controller not enabled here: say which and why, before writing anything */
	_cleanup_strv_ char **ctrls = cgroup_files_controllers(files, n);
	if (!ctrls)
		return isola_err(err, ENOMEM, "cgroup");
	_cleanup_free_ char *have = NULL;
	if (cg_read(cg->dirfd, "cgroup.controllers", &have, err) < 0)
		return isola_err_wrap(err, "cgroup %s", cg->path);
	/* one not offered yet: enable it above (only where the root offers it; otherwise the check below
	 * names it), then look again */
	isola_error ig = {0};
	if (cgroup_enable_above(cg, ctrls, &ig) == 0) {
		free(have);
		have = NULL;
		if (cg_read(cg->dirfd, "cgroup.controllers", &have, err) < 0)
			return isola_err_wrap(err, "cgroup %s", cg->path);
	}
	for (char **c = ctrls; *c; c++) {
		size_t l = strlen(*c);
		bool found = false;
		for (const char *p = have; (p = strstr(p, *c)); p += l)
			if ((p == have || p[-1] == ' ') && (p[l] == 0 || p[l] == ' ' || p[l] == '\n'))
				found = true;
		if (!found) {
			cgroup_missing_controller_err(err, *c, cg->mount, cgroup_controller_bound_to_v1(*c));
			return -1;
		}
	}
	return cgroup_apply_files(cg, files, n, err);
}
