/* Per-instance lock: flock(2) on $ISOLA_DIR/locks/<name>.lock, held for a whole command, so two `isola`
 * commands on one instance run one after the other (the second waits) and never interleave their
 * database and storage steps. flock locks die with the process, so kill -9 never leaves a stale lock; a
 * record still "Creating" whose lock nobody holds is therefore a launch that died (instance_lock_probe).
 *
 * Lock by name, not id: a launch takes the lock before the row exists. Renames take both names' locks. */
#pragma once
#include <stdbool.h>
#include "error.h"

/* Blocking; returns the lock fd (close it to release) or -1. */
int instance_lock(const char *name, isola_error *err);
/* Non-blocking: the fd, or -1 with EWOULDBLOCK when another process holds it. */
int instance_trylock(const char *name, isola_error *err);
/* Is the lock held by someone (another process or another fd of ours)? */
bool instance_lock_held(const char *name);
/* A global lock for operations over the set (admin init, id-map allocation is in the DB instead). */
int global_lock(isola_error *err);
