/* HTTPS downloads with libcurl: https only (no http, no redirects to other schemes), peer and host
 * verified (optionally against a given CA file), bounded size, SHA-256 computed while writing. */
#pragma once
#include <stdint.h>
#include "error.h"

typedef void (*fetch_progress_fn)(uint64_t done, uint64_t total, void *ud);

/* Download url into the file dirfd/name (created O_EXCL). sha256_hex (65 bytes) gets the hash of the
 * bytes written; *size their count. max_size 0 = unlimited. */
int fetch_to_file(const char *url, const char *ca_file, int dirfd, const char *name, uint64_t max_size,
                  char sha256_hex[65], uint64_t *size, fetch_progress_fn pf, void *ud, isola_error *err);
/* Download a small document (≤ 16 MiB) into memory (NUL-terminated). */
int fetch_to_mem(const char *url, const char *ca_file, char **out, size_t *len, isola_error *err);
