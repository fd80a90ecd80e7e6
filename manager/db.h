/* State database: one SQLite file ($ISOLA_DIR/isola.db), WAL journal, foreign keys on.
 *
 * The schema is versioned: db_migrations[] holds every step from an empty file, each applied in its own
 * transaction and recorded in the `schema_migrations` table (version, applied_at) and PRAGMA user_version.
 * Opening a database runs the steps it lacks; a database newer than this binary is refused rather than
 * guessed at. Config and devices are stored as JSON text (Incus keeps them in key/value tables; a JSON
 * column is simpler and still transactional).
 *
 * Concurrency: SQLite serialises writers itself (busy_timeout 10 s); what must not interleave across a
 * whole command (two `isola` on one instance) is serialised by manager/lock.h, not here. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <sqlite3.h>
#include "cleanup.h"
#include "config.h"
#include "error.h"

#define DB_SCHEMA_VERSION 3

typedef struct isola_db {
	sqlite3 *h;
	char path[4096];
} isola_db;

/* The SQL of migration v (1-based), for tests that build an old database by hand. */
const char *db_migration_sql(int v);

/* Open (creating) and migrate to DB_SCHEMA_VERSION. */
int db_open(const char *path, isola_db **out, isola_error *err);
/* Open and migrate only up to `version` (tests: build an older database). */
int db_open_at(const char *path, int version, isola_db **out, isola_error *err);
void db_close(isola_db *db);
DEFINE_CLEANUP(isola_db *, db_close)
#define _cleanup_db_ _cleanup_(db_closep)
int db_version(isola_db *db);
int db_exec(isola_db *db, const char *sql, isola_error *err);
int db_begin(isola_db *db, isola_error *err); /* BEGIN IMMEDIATE: take the write lock now */
int db_commit(isola_db *db, isola_error *err);
void db_rollback(isola_db *db);

/* ---- instances ---- */
enum instance_status {
	STATUS_CREATING, /* a launch/copy is under way (or died: see instance_effective_status) */
	STATUS_STOPPED,
	STATUS_RUNNING,
	STATUS_FROZEN,
	STATUS_BROKEN, /* a create died half-way; only delete is allowed */
};
const char *instance_status_name(enum instance_status s); /* "Creating", "Stopped", ... (Incus spelling) */
int instance_status_parse(const char *s, enum instance_status *out);

struct instance_rec {
	int64_t id;
	char name[64];
	enum instance_type type;
	enum instance_status status;
	char image[80]; /* fingerprint of the image it came from, "" if none */
	char pool[64];
	char *description;
	json_t *config;   /* local config (not stacked) */
	json_t *devices;  /* local devices */
	json_t *profiles; /* array of profile names, in stacking order */
	bool ephemeral;
	int64_t created_at; /* unix seconds */
	int64_t last_used_at;
};
void instance_rec_clear(struct instance_rec *r);

int db_instance_get(isola_db *db, const char *name, struct instance_rec *out, isola_error *err); /* ENOENT */
/* Insert r (r->id is set). EEXIST when the name is taken. Profiles must exist (ENOENT names the one). */
int db_instance_insert(isola_db *db, struct instance_rec *r, isola_error *err);
/* Rewrite every column of the row with id r->id (rename included). */
int db_instance_update(isola_db *db, const struct instance_rec *r, isola_error *err);
int db_instance_set_status(isola_db *db, int64_t id, enum instance_status s, isola_error *err);
int db_instance_delete(isola_db *db, int64_t id, isola_error *err);
/* All instances by name; *out is an array of *n records (free each with instance_rec_clear, then free). */
int db_instance_list(isola_db *db, struct instance_rec **out, size_t *n, isola_error *err);
void instance_list_free(struct instance_rec *v, size_t n);

/* ---- profiles ---- */
struct profile_rec {
	int64_t id;
	char name[64];
	char *description;
	json_t *config;
	json_t *devices;
};
void profile_rec_clear(struct profile_rec *r);
int db_profile_get(isola_db *db, const char *name, struct profile_rec *out, isola_error *err);
int db_profile_insert(isola_db *db, struct profile_rec *r, isola_error *err);
int db_profile_update(isola_db *db, const struct profile_rec *r, isola_error *err);
/* EBUSY (naming the instances) when an instance uses it; EPERM for "default". */
int db_profile_delete(isola_db *db, const char *name, isola_error *err);
int db_profile_list(isola_db *db, struct profile_rec **out, size_t *n, isola_error *err);
void profile_list_free(struct profile_rec *v, size_t n);
/* Names of the instances using the profile (new JSON array). */
json_t *db_profile_used_by(isola_db *db, const char *name, isola_error *err);

/* ---- storage pools ---- */
struct pool_rec {
	int64_t id;
	char name[64];
	char driver[16]; /* "dir" | "btrfs" */
	char source[4096];
	json_t *config;
};
void pool_rec_clear(struct pool_rec *r);
int db_pool_get(isola_db *db, const char *name, struct pool_rec *out, isola_error *err);
int db_pool_insert(isola_db *db, struct pool_rec *r, isola_error *err);
int db_pool_list(isola_db *db, struct pool_rec **out, size_t *n, isola_error *err);
void pool_list_free(struct pool_rec *v, size_t n);

/* ---- networks isola manages (the network itself lives in isola-netd) ---- */
int db_network_add(isola_db *db, const char *name, isola_error *err);
int db_network_remove(isola_db *db, const char *name, isola_error *err);
bool db_network_known(isola_db *db, const char *name);

/* ---- snapshots ---- */
struct snapshot_rec {
	int64_t id, instance_id;
	char name[64];
	int64_t created_at, expires_at;      /* expires_at 0: never */
	json_t *config, *devices, *profiles; /* the instance's own config at snapshot time (restored with it) */
};
void snapshot_rec_clear(struct snapshot_rec *r);
int db_snapshot_insert(isola_db *db, struct snapshot_rec *r, isola_error *err);
int db_snapshot_get(isola_db *db, int64_t instance_id, const char *name, struct snapshot_rec *out, isola_error *err);
int db_snapshot_delete(isola_db *db, int64_t id, isola_error *err);
int db_snapshot_list(isola_db *db, int64_t instance_id, struct snapshot_rec **out, size_t *n, isola_error *err);
void snapshot_list_free(struct snapshot_rec *v, size_t n);
