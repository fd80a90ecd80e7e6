/* cgroup: one cgroup v2 directory per container (cgroups(7), kernel Documentation/admin-guide/cgroup-v2.rst,
 * runtime-spec config-linux.md "Control groups"/"Resources").
 *
 * Where: the cgroup2 mount found in /proc/self/mountinfo (/sys/fs/cgroup on unified hosts,
 * /sys/fs/cgroup/unified on hybrid ones). Which directory: `linux.cgroupsPath` when given (absolute = from
 * the mount root; relative = under the parent of the runtime's own cgroup, as runc does; ".." components
 * are refused), else "/isola/<id>".
 *
 * Host safety: isola only ever mkdir/rmdirs its own cgroup (and the "isola" parent), writes files inside
 * it, and writes "+ctrl" to the cgroup.subtree_control of its ancestors ONLY when a limit needs a
 * controller that is available there but not yet enabled. It never mounts/unmounts host cgroup mounts.
 *
 * Degrading: when no limit is requested, creation is best-effort — no cgroup2 mount, or mkdir refused
 * (EACCES/EROFS/EPERM) gives a cgroup with available == false and the container still runs (in the
 * runtime's cgroup). When a limit needs a controller the hierarchy lacks, creation fails with:
 *   cgroup controller "memory" is not available in the cgroup v2 hierarchy at /sys/fs/cgroup/unified
 *   (it is bound to cgroup v1): boot with systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all
 *
 * Delegation shape for system containers (LXC's lxc.cgroup.dir.container.inner, crun's
 * run.oci.delegate-cgroup): with opts.inner set, limits go on the outer directory and the init is placed
 * in OUTER/INNER, which is chowned to the container's root (cgroup.procs, cgroup.threads,
 * cgroup.subtree_control too, per cgroup-v2.rst "Delegation Containment"); the runtime unshares
 * CLONE_NEWCGROUP after entering it, so the cgroup namespace is rooted at the inner directory and a
 * privileged container cannot raise its own limits.
 *
 * Managers: CGROUP_MANAGER_DISABLED = no cgroup at all (available=false; a config with limits is an error).
 * CGROUP_MANAGER_SYSTEMD (--systemd-cgroup) is NOT implemented: cgroup_create fails with a message saying
 * so and how to run without it (--cgroup-manager cgroupfs). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

enum cgroup_manager { CGROUP_MANAGER_CGROUPFS = 0, CGROUP_MANAGER_DISABLED, CGROUP_MANAGER_SYSTEMD };
/* "cgroupfs" | "disabled" | "systemd" → the enum; -1 (with err) otherwise. */
int cgroup_manager_parse(const char *s, enum cgroup_manager *out, isola_error *err);

/* One io.max line: "MAJ:MIN rbps=N wbps=N riops=N wiops=N" (0 = leave that key unset). */
struct cgroup_io_max {
	int64_t major, minor;
	uint64_t rbps, wbps, riops, wiops;
};
struct cgroup_io_weight {
	int64_t major, minor;
	uint16_t weight; /* OCI blkio 10..1000, converted for io.weight */
};
struct cgroup_kv {
	char *key;
	char *value;
};

/* Parsed `linux.resources`. has_* says the field was present. Owned strings/arrays: cgroup_resources_clear. */
struct cgroup_resources {
	bool has_memory_limit, has_memory_reservation, has_memory_swap;
	int64_t memory_limit, memory_reservation, memory_swap; /* bytes; -1 = unlimited; swap = memory+swap (OCI) */
	bool has_cpu_shares, has_cpu_quota, has_cpu_period;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;               /* -1 = unlimited */
	char *cpuset_cpus, *cpuset_mems; /* NULL = absent */
	bool has_pids_limit;
	int64_t pids_limit; /* <= 0 = unlimited ("max"), as runc */
	bool has_blkio_weight;
	uint16_t blkio_weight;
	struct cgroup_io_weight *io_weights;
	size_t n_io_weights;
	struct cgroup_io_max *io_max;
	size_t n_io_max;
	struct cgroup_kv *hugetlb; /* "2MB" → limit bytes (hugetlb.2MB.max) */
	size_t n_hugetlb;
	struct cgroup_kv *unified; /* linux.resources.unified: file → value */
	size_t n_unified;
};
void cgroup_resources_clear(struct cgroup_resources *r);

/* Parse `linux.resources` (obj NULL = no limits). Errors name the JSON path
 * ("linux.resources.memory.limit: expected an integer"). Unified keys must be plain file names
 * ("memory.high"), not paths. */
int cgroup_resources_parse(json_t *obj, const char *jpath, struct cgroup_resources *out, isola_error *err);
/* Merge `src` into `dst` field by field (what `update` does: only what src sets changes). */
int cgroup_resources_merge(struct cgroup_resources *dst, const struct cgroup_resources *src, isola_error *err);

/* What the resources mean as cgroup v2 files: an ordered list of (file, value), e.g.
 *   cpu.max "50000 100000", cpu.weight "39", memory.max "268435456", memory.swap.max "0", pids.max "64".
 * Pure (no I/O): this is where the OCI→v2 conversions live and are unit-tested:
 *   cpu.weight = 1 + ((shares - 2) * 9999) / 262142             (runc's mapping; 2→1, 262144→10000)
 *   io.weight  = 1 + ((blkio_weight - 10) * 9999) / 990          (10→1, 1000→10000)
 *   memory.swap.max = swap - limit (OCI swap counts memory+swap); -1 → "max"; swap without a memory limit,
 *                     or swap < limit, is an error
 *   cpu.max = "QUOTA PERIOD" with QUOTA "max" when -1/absent; PERIOD default 100000
 *   memory.low from memory.reservation (as runc/crun do); memory.high only through `unified`.
 * Free with cgroup_kv_free. */
