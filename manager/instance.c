/* Instance records and the verbs that need no running container: create, delete, rename, copy, config,
 * devices, profiles. Lifecycle verbs dispatch to container.c (and vm.c). */
#include "manager.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cleanup.h"
#include "config.h"
#include "container.h"
#include "daemons.h"
#include "fsutil.h"
#include "idmap.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "name.h"
#include "paths.h"
#include "storage.h"
#include "vm.h"

DEFINE_CLEANUP(struct instance_rec *, instance_rec_clear)

int manager_open(struct manager *m, isola_error *err)
{
	memset(m, 0, sizeof *m);
	const char *dir = isola_dir();
	if (mkdir(dir, 0711) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", dir);
	char p[4096];
	isola_path(p, sizeof p, "instances");
	if (mkdir(p, 0711) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", p);
	isola_path(p, sizeof p, "isola.db");
	return db_open(p, &m->db, err);
}

void manager_close(struct manager *m)
{
	db_close(m->db);
	m->db = NULL;
}

void instance_netd_name(const struct instance_rec *r, char *out, size_t len)
{
	/* netd names are ≤ 15 bytes (an interface name's limit); longer instance names use their id */
	if (strlen(r->name) <= 15)
		snprintf(out, len, "%s", r->name);
	else
		snprintf(out, len, "i%lld", (long long)r->id);
}

void instance_layer_holder(const char *name, char *out, size_t len)
{
	snprintf(out, len, "instance:%s", name);
}

int instance_status_code(enum instance_status s)
{
	switch (s) {
	case STATUS_CREATING: return 105; /* Pending */
	case STATUS_STOPPED: return 102;
	case STATUS_RUNNING: return 103;
	case STATUS_FROZEN: return 110;
	case STATUS_BROKEN: return 112; /* Error */
	}
	return 112;
}

/* ---- reading ---- */

static int profiles_load(struct manager *m, json_t *names, json_t ***cfgs, json_t ***devs, size_t *n, isola_error *err)
{
	size_t cnt = json_array_size(names);
	*cfgs = calloc(cnt + 1, sizeof **cfgs);
	*devs = calloc(cnt + 1, sizeof **devs);
	*n = 0;
	if (!*cfgs || !*devs)
		return isola_err(err, ENOMEM, "profiles");
	for (size_t i = 0; i < cnt; i++) {
		struct profile_rec p;
		if (db_profile_get(m->db, json_string_value(json_array_get(names, i)), &p, err) < 0)
			return -1;
		(*cfgs)[i] = json_incref(p.config);
		(*devs)[i] = json_incref(p.devices);
		profile_rec_clear(&p);
		(*n)++;
	}
	return 0;
}

static void profiles_free(json_t **cfgs, json_t **devs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(cfgs ? cfgs[i] : NULL);
		json_decref(devs ? devs[i] : NULL);
	}
	free(cfgs);
	free(devs);
}

static int stack(struct manager *m, json_t *profiles, json_t *local_cfg, json_t *local_devs, json_t **config,
                 json_t **devices, isola_error *err)
{
	json_t **cfgs = NULL, **devs = NULL;
	size_t n = 0;
	int r = profiles_load(m, profiles, &cfgs, &devs, &n, err);
	if (r == 0) {
		if (config)
			*config = config_stack(cfgs, n, local_cfg);
		if (devices)
			*devices = config_stack(devs, n, local_devs);
	}
	profiles_free(cfgs, devs, n);
	return r;
}

int instance_effective(struct manager *m, const struct instance_rec *r, json_t **config, json_t **devices,
                       isola_error *err)
{
	return stack(m, r->profiles, r->config, r->devices, config, devices, err);
}

static bool running_now(struct manager *m, const struct instance_rec *r, pid_t *pid, bool *frozen)
{
	if (r->type != INSTANCE_VM)
		return container_running(m, r, pid, frozen);
	if (frozen)
		*frozen = r->status == STATUS_FROZEN; /* the VMM's pause is recorded by vm_freeze */
	return vm_running(m, r, pid);
}

enum instance_status instance_status_now(struct manager *m, const struct instance_rec *r)
{
	if (r->status == STATUS_CREATING)
		return instance_lock_held(r->name) ? STATUS_CREATING : STATUS_BROKEN;
	if (r->status == STATUS_BROKEN)
		return STATUS_BROKEN;
	pid_t pid;
	bool frozen = false;
	if (running_now(m, r, &pid, &frozen))
		return frozen ? STATUS_FROZEN : STATUS_RUNNING;
	return STATUS_STOPPED;
}

static json_t *rfc3339(int64_t t)
{
	if (!t)
		return json_string("1970-01-01T00:00:00Z");
	char buf[40];
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

json_t *instance_json(struct manager *m, const struct instance_rec *r, enum instance_json_level level, isola_error *err)
{
	_cleanup_json_ json_t *cfg = NULL, *devs = NULL;
	if (instance_effective(m, r, &cfg, &devs, err) < 0)
		return NULL;
	enum instance_status st = instance_status_now(m, r);
	json_t *o = json_pack("{ss sO sO sb sO sb ss so sO sO ss ss si so ss ss ss}", "architecture", "x86_64",
	                      "config", r->config, "devices", r->devices, "ephemeral", r->ephemeral, "profiles",
	                      r->profiles, "stateful", 0, "description", r->description ? r->description : "",
	                      "created_at", rfc3339(r->created_at), "expanded_config", cfg, "expanded_devices", devs,
	                      "name", r->name, "status", instance_status_name(st), "status_code",
	                      instance_status_code(st), "last_used_at", rfc3339(r->last_used_at), "location", "none",
	                      "type", instance_type_name(r->type), "project", "default");
	if (!o)
		return isola_err(err, ENOMEM, "instance %s", r->name), NULL;
	json_t *snaps = json_array();
	struct snapshot_rec *sv;
	size_t sn;
	if (db_snapshot_list(m->db, r->id, &sv, &sn, err) == 0) {
		for (size_t i = 0; i < sn; i++)
			json_array_append_new(snaps, json_string(sv[i].name));
		snapshot_list_free(sv, sn);
	}
	json_object_set_new(o, "snapshots", snaps);
	if (level != INSTANCE_JSON_PLAIN) {
		json_t *state = json_pack("{ss si si s{s{sI}} s{sIsIsI} s{} s{sI}}", "status", instance_status_name(st),
		                          "status_code", instance_status_code(st), "pid", 0, "disk", "root", "usage",
		                          (json_int_t)0, "memory", "usage", (json_int_t)0, "usage_peak", (json_int_t)0,
		                          "swap_usage", (json_int_t)0, "network", "cpu", "usage", (json_int_t)0);
		json_object_set_new(state, "processes", json_integer(0));
		struct pool_rec pool;
		isola_error e2;
		if (level == INSTANCE_JSON_STATE && db_pool_get(m->db, r->pool, &pool, &e2) == 0) {
			uint64_t used = 0;
			if (storage_volume_usage(&pool, r->name, r->type, &used, &e2) == 0)
				json_object_set_new(json_object_get(json_object_get(state, "disk"), "root"), "usage",
				                    json_integer((json_int_t)used));
			pool_rec_clear(&pool);
		}
		if (st == STATUS_RUNNING || st == STATUS_FROZEN) {
			if (r->type == INSTANCE_VM)
				vm_state(m, r, state);
			else
				container_state(m, r, state);
		}
		json_object_set_new(o, "state", state);
	}
	return o;
}

/* ---- create ---- */

struct undo {
	struct manager *m;
	struct instance_rec *rec;
	bool row, volume, layer;
	struct pool_rec *pool;
};

static void undo_run(struct undo *u)
{
	isola_error e;
	if (u->volume && storage_volume_delete(u->pool, u->rec->name, u->rec->type, &e) < 0)
		log_warn("undo: %s", e.msg);
	if (u->layer) {
		char holder[128];
		instance_layer_holder(u->rec->name, holder, sizeof holder);
		if (daemon_op(DAEMON_IMAGED, "layer.release",
		              json_pack("{ss ss}", "ref", u->rec->image, "holder", holder), NULL, NULL, NULL, &e) < 0)
			log_warn("undo: %s", e.msg);
	}
	if (u->row && idmap_release(u->m->db, u->rec->id, &e) < 0)
		log_warn("undo: %s", e.msg);
	if (u->row && db_instance_delete(u->m->db, u->rec->id, &e) < 0)
		log_warn("undo: %s", e.msg);
}

static int pool_for(struct manager *m, json_t *devices, struct pool_rec *pool, isola_error *err)
{
	const char *k;
	json_t *d;
	json_object_foreach(devices, k, d)
	{
		const char *type = json_string_value(json_object_get(d, "type"));
		const char *path = json_string_value(json_object_get(d, "path"));
		if (type && path && !strcmp(type, "disk") && !strcmp(path, "/")) {
			const char *p = json_string_value(json_object_get(d, "pool"));
			if (db_pool_get(m->db, p ? p : "", pool, err) < 0)
				return isola_err_wrap(err, "root disk \"%s\"", k);
			return 0;
		}
	}
	return isola_err(err, ENOENT,
	                 "no root disk: the profiles give none (run `isola admin init`, or use --storage POOL)");
}

/* fsutil progress → the manager's ipc-style progress callback ({"stage", "bytes", "total"}) */
static void copy_progress(uint64_t done, uint64_t total, void *ud)
{
	struct manager *m = ud;
	if (!m->progress)
		return;
	json_t *p = json_pack("{ss sI sI}", "stage", "copy", "bytes", (json_int_t)done, "total", (json_int_t)total);
	m->progress(p, m->progress_ud);
	json_decref(p);
}

int instance_create(struct manager *m, const struct create_opts *o, isola_error *err)
{
	if (instance_name_check(o->name, err) < 0)
		return -1;
	_cleanup_close_ int lock = instance_lock(o->name, err);
	if (lock < 0)
		return -1;
	struct instance_rec rec_store = {0};
	_cleanup_(instance_rec_clearp) struct instance_rec *rec = &rec_store;
	struct instance_rec existing;
	isola_error e2;
	if (db_instance_get(m->db, o->name, &existing, &e2) == 0) {
		instance_rec_clear(&existing);
		return isola_err(err, EEXIST, "instance \"%s\" already exists", o->name);
	}
	/* resolve the image before anything is recorded: an unknown image changes nothing */
	_cleanup_json_ json_t *shown = NULL;
	if (daemon_op(DAEMON_IMAGED, "image.show", json_pack("{ss}", "ref", o->image), &shown, NULL, NULL, err) < 0)
		return isola_err_wrap(err, "image \"%s\"", o->image);
	json_t *img = json_object_get(shown, "image");
	const char *fp = json_string_value(json_object_get(img, "fingerprint"));
	const char *itype = json_string_value(json_object_get(img, "type"));
	if (!fp || !itype)
		return isola_err(err, EPROTO, "isola-imaged: image.show reply lacks fingerprint/type");
	enum instance_type type;
	if (instance_type_parse(itype, &type, err) < 0)
		return -1;
	if (o->type_given && o->type != type)
		return isola_err(err, EINVAL, "image \"%s\" is a %s image, not a %s one", o->image, itype,
		                 instance_type_name(o->type));

	snprintf(rec->name, sizeof rec->name, "%s", o->name);
	rec->type = type;
	rec->status = STATUS_CREATING;
	snprintf(rec->image, sizeof rec->image, "%s", fp);
	rec->description = strdup(o->description ? o->description : "");
	rec->config = o->config ? json_deep_copy(o->config) : json_object();
	rec->devices = json_object();
	rec->profiles = o->profiles ? json_deep_copy(o->profiles) : json_pack("[s]", "default");
	rec->ephemeral = o->ephemeral;
	rec->created_at = time(NULL);
	if (o->storage)
		json_object_set_new(rec->devices, "root",
		                    json_pack("{ss ss ss}", "type", "disk", "path", "/", "pool", o->storage));
	if (o->network)
		json_object_set_new(rec->devices, "eth0",
		                    json_pack("{ss ss ss}", "type", "nic", "network", o->network, "name", "eth0"));
	if (config_validate(rec->config, type, true, err) < 0)
		return -1;
	_cleanup_json_ json_t *cfg = NULL, *devs = NULL;
	if (stack(m, rec->profiles, rec->config, rec->devices, &cfg, &devs, err) < 0)
		return -1;
	if (config_validate(cfg, type, false, err) < 0 || devices_validate(devs, err) < 0)
		return isola_err_wrap(err, "instance %s", o->name);
	struct pool_rec pool;
	if (pool_for(m, devs, &pool, err) < 0)
		return -1;
	snprintf(rec->pool, sizeof rec->pool, "%s", pool.name);

	struct undo u = {m, rec, false, false, false, &pool};
	/* the image's "create" templates render at the first start (Incus: volatile.apply_template) */
	json_object_set_new(rec->config, "volatile.apply_template", json_string("create"));
	/* 1. the record, marked Creating (crash consistency: see manager.h) */
	if (db_begin(m->db, err) < 0)
		goto fail;
	if (db_instance_insert(m->db, rec, err) < 0) {
		db_rollback(m->db);
		goto fail;
	}
	uint32_t base;
	if (type == INSTANCE_CONTAINER && !config_bool(cfg, "security.privileged", false) &&
	    idmap_acquire(m->db, rec->id, &base, err) < 0) {
		db_rollback(m->db);
		goto fail;
	}
	if (db_commit(m->db, err) < 0) {
		db_rollback(m->db);
		goto fail;
	}
	u.row = true;
	if (getenv("ISOLA_TEST_CRASH_AFTER_RECORD")) /* fault injection for the kill -9 test: hang here */
		pause();
	/* 2. the image layer, held for the instance's lifetime */
	char holder[128];
	instance_layer_holder(rec->name, holder, sizeof holder);
	_cleanup_json_ json_t *layer = NULL;
	if (daemon_op(DAEMON_IMAGED, "layer.acquire", json_pack("{ss ss}", "ref", fp, "holder", holder), &layer,
	              m->progress, m->progress_ud, err) < 0) {
		isola_err_wrap(err, "image %s", o->image);
		goto fail;
	}
	u.layer = true;
	const char *lpath = json_string_value(json_object_get(layer, "path"));
	if (!lpath) {
		isola_err(err, EPROTO, "isola-imaged: layer.acquire reply lacks path");
		goto fail;
	}
	/* 3. the volume (a VM disk copy can be long: progress) */
	fsutil_set_progress(copy_progress, m);
	int vrc = storage_volume_create(&pool, rec->name, type, lpath, fp, err);
	fsutil_set_progress(NULL, NULL);
	if (vrc < 0)
		goto fail;
	u.volume = true;
	/* 4. done */
	if (db_instance_set_status(m->db, rec->id, STATUS_STOPPED, err) < 0)
		goto fail;
	pool_rec_clear(&pool);
	return 0;
fail:
	undo_run(&u);
	pool_rec_clear(&pool);
	return isola_err_wrap(err, "create %s", o->name);
}

/* ---- lifecycle dispatch ---- */

static int destroy(struct manager *m, struct instance_rec *r, isola_error *err);

static int load_locked(struct manager *m, const char *name, struct instance_rec *r, int *lock, isola_error *err)
{
	if (instance_name_check(name, err) < 0)
		return -1;
	*lock = instance_lock(name, err);
	if (*lock < 0)
		return -1;
	if (db_instance_get(m->db, name, r, err) < 0) {
		close(*lock);
		*lock = -1;
		return -1;
	}
	return 0;
}

static int require_usable(struct manager *m, const struct instance_rec *r, isola_error *err)
{
	/* we hold the lock, so a Creating record is a dead launch */
	if (r->status == STATUS_CREATING || r->status == STATUS_BROKEN)
		return isola_err(err, EIO, "instance \"%s\" is broken (its creation was interrupted); delete it",
		                 r->name);
	return 0;
}

int instance_start(struct manager *m, const char *name, bool foreground, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (require_usable(m, &r, err) < 0)
		return -1;
	if (instance_status_now(m, &r) != STATUS_STOPPED)
		return isola_err(err, EALREADY, "instance \"%s\" is already running", name);
	_cleanup_json_ json_t *cfg = NULL, *devs = NULL;
	if (instance_effective(m, &r, &cfg, &devs, err) < 0)
		return -1;
	if (foreground) {
		/* the monitor runs here for the instance's whole life: release the lock once started */
		return r.type == INSTANCE_VM ? vm_start(m, &r, cfg, devs, &lock, err)
		                             : container_start(m, &r, cfg, devs, &lock, err);
	}
	return r.type == INSTANCE_VM ? vm_start(m, &r, cfg, devs, NULL, err)
	                             : container_start(m, &r, cfg, devs, NULL, err);
}

int instance_stop(struct manager *m, const char *name, bool force, int timeout_s, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (require_usable(m, &r, err) < 0)
		return -1;
	if (instance_status_now(m, &r) == STATUS_STOPPED)
		return isola_err(err, EALREADY, "instance \"%s\" is not running", name);
	int rc = r.type == INSTANCE_VM ? vm_stop(m, &r, force, timeout_s, err)
	                               : container_stop(m, &r, force, timeout_s, err);
	if (rc < 0)
		return -1;
	/* ephemeral: gone once stopped (the monitor could not do it: we held the lock) */
	struct instance_rec now;
	if (r.ephemeral && db_instance_get(m->db, name, &now, err) == 0) {
		rc = now.id == r.id ? destroy(m, &now, err) : 0;
		instance_rec_clear(&now);
		return rc < 0 ? isola_err_wrap(err, "delete ephemeral %s", name) : 0;
	}
	return 0;
}

int instance_restart(struct manager *m, const char *name, bool force, int timeout_s, isola_error *err)
{
	if (instance_stop(m, name, force, timeout_s, err) < 0 && err->errnum != EALREADY)
		return -1;
	return instance_start(m, name, false, err);
}

static int freeze(struct manager *m, const char *name, bool on, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	enum instance_status st = instance_status_now(m, &r);
	if (on ? st != STATUS_RUNNING : st != STATUS_FROZEN)
		return isola_err(err, EINVAL, "instance \"%s\" is %s", name, instance_status_name(st));
	return r.type == INSTANCE_VM ? vm_freeze(m, &r, on, err) : container_freeze(m, &r, on, err);
}

int instance_pause(struct manager *m, const char *name, isola_error *err)
{
	return freeze(m, name, true, err);
}
int instance_resume(struct manager *m, const char *name, isola_error *err)
{
	return freeze(m, name, false, err);
}

/* Remove everything of an instance (the caller holds its lock). */
static int destroy(struct manager *m, struct instance_rec *r, isola_error *err)
{
	isola_error e;
	struct pool_rec pool;
	if (db_pool_get(m->db, r->pool, &pool, err) < 0)
		return -1;
	if (r->type == INSTANCE_CONTAINER) {
		container_cleanup(m, r);
		if (storage_rootfs_unmount(&pool, r->name, err) < 0) {
			pool_rec_clear(&pool);
			return -1;
		}
	}
	if (storage_volume_delete(&pool, r->name, r->type, err) < 0) {
		pool_rec_clear(&pool);
		return -1;
	}
	pool_rec_clear(&pool);
	char idir[4096];
	isola_path(idir, sizeof idir, "instances/%s", r->name);
	if (tree_remove(idir, &e) < 0)
		log_warn("delete %s: %s", r->name, e.msg);
	if (r->image[0]) {
		char holder[128];
		instance_layer_holder(r->name, holder, sizeof holder);
		/* a layer never acquired (a launch killed before it) is ENOENT/not held: fine */
		if (daemon_op(DAEMON_IMAGED, "layer.release", json_pack("{ss ss}", "ref", r->image, "holder", holder),
		              NULL, NULL, NULL, &e) < 0)
			log_warn("delete %s: releasing image layer: %s", r->name, e.msg);
	}
	/* the block goes back only once the files owned by it are gone (the volume, above) */
	if (idmap_release(m->db, r->id, err) < 0)
		return isola_err_wrap(err, "delete %s", r->name);
	return db_instance_delete(m->db, r->id, err);
}

int instance_delete(struct manager *m, const char *name, bool force, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	enum instance_status st = r.status == STATUS_CREATING ? STATUS_BROKEN : instance_status_now(m, &r);
	if (st == STATUS_RUNNING || st == STATUS_FROZEN) {
		if (!force)
			return isola_err(err, EBUSY, "instance \"%s\" is running; stop it first or use --force", name);
		int rr = r.type == INSTANCE_VM ? vm_stop(m, &r, true, 0, err) : container_stop(m, &r, true, 0, err);
		if (rr < 0)
			return isola_err_wrap(err, "delete %s", name);
	}
	if (destroy(m, &r, err) < 0)
		return isola_err_wrap(err, "delete %s", name);
	return 0;
}

int instance_rename(struct manager *m, const char *from, const char *to, isola_error *err)
{
	if (instance_name_check(to, err) < 0)
		return -1;
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, from, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	_cleanup_close_ int lock2 = instance_lock(to, err);
	if (lock2 < 0)
		return -1;
	if (require_usable(m, &r, err) < 0)
		return -1;
	if (instance_status_now(m, &r) != STATUS_STOPPED)
		return isola_err(err, EBUSY, "instance \"%s\" is running; stop it before renaming", from);
	struct instance_rec other;
	if (db_instance_get(m->db, to, &other, err) == 0) {
		instance_rec_clear(&other);
		return isola_err(err, EEXIST, "instance \"%s\" already exists", to);
	}
	struct pool_rec pool;
	if (db_pool_get(m->db, r.pool, &pool, err) < 0)
		return -1;
	int rc = storage_rootfs_unmount(&pool, from, err);
	if (rc == 0)
		rc = storage_volume_rename(&pool, from, to, r.type, err);
	if (rc < 0) {
		pool_rec_clear(&pool);
		return -1;
	}
	char a[4096], b[4096];
	isola_path(a, sizeof a, "instances/%s", from);
	isola_path(b, sizeof b, "instances/%s", to);
	if (rename(a, b) < 0 && errno != ENOENT) {
		isola_error e;
		storage_volume_rename(&pool, to, from, r.type, &e);
		pool_rec_clear(&pool);
		return isola_err(err, errno, "rename %s", a);
	}
	snprintf(r.name, sizeof r.name, "%s", to);
	/* the hostname follows the name: re-render the image's copy templates (/etc/hostname, /etc/hosts) */
	json_object_set_new(r.config, "volatile.apply_template", json_string("copy"));
	if (db_instance_update(m->db, &r, err) < 0) {
		isola_error e;
		rename(b, a);
		storage_volume_rename(&pool, to, from, r.type, &e);
		pool_rec_clear(&pool);
		return -1;
	}
	pool_rec_clear(&pool);
	/* the image layer's holder follows the name */
	char ho[128], hn[128];
	instance_layer_holder(from, ho, sizeof ho);
	instance_layer_holder(to, hn, sizeof hn);
	isola_error e;
	if (daemon_op(DAEMON_IMAGED, "layer.acquire", json_pack("{ss ss}", "ref", r.image, "holder", hn), NULL, NULL,
	              NULL, &e) < 0 ||
	    daemon_op(DAEMON_IMAGED, "layer.release", json_pack("{ss ss}", "ref", r.image, "holder", ho), NULL, NULL,
	              NULL, &e) < 0)
		log_warn("rename %s: moving the image layer hold: %s", from, e.msg);
	return 0;
}

int instance_copy(struct manager *m, const char *from, const char *to, bool ephemeral, isola_error *err)
{
	if (instance_name_check(to, err) < 0)
		return -1;
	struct instance_rec src;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, from, &src, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *sp = &src;
	if (require_usable(m, &src, err) < 0)
		return -1;
	_cleanup_close_ int lock2 = instance_lock(to, err);
	if (lock2 < 0)
		return -1;
	struct instance_rec dst = {0};
	_cleanup_(instance_rec_clearp) struct instance_rec *dp = &dst;
	snprintf(dst.name, sizeof dst.name, "%s", to);
	dst.type = src.type;
	dst.status = STATUS_CREATING;
	memcpy(dst.image, src.image, sizeof dst.image);
	memcpy(dst.pool, src.pool, sizeof dst.pool);
	dst.description = strdup(src.description ? src.description : "");
	dst.config = json_deep_copy(src.config);
	dst.devices = json_deep_copy(src.devices);
	dst.profiles = json_deep_copy(src.profiles);
	dst.ephemeral = ephemeral;
	dst.created_at = time(NULL);
	/* volatile.* belongs to the source (MACs, ids): the copy gets its own */
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(dst.config, tmp, k, v)
	{
		if (!strncmp(k, "volatile.", 9))
			json_object_del(dst.config, k);
	}
	json_object_set_new(dst.config, "volatile.apply_template", json_string("copy"));
	_cleanup_json_ json_t *cfg = NULL;
	if (instance_effective(m, &dst, &cfg, NULL, err) < 0)
		return -1;
	struct pool_rec pool;
	if (db_pool_get(m->db, src.pool, &pool, err) < 0)
		return -1;
	struct undo u = {m, &dst, false, false, false, &pool};
	uint32_t base = 0;
	if (db_begin(m->db, err) < 0)
		goto fail;
	if (db_instance_insert(m->db, &dst, err) < 0 ||
	    (dst.type == INSTANCE_CONTAINER && !config_bool(cfg, "security.privileged", false) &&
	     idmap_acquire(m->db, dst.id, &base, err) < 0) ||
	    db_commit(m->db, err) < 0) {
		db_rollback(m->db);
		goto fail;
	}
	u.row = true;
	char holder[128];
	instance_layer_holder(to, holder, sizeof holder);
	if (dst.image[0]) {
		if (daemon_op(DAEMON_IMAGED, "layer.acquire", json_pack("{ss ss}", "ref", dst.image, "holder", holder),
		              NULL, NULL, NULL, err) < 0)
			goto fail;
		u.layer = true;
	}
	uint32_t from_base = 0;
	isola_error e3;
	if (idmap_lookup(m->db, src.id, &from_base, &e3) < 0)
		from_base = 0;
	if (dst.type != INSTANCE_CONTAINER || config_bool(cfg, "security.privileged", false))
		base = 0;
	fsutil_set_progress(copy_progress, m);
	int crc = storage_volume_copy(&pool, from, to, dst.type, from_base, base, err);
	fsutil_set_progress(NULL, NULL);
	if (crc < 0)
		goto fail;
	u.volume = true;
	if (db_instance_set_status(m->db, dst.id, STATUS_STOPPED, err) < 0)
		goto fail;
	pool_rec_clear(&pool);
	return 0;
fail:
	undo_run(&u);
	pool_rec_clear(&pool);
	return isola_err_wrap(err, "copy %s to %s", from, to);
}

/* ---- configuration ---- */

static int apply_live(struct manager *m, const struct instance_rec *r, isola_error *err)
{
	pid_t pid;
	bool frozen;
	if (r->type != INSTANCE_CONTAINER || !container_running(m, r, &pid, &frozen))
		return 0;
	_cleanup_json_ json_t *cfg = NULL;
	if (instance_effective(m, r, &cfg, NULL, err) < 0)
		return -1;
	return container_update(m, r, cfg, err);
}

/* Validate r's stacked result and store it. */
static int store_checked(struct manager *m, struct instance_rec *r, isola_error *err)
{
	if (config_validate(r->config, r->type, false, err) < 0 || devices_validate(r->devices, err) < 0)
		return -1;
	_cleanup_json_ json_t *cfg = NULL, *devs = NULL;
	if (instance_effective(m, r, &cfg, &devs, err) < 0)
		return -1;
	if (config_validate(cfg, r->type, false, err) < 0 || devices_validate(devs, err) < 0)
		return -1;
	struct instance_rec old;
	if (db_instance_get(m->db, r->name, &old, err) < 0)
		return -1;
	int rc = db_instance_update(m->db, r, err);
	if (rc == 0 && apply_live(m, r, err) < 0) {
		/* the running instance refused the change (e.g. a controller the host lacks): put the record
		 * back, so what isola says is what runs */
		isola_error e;
		if (db_instance_update(m->db, &old, &e) < 0)
			log_warn("%s: restoring the previous config: %s", r->name, e.msg);
		else
			isola_err_wrap(err, "not changed");
		rc = -1;
	}
	instance_rec_clear(&old);
	return rc;
}

int instance_config_set(struct manager *m, const char *name, const char *key, const char *value, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (config_key_check(key, value, r.type, true, err) < 0)
		return -1;
	if (value)
		json_object_set_new(r.config, key, json_string(value));
	else if (json_object_del(r.config, key) < 0)
		return isola_err(err, ENOENT, "instance %s: config key \"%s\" is not set", name, key);
	return store_checked(m, &r, err);
}

int instance_config_replace(struct manager *m, const char *name, json_t *doc, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	json_t *c = json_object_get(doc, "config"), *d = json_object_get(doc, "devices"),
	       *p = json_object_get(doc, "profiles");
	const char *desc = json_string_value(json_object_get(doc, "description"));
	if (c && config_validate(c, r.type, false, err) < 0)
		return -1;
	/* volatile.* may be kept as shown, but not changed by hand */
	const char *k;
	json_t *v;
	json_object_foreach(
	    c, k, v) if (!strncmp(k, "volatile.", 9) &&
	                 !json_equal(v, json_object_get(
	                                    r.config,
	                                    k))) return isola_err(err, EPERM,
	                                                          "config key \"%s\": volatile.* keys belong to isola",
	                                                          k);
	if (c)
		json_decref(r.config), r.config = json_deep_copy(c);
	if (d)
		json_decref(r.devices), r.devices = json_deep_copy(d);
	if (p) {
		if (!json_is_array(p))
			return isola_err(err, EINVAL, "profiles: expected a list");
		json_decref(r.profiles), r.profiles = json_deep_copy(p);
	}
	if (desc)
		free(r.description), r.description = strdup(desc);
	return store_checked(m, &r, err);
}

int instance_device_add(struct manager *m, const char *name, const char *dev, json_t *device, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (device_validate(dev, device, err) < 0)
		return -1;
	if (json_object_get(r.devices, dev))
		return isola_err(err, EEXIST, "instance %s: device \"%s\" already exists", name, dev);
	if (instance_status_now(m, &r) != STATUS_STOPPED)
		return isola_err(err, EBUSY, "instance %s: devices can only be added while it is stopped", name);
	json_object_set(r.devices, dev, device);
	return store_checked(m, &r, err);
}

int instance_device_remove(struct manager *m, const char *name, const char *dev, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (!json_object_get(r.devices, dev))
		return isola_err(
		    err, ENOENT,
		    "instance %s: no local device \"%s\" (devices from profiles are changed in the profile)", name,
		    dev);
	if (instance_status_now(m, &r) != STATUS_STOPPED)
		return isola_err(err, EBUSY, "instance %s: devices can only be removed while it is stopped", name);
	json_object_del(r.devices, dev);
	return store_checked(m, &r, err);
}

int instance_profiles_set(struct manager *m, const char *name, json_t *profiles, isola_error *err)
{
	struct instance_rec r;
	_cleanup_close_ int lock = -1;
	if (load_locked(m, name, &r, &lock, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	json_decref(r.profiles);
	r.profiles = json_deep_copy(profiles);
	return store_checked(m, &r, err);
}

int instance_clear_volatile(struct manager *m, const char *name, const char *key, isola_error *err)
{
	struct instance_rec r;
	if (db_instance_get(m->db, name, &r, err) < 0)
		return -1;
	int rc = 0;
	if (json_object_del(r.config, key) == 0)
		rc = db_instance_update(m->db, &r, err);
	instance_rec_clear(&r);
	return rc;
}

int instance_start_autostart(struct manager *m, int *started, isola_error *err)
{
	*started = 0;
	struct instance_rec *v;
	size_t n;
	if (db_instance_list(m->db, &v, &n, err) < 0)
		return -1;
	/* boot.autostart.priority: higher first (Incus) */
	struct item {
		size_t i;
		long prio;
		long delay;
	} *items = calloc(n + 1, sizeof *items);
	size_t cnt = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_json_ json_t *cfg = NULL;
		isola_error e;
		if (instance_effective(m, &v[i], &cfg, NULL, &e) < 0 || !config_bool(cfg, "boot.autostart", false))
			continue;
		const char *p = json_string_value(json_object_get(cfg, "boot.autostart.priority"));
		const char *d = json_string_value(json_object_get(cfg, "boot.autostart.delay"));
		items[cnt++] = (struct item){i, p ? atol(p) : 0, d ? atol(d) : 0};
	}
	for (size_t a = 0; a < cnt; a++)
		for (size_t b = a + 1; b < cnt; b++)
			if (items[b].prio > items[a].prio) {
				struct item t = items[a];
				items[a] = items[b];
				items[b] = t;
			}
	int rc = 0;
	for (size_t k = 0; k < cnt; k++) {
		struct instance_rec *r = &v[items[k].i];
		if (instance_status_now(m, r) != STATUS_STOPPED)
			continue;
		isola_error e;
		if (instance_start(m, r->name, false, &e) < 0) {
			log_warn("autostart %s: %s", r->name, e.msg);
			if (rc == 0)
				*err = e;
			rc = -1;
			continue;
		}
		(*started)++;
		if (items[k].delay > 0)
			sleep((unsigned)items[k].delay);
	}
	free(items);
	instance_list_free(v, n);
	return rc;
}
