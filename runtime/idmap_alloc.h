/* idmap_alloc: the host id ranges of unprivileged system containers (issue 4).
 *
 * Every system container gets its own block of IDMAP_RANGE_SIZE (65,536) host uids AND gids — the same
 * numbers for both — so that uid/gid 0..65535 inside map to base..base+65535 outside
 * (user_namespaces(7) "User and group ID mappings"). Blocks never overlap each other, never overlap a
 * range that /etc/subuid or /etc/subgid delegates to a host user (subuid(5)), and start at
 * IDMAP_FIRST_BASE (above any normal host account), aligned to the range size, the way Incus does it.
 *
 * Persistence: <dir>/idmap.json = {"ranges": [{"owner": "c1", "base": 1065536, "size": 65536}, ...]},
 * written atomically (lib/json.h) while <dir>/idmap.lock is held with flock(LOCK_EX) (flock(2)), so
 * concurrent runtimes (the manager, the CLI) never hand out one block twice. dir defaults to
 * IDMAP_DEFAULT_DIR; tests pass their own. A corrupt file is an error naming it, never silently reset.
 *
 * Allocation is idempotent per owner: asking again for an owner that has a block returns that block
 * (a restarted container keeps its ids, so the files it wrote keep their owners). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define IDMAP_RANGE_SIZE  65536u
#define IDMAP_FIRST_BASE  1000000u
#define IDMAP_DEFAULT_DIR "/var/lib/isola"
/* the last usable id: 4294967295 is (uid_t)-1 and 4294967294 the overflow id of some tools */
#define IDMAP_ID_LIMIT 4294967294ull

struct idmap_range {
	uint64_t base, size;
};

/* Pure: the lowest base >= first, aligned to size, such that [base, base+size) overlaps none of used[]
 * and ends at or below IDMAP_ID_LIMIT. Returns 0 with *out, or -1 (ENOSPC) when the id space is full. */
int idmap_range_pick(const struct idmap_range *used, size_t n, uint64_t first, uint64_t size, uint64_t *out,
                     isola_error *err);

/* Parse /etc/subuid-style text ("name:start:count" lines; '#' comments) and append its ranges to
 * the vector v (n entries, realloc'd). Malformed lines are skipped (they are the host admin's business, not ours). */
int idmap_range_parse_subid(const char *text, struct idmap_range **v, size_t *n, isola_error *err);

/* Allocate (or find) owner's block under dir (NULL → IDMAP_DEFAULT_DIR). owner: a runtime id. */
int idmap_range_alloc(const char *dir, const char *owner, uint64_t *base, isola_error *err);
/* Record a block owner already uses (a range another allocator handed out before: the manager's schema
 * v2 table). Idempotent for the same owner and range; EEXIST when it overlaps another owner's block or
 * the owner has a different one. /etc/subuid is not consulted: the ids are in use already. */
int idmap_range_adopt(const char *dir, const char *owner, uint64_t base, uint64_t size, isola_error *err);
/* Find owner's block; ENOENT when it has none. */
int idmap_range_lookup(const char *dir, const char *owner, uint64_t *base, isola_error *err);
/* Give owner's block back. An owner without a block is success (release is idempotent). */
int idmap_range_release(const char *dir, const char *owner, isola_error *err);
