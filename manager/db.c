#include "db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cleanup.h"
#include "idmap.h"
#include "json.h"

DEFINE_CLEANUP(sqlite3_stmt *, sqlite3_finalize)
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"
    "CREATE TABLE profiles (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  description TEXT NOT NULL DEFAULT '', config TEXT NOT NULL DEFAULT '{}', devices TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE storage_pools (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, driver TEXT NOT NULL,"
    "  source TEXT NOT NULL, config TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE networks (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE instances (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
    "  status TEXT NOT NULL, image TEXT NOT NULL DEFAULT '', pool TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '', config TEXT NOT NULL DEFAULT '{}',"
    "  devices TEXT NOT NULL DEFAULT '{}', ephemeral INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL DEFAULT 0);"
    /* RESTRICT on the profile: deleting a profile in use fails in the database too */
    "CREATE TABLE instance_profiles (instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE RESTRICT, position INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, position));"
    "CREATE TABLE snapshots (id INTEGER PRIMARY KEY,"
    "  instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE, name TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0, config TEXT NOT NULL DEFAULT '{}',"
    "  devices TEXT NOT NULL DEFAULT '{}', UNIQUE (instance_id, name));"
    "INSERT INTO profiles (name, description) VALUES ('default', 'Default isola profile');",
    /* 2: id-map ranges move into the database (one row per instance, released with it), and snapshots
	 * remember the profile list they were taken with */
    "CREATE TABLE idmap_ranges (instance_id INTEGER NOT NULL UNIQUE REFERENCES instances(id) ON DELETE CASCADE,"
    "  base INTEGER NOT NULL UNIQUE, size INTEGER NOT NULL);"
    "ALTER TABLE snapshots ADD COLUMN profiles TEXT NOT NULL DEFAULT '[]';",
    /* 3: one id allocator on the host — the runtime's (idmap.h); idmap_migrate_v3 moved the rows first */
    "DROP TABLE idmap_ranges;",
};

const char *db_migration_sql(int v)
{
	return v >= 1 && v <= (int)ARRAY_SIZE(migrations) ? migrations[v - 1] : NULL;
}

_Static_assert(ARRAY_SIZE(migrations) == DB_SCHEMA_VERSION, "one migration per schema version");

static int sql_err(isola_db *db, isola_error *err, const char *what)
{
	int code = sqlite3_errcode(db->h);
	int e = code == SQLITE_CONSTRAINT ? EEXIST : code == SQLITE_BUSY ? EBUSY : EIO;
	return isola_err(err, e, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

int db_exec(isola_db *db, const char *sql, isola_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		isola_err(err, EIO, "%s: %s", db->path, msg ? msg : "sqlite error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int db_begin(isola_db *db, isola_error *err)
{
	return db_exec(db, "BEGIN IMMEDIATE", err);
}
int db_commit(isola_db *db, isola_error *err)
{
	return db_exec(db, "COMMIT", err);
}
void db_rollback(isola_db *db)
{
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

static int prepare(isola_db *db, const char *sql, sqlite3_stmt **st, isola_error *err)
{
	if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK)
		return sql_err(db, err, "prepare");
	return 0;
}

int db_version(isola_db *db)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		return -1;
	return sqlite3_column_int(st, 0);
}

void db_close(isola_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->h);
	free(db);
}

int db_open_at(const char *path, int version, isola_db **out, isola_error *err)
{
	_cleanup_db_ isola_db *db = calloc(1, sizeof *db);
	if (!db)
		return isola_err(err, ENOMEM, "open %s", path);
	snprintf(db->path, sizeof db->path, "%s", path);
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK)
		return isola_err(err, EIO, "open database %s: %s", path, db->h ? sqlite3_errmsg(db->h) : "no memory");
	sqlite3_busy_timeout(db->h, 10000);
	/* WAL: readers (list, info) never block the writer; synchronous=NORMAL is durable across process
	 * crashes in WAL mode (a power cut may lose the last commit, never corrupt) — sqlite.org/wal.html */
	if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", err) < 0)
		return -1;
	int have = db_version(db);
	if (have < 0)
		return sql_err(db, err, "read schema version");
	if (have > DB_SCHEMA_VERSION)
		return isola_err(err, EPROTO, "database %s has schema version %d, newer than this isola (%d)", path,
		                 have, DB_SCHEMA_VERSION);
	for (int v = have + 1; v <= version && v <= DB_SCHEMA_VERSION; v++) {
		if (db_begin(db, err) < 0)
			return -1;
		/* another process may have migrated while we waited for the write lock */
		if (db_version(db) >= v) {
			db_rollback(db);
			continue;
		}
		char tail[160];
		snprintf(
		    tail, sizeof tail,
		    ";INSERT INTO schema_migrations (version, applied_at) VALUES (%d, %lld); PRAGMA user_version=%d;",
		    v, (long long)time(NULL), v);
		/* v3 carries data out of the database: the old table's ranges into the host allocator, inside
		 * this transaction, so a failure leaves the table (and the next open tries again) */
		if ((v == 3 && idmap_migrate_v3(db, err) < 0) || db_exec(db, migrations[v - 1], err) < 0 ||
		    db_exec(db, tail, err) < 0) {
			db_rollback(db);
			return isola_err_wrap(err, "migrate database to schema version %d", v);
		}
		if (db_commit(db, err) < 0) {
			db_rollback(db);
			return -1;
		}
	}
	*out = steal_ptr(&db);
	return 0;
}

int db_open(const char *path, isola_db **out, isola_error *err)
{
	return db_open_at(path, DB_SCHEMA_VERSION, out, err);
}

/* ---- helpers ---- */

static json_t *col_json(sqlite3_stmt *st, int i, bool array)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	if (!j || (array ? !json_is_array(j) : !json_is_object(j))) {
		json_decref(j);
		j = array ? json_array() : json_object();
	}
	return j;
}

