/* OCI config.json → struct rt_config. The spec: runtime-spec config.md and config-linux.md.
 * Each value is checked for type and range where it is read, and every error names its JSON path. */
#include "runtime/config.h"
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include "json.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
	const char *name;
	unsigned long flag;
} ns_names[] = {
    {"mount", CLONE_NEWNS}, {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET},   {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},  {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

unsigned long config_ns_flag(const char *type)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
		if (strcmp(ns_names[i].name, type) == 0)
			return ns_names[i].flag;
	return 0;
}

const char *config_ns_name(unsigned long flag)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
		if (ns_names[i].flag == flag)
			return ns_names[i].name;
	return "?";
}

static const char *hook_names[RT_HOOK_KINDS] = {"prestart",       "createRuntime", "createContainer",
                                                "startContainer", "poststart",     "poststop"};

const char *config_hook_name(enum rt_hook_kind k)
{
	return k < RT_HOOK_KINDS ? hook_names[k] : "?";
}

static void strv_free(char **v)
{
	strv_freep(&v);
}

static void process_free(struct rt_config *c)
{
	strv_free(c->args);
	strv_free(c->env);
	free(c->cwd);
	free(c->additional_gids);
	free(c->rlimits);
	c->args = c->env = NULL;
	c->cwd = NULL;
	c->additional_gids = NULL;
	c->rlimits = NULL;
	c->n_additional_gids = c->n_rlimits = 0;
}

void config_free(struct rt_config *c)
{
	if (!c)
		return;
	process_free(c);
	free(c->oci_version);
	free(c->root_path);
	free(c->hostname);
	free(c->domainname);
	for (size_t i = 0; i < c->n_namespaces; i++)
		free(c->namespaces[i].path);
	free(c->uid_map);
	free(c->gid_map);
	for (size_t i = 0; i < c->n_sysctl; i++) {
		free(c->sysctl[i].key);
		free(c->sysctl[i].value);
	}
	free(c->sysctl);
	strv_free(c->masked_paths);
	strv_free(c->readonly_paths);
	free(c->cgroups_path);
	for (size_t i = 0; i < c->n_devices; i++)
		free(c->devices[i].path);
	free(c->devices);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].destination);
		free(c->mounts[i].type);
		free(c->mounts[i].source);
		free(c->mounts[i].data);
	}
	free(c->mounts);
	for (int k = 0; k < RT_HOOK_KINDS; k++) {
		for (size_t i = 0; i < c->n_hooks[k]; i++) {
			free(c->hooks[k][i].path);
			strv_free(c->hooks[k][i].args);
			strv_free(c->hooks[k][i].env);
		}
		free(c->hooks[k]);
	}
	json_decref(c->json);
	free(c);
}

static int dup_str(json_t *obj, const char *jpath, const char *key, bool required, char **out, isola_error *err)
{
	const char *s = NULL;
	if (json_get_str(obj, jpath, key, required, &s, err) < 0)
		return -1;
	if (s && !(*out = strdup(s)))
		return isola_err(err, ENOMEM, "%s", json_path_key(jpath, key));
	return 0;
}

/* An unsigned 32-bit id (uid, gid, mapping bound). */
static int get_u32(json_t *obj, const char *jpath, const char *key, bool required, uint32_t *out, isola_error *err)
{
	uint64_t v = *out;
	if (json_get_uint(obj, jpath, key, required, &v, err) < 0)
		return -1;
	if (v > UINT32_MAX)
		return isola_err(err, 0, "%s: %llu is out of range (max %u)", json_path_key(jpath, key),
		                 (unsigned long long)v, UINT32_MAX);
	*out = (uint32_t)v;
	return 0;
}

