/* Names of instances, snapshots, profiles and storage pools.
 *
 * Instance names follow Incus (doc/reference/instance_properties.md, "name"): ASCII letters, digits and
 * '-', 1..63 characters, not starting with a digit or '-', not ending with '-' (they become hostnames,
 * RFC 1123). Snapshot and profile names are looser in Incus; we only require a safe path component. */
#pragma once
#include <stdbool.h>
#include "error.h"

#define INSTANCE_NAME_MAX 63

/* 0, or -1 with err saying what is wrong with name ("instance name \"1x\": must not start with a digit"). */
int instance_name_check(const char *name, isola_error *err);
/* Profiles, snapshots, pools: a safe path component of at most 63 bytes, no spaces, no '/'. */
int object_name_check(const char *kind, const char *name, isola_error *err);