static int bind_json(sqlite3_stmt *st, int i, json_t *j, bool array)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : strdup(array ? "[]" : "{}");
	return sqlite3_bind_text(st, i, s ? s : "{}", -1, free);
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	snprintf(dst, len, "%s", t ? t : "");
}

/* ---- instances ---- */

static const char *const status_names[] = {"Creating", "Stopped", "Running", "Frozen", "Broken"};

const char *instance_status_name(enum instance_status s)
{
	return status_names[s];
}

int instance_status_parse(const char *s, enum instance_status *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
		if (!strcmp(s, status_names[i]))
			return *out = (enum instance_status)i, 0;
	return -1;
}

void instance_rec_clear(struct instance_rec *r)
{
	free(r->description);
	json_decref(r->config);
	json_decref(r->devices);
	json_decref(r->profiles);
	memset(r, 0, sizeof *r);
}

void instance_list_free(struct instance_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		instance_rec_clear(&v[i]);
	free(v);
}

#define INSTANCE_COLS                                                                                                  \
	"id, name, type, status, image, pool, description, config, devices, ephemeral, created_at, last_used_at"

static int instance_profiles_load(isola_db *db, struct instance_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
	            "SELECT p.name FROM instance_profiles ip JOIN profiles p ON p.id = ip.profile_id "
	            "WHERE ip.instance_id = ? ORDER BY ip.position",
	            &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, r->id);
	r->profiles = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(r->profiles, json_string((const char *)sqlite3_column_text(st, 0)));
	return rc == SQLITE_DONE ? 0 : sql_err(db, err, "read instance profiles");
}

static int instance_from_row(isola_db *db, sqlite3_stmt *st, struct instance_rec *r, isola_error *err)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	copy_col(r->name, sizeof r->name, st, 1);
	isola_error ignored;
	const char *type = (const char *)sqlite3_column_text(st, 2);
	if (instance_type_parse(type ? type : "", &r->type, &ignored) < 0)
		r->type = INSTANCE_CONTAINER;
	const char *status = (const char *)sqlite3_column_text(st, 3);
	if (!status || instance_status_parse(status, &r->status) < 0)
		r->status = STATUS_BROKEN;
	copy_col(r->image, sizeof r->image, st, 4);
	copy_col(r->pool, sizeof r->pool, st, 5);
	const char *d = (const char *)sqlite3_column_text(st, 6);
	r->description = strdup(d ? d : "");
	r->config = col_json(st, 7, false);
	r->devices = col_json(st, 8, false);
	r->ephemeral = sqlite3_column_int(st, 9) != 0;
	r->created_at = sqlite3_column_int64(st, 10);
	r->last_used_at = sqlite3_column_int64(st, 11);
	return instance_profiles_load(db, r, err);
}

int db_instance_get(isola_db *db, const char *name, struct instance_rec *out, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT " INSTANCE_COLS " FROM instances WHERE name = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return isola_err(err, ENOENT, "instance \"%s\" not found", name);
	if (rc != SQLITE_ROW)
		return sql_err(db, err, "read instance");
	return instance_from_row(db, st, out, err);
}

