/* A YAML document → jansson, the one converter isola has (image metadata.yaml in isola-imaged; preseed
 * files and `config edit` / `profile edit` documents in the `isola` CLI, which Incus takes as YAML).
 *
 * libyaml (yaml-0.1) does the lexing and parsing; this module turns its event stream into a jansson
 * tree: mappings → objects, sequences → arrays, scalars → strings or, with YAML_TYPED, plain (unquoted)
 * scalars that read as an integer → integer, true/false → boolean, null/~/empty → null. With YAML_STRINGS
 * every scalar stays the text it was written as (Incus's config maps are string → string: `limits.cpu: 2`
 * is "2"), except a plain null/~/empty, which is JSON null.
 *
 * Input may be hostile (an image's metadata, a file handed to a root command), so: anchors and aliases
 * are refused (no "billion laughs" expansion), nesting is capped at YAML_MAX_DEPTH, a key must be a
 * scalar (no `? [a, b]` complex keys), duplicate keys are an error (YAML 1.2 §3.2.1.1: keys are unique),
 * a NUL byte in a key or value is refused (C strings would silently cut it), explicit tags other than
 * the core schema's (!!str, !!int, !!bool, !!null, !!map, !!seq, !!float) are refused, exactly one
 * document is accepted, and the input is at most YAML_MAX_INPUT bytes. Every error names the line. */
#pragma once
#include <stddef.h>
#include <jansson.h>
#include "error.h"

#define YAML_MAX_DEPTH 32
#define YAML_MAX_INPUT (16u << 20)

enum yaml_scalars { YAML_TYPED = 0, YAML_STRINGS = 1 };

/* Returns a new json_t (caller decrefs) or NULL with *err naming the line and what was wrong.
 * An empty document gives an empty object. Scalars as YAML_TYPED. */
json_t *yaml_to_json(const char *buf, size_t len, isola_error *err);
json_t *yaml_to_json_mode(const char *buf, size_t len, enum yaml_scalars mode, isola_error *err);

/* A document a user wrote as JSON or as YAML: text whose first non-blank character is '{' is read as
 * JSON (jansson, duplicate keys refused), anything else as YAML with `mode`. The result must be an
 * object. what names the source in errors ("preseed FILE", "stdin"). */
json_t *doc_to_json(const char *buf, size_t len, enum yaml_scalars mode, const char *what, isola_error *err);
