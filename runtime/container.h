/* Internal helpers shared by the lifecycle (container.c), exec (exec.c) and list/ps/pause (ops.c). Not
 * part of the public contract (runtime.h). */
#pragma once
#include <jansson.h>
#include "error.h"
#include "runtime/cgroup.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

/* state.json of id (*st, caller decrefs) and its decoded form. */
int container_load(const struct runtime_ctx *ctx, const char *id, json_t **st, struct runtime_state *s,
                   isola_error *err);
/* The config copy kept in the state directory at create time. */
struct rt_config *container_config(const struct runtime_ctx *ctx, const char *id, json_t *st, isola_error *err);
/* Re-open the container's cgroup as recorded in state.json (available == false when it has none). */
int container_open_cgroup(json_t *st, struct isola_cgroup **cg, isola_error *err);
/* The OCI state object for status (new reference). */
json_t *container_oci_state(json_t *st, const char *status);
/* --console-socket: connect to a path; send a pty master over it (SCM_RIGHTS). */
int container_connect_console(const char *path, isola_error *err);
int container_send_console(int sock, int master, isola_error *err);