static int instance_profiles_store(isola_db *db, const struct instance_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *del = NULL, *ins = NULL;
	if (prepare(db, "DELETE FROM instance_profiles WHERE instance_id = ?", &del, err) < 0)
		return -1;
	sqlite3_bind_int64(del, 1, r->id);
	if (sqlite3_step(del) != SQLITE_DONE)
		return sql_err(db, err, "write instance profiles");
	if (prepare(db,
	            "INSERT INTO instance_profiles (instance_id, profile_id, position) "
	            "SELECT ?, id, ? FROM profiles WHERE name = ?",
	            &ins, err) < 0)
		return -1;
	size_t i;
	json_t *p;
	json_array_foreach(r->profiles, i, p)
	{
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, r->id);
		sqlite3_bind_int64(ins, 2, (sqlite3_int64)i);
		sqlite3_bind_text(ins, 3, json_string_value(p), -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return sql_err(db, err, "write instance profiles");
		if (sqlite3_changes(db->h) != 1)
			return isola_err(err, ENOENT, "profile \"%s\" not found", json_string_value(p));
	}
	return 0;
}

static void instance_bind(sqlite3_stmt *st, const struct instance_rec *r)
{
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, instance_type_name(r->type), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, instance_status_name(r->status), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->image, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->pool, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->description ? r->description : "", -1, SQLITE_STATIC);
	bind_json(st, 7, r->config, false);
	bind_json(st, 8, r->devices, false);
	sqlite3_bind_int(st, 9, r->ephemeral);
	sqlite3_bind_int64(st, 10, r->created_at);
	sqlite3_bind_int64(st, 11, r->last_used_at);
}

int db_instance_insert(isola_db *db, struct instance_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
	            "INSERT INTO instances (name, type, status, image, pool, description, config, devices, ephemeral,"
	            " created_at, last_used_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
	            &st, err) < 0)
		return -1;
	instance_bind(st, r);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db->h) == SQLITE_CONSTRAINT)
			return isola_err(err, EEXIST, "instance \"%s\" already exists", r->name);
		return sql_err(db, err, "insert instance");
	}
	r->id = sqlite3_last_insert_rowid(db->h);
	return instance_profiles_store(db, r, err);
}

int db_instance_update(isola_db *db, const struct instance_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(
	        db,
	        "UPDATE instances SET name=?, type=?, status=?, image=?, pool=?, description=?, config=?, devices=?,"
	        " ephemeral=?, created_at=?, last_used_at=? WHERE id=?",
	        &st, err) < 0)
		return -1;
	instance_bind(st, r);
	sqlite3_bind_int64(st, 12, r->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db->h) == SQLITE_CONSTRAINT)
			return isola_err(err, EEXIST, "instance \"%s\" already exists", r->name);
		return sql_err(db, err, "update instance");
	}
	return instance_profiles_store(db, r, err);
}

int db_instance_set_status(isola_db *db, int64_t id, enum instance_status s, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
	            "UPDATE instances SET status=?, last_used_at=CASE WHEN ?='Running' THEN ? ELSE last_used_at END"
	            " WHERE id=?",
	            &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, instance_status_name(s), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, instance_status_name(s), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 4, id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(db, err, "update instance status");
}

int db_instance_delete(isola_db *db, int64_t id, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "DELETE FROM instances WHERE id = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(db, err, "delete instance");
}

int db_instance_list(isola_db *db, struct instance_rec **out, size_t *n, isola_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT " INSTANCE_COLS " FROM instances ORDER BY name", &st, err) < 0)
		return -1;
	struct instance_rec *v = NULL;
	size_t cnt = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct instance_rec *nv = realloc(v, (cnt + 1) * sizeof *v);
		if (!nv) {
			instance_list_free(v, cnt);
			return isola_err(err, ENOMEM, "list instances");
		}
		v = nv;
		if (instance_from_row(db, st, &v[cnt++], err) < 0) {
			instance_list_free(v, cnt);
			return -1;
		}
	}
	if (rc != SQLITE_DONE) {
		instance_list_free(v, cnt);
		return sql_err(db, err, "list instances");
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- profiles ---- */

void profile_rec_clear(struct profile_rec *r)
{
	free(r->description);
	json_decref(r->config);
	json_decref(r->devices);
	memset(r, 0, sizeof *r);
}

void profile_list_free(struct profile_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		profile_rec_clear(&v[i]);
	free(v);
}

static void profile_from_row(sqlite3_stmt *st, struct profile_rec *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	copy_col(r->name, sizeof r->name, st, 1);
	const char *d = (const char *)sqlite3_column_text(st, 2);
	r->description = strdup(d ? d : "");
	r->config = col_json(st, 3, false);
	r->devices = col_json(st, 4, false);
}

int db_profile_get(isola_db *db, const char *name, struct profile_rec *out, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT id, name, description, config, devices FROM profiles WHERE name = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return isola_err(err, ENOENT, "profile \"%s\" not found", name);
	if (rc != SQLITE_ROW)
		return sql_err(db, err, "read profile");
	profile_from_row(st, out);
	return 0;
}

int db_profile_insert(isola_db *db, struct profile_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "INSERT INTO profiles (name, description, config, devices) VALUES (?,?,?,?)", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->description ? r->description : "", -1, SQLITE_STATIC);
	bind_json(st, 3, r->config, false);
	bind_json(st, 4, r->devices, false);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db->h) == SQLITE_CONSTRAINT)
			return isola_err(err, EEXIST, "profile \"%s\" already exists", r->name);
		return sql_err(db, err, "insert profile");
	}
	r->id = sqlite3_last_insert_rowid(db->h);
	return 0;
}

