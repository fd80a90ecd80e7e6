/* libisola-manager: what an instance is, and every verb on one. The CLI (cli/) is a thin layer over this;
 * nothing here prints or exits.
 *
 * Every verb that changes an instance takes its lock (manager/lock.h) for the whole operation, so two
 * commands on one instance run one after the other. A create records the instance as "Creating" before
 * touching storage; a process killed mid-way leaves that record with nobody holding its lock, which
 * every reader then reports as "Broken" — and `delete` removes it with whatever it had made.
 *
 * Instance kinds: containers go through libisola-runtime (manager/container.c), VMs through isola-vmm
 * (manager/vm.c). Images come from isola-imaged, networks from isola-netd (manager/daemons.h). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "db.h"
#include "error.h"
#include "ipc.h"

struct manager {
	isola_db *db;
	ipc_progress_fn progress; /* long steps report here (may be NULL) */
	void *progress_ud;
};

int manager_open(struct manager *m, isola_error *err);
void manager_close(struct manager *m);

/* ---- reading ---- */
/* Stacked config and devices (new references). */
int instance_effective(struct manager *m, const struct instance_rec *r, json_t **config, json_t **devices,
                       isola_error *err);
/* The status to show: the record's, corrected by reality (a dead launch is Broken; a Running record
 * whose container is gone is Stopped). */
enum instance_status instance_status_now(struct manager *m, const struct instance_rec *r);
/* Incus's instance object (GET /1.0/instances/<name>). state: INSTANCE_JSON_PLAIN (no "state"),
 * INSTANCE_JSON_STATE (state, as ?recursion=2), INSTANCE_JSON_STATE_NO_DISK (state without
 * disk.root.usage, which walks the instance's tree: what a table listing leaves out). */
enum instance_json_level { INSTANCE_JSON_PLAIN, INSTANCE_JSON_STATE, INSTANCE_JSON_STATE_NO_DISK };
json_t *instance_json(struct manager *m, const struct instance_rec *r, enum instance_json_level level,
                      isola_error *err);
int instance_status_code(enum instance_status s); /* Incus api.StatusCode */

/* ---- lifecycle ---- */
struct create_opts {
	const char *name;
	const char *image; /* alias, fingerprint or prefix (isola-imaged) */
	enum instance_type type;
	bool type_given;     /* --vm given: the image must match */
	json_t *profiles;    /* array of names; NULL: ["default"] */
	json_t *config;      /* local config (validated here) */
	const char *network; /* --network: eth0 on that network */
	const char *storage; /* --storage: root disk on that pool */
	bool ephemeral;
	const char *description;
};
int instance_create(struct manager *m, const struct create_opts *o, isola_error *err);
/* foreground: run the monitor in this process (systemd unit; returns when the instance stops). */
int instance_start(struct manager *m, const char *name, bool foreground, isola_error *err);
int instance_stop(struct manager *m, const char *name, bool force, int timeout_s, isola_error *err);
int instance_restart(struct manager *m, const char *name, bool force, int timeout_s, isola_error *err);
int instance_pause(struct manager *m, const char *name, isola_error *err);
int instance_resume(struct manager *m, const char *name, isola_error *err);
/* A running instance needs force (stopped hard first). Broken ones are always deletable. */
int instance_delete(struct manager *m, const char *name, bool force, isola_error *err);
int instance_rename(struct manager *m, const char *from, const char *to, isola_error *err);
int instance_copy(struct manager *m, const char *from, const char *to, bool ephemeral, isola_error *err);

/* ---- configuration ---- */
/* value NULL: unset. Validated against the stacked result; applied live when running and the key allows. */
int instance_config_set(struct manager *m, const char *name, const char *key, const char *value, isola_error *err);
/* Replace config/devices/profiles/description wholesale (config edit), validated. */
int instance_config_replace(struct manager *m, const char *name, json_t *doc, isola_error *err);
int instance_device_add(struct manager *m, const char *name, const char *dev, json_t *device, isola_error *err);
int instance_device_remove(struct manager *m, const char *name, const char *dev, isola_error *err);
int instance_profiles_set(struct manager *m, const char *name, json_t *profiles, isola_error *err);

/* ---- profiles (validated; changes re-applied live to running instances that use them) ---- */
int profile_create(struct manager *m, const char *name, const char *description, isola_error *err);
int profile_copy(struct manager *m, const char *from, const char *to, isola_error *err);
int profile_set(struct manager *m, const char *name, const char *key, const char *value, isola_error *err);
int profile_replace(struct manager *m, const char *name, json_t *doc, isola_error *err);
int profile_device_add(struct manager *m, const char *name, const char *dev, json_t *device, isola_error *err);
int profile_device_remove(struct manager *m, const char *name, const char *dev, isola_error *err);
int profile_delete(struct manager *m, const char *name, isola_error *err);
int profile_rename(struct manager *m, const char *from, const char *to, isola_error *err);

/* ---- snapshots ---- */
/* snap NULL: the next name from snapshots.pattern (default "snap%d"). *made (may be NULL) gets the name. */
int snapshot_create(struct manager *m, const char *name, const char *snap, char *made, size_t len, isola_error *err);
int snapshot_restore(struct manager *m, const char *name, const char *snap, isola_error *err);
int snapshot_delete(struct manager *m, const char *name, const char *snap, isola_error *err);
/* snapshots.schedule / snapshots.expiry for every instance: take what is due at `now`, prune what expired.
 * Returns the number of snapshots made + removed. */
int snapshot_tick(struct manager *m, time_t now, isola_error *err);

/* ---- inside a running instance ---- */
struct exec_opts {
	char *const *argv;
	char *const *env; /* KEY=VALUE */
	const char *cwd;
	const char *user; /* "uid[:gid]" */
	bool tty;
};
/* Returns the exit status (code or 128+signal) via *status. */
int instance_exec(struct manager *m, const char *name, const struct exec_opts *o, int *status, isola_error *err);
int instance_console(struct manager *m, const char *name, int *fd, isola_error *err);
/* Files inside a container (paths resolved inside its rootfs, never outside). */
int instance_file_push(struct manager *m, const char *name, int src_fd, const char *path, int uid, int gid, int mode,
                       isola_error *err);
int instance_file_pull(struct manager *m, const char *name, const char *path, int dst_fd, isola_error *err);

/* boot.autostart: start every instance that has it (by boot.autostart.priority, highest first). */
int instance_start_autostart(struct manager *m, int *started, isola_error *err);

/* Remove one volatile.* key of the instance (the caller holds its lock). */
int instance_clear_volatile(struct manager *m, const char *name, const char *key, isola_error *err);

/* The netd "instance" name for an instance (netd allows 15 bytes). */
void instance_netd_name(const struct instance_rec *r, char *out, size_t len);
/* The isola-imaged layer holder for an instance. */
void instance_layer_holder(const char *name, char *out, size_t len);
