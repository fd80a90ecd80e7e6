/* Shared by config edit / profile edit: the document in $EDITOR (or from stdin when it is not a
 * terminal), as JSON — YAML 1.2 is a superset of JSON, so what we show is valid YAML too. */
#pragma once
#include <jansson.h>
#include "error.h"

/* Returns the edited document (new reference) or NULL with err. */
json_t *edit_document(json_t *doc, isola_error *err);
