/* linux.resources (OCI runtime-spec config-linux.md) from an instance's effective config — what
 * runtime_boot() applies at start and runtime_update() live. What each Incus key becomes:
 *   limits.memory            → memory.limit ("50%" of host_mem)
 *   limits.cpu               → cpu.cpus (a set) and, for a count, quota = count·period
 *   limits.cpu.allowance     → cpu.quota/period
 *   limits.processes         → pids.limit
 * plus the device list a system container needs (deny all, then null, zero, full, random, urandom, tty,
 * console, ptmx, pts). */
#pragma once
#include <stdint.h>
#include <jansson.h>
#include "error.h"

/* A new linux.resources object; NULL and err naming the key on a bad value. */
json_t *bundle_resources(json_t *config, uint64_t host_mem, isola_error *err);
