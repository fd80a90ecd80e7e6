/* Containers through libisola-runtime (runtime/runtime.h). Internal to manager/: instance.c calls these
 * with the instance lock held.
 *
 * A running container has a monitor: a small process of ours that is the parent of the container's init
 * (runtime_create forks init from it), keeps the console pty master and serves it on
 * $ISOLA_DIR/instances/<name>/console.sock, logs console output to console.log, and when init exits
 * cleans up (runtime_delete, netd detach, rootfs unmount, record Stopped; ephemeral: delete). `isola start`
 * forks the monitor into the background and waits for "started"; `isola start --foreground` (the systemd
 * unit) runs it in place and tells systemd READY=1. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "manager.h"

/* Is it running (or frozen)? pid: init's host pid. */
bool container_running(struct manager *m, const struct instance_rec *r, pid_t *pid, bool *frozen);
int container_start(struct manager *m, const struct instance_rec *r, json_t *config, json_t *devices, int *fg_lock,
                    isola_error *err);
int container_stop(struct manager *m, const struct instance_rec *r, bool force, int timeout_s, isola_error *err);
int container_freeze(struct manager *m, const struct instance_rec *r, bool freeze, isola_error *err);
/* Apply limits.* of config to the live cgroup. */
int container_update(struct manager *m, const struct instance_rec *r, json_t *config, isola_error *err);
int container_exec(struct manager *m, const struct instance_rec *r, const struct exec_opts *o, int *status,
                   isola_error *err);
/* Add pid, processes, memory, cpu, network (addresses from inside its netns) to an Incus state object. */
void container_state(struct manager *m, const struct instance_rec *r, json_t *state);
/* Remove what a dead or broken container left in the runtime (state dir, cgroup); no error if none. */
void container_cleanup(struct manager *m, const struct instance_rec *r);