int db_profile_update(isola_db *db, const struct profile_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "UPDATE profiles SET name=?, description=?, config=?, devices=? WHERE id=?", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->description ? r->description : "", -1, SQLITE_STATIC);
	bind_json(st, 3, r->config, false);
	bind_json(st, 4, r->devices, false);
	sqlite3_bind_int64(st, 5, r->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db->h) == SQLITE_CONSTRAINT)
			return isola_err(err, EEXIST, "profile \"%s\" already exists", r->name);
		return sql_err(db, err, "update profile");
	}
	return 0;
}

json_t *db_profile_used_by(isola_db *db, const char *name, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
	            "SELECT i.name FROM instances i JOIN instance_profiles ip ON ip.instance_id = i.id "
	            "JOIN profiles p ON p.id = ip.profile_id WHERE p.name = ? ORDER BY i.name",
	            &st, err) < 0)
		return NULL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	json_t *a = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
	return a;
}

int db_profile_delete(isola_db *db, const char *name, isola_error *err)
{
	if (!strcmp(name, "default"))
		return isola_err(err, EPERM, "profile \"default\" cannot be deleted");
	_cleanup_json_ json_t *users = db_profile_used_by(db, name, err);
	if (!users)
		return -1;
	if (json_array_size(users)) {
		_cleanup_free_ char *s = json_dumps(users, JSON_COMPACT);
		return isola_err(err, EBUSY, "profile \"%s\" is in use by %s", name, s ? s : "instances");
	}
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "DELETE FROM profiles WHERE name = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db->h) == SQLITE_CONSTRAINT)
			return isola_err(err, EBUSY, "profile \"%s\" is in use", name);
		return sql_err(db, err, "delete profile");
	}
	if (sqlite3_changes(db->h) == 0)
		return isola_err(err, ENOENT, "profile \"%s\" not found", name);
	return 0;
}

int db_profile_list(isola_db *db, struct profile_rec **out, size_t *n, isola_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT id, name, description, config, devices FROM profiles ORDER BY name", &st, err) < 0)
		return -1;
	struct profile_rec *v = NULL;
	size_t cnt = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct profile_rec *nv = realloc(v, (cnt + 1) * sizeof *v);
		if (!nv) {
			profile_list_free(v, cnt);
			return isola_err(err, ENOMEM, "list profiles");
		}
		v = nv;
		profile_from_row(st, &v[cnt++]);
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- storage pools ---- */

void pool_rec_clear(struct pool_rec *r)
{
	json_decref(r->config);
	memset(r, 0, sizeof *r);
}

void pool_list_free(struct pool_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		pool_rec_clear(&v[i]);
	free(v);
}

static void pool_from_row(sqlite3_stmt *st, struct pool_rec *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	copy_col(r->name, sizeof r->name, st, 1);
	copy_col(r->driver, sizeof r->driver, st, 2);
	copy_col(r->source, sizeof r->source, st, 3);
	r->config = col_json(st, 4, false);
}

int db_pool_get(isola_db *db, const char *name, struct pool_rec *out, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT id, name, driver, source, config FROM storage_pools WHERE name = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return isola_err(err, ENOENT, "storage pool \"%s\" not found", name);
	if (rc != SQLITE_ROW)
		return sql_err(db, err, "read storage pool");
	pool_from_row(st, out);
	return 0;
}

int db_pool_insert(isola_db *db, struct pool_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "INSERT INTO storage_pools (name, driver, source, config) VALUES (?,?,?,?)", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->driver, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->source, -1, SQLITE_STATIC);
	bind_json(st, 4, r->config, false);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db->h) == SQLITE_CONSTRAINT)
			return isola_err(err, EEXIST, "storage pool \"%s\" already exists", r->name);
		return sql_err(db, err, "insert storage pool");
	}
	r->id = sqlite3_last_insert_rowid(db->h);
	return 0;
}

