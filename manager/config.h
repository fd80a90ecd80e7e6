/* Instance configuration: Incus's key names, their validation, profile stacking, devices.
 *
 * A config is a JSON object of string → string (Incus stores every value as a string, and so do we).
 * Keys are checked against one table; an unknown key is an error that lists every valid key, so a typo
 * never silently does nothing. Prefix families: environment.* (passed to init), user.* (free-form, for the
 * user), volatile.* (owned by isola itself; the CLI refuses to set them).
 *
 * Devices are a JSON object name → {"type": "disk"|"nic", ...} (Incus doc/reference/devices.md). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "error.h"

enum instance_type { INSTANCE_CONTAINER, INSTANCE_VM };
const char *instance_type_name(enum instance_type t); /* "container" | "virtual-machine" */
int instance_type_parse(const char *s, enum instance_type *out, isola_error *err);

/* Check one key and its value (value NULL: only the key). user_set: refuse volatile.* keys. */
int config_key_check(const char *key, const char *value, enum instance_type type, bool user_set, isola_error *err);
/* Check every key of an object (values must be strings). */
int config_validate(json_t *config, enum instance_type type, bool user_set, isola_error *err);
/* "boot.autostart, cloud-init.network-config, ..., environment.*, user.*" (static storage). */
const char *config_valid_keys(void);
/* Can the key change while the instance runs (applied live)? */
bool config_key_live(const char *key);

/* Incus sizes: "512MiB", "1GB" (decimal: GB = 10^9), "2GiB", "1024" (bytes); k/M/G/T/P/E. */
int incus_parse_size(const char *s, uint64_t *out, isola_error *err);
/* Incus booleans: true/false, 1/0, yes/no, on/off (case-insensitive). */
int incus_parse_bool(const char *s, bool *out, isola_error *err);

/* Typed reads of an effective config; the key's default when absent. */
bool config_bool(json_t *cfg, const char *key, bool def);
/* limits.memory → bytes; a percentage is of host_mem. 0 when unset. */
int config_memory_limit(json_t *cfg, uint64_t host_mem, uint64_t *out, isola_error *err);
/* limits.cpu: a count ("2") → *count, or a set ("0-3,6") → cpuset (malloc'd). Unset: count 0, cpuset NULL. */
int config_cpu_limit(json_t *cfg, unsigned *count, char **cpuset, isola_error *err);
/* limits.cpu.allowance: "50%" or "25ms/100ms" → CFS quota and period in microseconds; 0/0 when unset. */
int config_cpu_allowance(json_t *cfg, unsigned ncpus, uint64_t *quota_us, uint64_t *period_us, isola_error *err);

/* Devices. */
int device_validate(const char *name, json_t *dev, isola_error *err);
int devices_validate(json_t *devices, isola_error *err);
/* Parse "type key=value ..." from the CLI into a device object (new reference). */
json_t *device_from_args(const char *type, char *const *kv, int nkv, isola_error *err);

/* Stack profiles (in order; later wins) and the instance's own config/devices (wins over all).
 * Returns new objects. A device is replaced whole by a later one of the same name, as in Incus. */
json_t *config_stack(json_t *const *profile_objs, size_t n, json_t *local);
