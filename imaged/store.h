/* The image store on disk (default /var/lib/isola/images/):
 *
 *   <store>/<fp>/image.json        the image object of docs/imaged.md (written before the rename)
 *   <store>/<fp>/<files>           the original bytes: unified.tar[.gz|.xz…] or metadata.tar* + rootfs.*
 *   <store>/<fp>/tree/             metadata.yaml, templates/, rootfs/ (unpacked tree, or the empty
 *                                  mount point of the squashfs)
 *   <store>/<fp>/disk.raw          a VM image's disk (qcow2 converted on import)
 *   <store>/aliases.json           {name: {target, description}}          (json_store_path: atomic)
 *   <store>/layers.json            {fp: {holders: [..], mount: "..."}}   (atomic; survives restarts)
 *   <store>/.tmp-XXXXXX/           an import in progress; renamed to <fp>/ only when complete, so a crash
 *                                  or a full disk leaves only .tmp-* dirs, removed by store_open()
 *
 * One struct store per daemon process, not thread-safe. Long imports run in forked worker processes
 * (daemon.c): a worker only creates its .tmp- dir and renames it to <fp>/ — it never writes aliases.json
 * or layers.json — and the daemon then loads the new image with store_load_image() and adds aliases. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "error.h"

struct store {
	char *root;
	int rootfd;
	json_t *images;  /* fp → image object */
	json_t *aliases; /* name → {target, description} */
	json_t *layers;  /* fp → {holders: [...], mount: "kernel"|"squashfuse"|"bind"|"none"} */
	bool force_squashfuse;
};

typedef void (*store_progress_fn)(json_t *progress, void *ud); /* progress is borrowed */

struct import_req {
	const char *path;      /* unified tarball */
	const char *meta;      /* split: metadata tarball … */
	const char *rootfs;    /* … and rootfs (squashfs, tarball, qcow2) */
	const char *dir;       /* directory with metadata.yaml + rootfs/ */
	const char *url;       /* https URL of a unified tarball */
	const char *ca_file;   /* for url (may be NULL) */
	json_t *properties;    /* merged over metadata.yaml's (may be NULL) */
	json_t *aliases;       /* array of names (may be NULL) */
	bool privileged;       /* allow device nodes */
	const char *expect_fp; /* simplestreams: the fingerprint the server announced (may be NULL) */
	const char *source;    /* recorded in image.json ("file", "url:<u>", "simplestreams:<u>") */
};

int store_open(struct store *s, const char *root, isola_error *err);
void store_close(struct store *s);

/* ref: fingerprint, unique prefix, or alias → the full fingerprint (pointer into s->images). */
int store_resolve(struct store *s, const char *ref, const char **fp, isola_error *err);
/* The image object with its current aliases (new reference). */
json_t *store_image_json(struct store *s, const char *fp);
char *store_image_dir(struct store *s, const char *fp); /* malloc'd "<root>/<fp>" */

/* Import; *out gets {fingerprint, type, already, image}. Nothing of a failed import stays. */
int store_import(struct store *s, const struct import_req *r, store_progress_fn pf, void *ud, json_t **out,
                 isola_error *err);
/* The image fp is already stored: only create r->aliases; *out as for store_import (already: true). */
int store_import_existing(struct store *s, const char *fp, const struct import_req *r, json_t **out, isola_error *err);
/* image.publish: pack dir as rootfs/ with a generated metadata.yaml into a unified image. */
int store_publish(struct store *s, const char *dir, const char *arch, json_t *properties, json_t *aliases,
                  store_progress_fn pf, void *ud, json_t **out, isola_error *err);
int store_delete(struct store *s, const char *ref, char fp_out[65], isola_error *err);
/* Copies the original file(s) into dir; *out gets {files: [...]}. */
int store_export(struct store *s, const char *ref, const char *dir, json_t **out, isola_error *err);
int store_set_properties(struct store *s, const char *ref, json_t *set, json_t *unset, isola_error *err);

int alias_create(struct store *s, const char *name, const char *target_ref, const char *desc, isola_error *err);
/* Create name → fp, or move an existing alias to fp (a refresh). */
int alias_point(struct store *s, const char *name, const char *fp, isola_error *err);
int alias_delete(struct store *s, const char *name, isola_error *err);
int alias_rename(struct store *s, const char *name, const char *new_name, isola_error *err);
json_t *alias_list(struct store *s);
bool alias_name_valid(const char *name);

/* Every name valid and free (EINVAL / EEXIST otherwise). */
int store_check_aliases(struct store *s, json_t *aliases, isola_error *err);
/* Read <fp>/image.json into s->images (a no-op when known): after a worker process committed an import. */
int store_load_image(struct store *s, const char *fp, isola_error *err);
/* Save layers.json (used by layer.c). */
int store_save_layers(struct store *s, isola_error *err);
/* rm -rf below dirfd/name without following symlinks or crossing into mounts (openat + unlinkat). */
int remove_tree_at(int dirfd, const char *name, isola_error *err);
