#include "idmap.h"
#include "cleanup.h"

DEFINE_CLEANUP(sqlite3_stmt *, sqlite3_finalize)

int idmap_lookup(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err)
{
	_cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, "SELECT base FROM idmap_ranges WHERE instance_id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return isola_err(err, EIO, "idmap lookup: %s", sqlite3_errmsg(db->h));
	sqlite3_bind_int64(st, 1, instance_id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return isola_err(err, ENOENT, "no id-map range for instance %lld", (long long)instance_id);
	*base = (uint32_t)sqlite3_column_int64(st, 0);
	return 0;
}

int idmap_acquire(isola_db *db, int64_t instance_id, uint32_t *base, isola_error *err)
{
	isola_error e;
	if (idmap_lookup(db, instance_id, base, &e) == 0)
		return 0;
	/* the lowest gap: walk the allocated bases in order (a few thousand rows at most) */
	_cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL, *ins = NULL;
	if (sqlite3_prepare_v2(db->h, "SELECT base, size FROM idmap_ranges ORDER BY base", -1, &st, NULL) != SQLITE_OK)
		return isola_err(err, EIO, "idmap allocate: %s", sqlite3_errmsg(db->h));
	uint64_t want = IDMAP_FIRST;
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t b = (uint64_t)sqlite3_column_int64(st, 0), s = (uint64_t)sqlite3_column_int64(st, 1);
		if (b >= want + IDMAP_SIZE)
			break;
		if (b + s > want)
			want = b + s;
	}
	if (want + IDMAP_SIZE - 1 > IDMAP_LAST)
		return isola_err(err, ENOSPC, "no free id-map range of %u ids left", IDMAP_SIZE);
	if (sqlite3_prepare_v2(db->h, "INSERT INTO idmap_ranges (instance_id, base, size) VALUES (?,?,?)", -1, &ins,
	                       NULL) != SQLITE_OK)
		return isola_err(err, EIO, "idmap allocate: %s", sqlite3_errmsg(db->h));
	sqlite3_bind_int64(ins, 1, instance_id);
	sqlite3_bind_int64(ins, 2, (sqlite3_int64)want);
	sqlite3_bind_int64(ins, 3, IDMAP_SIZE);
	if (sqlite3_step(ins) != SQLITE_DONE)
		return isola_err(err, EIO, "idmap allocate for instance %lld: %s", (long long)instance_id,
		                 sqlite3_errmsg(db->h));
	*base = (uint32_t)want;
	return 0;
}

int idmap_release(isola_db *db, int64_t instance_id, isola_error *err)
{
	_cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, "DELETE FROM idmap_ranges WHERE instance_id = ?", -1, &st, NULL) != SQLITE_OK)
		return isola_err(err, EIO, "idmap release: %s", sqlite3_errmsg(db->h));
	sqlite3_bind_int64(st, 1, instance_id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : isola_err(err, EIO, "idmap release: %s", sqlite3_errmsg(db->h));
}