int config_parse_idmaps(json_t *arr, const char *jpath, struct rt_idmap **out, size_t *n, isola_error *err)
{
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return isola_err(err, 0, "%s: expected an array", jpath);
	size_t cnt = json_array_size(arr);
	if (cnt > 340) /* user_namespaces(7): at most 340 lines since Linux 4.15 */
		return isola_err(err, 0, "%s: %zu mappings, the kernel takes at most 340", jpath, cnt);
	_cleanup_free_ struct rt_idmap *v = calloc(cnt ? cnt : 1, sizeof *v);
	if (!v)
		return isola_err(err, ENOMEM, "%s", jpath);
	for (size_t i = 0; i < cnt; i++) {
		char p[256];
		snprintf(p, sizeof p, "%s", json_path_idx(jpath, i));
		json_t *e = json_array_get(arr, i);
		if (!json_is_object(e))
			return isola_err(err, 0, "%s: expected an object", p);
		if (get_u32(e, p, "containerID", true, &v[i].container_id, err) < 0 ||
		    get_u32(e, p, "hostID", true, &v[i].host_id, err) < 0 ||
		    get_u32(e, p, "size", true, &v[i].size, err) < 0)
			return -1;
		if (v[i].size == 0)
			return isola_err(err, 0, "%s.size: must be at least 1", p);
		if ((uint64_t)v[i].container_id + v[i].size - 1 > UINT32_MAX - 1 ||
		    (uint64_t)v[i].host_id + v[i].size - 1 > UINT32_MAX - 1)
			return isola_err(err, 0, "%s: range wraps past 4294967294", p);
		for (size_t j = 0; j < i; j++) {
			bool c_overlap = v[i].container_id < v[j].container_id + v[j].size &&
			                 v[j].container_id < v[i].container_id + v[i].size;
			bool h_overlap =
			    v[i].host_id < v[j].host_id + v[j].size && v[j].host_id < v[i].host_id + v[i].size;
			if (c_overlap || h_overlap)
				return isola_err(err, 0, "%s: %s range overlaps %s", p,
				                 c_overlap ? "containerID" : "hostID", json_path_idx(jpath, j));
		}
	}
	*out = steal_ptr(&v);
	*n = cnt;
	return 0;
}

static const struct mount_opt {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_opts[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"lazytime", false, MS_LAZYTIME},
};

static const struct {
	const char *name;
	unsigned long flag;
} prop_opts[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static unsigned long prop_flag(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(prop_opts); i++)
		if (strcmp(prop_opts[i].name, s) == 0)
			return prop_opts[i].flag;
	return 0;
}

int config_parse_mount_options(json_t *arr, const char *jpath, struct rt_mount *m, isola_error *err)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return isola_err(err, 0, "%s: expected an array of strings", jpath);
	size_t cap = 1, len = 0;
	for (size_t i = 0; i < json_array_size(arr); i++)
		cap += json_string_length(json_array_get(arr, i)) + 1;
	_cleanup_free_ char *data = calloc(1, cap);
	if (!data)
		return isola_err(err, ENOMEM, "%s", jpath);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *o = json_string_value(json_array_get(arr, i));
		if (!o)
			return isola_err(err, 0, "%s: expected a string", json_path_idx(jpath, i));
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(mount_opts) && !known; k++) {
			if (strcmp(mount_opts[k].name, o) == 0) {
				known = true;
				if (mount_opts[k].clear) {
					m->flags &= ~mount_opts[k].flag;
					m->clear |= mount_opts[k].flag;
				} else {
					m->flags |= mount_opts[k].flag;
					m->clear &= ~mount_opts[k].flag;
				}
			}
		}
		if (known)
			continue;
		if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0) {
			m->bind = true;
			m->recursive = o[0] == 'r';
		} else if (prop_flag(o)) {
			m->propagation = prop_flag(o);
		} else if (strcmp(o, "tmpcopyup") == 0 || strncmp(o, "idmap", 5) == 0 || strcmp(o, "rro") == 0) {
			/* Not supported yet: refuse rather than silently drop a security-relevant request. */
			return isola_err(err, 0, "%s: mount option \"%s\" is not supported", json_path_idx(jpath, i),
			                 o);
		} else {
			/* filesystem data ("size=64k", "mode=755", "lowerdir=..."): passed to fsconfig(2) */
			if (strchr(o, ','))
				return isola_err(err, 0, "%s: option \"%s\" contains a comma", json_path_idx(jpath, i),
				                 o);
			len += (size_t)snprintf(data + len, cap - len, "%s%s", len ? "," : "", o);
		}
	}
	free(m->data);
	m->data = steal_ptr(&data);
	return 0;
}