int db_pool_list(isola_db *db, struct pool_rec **out, size_t *n, isola_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT id, name, driver, source, config FROM storage_pools ORDER BY name", &st, err) < 0)
		return -1;
	struct pool_rec *v = NULL;
	size_t cnt = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct pool_rec *nv = realloc(v, (cnt + 1) * sizeof *v);
		if (!nv) {
			pool_list_free(v, cnt);
			return isola_err(err, ENOMEM, "list storage pools");
		}
		v = nv;
		pool_from_row(st, &v[cnt++]);
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- networks ---- */

int db_network_add(isola_db *db, const char *name, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "INSERT OR IGNORE INTO networks (name) VALUES (?)", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(db, err, "record network");
}

int db_network_remove(isola_db *db, const char *name, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "DELETE FROM networks WHERE name = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(db, err, "forget network");
}

bool db_network_known(isola_db *db, const char *name)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, "SELECT 1 FROM networks WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW;
}

/* ---- snapshots ---- */

void snapshot_rec_clear(struct snapshot_rec *r)
{
	json_decref(r->config);
	json_decref(r->devices);
	json_decref(r->profiles);
	memset(r, 0, sizeof *r);
}

void snapshot_list_free(struct snapshot_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		snapshot_rec_clear(&v[i]);
	free(v);
}

#define SNAP_COLS "id, instance_id, name, created_at, expires_at, config, devices, profiles"

static void snapshot_from_row(sqlite3_stmt *st, struct snapshot_rec *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	r->instance_id = sqlite3_column_int64(st, 1);
	copy_col(r->name, sizeof r->name, st, 2);
	r->created_at = sqlite3_column_int64(st, 3);
	r->expires_at = sqlite3_column_int64(st, 4);
	r->config = col_json(st, 5, false);
	r->devices = col_json(st, 6, false);
	r->profiles = col_json(st, 7, true);
}

int db_snapshot_insert(isola_db *db, struct snapshot_rec *r, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
	            "INSERT INTO snapshots (instance_id, name, created_at, expires_at, config, devices, profiles)"
	            " VALUES (?,?,?,?,?,?,?)",
	            &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, r->instance_id);
	sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->created_at);
	sqlite3_bind_int64(st, 4, r->expires_at);
	bind_json(st, 5, r->config, false);
	bind_json(st, 6, r->devices, false);
	bind_json(st, 7, r->profiles, true);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db->h) == SQLITE_CONSTRAINT)
			return isola_err(err, EEXIST, "snapshot \"%s\" already exists", r->name);
		return sql_err(db, err, "insert snapshot");
	}
	r->id = sqlite3_last_insert_rowid(db->h);
	return 0;
}

int db_snapshot_get(isola_db *db, int64_t instance_id, const char *name, struct snapshot_rec *out, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT " SNAP_COLS " FROM snapshots WHERE instance_id = ? AND name = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, instance_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return isola_err(err, ENOENT, "snapshot \"%s\" not found", name);
	if (rc != SQLITE_ROW)
		return sql_err(db, err, "read snapshot");
	snapshot_from_row(st, out);
	return 0;
}

int db_snapshot_delete(isola_db *db, int64_t id, isola_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "DELETE FROM snapshots WHERE id = ?", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(db, err, "delete snapshot");
}

int db_snapshot_list(isola_db *db, int64_t instance_id, struct snapshot_rec **out, size_t *n, isola_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT " SNAP_COLS " FROM snapshots WHERE instance_id = ? ORDER BY created_at, id", &st, err) <
	    0)
		return -1;
	sqlite3_bind_int64(st, 1, instance_id);
	struct snapshot_rec *v = NULL;
	size_t cnt = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct snapshot_rec *nv = realloc(v, (cnt + 1) * sizeof *v);
		if (!nv) {
			snapshot_list_free(v, cnt);
			return isola_err(err, ENOMEM, "list snapshots");
		}
		v = nv;
		snapshot_from_row(st, &v[cnt++]);
	}
	*out = v;
	*n = cnt;
	return 0;
}
