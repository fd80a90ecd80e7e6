/* OCI hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle"):
 *   prestart, createRuntime  — parent (runtime namespace), after the namespaces exist, before pivot_root
 *   createContainer          — in the container's namespaces, before pivot_root (path resolved in the
 *                              runtime's mount namespace, as the spec says)
 *   startContainer           — in the container, after start, before the user process's execve
 *   poststart                — parent, after start; a failure only logs a warning
 *   poststop                 — on delete; a failure only logs a warning
 * Each hook gets the OCI state JSON on stdin, its own args and env (nothing inherited), and is killed
 * when its timeout passes. */
#pragma once
#include <jansson.h>
#include "error.h"
#include "runtime/config.h"

/* Run every hook of one kind in order; the first failure stops and is returned (named
 * "hooks.prestart[1] /usr/bin/x: exited with status 3"). state_json: the serialized state. */
int hooks_run(const struct rt_config *cfg, enum rt_hook_kind kind, const char *state_json, isola_error *err);
