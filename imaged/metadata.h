/* Image metadata.yaml (Incus doc/reference/image_format.md): validated, with the architecture made
 * canonical. Mandatory: architecture (a known name), creation_date (unix seconds, > 0). Optional:
 * expiry_date, properties (a mapping; every value stored as a string), templates (kept verbatim). */
#pragma once
#include <stdint.h>
#include <jansson.h>
#include "error.h"

#define METADATA_MAX_SIZE (1024 * 1024)

struct image_metadata {
	char architecture[32]; /* canonical kernel name: x86_64, aarch64, … */
	int64_t creation_date;
	int64_t expiry_date; /* 0 = none */
	json_t *properties;  /* object of strings, owned */
	json_t *templates;   /* object, owned */
};

/* Parse and validate; on success md owns its json (free with metadata_free). */
int metadata_parse(const char *buf, size_t len, struct image_metadata *md, isola_error *err);
void metadata_free(struct image_metadata *md);
/* "amd64" → "x86_64", "arm64" → "aarch64", "x86_64" → "x86_64"; NULL when unknown. The list is Incus's
 * shared/osarch: the kernel names and the Debian/Ubuntu aliases for them. */
const char *arch_canonical(const char *name);
/* The canonical name of the machine we run on (uname -m, via arch_canonical). */
const char *arch_host(void);
