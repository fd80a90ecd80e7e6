/* Shared read-only lower layers, refcounted by holder name (an instance).
 *
 *  - container image, squashfs rootfs: mounted once read-only over <store>/<fp>/tree/rootfs — by the
 *    kernel through a loop device when we are root (LOOP_CTL_GET_FREE, LOOP_CONFIGURE with
 *    LO_FLAGS_READ_ONLY|LO_FLAGS_AUTOCLEAR, fsopen("squashfs") + fsconfig + fsmount + move_mount), by
 *    squashfuse otherwise (or with --squashfuse);
 *  - container image, unpacked tree: a read-only bind mount of <store>/<fp>/tree/rootfs over itself
 *    (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY) + move_mount), so no holder can
 *    write into the shared tree;
 *  - VM image: the raw disk file <store>/<fp>/disk.raw; nothing is mounted, the refcount still keeps
 *    the image from being deleted.
 * The first holder mounts, later holders only count, the last release unmounts. Holders are persisted
 * in layers.json (written after the mount, before the reply), so a restarted daemon knows them;
 * layer_restore() re-mounts what has holders and unmounts what has none. */
#pragma once
#include <jansson.h>
#include "error.h"
#include "store.h"

int layer_acquire(struct store *s, const char *ref, const char *holder, json_t **out, isola_error *err);
int layer_release(struct store *s, const char *ref, const char *holder, json_t **out, isola_error *err);
int layer_restore(struct store *s, isola_error *err);
/* [{fingerprint, path, holders, mounted}] */
json_t *layer_status(struct store *s);
