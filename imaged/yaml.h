/* A YAML document → JSON, for image metadata.yaml (Incus doc/reference/image_format.md).
 *
 * libyaml (yaml-0.1) does the lexing and parsing; this module turns its event stream into a jansson
 * tree. Mappings → objects, sequences → arrays, scalars → strings, except *plain* (unquoted) scalars
 * that read as an integer (→ integer), true/false (→ boolean), null/~/empty (→ null). Quoted scalars are
 * always strings. metadata.yaml comes from an untrusted image, so: anchors and aliases are refused
 * (no "billion laughs"), nesting is capped at YAML_MAX_DEPTH, duplicate keys are an error, keys must be
 * scalars, and exactly one document is accepted. */
#pragma once
#include <stddef.h>
#include <jansson.h>
#include "error.h"

#define YAML_MAX_DEPTH 32

/* Returns a new json_t (caller decrefs) or NULL with *err naming the line and what was wrong.
 * An empty document gives an empty object. */
json_t *yaml_to_json(const char *buf, size_t len, isola_error *err);
