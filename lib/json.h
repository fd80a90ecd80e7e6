/* The one JSON helper: jansson, plus typed accessors that report errors by JSON path
 * ("process.args[2]: expected a string"), file load/store, and a cleanup type. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "cleanup.h"
#include "error.h"

/* jansson ships json_decrefp(json_t **) for exactly this */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Load a file; errors say "PATH: line L column C: what". */
json_t *json_load_path(const char *path, isola_error *err);
/* Write compact+newline (or indented) JSON atomically: tmp file in the same dir, fsync, rename. */
int json_store_path(const char *path, json_t *v, bool pretty, isola_error *err);
/* Same; durable == false skips the fsync: the rename keeps it atomic against the writer's death (old or
 * new file, never a torn one) but not against power loss. For state describing kernel objects that do not
 * survive a reboot either (a veth dies with its netns). */
int json_store_path_ex(const char *path, json_t *v, bool pretty, bool durable, isola_error *err);

/* Typed accessors. obj must be an object (or NULL: treated as empty). jpath is the path of obj itself,
 * used in messages ("" for the root). When the key is absent: required → error "jpath.key: missing";
 * otherwise *out is left unchanged and 0 is returned. A value of the wrong type is always an error. */
int json_get_str(json_t *obj, const char *jpath, const char *key, bool required, const char **out, isola_error *err);
int json_get_int(json_t *obj, const char *jpath, const char *key, bool required, int64_t *out, isola_error *err);
int json_get_uint(json_t *obj, const char *jpath, const char *key, bool required, uint64_t *out, isola_error *err);
int json_get_bool(json_t *obj, const char *jpath, const char *key, bool required, bool *out, isola_error *err);
int json_get_obj(json_t *obj, const char *jpath, const char *key, bool required, json_t **out, isola_error *err);
int json_get_arr(json_t *obj, const char *jpath, const char *key, bool required, json_t **out, isola_error *err);
/* An array of strings → a malloc'd NULL-terminated vector (free with strv_freep / _cleanup_strv_).
 * *out stays NULL when absent and not required. */
int json_get_strv(json_t *obj, const char *jpath, const char *key, bool required, char ***out, isola_error *err);

/* "a.b" or "a[3]": build the path of a child for messages. Returns a thread-local buffer (ring of 4). */
const char *json_path_key(const char *jpath, const char *key);
const char *json_path_idx(const char *jpath, size_t idx);
