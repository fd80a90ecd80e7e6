/* Snapshots: storage does the copy (btrfs subvolume snapshot, or the upper layer reflinked on dir); the
 * database remembers the instance's own config, devices and profiles at that moment, restored with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cleanup.h"
#include "config.h"
#include "container.h"
#include "cron.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "manager.h"
#include "name.h"
#include "storage.h"
#include "vm.h"

static int next_name(struct manager *m, const struct instance_rec *r, json_t *cfg, char *out, size_t len,
                     isola_error *err)
{
	const char *pattern = json_string_value(json_object_get(cfg, "snapshots.pattern"));
	if (!pattern)
		pattern = "snap%d";
	for (int i = 0; i < 100000; i++) {
		/* the pattern was validated to hold one %d */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(out, len, pattern, i);
#pragma GCC diagnostic pop
		struct snapshot_rec s;
		isola_error e;
		if (db_snapshot_get(m->db, r->id, out, &s, &e) < 0)
			return 0;
		snapshot_rec_clear(&s);
	}
	return isola_err(err, ENOSPC, "instance %s: no free snapshot name for pattern %s", r->name, pattern);
}

/* The caller holds the lock. */
static int create_locked(struct manager *m, const struct instance_rec *r, const char *snap, char *made, size_t len,
                         time_t now, isola_error *err)
{
	_cleanup_json_ json_t *cfg = NULL;
	if (instance_effective(m, r, &cfg, NULL, err) < 0)
		return -1;
	char name[64];
	if (snap) {
		if (object_name_check("snapshot", snap, err) < 0)
			return -1;
		snprintf(name, sizeof name, "%s", snap);
	} else if (next_name(m, r, cfg, name, sizeof name, err) < 0) {
		return -1;
	}
	struct snapshot_rec s = {0};
	if (db_snapshot_get(m->db, r->id, name, &s, err) == 0) {
		snapshot_rec_clear(&s);
		return isola_err(err, EEXIST, "instance %s: snapshot \"%s\" already exists", r->name, name);
	}
	struct pool_rec pool;
	if (db_pool_get(m->db, r->pool, &pool, err) < 0)
		return -1;
	int rc = storage_snapshot_create(&pool, r->name, r->type, name, err);
	if (rc == 0) {
		snprintf(s.name, sizeof s.name, "%s", name);
		s.instance_id = r->id;
		s.created_at = now;
		struct expiry ex;
		isola_error e;
		if (expiry_parse(json_string_value(json_object_get(cfg, "snapshots.expiry")), &ex, &e) == 0)
			s.expires_at = expiry_apply(&ex, s.created_at);
		s.config = json_incref(r->config);
		s.devices = json_incref(r->devices);
		s.profiles = json_incref(r->profiles);
		rc = db_snapshot_insert(m->db, &s, err);
		if (rc < 0) {
			isola_error e2;
			storage_snapshot_delete(&pool, r->name, r->type, name, &e2);
		}
		snapshot_rec_clear(&s);
	}
	pool_rec_clear(&pool);
	if (rc == 0 && made)
		snprintf(made, len, "%s", name);
	return rc;
}

static int lock_get(struct manager *m, const char *name, struct instance_rec *r, int *lock, isola_error *err)
{
	if (instance_name_check(name, err) < 0)
		return -1;
	*lock = instance_lock(name, err);
	if (*lock < 0)
		return -1;
	if (db_instance_get(m->db, name, r, err) < 0)
		return -1;
	if (r->status == STATUS_CREATING || r->status == STATUS_BROKEN)
		return instance_rec_clear(r), isola_err(err, EIO, "instance \"%s\" is broken; delete it", name);
	return 0;
}

int snapshot_create(struct manager *m, const char *name, const char *snap, char *made, size_t len, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (lock_get(m, name, &r, &lock, err) < 0)
		return -1;
	int rc = create_locked(m, &r, snap, made, len, time(NULL), err);
	instance_rec_clear(&r);
	return rc;
}