int cgroup_resources_to_files(const struct cgroup_resources *r, struct cgroup_kv **out, size_t *n, isola_error *err);
void cgroup_kv_free(struct cgroup_kv *kv, size_t n);
/* The controllers a file list needs ("cpu.max" → "cpu"; cgroup.* files need none). Returns a
 * NULL-terminated vector (free with strv_freep), without duplicates. */
char **cgroup_files_controllers(const struct cgroup_kv *files, size_t n);
/* The message for a controller that is missing (unit-tested; used by cgroup_create). */
void cgroup_missing_controller_err(isola_error *err, const char *controller, const char *mount, bool bound_to_v1);

struct cgroup_options {
	enum cgroup_manager manager;
	const char *id;           /* container id (default path "/isola/<id>") */
	const char *cgroups_path; /* linux.cgroupsPath or NULL */
	const char *inner;        /* NULL, or the inner directory name for the delegation shape ("init") */
	uid_t inner_uid;          /* owner of the inner cgroup (container root on the host); -1 = leave */
	gid_t inner_gid;
};

struct isola_cgroup {
	bool available;        /* false: no cgroup (disabled, or best-effort creation degraded) */
	char *mount;           /* "/sys/fs/cgroup/unified" (NULL when !available) */
	char *path;            /* "/isola/c1" relative to mount: what state.json records */
	char *inner;           /* "init" or NULL */
	int dirfd;             /* O_DIRECTORY fd of mount+path (-1 when !available) */
	char *degraded_reason; /* why !available (for --debug / state), or NULL */
};

/* Every function here accepts err == NULL (the error is then dropped), for cleanup paths.
 *
 * Create (mkdir; EEXIST is an error unless the directory is empty of processes — a stale one from a killed
 * `create` is reused) and apply resources. *out is owned by the caller (cgroup_free). */
int cgroup_create(const struct cgroup_options *opts, const struct cgroup_resources *res, struct isola_cgroup **out,
                  isola_error *err);
/* Re-open an existing container's cgroup from what state.json recorded (mount may be NULL = find it;
 * path NULL = not available). */
int cgroup_open(const char *mount, const char *path, const char *inner, struct isola_cgroup **out, isola_error *err);
void cgroup_free(struct isola_cgroup *cg);
static inline void cgroup_freep(struct isola_cgroup **p)
{
	if (*p)
		cgroup_free(*p);
}
#define _cleanup_cgroup_ __attribute__((cleanup(cgroup_freep)))

/* A new O_DIRECTORY|O_CLOEXEC fd of the directory the container's init goes into (the inner one when
 * delegating), for clone3(CLONE_INTO_CGROUP) (clone(2)). -1 with available == false: the caller clones
 * without the flag. The caller closes it. */
int cgroup_enter_fd(const struct isola_cgroup *cg, isola_error *err);
/* The cgroup an `exec` joins: the leaf init itself sits in (read from /proc/<init>/cgroup, resolved
 * beneath the inner directory) when delegating — systemd inside moves itself to /init.scope and may enable
 * controllers on the inner level, whose processes the kernel then refuses ("no internal processes",
 * cgroup-v2.rst) — else cgroup_enter_fd's directory. The caller closes it. */
int cgroup_exec_fd(const struct isola_cgroup *cg, pid_t init, isola_error *err);
/* Move pid into the container's (inner) cgroup: for `exec`, and for kernels without CLONE_INTO_CGROUP. */
int cgroup_add_pid(const struct isola_cgroup *cg, pid_t pid, isola_error *err);

/* Apply (or re-apply, for `update`) resources to the outer cgroup; fails naming the controller when missing. */
int cgroup_apply(const struct isola_cgroup *cg, const struct cgroup_resources *res, isola_error *err);
/* Every pid in the cgroup and below it (cgroup.procs, recursively). *pids malloc'd. */
int cgroup_pids(const struct isola_cgroup *cg, pid_t **pids, size_t *n, isola_error *err);
/* Freeze (cgroup.freeze 1) and wait until cgroup.events says "frozen 1"; thaw likewise. */
int cgroup_freeze(const struct isola_cgroup *cg, bool frozen, isola_error *err);
/* Is it frozen now (cgroup.events)? */
int cgroup_is_frozen(const struct isola_cgroup *cg, bool *frozen, isola_error *err);
/* SIGKILL everything in the cgroup tree (cgroup.kill, kernel 5.14+; falls back to killing cgroup_pids). */
int cgroup_kill(const struct isola_cgroup *cg, isola_error *err);
/* Stats in the shape `runc events --stats` prints under "data" (new reference):
 *   {"cpu": {"usage": {"total","user","kernel"} ns, "throttling": {"periods","throttledPeriods","throttledTime"}},
 *    "memory": {"usage": {"usage","limit"}, "swap": {"usage","limit"}, "raw": {memory.stat}},
 *    "pids": {"current","limit"}, "blkio": {"ioServiceBytesRecursive": [...], "ioServicedRecursive": [...]}}
 * Sections whose files do not exist (controller off) are left out. */
int cgroup_stats(const struct isola_cgroup *cg, json_t **out, isola_error *err);
/* Remove the cgroup (inner first): kill what is left is the CALLER's decision; this rmdirs, retrying for up
 * to ~1 s while the last processes exit (EBUSY). A missing directory is success. */
int cgroup_destroy(struct isola_cgroup *cg, isola_error *err);

/* Find the cgroup2 mount point in /proc/self/mountinfo (malloc'd "/sys/fs/cgroup[/unified]"). */
int cgroup_find_mount(char **out, isola_error *err);
