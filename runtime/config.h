/* OCI config.json (runtime-spec 1.x config.md, config-linux.md) parsed into what the runtime acts on.
 *
 * Every error names the JSON path of the offending value: "linux.namespaces[2].type: unknown namespace
 * \"foo\"". The parts owned by other modules (process.capabilities → caps.c, linux.seccomp → seccomp.c,
 * linux.resources → cgroup.c) stay JSON objects borrowed from cfg->json; those modules parse them with the
 * same path convention. A struct rt_config owns all its memory; free it with config_free. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "cleanup.h"
#include "error.h"

#define RT_NS_COUNT 8

struct rt_namespace {
	unsigned long flag; /* CLONE_NEWNS, CLONE_NEWPID, ... */
	char *path;         /* join this namespace (setns) instead of creating one; NULL: create */
};

struct rt_idmap {
	uint32_t container_id, host_id, size;
};

struct rt_mount {
	char *destination; /* absolute, inside the container */
	char *type;        /* "bind" or a filesystem type; NULL with bind options */
	char *source;
	char *data;                /* options that are not flags, comma-joined ("size=64k,mode=755"); may be "" */
	unsigned long flags;       /* MS_* from options */
	unsigned long clear;       /* MS_* explicitly cleared ("rw", "suid", ...) */
	unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) or 0 */
	bool bind, recursive;      /* bind / rbind */
};

struct rt_rlimit {
	int resource;
	uint64_t soft, hard;
};

struct rt_hook {
	char *path;
	char **args; /* may be NULL: then argv = { path } */
	char **env;
	int timeout; /* seconds, 0: none */
};

enum rt_hook_kind {
	RT_HOOK_PRESTART,
	RT_HOOK_CREATE_RUNTIME,
	RT_HOOK_CREATE_CONTAINER,
	RT_HOOK_START_CONTAINER,
	RT_HOOK_POSTSTART,
	RT_HOOK_POSTSTOP,
	RT_HOOK_KINDS
};

struct rt_device {
	char *path;
	char type; /* 'c', 'b', 'u' (= 'c'), 'p' */
	uint32_t major, minor;
	mode_t mode; /* permission bits; 0666 when absent */
	uid_t uid;
	gid_t gid;
};

struct rt_sysctl {
	char *key, *value;
};

struct rt_config {
	json_t *json; /* the whole document (owned) */
	char *oci_version;

	char *root_path; /* absolute (made so against the bundle) */
	bool root_readonly;
	char *hostname, *domainname;

	/* process */
	bool terminal;
	unsigned console_height, console_width;
	char **args, **env;
	char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *additional_gids;
	size_t n_additional_gids;
	bool has_umask;
	mode_t umask;
	bool no_new_privs;
	bool has_oom_score_adj;
	int oom_score_adj;
	struct rt_rlimit *rlimits;
	size_t n_rlimits;
	json_t *capabilities; /* process.capabilities, borrowed; NULL when absent */

	/* linux */
	struct rt_namespace namespaces[RT_NS_COUNT];
	size_t n_namespaces;
	unsigned long clone_flags; /* the namespaces to create (no path) */
	struct rt_idmap *uid_map, *gid_map;
	size_t n_uid_map, n_gid_map;
	struct rt_sysctl *sysctl;
	size_t n_sysctl;
	char **masked_paths, **readonly_paths;
	unsigned long rootfs_propagation; /* MS_* | MS_REC, 0: default (rprivate) */
	char *cgroups_path;               /* NULL: default */
	json_t *resources;                /* linux.resources, borrowed */
	json_t *seccomp;                  /* linux.seccomp, borrowed */
	struct rt_device *devices;
	size_t n_devices;
	int64_t time_offset_monotonic[2], time_offset_boottime[2]; /* secs, nanosecs */
	bool has_time_offsets;

	struct rt_mount *mounts;
	size_t n_mounts;
	struct rt_hook *hooks[RT_HOOK_KINDS];
	size_t n_hooks[RT_HOOK_KINDS];
	json_t *annotations; /* borrowed; NULL when absent */
};

/* Parse a document (consumed: the config takes the reference). bundle makes a relative root.path
 * absolute. Returns NULL with *err set. */
struct rt_config *config_parse(json_t *doc, const char *bundle, isola_error *err);
/* Load <bundle>/config.json (or path when given) and parse it; errors start with "config.json: ". */
struct rt_config *config_load(const char *bundle, const char *path, isola_error *err);
/* Serialize back the (possibly modified) process.terminal into cfg->json (for run -t). */
void config_set_terminal(struct rt_config *cfg, bool on);
void config_free(struct rt_config *cfg);
DEFINE_CLEANUP(struct rt_config *, config_free)
#define _cleanup_config_ _cleanup_(config_freep)

/* Pieces, exposed for the unit tests and for exec's --process. */
/* A mappings array ("linux.uidMappings") → malloc'd vector; ranges must not overlap on either side and
 * must not wrap. */
int config_parse_idmaps(json_t *arr, const char *jpath, struct rt_idmap **out, size_t *n, isola_error *err);
/* An OCI mount options array into flags / clear / propagation / data. */
int config_parse_mount_options(json_t *arr, const char *jpath, struct rt_mount *m, isola_error *err);
/* The namespace type names of the spec ("pid", "network", ...) → CLONE_* or 0 when unknown. */
unsigned long config_ns_flag(const char *type);
const char *config_ns_name(unsigned long flag);
/* The "process" object alone (used by exec --process): fills the process fields of cfg. */
int config_parse_process(json_t *proc, const char *jpath, struct rt_config *cfg, isola_error *err);
/* Find the hook kind name ("prestart", ...) for messages. */
const char *config_hook_name(enum rt_hook_kind k);
