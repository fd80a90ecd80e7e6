/* Id-map ranges for unprivileged containers: each instance gets its own 65,536 host uids/gids (the same
 * number for both), disjoint from every other instance's, so root in one container is a different
 * unprivileged host user from root in any other (the isolation Incus calls security.idmap.isolated, here
 * always on). Ranges live in the state database (table idmap_ranges, one row per instance, removed with
 * it), so they survive restarts and a crash can never hand one range out twice: allocation is a single
 * INSERT inside a write transaction.
 *
 * Host ids from IDMAP_FIRST up: above the 100000 + 65536·k ranges useradd(8) gives /etc/subuid. */
#pragma once
#include <stdint.h>
#include "db.h"

#define IDMAP_FIRST 1000000u
#define IDMAP_SIZE  65536u
#define IDMAP_LAST  4294901759u /* last usable host id: (uid_t)-1 and the overflow ids stay out */

/* The range of the instance, allocating the lowest free one if it has none. */
int idmap_acquire(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err);
/* 0 and *base if allocated; ENOENT otherwise. */
int idmap_lookup(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err);
int idmap_release(isola_db *db, int64_t instance_id, isola_error *err);
