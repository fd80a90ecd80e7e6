/* Shared by config edit / profile edit: the document in $EDITOR as YAML (what `config show` prints, as
 * `incus config edit` does), or read from stdin when it is not a terminal; either way YAML or JSON is
 * accepted (lib/yamljson.h: a document starting with '{' is JSON). Scalars come back as strings (Incus's
 * config maps are string → string). */
#pragma once
#include <jansson.h>
#include "error.h"

/* Returns the edited document (new reference) or NULL with err. */
json_t *edit_document(json_t *doc, isola_error *err);
