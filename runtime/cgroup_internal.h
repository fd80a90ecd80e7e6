/* Shared between cgroup.c, cgroup_resources.c and cgroup_stats.c; not part of the contract. */
#pragma once
#include <stdbool.h>
#include "runtime/cgroup.h"

int cg_read(int dirfd, const char *file, char **out, isola_error *err);
int cg_write(int dirfd, const char *file, const char *value, isola_error *err);
/* /proc/cgroups says the controller is attached to a v1 hierarchy */
bool cgroup_controller_bound_to_v1(const char *controller);
/* Write (file, value) pairs into cg's outer directory; a missing file names its controller. */
int cgroup_apply_files(const struct isola_cgroup *cg, const struct cgroup_kv *files, size_t n, isola_error *err);

struct cgroup_kv_array {
	struct cgroup_kv *kv;
	size_t n;
};
static inline void cgroup_kv_arrayp(struct cgroup_kv_array *a)
{
	cgroup_kv_free(a->kv, a->n);
}
/* Enable ctrls in cgroup.subtree_control of every ancestor of cg (mount root down to its parent), as
 * cgroup_create does for the controllers it needs: an `update` that sets a limit the creation did not
 * (cpu.max on a container created with a memory limit only) needs its controller offered to cg. */
int cgroup_enable_above(const struct isola_cgroup *cg, char **ctrls, isola_error *err);
