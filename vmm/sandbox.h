/* Per-thread confinement after setup: each thread drops every capability (capabilities are per thread,
 * capabilities(7)), sets no_new_privs, and loads the seccomp allow-list of its kind (seccomp(2) filters
 * are per thread unless TSYNC is asked for, so each kind gets only what its loop needs). Syscalls off the
 * list fail with EPERM rather than killing the process, so a missed path surfaces as a logged error. */
#pragma once
#include <stdbool.h>
#include "error.h"

enum sandbox_kind { SANDBOX_VCPU, SANDBOX_DEVICE, SANDBOX_CONTROL, SANDBOX_MAIN };

/* Whether sandbox_thread does anything (--no-sandbox turns it off before threads start). */
extern bool sandbox_enabled;
int sandbox_thread(enum sandbox_kind kind, isola_error *err);