static int parse_mounts(json_t *root, struct rt_config *c, isola_error *err)
{
	json_t *arr = NULL;
	if (json_get_arr(root, "", "mounts", false, &arr, err) < 0)
		return -1;
	if (!arr)
		return 0;
	size_t n = json_array_size(arr);
	c->mounts = calloc(n ? n : 1, sizeof *c->mounts);
	if (!c->mounts)
		return isola_err(err, ENOMEM, "mounts");
	for (size_t i = 0; i < n; i++) {
		char p[64];
		snprintf(p, sizeof p, "mounts[%zu]", i);
		json_t *e = json_array_get(arr, i);
		struct rt_mount *m = &c->mounts[c->n_mounts++];
		if (!json_is_object(e))
			return isola_err(err, 0, "%s: expected an object", p);
		if (dup_str(e, p, "destination", true, &m->destination, err) < 0 ||
		    dup_str(e, p, "type", false, &m->type, err) < 0 ||
		    dup_str(e, p, "source", false, &m->source, err) < 0 ||
		    config_parse_mount_options(json_object_get(e, "options"), json_path_key(p, "options"), m, err) < 0)
			return -1;
		if (m->destination[0] != '/')
			return isola_err(err, 0, "%s.destination: \"%s\" is not an absolute path", p, m->destination);
		if (m->type && strcmp(m->type, "bind") == 0)
			m->bind = true;
		if (!m->bind && !m->type)
			return isola_err(err, 0, "%s.type: missing (and options has no bind)", p);
		if (m->bind && !m->source)
			return isola_err(err, 0, "%s.source: missing for a bind mount", p);
		if (!m->data && !(m->data = strdup("")))
			return isola_err(err, ENOMEM, "%s", p);
	}
	return 0;
}

