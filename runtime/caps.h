/* caps: the five capability sets of OCI `process.capabilities` (runtime-spec config.md "POSIX process"),
 * parsed in the parent and applied with libcap in the child (capabilities(7)).
 *
 * Defaults (CVE-2022-29162, CVE-2022-27650): a set that is absent is EMPTY, and an absent
 * `process.capabilities` object means all five sets empty (the process runs with no capability at all).
 * In particular inheritable and ambient are never filled in for the caller. caps_default_spec_json() is what
 * `isola-runtime spec` writes: AUDIT_WRITE, KILL, NET_BIND_SERVICE in bounding/effective/permitted only.
 *
 * Apply order in the child (all in the container's user namespace, before execve):
 *   1. caps_apply_pre_setuid()   drop every capability not in bounding (PR_CAPBSET_DROP, needs CAP_SETPCAP)
 *                                and set PR_SET_KEEPCAPS so permitted survives the uid change
 *   2. (runtime) setgroups / setresgid / setresuid to process.user
 *   3. caps_apply_post_setuid()  clear KEEPCAPS, capset(effective, permitted, inheritable), then clear the
 *                                ambient set and raise each ambient cap (PR_CAP_AMBIENT_RAISE)
 * When the process stays uid 0, calling 1 then 3 with nothing between is correct too.
 * Capabilities that libcap knows but the running kernel does not (> /proc/sys/kernel/cap_last_cap) are
 * skipped at apply time, as runc does; names libcap does not know are a parse error. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

enum caps_set { CAPS_BOUNDING, CAPS_EFFECTIVE, CAPS_INHERITABLE, CAPS_PERMITTED, CAPS_AMBIENT, CAPS_NSETS };

struct isola_caps {
	uint64_t set[CAPS_NSETS]; /* bit n = capability n (CAP_CHOWN = 0 …); 64 bits cover CAP_LAST_CAP (40) */
};

/* OCI key of a set: "bounding", "effective", "inheritable", "permitted", "ambient". */
const char *caps_set_name(enum caps_set s);

/* "CAP_SYS_ADMIN" (case-insensitive; the "CAP_" prefix is required, as in the OCI spec) → 21.
 * Returns the capability number, or -1 when unknown. */
int caps_from_name(const char *name);
/* 21 → "CAP_SYS_ADMIN" (static string; "CAP_?" for an unknown number). */
const char *caps_to_name(int cap);

/* Parse `process.capabilities` (obj may be NULL = absent → all empty). jpath is obj's path, e.g.
 * "process.capabilities". Errors name the element:
 *   process.capabilities.bounding[3]: unknown capability "CAP_FOO"
 *   process.capabilities.ambient: expected an array
 * An ambient cap must also be in permitted and inheritable (capabilities(7) "ambient"); violations are an
 * error naming the cap ("process.capabilities.ambient[0]: CAP_NET_RAW is not in permitted"). */
int caps_parse(json_t *obj, const char *jpath, struct isola_caps *out, isola_error *err);
/* The inverse, for `state`/`exec` bookkeeping and tests: a new object with the five arrays. */
json_t *caps_to_json(const struct isola_caps *caps);
/* What `spec` writes for process.capabilities (new reference). */
json_t *caps_default_spec_json(void);

/* Child side. Async-signal-safe enough for a freshly cloned child (no locks held by other threads). */
int caps_apply_pre_setuid(const struct isola_caps *caps, isola_error *err);
int caps_apply_post_setuid(const struct isola_caps *caps, isola_error *err);

/* Read a process's five sets from /proc/PID/status (CapBnd/CapEff/CapInh/CapPrm/CapAmb); pid 0 = self.
 * Used by tests and by `exec` checks. */
int caps_read_proc(pid_t pid, struct isola_caps *out, isola_error *err);
