/* Profiles: stacked under an instance's own config (manager/config.h config_stack). A change is validated
 * against every instance that uses the profile (its stacked result must stay valid) and re-applied live
 * to the running ones. */
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "config.h"
#include "container.h"
#include "json.h"
#include "log.h"
#include "lock.h"
#include "manager.h"
#include "name.h"

DEFINE_CLEANUP(struct profile_rec *, profile_rec_clear)

int profile_create(struct manager *m, const char *name, const char *description, isola_error *err)
{
	if (object_name_check("profile", name, err) < 0)
		return -1;
	struct profile_rec p = {0};
	snprintf(p.name, sizeof p.name, "%s", name);
	p.description = strdup(description ? description : "");
	p.config = json_object();
	p.devices = json_object();
	int r = db_profile_insert(m->db, &p, err);
	profile_rec_clear(&p);
	return r;
}

int profile_copy(struct manager *m, const char *from, const char *to, isola_error *err)
{
	if (object_name_check("profile", to, err) < 0)
		return -1;
	struct profile_rec p;
	if (db_profile_get(m->db, from, &p, err) < 0)
		return -1;
	snprintf(p.name, sizeof p.name, "%s", to);
	int r = db_profile_insert(m->db, &p, err);
	profile_rec_clear(&p);
	return r;
}

/* Check that every user of the profile still has a valid stacked config with p as it would be, then
 * store p and re-apply live. Runs in one write transaction so the check and the write see the same users. */
static int store_profile(struct manager *m, struct profile_rec *p, isola_error *err)
{
	if (devices_validate(p->devices, err) < 0)
		return isola_err_wrap(err, "profile %s", p->name);
	/* keys are checked per user below (a VM-only or container-only key is fine in a profile for them) */
	const char *k;
	json_t *v;
	json_object_foreach(p->config, k, v)
	{
		isola_error e1, e2;
		if (!json_is_string(v))
			return isola_err(err, EINVAL, "profile %s: config key \"%s\": value must be a string", p->name,
			                 k);
		if (config_key_check(k, json_string_value(v), INSTANCE_CONTAINER, true, &e1) < 0 &&
		    config_key_check(k, json_string_value(v), INSTANCE_VM, true, &e2) < 0) {
			*err = e1;
			return isola_err_wrap(err, "profile %s", p->name);
		}
	}
	struct profile_rec old;
	if (db_profile_get(m->db, p->name, &old, err) < 0)
		return -1;
	_cleanup_(profile_rec_clearp) struct profile_rec *oldp = &old;
	if (db_begin(m->db, err) < 0)
		return -1;
	_cleanup_json_ json_t *users = db_profile_used_by(m->db, p->name, err);
	if (!users) {
		db_rollback(m->db);
		return -1;
	}
	if (db_profile_update(m->db, p, err) < 0) {
		db_rollback(m->db);
		return -1;
	}
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
	{
		struct instance_rec r;
		_cleanup_json_ json_t *cfg = NULL, *devs = NULL;
		if (db_instance_get(m->db, json_string_value(u), &r, err) < 0) {
			db_rollback(m->db);
			return -1;
		}
		int bad = instance_effective(m, &r, &cfg, &devs, err) < 0 ||
		          config_validate(cfg, r.type, false, err) < 0 || devices_validate(devs, err) < 0;
		instance_rec_clear(&r);
		if (bad) {
			db_rollback(m->db);
			return isola_err_wrap(err, "profile %s would break instance %s", p->name, json_string_value(u));
		}
	}
	if (db_commit(m->db, err) < 0) {
		db_rollback(m->db);
		return -1;
	}
	/* live limits for running users; if one refuses, the profile goes back to what it was and the users
	 * that took it get the old limits again */
	int rc = 0;
	json_array_foreach(users, i, u)
	{
		struct instance_rec r;
		isola_error e;
		if (db_instance_get(m->db, json_string_value(u), &r, &e) < 0)
			continue;
		pid_t pid;
		bool frozen;
		if (r.type == INSTANCE_CONTAINER && container_running(m, &r, &pid, &frozen)) {
			_cleanup_json_ json_t *cfg = NULL;
			if (instance_effective(m, &r, &cfg, NULL, &e) < 0 || container_update(m, &r, cfg, &e) < 0) {
				log_warn("profile %s: applying to running %s: %s", p->name, r.name, e.msg);
				if (!rc)
					*err = e;
				rc = -1;
			}
		}
		instance_rec_clear(&r);
	}
	if (rc < 0) {
		isola_error e;
		if (db_profile_update(m->db, &old, &e) < 0) {
			log_warn("profile %s: restoring: %s", p->name, e.msg);
			return rc;
		}
		json_array_foreach(users, i, u)
		{
			struct instance_rec r;
			pid_t pid;
			bool frozen;
			if (db_instance_get(m->db, json_string_value(u), &r, &e) < 0)
				continue;
			_cleanup_json_ json_t *cfg = NULL;
			if (r.type == INSTANCE_CONTAINER && container_running(m, &r, &pid, &frozen) &&
			    instance_effective(m, &r, &cfg, NULL, &e) == 0)
				container_update(m, &r, cfg, &e);
			instance_rec_clear(&r);
		}
		isola_err_wrap(err, "profile %s not changed", p->name);
	}
	return rc;
}