static int parse_hooks(json_t *root, struct rt_config *c, isola_error *err)
{
	json_t *hooks = NULL;
	if (json_get_obj(root, "", "hooks", false, &hooks, err) < 0)
		return -1;
	if (!hooks)
		return 0;
	for (int k = 0; k < RT_HOOK_KINDS; k++) {
		char kp[64];
		snprintf(kp, sizeof kp, "hooks.%s", hook_names[k]);
		json_t *arr = NULL;
		if (json_get_arr(hooks, "hooks", hook_names[k], false, &arr, err) < 0)
			return -1;
		if (!arr)
			continue;
		size_t n = json_array_size(arr);
		c->hooks[k] = calloc(n ? n : 1, sizeof *c->hooks[k]);
		if (!c->hooks[k])
			return isola_err(err, ENOMEM, "%s", kp);
		for (size_t i = 0; i < n; i++) {
			char p[96];
			snprintf(p, sizeof p, "%s[%zu]", kp, i);
			json_t *e = json_array_get(arr, i);
			struct rt_hook *h = &c->hooks[k][c->n_hooks[k]++];
			int64_t t = 0;
			if (!json_is_object(e))
				return isola_err(err, 0, "%s: expected an object", p);
			if (dup_str(e, p, "path", true, &h->path, err) < 0 ||
			    json_get_strv(e, p, "args", false, &h->args, err) < 0 ||
			    json_get_strv(e, p, "env", false, &h->env, err) < 0 ||
			    json_get_int(e, p, "timeout", false, &t, err) < 0)
				return -1;
			if (h->path[0] != '/')
				return isola_err(err, 0, "%s.path: \"%s\" is not an absolute path", p, h->path);
			if (json_object_get(e, "timeout") && (t <= 0 || t > INT_MAX))
				return isola_err(err, 0, "%s.timeout: must be a positive number of seconds", p);
			h->timeout = (int)t;
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int res;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

int config_parse_process(json_t *proc, const char *jp, struct rt_config *c, isola_error *err)
{
	process_free(c);
	json_t *user = NULL, *cs = NULL, *rl = NULL, *gids = NULL;
	uint32_t v32;
	int64_t oom = 0;
	if (json_get_bool(proc, jp, "terminal", false, &c->terminal, err) < 0 ||
	    json_get_strv(proc, jp, "args", true, &c->args, err) < 0 ||
	    json_get_strv(proc, jp, "env", false, &c->env, err) < 0 ||
	    dup_str(proc, jp, "cwd", true, &c->cwd, err) < 0 ||
	    json_get_bool(proc, jp, "noNewPrivileges", false, &c->no_new_privs, err) < 0 ||
	    json_get_obj(proc, jp, "user", false, &user, err) < 0 ||
	    json_get_obj(proc, jp, "consoleSize", false, &cs, err) < 0 ||
	    json_get_arr(proc, jp, "rlimits", false, &rl, err) < 0 ||
	    json_get_int(proc, jp, "oomScoreAdj", false, &oom, err) < 0 ||
	    json_get_obj(proc, jp, "capabilities", false, &c->capabilities, err) < 0)
		return -1;
	char up[128];
	snprintf(up, sizeof up, "%s", json_path_key(jp, "user"));
	if (!c->args[0])
		return isola_err(err, 0, "%s: must not be empty", json_path_key(jp, "args"));
	if (c->cwd[0] != '/')
		return isola_err(err, 0, "%s: \"%s\" is not an absolute path", json_path_key(jp, "cwd"), c->cwd);
	if (json_object_get(proc, "oomScoreAdj")) {
		if (oom < -1000 || oom > 1000)
			return isola_err(err, 0, "%s: %lld is outside -1000..1000", json_path_key(jp, "oomScoreAdj"),
			                 (long long)oom);
		c->has_oom_score_adj = true;
		c->oom_score_adj = (int)oom;
	}
	c->uid = c->gid = 0;
	if (user) {
		v32 = 0;
		if (get_u32(user, up, "uid", true, &v32, err) < 0)
			return -1;
		c->uid = v32;
		v32 = 0;
		if (get_u32(user, up, "gid", true, &v32, err) < 0)
			return -1;
		c->gid = v32;
		if (json_object_get(user, "umask")) {
			v32 = 0;
			if (get_u32(user, up, "umask", false, &v32, err) < 0)
				return -1;
			if (v32 > 0777)
				return isola_err(err, 0, "%s.umask: %u is not a mode", up, v32);
			c->has_umask = true;
			c->umask = v32;
		}
		if (json_get_arr(user, up, "additionalGids", false, &gids, err) < 0)
			return -1;
		if (gids) {
			size_t n = json_array_size(gids);
			c->additional_gids = calloc(n ? n : 1, sizeof(gid_t));
			if (!c->additional_gids)
				return isola_err(err, ENOMEM, "%s", up);
			for (size_t i = 0; i < n; i++) {
				json_t *g = json_array_get(gids, i);
				if (!json_is_integer(g) || json_integer_value(g) < 0 ||
				    json_integer_value(g) > UINT32_MAX)
					return isola_err(err, 0, "%s.additionalGids[%zu]: expected a gid", up, i);
				c->additional_gids[c->n_additional_gids++] = (gid_t)json_integer_value(g);
			}
		}
	}
	if (cs) {
		char p[128];
		snprintf(p, sizeof p, "%s", json_path_key(jp, "consoleSize"));
		uint32_t h = 0, w = 0;
		if (get_u32(cs, p, "height", true, &h, err) < 0 || get_u32(cs, p, "width", true, &w, err) < 0)
			return -1;
		c->console_height = h;
		c->console_width = w;
	}
	if (rl) {
		size_t n = json_array_size(rl);
		c->rlimits = calloc(n ? n : 1, sizeof *c->rlimits);
		if (!c->rlimits)
			return isola_err(err, ENOMEM, "%s", jp);
		for (size_t i = 0; i < n; i++) {
			char p[128];
			snprintf(p, sizeof p, "%s", json_path_idx(json_path_key(jp, "rlimits"), i));
			json_t *e = json_array_get(rl, i);
			const char *type = NULL;
			struct rt_rlimit *r = &c->rlimits[c->n_rlimits++];
			r->resource = -1;
			if (!json_is_object(e))
				return isola_err(err, 0, "%s: expected an object", p);
			if (json_get_str(e, p, "type", true, &type, err) < 0 ||
			    json_get_uint(e, p, "soft", true, &r->soft, err) < 0 ||
			    json_get_uint(e, p, "hard", true, &r->hard, err) < 0)
				return -1;
			for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
				if (strcmp(rlimit_names[k].name, type) == 0)
					r->resource = rlimit_names[k].res;
			if (r->resource < 0)
				return isola_err(err, 0, "%s.type: unknown rlimit \"%s\"", p, type);
			if (r->soft > r->hard)
				return isola_err(err, 0, "%s: soft %llu exceeds hard %llu", p,
				                 (unsigned long long)r->soft, (unsigned long long)r->hard);
		}
	}
	return 0;
}

static int parse_devices(json_t *lnx, struct rt_config *c, isola_error *err)
{
	json_t *arr = NULL;
	if (json_get_arr(lnx, "linux", "devices", false, &arr, err) < 0)
		return -1;
	if (!arr)
		return 0;
	size_t n = json_array_size(arr);
	c->devices = calloc(n ? n : 1, sizeof *c->devices);
	if (!c->devices)
		return isola_err(err, ENOMEM, "linux.devices");
	for (size_t i = 0; i < n; i++) {
		char p[64];
		snprintf(p, sizeof p, "linux.devices[%zu]", i);
		json_t *e = json_array_get(arr, i);
		struct rt_device *d = &c->devices[c->n_devices++];
		const char *type = NULL;
		uint32_t mode = 0666, uid = 0, gid = 0;
		if (!json_is_object(e))
			return isola_err(err, 0, "%s: expected an object", p);
		if (dup_str(e, p, "path", true, &d->path, err) < 0 ||
		    json_get_str(e, p, "type", true, &type, err) < 0 ||
		    get_u32(e, p, "major", false, &d->major, err) < 0 ||
		    get_u32(e, p, "minor", false, &d->minor, err) < 0 ||
		    get_u32(e, p, "fileMode", false, &mode, err) < 0 || get_u32(e, p, "uid", false, &uid, err) < 0 ||
		    get_u32(e, p, "gid", false, &gid, err) < 0)
			return -1;
		if (strlen(type) != 1 || !strchr("cubp", type[0]))
			return isola_err(err, 0, "%s.type: \"%s\" is not one of c, b, u, p", p, type);
		if (d->path[0] != '/')
			return isola_err(err, 0, "%s.path: \"%s\" is not an absolute path", p, d->path);
		if (type[0] != 'p' && (!json_object_get(e, "major") || !json_object_get(e, "minor")))
			return isola_err(err, 0, "%s: major and minor are required for type %s", p, type);
		d->type = type[0] == 'u' ? 'c' : type[0];
		d->mode = mode & 07777;
		d->uid = uid;
		d->gid = gid;
	}
	return 0;
}

static int parse_linux(json_t *root, struct rt_config *c, isola_error *err)
{
	json_t *lnx = NULL, *nss = NULL, *sysctl = NULL, *timeoffs = NULL;
	const char *prop = NULL;
	if (json_get_obj(root, "", "linux", false, &lnx, err) < 0)
		return -1;
	if (!lnx)
		return 0;
	if (json_get_arr(lnx, "linux", "namespaces", false, &nss, err) < 0 ||
	    json_get_obj(lnx, "linux", "sysctl", false, &sysctl, err) < 0 ||
	    json_get_strv(lnx, "linux", "maskedPaths", false, &c->masked_paths, err) < 0 ||
	    json_get_strv(lnx, "linux", "readonlyPaths", false, &c->readonly_paths, err) < 0 ||
	    json_get_str(lnx, "linux", "rootfsPropagation", false, &prop, err) < 0 ||
	    dup_str(lnx, "linux", "cgroupsPath", false, &c->cgroups_path, err) < 0 ||
	    json_get_obj(lnx, "linux", "resources", false, &c->resources, err) < 0 ||
	    json_get_obj(lnx, "linux", "seccomp", false, &c->seccomp, err) < 0 ||
	    json_get_obj(lnx, "linux", "timeOffsets", false, &timeoffs, err) < 0 ||
	    config_parse_idmaps(json_object_get(lnx, "uidMappings"), "linux.uidMappings", &c->uid_map, &c->n_uid_map,
	                        err) < 0 ||
	    config_parse_idmaps(json_object_get(lnx, "gidMappings"), "linux.gidMappings", &c->gid_map, &c->n_gid_map,
	                        err) < 0 ||
	    parse_devices(lnx, c, err) < 0)
		return -1;
	if (prop && !(c->rootfs_propagation = prop_flag(prop)))
		return isola_err(err, 0, "linux.rootfsPropagation: unknown propagation \"%s\"", prop);
	for (size_t i = 0; nss && i < json_array_size(nss); i++) {
		char p[64];
		const char *type = NULL;
		snprintf(p, sizeof p, "linux.namespaces[%zu]", i);
		json_t *e = json_array_get(nss, i);
		if (!json_is_object(e))
			return isola_err(err, 0, "%s: expected an object", p);
		if (json_get_str(e, p, "type", true, &type, err) < 0)
			return -1;
		unsigned long f = config_ns_flag(type);
		if (!f)
			return isola_err(err, 0, "%s.type: unknown namespace \"%s\"", p, type);
		for (size_t j = 0; j < c->n_namespaces; j++)
			if (c->namespaces[j].flag == f)
				return isola_err(err, 0, "%s.type: namespace \"%s\" listed twice", p, type);
		struct rt_namespace *ns = &c->namespaces[c->n_namespaces++];
		ns->flag = f;
		if (dup_str(e, p, "path", false, &ns->path, err) < 0)
			return -1;
		if (ns->path && ns->path[0] != '/')
			return isola_err(err, 0, "%s.path: \"%s\" is not an absolute path", p, ns->path);
		if (!ns->path)
			c->clone_flags |= f;
	}
	bool userns = false;
	for (size_t j = 0; j < c->n_namespaces; j++)
		userns |= c->namespaces[j].flag == CLONE_NEWUSER;
	if ((c->n_uid_map || c->n_gid_map) && !(c->clone_flags & CLONE_NEWUSER))
		return isola_err(err, 0,
		                 "linux.uidMappings: mappings need a new \"user\" namespace in linux.namespaces");
	if ((c->clone_flags & CLONE_NEWUSER) && (!c->n_uid_map || !c->n_gid_map))
		return isola_err(err, 0, "linux.%s: a new user namespace needs uid and gid mappings",
		                 c->n_uid_map ? "gidMappings" : "uidMappings");
	(void)userns;
	if (sysctl) {
		size_t n = json_object_size(sysctl), i = 0;
		const char *k;
		json_t *v;
		c->sysctl = calloc(n ? n : 1, sizeof *c->sysctl);
		if (!c->sysctl)
			return isola_err(err, ENOMEM, "linux.sysctl");
		json_object_foreach(sysctl, k, v)
		{
			if (!json_is_string(v))
				return isola_err(err, 0, "linux.sysctl.%s: expected a string", k);
			/* a key names a file under /proc/sys: no way up and out of it */
			if (!*k || strstr(k, "..") || k[0] == '/' || k[0] == '.')
				return isola_err(err, 0, "linux.sysctl.%s: not a sysctl name", k);
			c->sysctl[i].key = strdup(k);
			c->sysctl[i].value = strdup(json_string_value(v));
			if (!c->sysctl[i].key || !c->sysctl[i].value)
				return isola_err(err, ENOMEM, "linux.sysctl");
			c->n_sysctl = ++i;
		}
	}
	if (timeoffs) {
		static const char *names[2] = {"monotonic", "boottime"};
		int64_t *dst[2] = {c->time_offset_monotonic, c->time_offset_boottime};
		for (int t = 0; t < 2; t++) {
			json_t *o = NULL;
			char p[64];
			snprintf(p, sizeof p, "linux.timeOffsets.%s", names[t]);
			if (json_get_obj(timeoffs, "linux.timeOffsets", names[t], false, &o, err) < 0)
				return -1;
			if (!o)
				continue;
			if (json_get_int(o, p, "secs", false, &dst[t][0], err) < 0 ||
			    json_get_int(o, p, "nanosecs", false, &dst[t][1], err) < 0)
				return -1;
			if (dst[t][1] < 0 || dst[t][1] >= 1000000000)
				return isola_err(err, 0, "%s.nanosecs: must be within 0..999999999", p);
		}
		c->has_time_offsets = true;
		if (!(c->clone_flags & CLONE_NEWTIME))
			return isola_err(err, 0,
			                 "linux.timeOffsets: needs a new \"time\" namespace in linux.namespaces");
	}
	return 0;
}

struct rt_config *config_parse(json_t *doc, const char *bundle, isola_error *err)
{
	_cleanup_config_ struct rt_config *c = calloc(1, sizeof *c);
	if (!c) {
		json_decref(doc);
		isola_err(err, ENOMEM, "config");
		return NULL;
	}
	c->json = doc;
	if (!json_is_object(doc)) {
		isola_err(err, 0, "(root): expected an object");
		return NULL;
	}
	json_t *root = NULL, *proc = NULL;
	const char *rpath = NULL;
	if (dup_str(doc, "", "ociVersion", true, &c->oci_version, err) < 0 ||
	    json_get_obj(doc, "", "root", true, &root, err) < 0 ||
	    json_get_str(root, "root", "path", true, &rpath, err) < 0 ||
	    json_get_bool(root, "root", "readonly", false, &c->root_readonly, err) < 0 ||
	    json_get_obj(doc, "", "process", true, &proc, err) < 0 ||
	    config_parse_process(proc, "process", c, err) < 0 ||
	    dup_str(doc, "", "hostname", false, &c->hostname, err) < 0 ||
	    dup_str(doc, "", "domainname", false, &c->domainname, err) < 0 ||
	    json_get_obj(doc, "", "annotations", false, &c->annotations, err) < 0 || parse_mounts(doc, c, err) < 0 ||
	    parse_hooks(doc, c, err) < 0 || parse_linux(doc, c, err) < 0)
		return NULL;
	if (strncmp(c->oci_version, "1.", 2) != 0) {
		isola_err(err, 0, "ociVersion: \"%s\" is not a 1.x runtime-spec version", c->oci_version);
		return NULL;
	}
	if (!*rpath) {
		isola_err(err, 0, "root.path: must not be empty");
		return NULL;
	}
	if (rpath[0] == '/')
		c->root_path = strdup(rpath);
	else if (asprintf(&c->root_path, "%s/%s", bundle ? bundle : ".", rpath) < 0)
		c->root_path = NULL;
	if (!c->root_path) {
		isola_err(err, ENOMEM, "root.path");
		return NULL;
	}
	if ((c->hostname || c->domainname) && !(c->clone_flags & CLONE_NEWUTS)) {
		isola_err(err, 0, "%s: needs a new \"uts\" namespace in linux.namespaces",
		          c->hostname ? "hostname" : "domainname");
		return NULL;
	}
	return steal_ptr(&c);
}

struct rt_config *config_load(const char *bundle, const char *path, isola_error *err)
{
	_cleanup_free_ char *p = NULL;
	if (!path) {
		if (asprintf(&p, "%s/config.json", bundle ? bundle : ".") < 0) {
			isola_err(err, ENOMEM, "config.json");
			return NULL;
		}
		path = p;
	}
	json_t *doc = json_load_path(path, err);
	if (!doc)
		return NULL;
	struct rt_config *c = config_parse(doc, bundle, err);
	if (!c)
		isola_err_wrap(err, "config.json");
	return c;
}

void config_set_terminal(struct rt_config *c, bool on)
{
	c->terminal = on;
	json_object_set_new(json_object_get(c->json, "process"), "terminal", json_boolean(on));
}
