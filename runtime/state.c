/* State directory and state.json (runtime-spec runtime.md "State"). */
#include "runtime/state.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "json.h"
#include "path.h"
#include "util.h"

const char *state_root(const struct runtime_ctx *ctx)
{
	return ctx && ctx->state_root ? ctx->state_root : RUNTIME_DEFAULT_ROOT;
}

bool runtime_id_valid(const char *id)
{
	/* name_is_safe_component refuses "", ".", "..", "/", control characters; the length bound is ours */
	return id && name_is_safe_component(id, RUNTIME_ID_MAX);
}

const char *runtime_status_name(enum runtime_status s)
{
	static const char *n[] = {"creating", "created", "running", "paused", "stopped"};
	return s <= RUNTIME_STOPPED ? n[s] : "unknown";
}

int state_dir(const struct runtime_ctx *ctx, const char *id, char *buf, size_t len, isola_error *err)
{
	if (!runtime_id_valid(id))
		return isola_err(err, EINVAL,
		                 "container id \"%.64s%s\" is invalid (1..%d bytes; no '/', '.', '..', "
		                 "control characters)",
		                 id ? id : "", id && strlen(id) > 64 ? "..." : "", RUNTIME_ID_MAX);
	if ((size_t)snprintf(buf, len, "%s/%s", state_root(ctx), id) >= len)
		return isola_err(err, ENAMETOOLONG, "state directory for %.64s", id);
	return 0;
}

/* mkdir -p of a host path we own (the state root is ours, not a container's: no RESOLVE_IN_ROOT) */
static int mkdir_parents(const char *path, isola_error *err)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return isola_err(err, ENAMETOOLONG, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0700) < 0 && errno != EEXIST)
				return isola_err(err, errno, "mkdir %s", buf);
			if (!(*p = c))
				break;
		}
	}
	return 0;
}

int state_dir_create(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	char d[4096 + RUNTIME_ID_MAX];
	if (state_dir(ctx, id, d, sizeof d, err) < 0)
		return -1;
	if (mkdir_parents(state_root(ctx), err) < 0)
		return isola_err_wrap(err, "state root");
	int r = mkdir(d, 0700);
	EXPLAIN(r, "mkdir(2)", "mkdir(\"%s\", 0700)", d);
	if (r < 0)
		return isola_err(err, errno, errno == EEXIST ? "container %s already exists" : "create state dir %s",
		                 errno == EEXIST ? id : d);
	return 0;
}

int state_dir_remove(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	char d[4096 + RUNTIME_ID_MAX];
	if (state_dir(ctx, id, d, sizeof d, err) < 0)
		return -1;
	_cleanup_close_ int dfd = open(d, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return errno == ENOENT ? 0 : isola_err(err, errno, "open %s", d);
	_cleanup_closedir_ DIR *dir = fdopendir(dfd);
	if (!dir)
		return isola_err(err, errno, "read %s", d);
	dfd = -1; /* owned by dir now */
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* flat directory; a subdirectory (notify/) holds one socket */
		if (unlinkat(dirfd(dir), de->d_name, 0) < 0 && errno == EISDIR) {
			_cleanup_close_ int sfd =
			    openat(dirfd(dir), de->d_name, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			_cleanup_closedir_ DIR *sd = sfd >= 0 ? fdopendir(sfd) : NULL;
			if (sd) {
				sfd = -1;
				struct dirent *se;
				while ((se = readdir(sd)))
					if (strcmp(se->d_name, ".") && strcmp(se->d_name, ".."))
						unlinkat(dirfd(sd), se->d_name, 0);
			}
			unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR);
		}
	}
	int r = rmdir(d);
	EXPLAIN(r, "rmdir(2)", "rmdir(\"%s\")", d);
	if (r < 0 && errno != ENOENT)
		return isola_err(err, errno, "remove %s", d);
	return 0;
}

