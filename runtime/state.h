/* The runtime's on-disk state: <root>/<id>/state.json (written atomically) and <root>/<id>/exec.fifo.
 *
 * state.json holds the OCI state (ociVersion, id, status, pid, bundle, annotations) plus what later
 * commands need: init's start time (so a recycled pid is never mistaken for the container), the cgroup
 * path, the created timestamp. "status" on disk is only ever "creating", "created" or "running"/"paused";
 * "stopped" is derived when init is gone. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "error.h"
#include "runtime/runtime.h"

const char *state_root(const struct runtime_ctx *ctx);
/* <root>/<id> into buf; fails (EINVAL) for an invalid id. */
int state_dir(const struct runtime_ctx *ctx, const char *id, char *buf, size_t len, isola_error *err);
/* mkdir <root>/<id> 0700: EEXIST means the id is taken. */
int state_dir_create(const struct runtime_ctx *ctx, const char *id, isola_error *err);
int state_dir_remove(const struct runtime_ctx *ctx, const char *id, isola_error *err);

/* Load state.json → the object (caller decrefs). ENOENT (errnum) when no such container. */
json_t *state_load(const struct runtime_ctx *ctx, const char *id, isola_error *err);
int state_store(const struct runtime_ctx *ctx, const char *id, json_t *st, isola_error *err);

/* Field 22 of /proc/PID/stat (start time in clock ticks since boot); 0 when the process is gone. */
unsigned long long proc_start_time(pid_t pid);
/* Is the process still the one recorded (same pid and start time) and not a zombie? */
bool state_init_alive(json_t *st);
/* Fill struct runtime_state from the loaded object, deriving "created"/"running"/"stopped". */
int state_decode(const struct runtime_ctx *ctx, const char *id, json_t *st, struct runtime_state *out,
                 isola_error *err);
/* Current UTC time as RFC 3339 with nanoseconds. */
void state_now_rfc3339(char *buf, size_t len);