int snapshot_restore(struct manager *m, const char *name, const char *snap, isola_error *err)
{
	struct instance_rec r;
	bool was_running = false;
	{
		_cleanup_close_ int lock = -1;
		if (lock_get(m, name, &r, &lock, err) < 0)
			return -1;
		struct snapshot_rec s;
		if (db_snapshot_get(m->db, r.id, snap, &s, err) < 0) {
			instance_rec_clear(&r);
			return isola_err_wrap(err, "instance %s", name);
		}
		struct pool_rec pool;
		int rc = db_pool_get(m->db, r.pool, &pool, err);
		if (rc == 0) {
			/* Incus restores a running instance by stopping and starting it around the restore */
			enum instance_status st = instance_status_now(m, &r);
			if (st == STATUS_RUNNING || st == STATUS_FROZEN) {
				was_running = true;
				rc = r.type == INSTANCE_VM ? vm_stop(m, &r, false, 30, err)
				                           : container_stop(m, &r, false, 30, err);
			}
			if (rc == 0 && r.type == INSTANCE_CONTAINER)
				rc = storage_rootfs_unmount(&pool, r.name, err);
			if (rc == 0)
				rc = storage_snapshot_restore(&pool, r.name, r.type, snap, err);
			if (rc == 0) {
				json_decref(r.config), r.config = json_incref(s.config);
				json_decref(r.devices), r.devices = json_incref(s.devices);
				if (json_array_size(s.profiles))
					json_decref(r.profiles), r.profiles = json_incref(s.profiles);
				rc = db_instance_update(m->db, &r, err);
			}
			pool_rec_clear(&pool);
		}
		snapshot_rec_clear(&s);
		instance_rec_clear(&r);
		if (rc < 0)
			return isola_err_wrap(err, "restore %s/%s", name, snap);
	}
	if (was_running)
		return instance_start(m, name, false, err);
	return 0;
}

static int delete_locked(struct manager *m, const struct instance_rec *r, const char *snap, isola_error *err)
{
	struct snapshot_rec s;
	if (db_snapshot_get(m->db, r->id, snap, &s, err) < 0)
		return isola_err_wrap(err, "instance %s", r->name);
	struct pool_rec pool;
	int rc = db_pool_get(m->db, r->pool, &pool, err);
	if (rc == 0) {
		rc = storage_snapshot_delete(&pool, r->name, r->type, snap, err);
		if (rc == 0)
			rc = db_snapshot_delete(m->db, s.id, err);
		pool_rec_clear(&pool);
	}
	snapshot_rec_clear(&s);
	return rc;
}

int snapshot_delete(struct manager *m, const char *name, const char *snap, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (lock_get(m, name, &r, &lock, err) < 0)
		return -1;
	int rc = delete_locked(m, &r, snap, err);
	instance_rec_clear(&r);
	return rc;
}

int snapshot_tick(struct manager *m, time_t now, isola_error *err)
{
	struct instance_rec *v;
	size_t n;
	if (db_instance_list(m->db, &v, &n, err) < 0)
		return -1;
	int done = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].status == STATUS_CREATING || v[i].status == STATUS_BROKEN)
			continue;
		_cleanup_close_ int lock = instance_trylock(v[i].name, err);
		if (lock < 0)
			continue; /* busy: the next tick gets it */
		_cleanup_json_ json_t *cfg = NULL;
		isola_error e;
		if (instance_effective(m, &v[i], &cfg, NULL, &e) < 0)
			continue;
		/* expired ones first, so a snapshot made by this very tick is never judged by it */
		struct snapshot_rec *sv;
		size_t sn;
		if (db_snapshot_list(m->db, v[i].id, &sv, &sn, &e) == 0) {
			for (size_t k = 0; k < sn; k++)
				if (sv[k].expires_at && sv[k].expires_at <= now) {
					if (delete_locked(m, &v[i], sv[k].name, &e) == 0)
						done++;
					else
						log_warn("expire snapshot %s/%s: %s", v[i].name, sv[k].name, e.msg);
				}
			snapshot_list_free(sv, sn);
		}
		const char *sched = json_string_value(json_object_get(cfg, "snapshots.schedule"));
		struct cron_schedule cs;
		if (sched && cron_parse(sched, &cs, &e) == 0 && cron_matches(&cs, now)) {
			char made[64];
			if (create_locked(m, &v[i], NULL, made, sizeof made, now, &e) == 0)
				done++;
			else
				log_warn("scheduled snapshot of %s: %s", v[i].name, e.msg);
		}
	}
	instance_list_free(v, n);
	return done;
}
