/* Simplestreams (the static image-server format Incus and LXD use; research note §3):
 *
 *   streams/v1/index.json   {"format":"index:1.0","index":{"images":{"datatype":"image-downloads",
 *                             "path":"streams/v1/images.json","format":"products:1.0","products":[...]}}}
 *   streams/v1/images.json  {"content_id":"images","datatype":"image-downloads","format":"products:1.0",
 *                             "products":{"os:release:variant:arch":{aliases, arch, os, release, variant,
 *                               versions:{"YYYYMMDD_HH:MM":{items:{name:{ftype,path,sha256,size,…}}}}}}}
 *   images/<fp>.<ext>       the files
 *
 * Items: a unified image is one "incus_combined.tar.gz"-type item (ftype incus_combined.tar.gz /
 * .tar.xz); a split image is an "incus.tar.xz" metadata item carrying combined_squashfs_sha256 (or
 * combined_disk-kvm-img_sha256, combined_rootxz_sha256) — the fingerprint — plus a "squashfs",
 * "disk-kvm.img" or "root.tar.xz" rootfs item. Every downloaded file's sha256 and size are checked
 * against the item before anything is imported, and the fingerprint against the combined_* value. */
#pragma once
#include <jansson.h>
#include "error.h"
#include "store.h"

/* Write a simplestreams tree of every local image under dir. *out: {index, products}. */
int ss_generate(struct store *s, const char *dir, json_t **out, isola_error *err);

struct ss_pull_req {
	const char *url;     /* https base URL of the tree */
	const char *product; /* product key, or … */
	const char *alias;   /* … one of its aliases */
	const char *ca_file; /* may be NULL: the system's CAs */
	const char *type;    /* "container" (default) or "virtual-machine" */
	json_t *aliases;     /* local aliases to create */
};
/* Pull the newest version of a product (nothing is downloaded when it is already in the store). */
int ss_pull(struct store *s, const struct ss_pull_req *r, store_progress_fn pf, void *ud, json_t **out,
            isola_error *err);
