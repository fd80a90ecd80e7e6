/* The OCI bundle of a container: config.json generated from the instance's effective config
 * (OCI runtime-spec config.md and config-linux.md). What each Incus key becomes:
 *   hostname                 = the instance name (renames and copies regenerate it)
 *   security.privileged      = false (default): a user namespace with the instance's own 65,536-id range
 *                              (linux.uidMappings/gidMappings); true: no user namespace
 *   limits.memory            → linux.resources.memory.limit
 *   limits.cpu               → linux.resources.cpu.cpus (a set) and, for a count, quota = count·period
 *   limits.cpu.allowance     → linux.resources.cpu.quota/period
 *   limits.processes         → linux.resources.pids.limit
 *   environment.K            → process.env K=V
 *   security.nesting         → /proc and /sys not masked, so a nested runtime can mount them
 * The process is the image's init (/sbin/init) as PID 1 of new pid/mount/ipc/uts/net/cgroup namespaces. */
#pragma once
#include <stdint.h>
#include <jansson.h>
#include "error.h"

struct bundle_params {
	const char *name;
	const char *rootfs; /* absolute path of the mounted rootfs */
	json_t *config;     /* effective config */
	uint32_t uid_base;  /* 0 when privileged */
	uint64_t host_mem;  /* for "limits.memory: 50%" */
	const char *init;   /* NULL: /sbin/init */
};

/* A new config.json object. */
json_t *bundle_config(const struct bundle_params *p, isola_error *err);
/* linux.resources only (for live updates with runtime_update). */
json_t *bundle_resources(json_t *config, uint64_t host_mem, isola_error *err);
