/* list, ps, pause, resume, update, stats (runtime.h). Everything that acts on the cgroup goes through
 * cgroup.h. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cleanup.h"
#include "json.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/runtime.h"
#include "runtime/state.h"

json_t *runtime_list(const struct runtime_ctx *ctx, isola_error *err)
{
	_cleanup_json_ json_t *arr = json_array();
	if (!arr) {
		isola_err(err, ENOMEM, "list");
		return NULL;
	}
	_cleanup_closedir_ DIR *d = opendir(state_root(ctx));
	if (!d) {
		if (errno == ENOENT)
			return steal_ptr(&arr);
		isola_err(err, errno, "open %s", state_root(ctx));
		return NULL;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !runtime_id_valid(de->d_name))
			continue;
		isola_error e2 = {0};
		json_t *o = runtime_state_json(ctx, de->d_name, &e2);
		if (o)
			json_array_append_new(arr, o);
	}
	return steal_ptr(&arr);
}

/* Processes whose PID namespace is init's (for containers without a cgroup). */
static int ps_by_pidns(pid_t init, pid_t **pids, size_t *n, isola_error *err)
{
	char p[64];
	struct stat ref;
	snprintf(p, sizeof p, "/proc/%d/ns/pid", init);
	if (stat(p, &ref) < 0)
		return isola_err(err, errno, "%s", p);
	struct stat self;
	bool own_ns = stat("/proc/self/ns/pid", &self) == 0 && self.st_ino != ref.st_ino;
	size_t cap = 16;
	_cleanup_free_ pid_t *v = malloc(cap * sizeof *v);
	*n = 0;
	if (!v)
		return isola_err(err, ENOMEM, "ps");
	if (!own_ns) {
		v[(*n)++] = init;
		*pids = steal_ptr(&v);
		return 0;
	}
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		struct stat st;
		snprintf(p, sizeof p, "/proc/%ld/ns/pid", pid);
		if (stat(p, &st) < 0 || st.st_ino != ref.st_ino || st.st_dev != ref.st_dev)
			continue;
		if (*n == cap) {
			pid_t *nv = realloc(v, (cap *= 2) * sizeof *v);
			if (!nv)
				return isola_err(err, ENOMEM, "ps");
			v = nv;
		}
		v[(*n)++] = (pid_t)pid;
	}
	*pids = steal_ptr(&v);
	return 0;
}

int runtime_ps(const struct runtime_ctx *ctx, const char *id, pid_t **pids, size_t *n, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	struct runtime_state s;
	*pids = NULL;
	*n = 0;
	if (container_load(ctx, id, &st, &s, err) < 0)
		return -1;
	if (s.status == RUNTIME_STOPPED)
		return 0;
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	if (container_open_cgroup(st, &cg, NULL) == 0 && cg->available)
		return cgroup_pids(cg, pids, n, err);
	return ps_by_pidns(s.pid, pids, n, err);
}

static int with_cgroup(const struct runtime_ctx *ctx, const char *id, json_t **st, struct isola_cgroup **cg,
                       struct runtime_state *s, const char *what, isola_error *err)
{
	if (container_load(ctx, id, st, s, err) < 0)
		return -1;
	if (container_open_cgroup(*st, cg, err) < 0)
		return isola_err_wrap(err, "%s %s", what, id);
	if (!(*cg)->available)
		return isola_err(err, ENOTSUP,
		                 "%s %s: the container has no cgroup (cgroup manager disabled or "
		                 "cgroup v2 unavailable)",
		                 what, id);
	return 0;
}

static int set_paused(const struct runtime_ctx *ctx, const char *id, bool pause, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	struct runtime_state s;
	if (with_cgroup(ctx, id, &st, &cg, &s, pause ? "pause" : "resume", err) < 0)
		return -1;
	if (pause && s.status != RUNTIME_RUNNING && s.status != RUNTIME_CREATED)
		return isola_err(err, EINVAL, "container %s is %s: only a running container can be paused", id,
		                 runtime_status_name(s.status));
	if (!pause && s.status != RUNTIME_PAUSED)
		return isola_err(err, EINVAL, "container %s is %s, not paused", id, runtime_status_name(s.status));
	if (cgroup_freeze(cg, pause, err) < 0)
		return -1;
	json_object_set_new(st, "status", json_string(pause ? "paused" : "running"));
	return state_store(ctx, id, st, err);
}

int runtime_pause(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	return set_paused(ctx, id, true, err);
}

int runtime_resume(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	return set_paused(ctx, id, false, err);
}

int runtime_update(const struct runtime_ctx *ctx, const char *id, json_t *resources, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	struct runtime_state s;
	if (with_cgroup(ctx, id, &st, &cg, &s, "update", err) < 0)
		return -1;
	if (s.status == RUNTIME_STOPPED)
		return isola_err(err, EINVAL, "container %s is stopped", id);
	struct cgroup_resources res = {0};
	int r = cgroup_resources_parse(resources, "resources", &res, err);
	if (r == 0)
		r = cgroup_apply(cg, &res, err);
	cgroup_resources_clear(&res);
	return r < 0 ? isola_err_wrap(err, "update %s", id) : 0;
}

json_t *runtime_stats(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	_cleanup_json_ json_t *st = NULL;
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	struct runtime_state s;
	json_t *out = NULL;
	if (with_cgroup(ctx, id, &st, &cg, &s, "stats", err) < 0 || cgroup_stats(cg, &out, err) < 0)
		return NULL;
	return out;
}