json_t *state_load(const struct runtime_ctx *ctx, const char *id, isola_error *err)
{
	char d[4096 + RUNTIME_ID_MAX + 16];
	if (state_dir(ctx, id, d, sizeof d - 16, err) < 0)
		return NULL;
	strcat(d, "/state.json");
	if (access(d, F_OK) < 0) {
		isola_err(err, ENOENT, "container %s does not exist", id);
		return NULL;
	}
	return json_load_path(d, err);
}

int state_store(const struct runtime_ctx *ctx, const char *id, json_t *st, isola_error *err)
{
	char d[4096 + RUNTIME_ID_MAX + 16];
	if (state_dir(ctx, id, d, sizeof d - 16, err) < 0)
		return -1;
	strcat(d, "/state.json");
	return json_store_path(d, st, false, err);
}

static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/stat", pid);
	_cleanup_free_ char *s = NULL;
	if (pid <= 0 || read_file_at(AT_FDCWD, p, &s, NULL, NULL) < 0)
		return -1;
	/* comm may hold spaces and parentheses: the fields start after the last ')' */
	char *q = strrchr(s, ')');
	if (!q)
		return -1;
	unsigned long long st = 0;
	char c = 0;
	if (sscanf(q + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &c, &st) !=
	    2)
		return -1;
	*state = c;
	*start = st;
	return 0;
}

unsigned long long proc_start_time(pid_t pid)
{
	char c;
	unsigned long long st;
	return proc_stat(pid, &c, &st) < 0 ? 0 : st;
}

bool state_init_alive(json_t *st)
{
	json_int_t pid = json_integer_value(json_object_get(st, "pid"));
	json_int_t start = json_integer_value(json_object_get(st, "start_time"));
	char c;
	unsigned long long now;
	if (pid <= 0 || proc_stat((pid_t)pid, &c, &now) < 0)
		return false;
	return (json_int_t)now == start && c != 'Z' && c != 'X';
}

int state_decode(const struct runtime_ctx *ctx, const char *id, json_t *st, struct runtime_state *out, isola_error *err)
{
	memset(out, 0, sizeof *out);
	const char *status = NULL, *bundle = "", *created = "", *cg = "";
	int64_t pid = 0, stop = 0;
	if (json_get_str(st, "state", "status", true, &status, err) < 0 ||
	    json_get_int(st, "state", "pid", false, &pid, err) < 0 ||
	    json_get_str(st, "state", "bundle", false, &bundle, err) < 0 ||
	    json_get_str(st, "state", "created", false, &created, err) < 0 ||
	    json_get_str(st, "state", "cgroup", false, &cg, err) < 0 ||
	    json_get_int(st, "state", "stop_signal", false, &stop, err) < 0)
		return isola_err_wrap(err, "state of %s", id);
	snprintf(out->id, sizeof out->id, "%s", id);
	snprintf(out->bundle, sizeof out->bundle, "%s", bundle);
	snprintf(out->created, sizeof out->created, "%s", created);
	snprintf(out->cgroup_path, sizeof out->cgroup_path, "%s", cg);
	out->stop_signal = (int)stop;
	out->status = RUNTIME_STOPPED;
	if (!strcmp(status, "creating"))
		out->status = RUNTIME_CREATING;
	else if (!strcmp(status, "created"))
		out->status = RUNTIME_CREATED;
	else if (!strcmp(status, "running"))
		out->status = RUNTIME_RUNNING;
	else if (!strcmp(status, "paused"))
		out->status = RUNTIME_PAUSED;
	if (out->status != RUNTIME_STOPPED && state_init_alive(st)) {
		out->pid = (pid_t)pid;
	} else if (out->status == RUNTIME_CREATING) {
		/* the creating runtime died before init existed: nothing runs, delete cleans */
		out->status = RUNTIME_STOPPED;
	} else {
		out->status = RUNTIME_STOPPED;
	}
	(void)ctx;
	return 0;
}

void state_now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}
