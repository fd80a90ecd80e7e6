/* Where isola keeps things. Everything derives from two roots so tests can point them at a temp dir:
 *   ISOLA_DIR      (default /var/lib/isola): isola.db, storage-pools/, locks/, instances/<name>/
 *   ISOLA_RUN_DIR  (default /run/isola): daemon sockets, runtime state
 * The `isola --dir DIR` flag sets ISOLA_DIR for the process. */
#pragma once
#include <stddef.h>

const char *isola_dir(void);
const char *isola_run_dir(void);
/* snprintf into buf of "<isola_dir>/<fmt...>"; returns buf (truncation is an abort: paths are bounded). */
char *isola_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *isola_run_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
