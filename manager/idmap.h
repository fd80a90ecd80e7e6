/* Id-map ranges for unprivileged containers: each instance gets its own 65,536 host uids/gids (the same
 * number for both), disjoint from every other instance's, so root in one container is a different
 * unprivileged host user from root in any other (the isolation Incus calls security.idmap.isolated, here
 * always on).
 *
 * There is ONE allocator on the host: the runtime's (runtime/idmap_alloc.h, <dir>/idmap.json under
 * flock), which `isola-runtime boot` uses too, so a container booted by hand and an instance never get
 * overlapping blocks. The manager's directory is the one holding its database ($ISOLA_DIR, by default
 * /var/lib/isola = IDMAP_DEFAULT_DIR), and an instance's block is owned by "instance:<database id>"
 * (stable across renames). A block is kept while the instance exists (stopped too: its files keep their
 * owners) and given back when it is deleted.
 *
 * Schema v3 moved the ranges schema v2 kept in the table idmap_ranges into that file (idmap_migrate_v3):
 * each recorded range is adopted as it was, so existing instances keep their ids. */
#pragma once
#include <stdint.h>
#include "db.h"

#define IDMAP_SIZE 65536u

/* The range of the instance, allocating the lowest free one if it has none. */
int idmap_acquire(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err);
/* 0 and *base if allocated; ENOENT otherwise. */
int idmap_lookup(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err);
/* Give the block back (idempotent). */
int idmap_release(isola_db *db, int64_t instance_id, isola_error *err);
/* The allocator directory of this database (the directory holding the database file). */
void idmap_dir(const isola_db *db, char *out, size_t len);
/* Schema v2 → v3: adopt every row of idmap_ranges into the allocator. Called inside the migration's
 * transaction, before the table is dropped; idempotent (a crash before the commit adopts again). */
int idmap_migrate_v3(isola_db *db, isola_error *err);
