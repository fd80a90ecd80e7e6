/* Virtual machines: until isola-vmm's CLI and control socket are fixed (vmm branch), a VM instance can be
 * created (its disk is a reflinked copy of the image) and managed as a record, but not started. Every
 * lifecycle call says so plainly rather than pretending. */
#include "vm.h"
#include <stdio.h>
#include "daemons.h"

bool vm_running(struct manager *m, const struct instance_rec *r, pid_t *pid)
{
	(void)m, (void)r;
	if (pid)
		*pid = 0;
	return false;
}

int vm_start(struct manager *m, const struct instance_rec *r, json_t *config, json_t *devices, int *fg_lock,
             isola_error *err)
{
	return isola_err(err, ENOTSUP, "start %s: virtual machines need isola-vmm, which this build does not drive yet",
	                 r->name);
}

int vm_stop(struct manager *m, const struct instance_rec *r, bool force, int timeout_s, isola_error *err)
{
	return isola_err(err, ENOTSUP, "stop %s: virtual machines need isola-vmm", r->name);
}

int vm_freeze(struct manager *m, const struct instance_rec *r, bool freeze, isola_error *err)
{
	return isola_err(err, ENOTSUP, "%s %s: virtual machines need isola-vmm", freeze ? "pause" : "resume", r->name);
}

void vm_state(struct manager *m, const struct instance_rec *r, json_t *state)
{
	(void)m, (void)r, (void)state;
}
