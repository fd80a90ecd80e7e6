/* The manager's view of the host id allocator (runtime/idmap_alloc.h); see idmap.h. */
#include "idmap.h"
#include <stdio.h>
#include <string.h>
#include "cleanup.h"
#include "runtime/idmap_alloc.h"

DEFINE_CLEANUP(sqlite3_stmt *, sqlite3_finalize)

void idmap_dir(const isola_db *db, char *out, size_t len)
{
	snprintf(out, len, "%s", db->path);
	char *slash = strrchr(out, '/');
	if (!slash)
		snprintf(out, len, ".");
	else if (slash == out)
		out[1] = 0;
	else
		*slash = 0;
}

static void owner_of(int64_t instance_id, char *out, size_t len)
{
	snprintf(out, len, "instance:%lld", (long long)instance_id);
}

int idmap_lookup(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err)
{
	char dir[4096], owner[64];
	idmap_dir(db, dir, sizeof dir);
	owner_of(instance_id, owner, sizeof owner);
	uint64_t b;
	if (idmap_range_lookup(dir, owner, &b, err) < 0)
		return -1;
	*base = (uint32_t)b;
	return 0;
}

int idmap_acquire(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err)
{
	char dir[4096], owner[64];
	idmap_dir(db, dir, sizeof dir);
	owner_of(instance_id, owner, sizeof owner);
	uint64_t b;
	if (idmap_range_alloc(dir, owner, &b, err) < 0)
		return -1;
	*base = (uint32_t)b;
	return 0;
}

int idmap_release(isola_db *db, int64_t instance_id, isola_error *err)
{
	char dir[4096], owner[64];
	idmap_dir(db, dir, sizeof dir);
	owner_of(instance_id, owner, sizeof owner);
	return idmap_range_release(dir, owner, err);
}

int idmap_migrate_v3(isola_db *db, isola_error *err)
{
	char dir[4096];
	idmap_dir(db, dir, sizeof dir);
	_cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, "SELECT instance_id, base, size FROM idmap_ranges ORDER BY base", -1, &st,
	                       NULL) != SQLITE_OK)
		return isola_err(err, EIO, "%s: read idmap_ranges: %s", db->path, sqlite3_errmsg(db->h));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char owner[64];
		owner_of(sqlite3_column_int64(st, 0), owner, sizeof owner);
		sqlite3_int64 b = sqlite3_column_int64(st, 1), n = sqlite3_column_int64(st, 2);
		if (b <= 0 || n <= 0)
			return isola_err(err, EINVAL, "%s: idmap_ranges: %s has range %lld+%lld", db->path, owner,
			                 (long long)b, (long long)n);
		if (idmap_range_adopt(dir, owner, (uint64_t)b, (uint64_t)n, err) < 0)
			return isola_err_wrap(err, "%s: move the id range of %s", db->path, owner);
	}
	if (rc != SQLITE_DONE)
		return isola_err(err, EIO, "%s: read idmap_ranges: %s", db->path, sqlite3_errmsg(db->h));
	return 0;
}