int profile_set(struct manager *m, const char *name, const char *key, const char *value, isola_error *err)
{
	struct profile_rec p;
	if (db_profile_get(m->db, name, &p, err) < 0)
		return -1;
	_cleanup_(profile_rec_clearp) struct profile_rec *pp = &p;
	if (!strcmp(key, "description")) {
		free(p.description);
		p.description = strdup(value ? value : "");
		return db_profile_update(m->db, &p, err);
	}
	isola_error e1, e2;
	if (config_key_check(key, value, INSTANCE_CONTAINER, true, &e1) < 0 &&
	    config_key_check(key, value, INSTANCE_VM, true, &e2) < 0) {
		*err = e1;
		return -1;
	}
	if (value)
		json_object_set_new(p.config, key, json_string(value));
	else if (json_object_del(p.config, key) < 0)
		return isola_err(err, ENOENT, "profile %s: config key \"%s\" is not set", name, key);
	return store_profile(m, &p, err);
}

int profile_replace(struct manager *m, const char *name, json_t *doc, isola_error *err)
{
	struct profile_rec p;
	if (db_profile_get(m->db, name, &p, err) < 0)
		return -1;
	_cleanup_(profile_rec_clearp) struct profile_rec *pp = &p;
	json_t *c = json_object_get(doc, "config"), *d = json_object_get(doc, "devices");
	const char *desc = json_string_value(json_object_get(doc, "description"));
	if (c)
		json_decref(p.config), p.config = json_deep_copy(c);
	if (d)
		json_decref(p.devices), p.devices = json_deep_copy(d);
	if (desc)
		free(p.description), p.description = strdup(desc);
	return store_profile(m, &p, err);
}

int profile_device_add(struct manager *m, const char *name, const char *dev, json_t *device, isola_error *err)
{
	struct profile_rec p;
	if (db_profile_get(m->db, name, &p, err) < 0)
		return -1;
	_cleanup_(profile_rec_clearp) struct profile_rec *pp = &p;
	if (device_validate(dev, device, err) < 0)
		return -1;
	if (json_object_get(p.devices, dev))
		return isola_err(err, EEXIST, "profile %s: device \"%s\" already exists", name, dev);
	json_object_set(p.devices, dev, device);
	return store_profile(m, &p, err);
}

int profile_device_remove(struct manager *m, const char *name, const char *dev, isola_error *err)
{
	struct profile_rec p;
	if (db_profile_get(m->db, name, &p, err) < 0)
		return -1;
	_cleanup_(profile_rec_clearp) struct profile_rec *pp = &p;
	if (json_object_del(p.devices, dev) < 0)
		return isola_err(err, ENOENT, "profile %s: no device \"%s\"", name, dev);
	return store_profile(m, &p, err);
}

int profile_delete(struct manager *m, const char *name, isola_error *err)
{
	return db_profile_delete(m->db, name, err);
}

int profile_rename(struct manager *m, const char *from, const char *to, isola_error *err)
{
	if (object_name_check("profile", to, err) < 0)
		return -1;
	if (!strcmp(from, "default"))
		return isola_err(err, EPERM, "profile \"default\" cannot be renamed");
	struct profile_rec p;
	if (db_profile_get(m->db, from, &p, err) < 0)
		return -1;
	snprintf(p.name, sizeof p.name, "%s", to);
	/* instances refer to profiles by id: the rename carries over to them */
	int r = db_profile_update(m->db, &p, err);
	profile_rec_clear(&p);
	return r;
}
