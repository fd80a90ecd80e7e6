/* Storage pools: where an instance's root filesystem lives.
 *
 *  dir    $ISOLA_DIR/storage-pools/<pool>/ on the host filesystem. A container is an overlayfs: the
 *         image layer (read-only, from isola-imaged, shared by every instance of that image) is the lower
 *         layer, containers/<name>/upper and work are the instance's own. Creating one is O(1).
 *         Snapshots copy only the upper layer (reflinked where the filesystem can): the lower never changes.
 *  btrfs  a loop file $ISOLA_DIR/disks/<pool>.img formatted btrfs, mounted at storage-pools/<pool>.
 *         images/<fingerprint> is a subvolume made once per image; a container is a writable subvolume
 *         snapshot of it (O(1)), snapshots are read-only subvolume snapshots (O(1)).
 *  VMs    virtual-machines/<name>/root.img: a copy of the image's raw disk, reflinked where possible
 *         (btrfs: always), snapshots are reflinked copies of it.
 *
 * Unprivileged containers see their files owned by their own id-map range through an idmapped mount
 * (mount_setattr(2) MOUNT_ATTR_IDMAP) of the lower layer (dir) or of the subvolume (btrfs): nothing is
 * chowned on disk, and the image stays shareable between instances with different ranges.
 *
 * The instance's rootfs is mounted at $ISOLA_DIR/instances/<name>/rootfs while it runs. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "db.h"
#include "error.h"

/* Can this kernel mount btrfs (listed in /proc/filesystems, or autoloadable)? reason says why not. */
bool storage_btrfs_usable(char *reason, size_t len);

/* Make a pool (directories, or loop file + mkfs.btrfs + mount) and fill *out for the database.
 * size: loop file size for btrfs (0: 10GiB). */
int storage_pool_create(const char *name, const char *driver, uint64_t size, struct pool_rec *out, isola_error *err);
/* The pool's directory, mounting the btrfs loop file again if needed (after a host reboot). */
int storage_pool_mount(const struct pool_rec *pool, char *dir, size_t len, isola_error *err);
/* Remove a pool made by storage_pool_create (used when admin init fails half-way). */
int storage_pool_destroy(const struct pool_rec *pool, isola_error *err);

/* The instance's volume from an image layer: image_path is the layer.acquire path (a directory for
 * containers, a raw disk file for VMs), fingerprint names the btrfs image subvolume. */
int storage_volume_create(const struct pool_rec *pool, const char *name, enum instance_type type,
                          const char *image_path, const char *fingerprint, isola_error *err);
int storage_volume_delete(const struct pool_rec *pool, const char *name, enum instance_type type, isola_error *err);
int storage_volume_rename(const struct pool_rec *pool, const char *from, const char *to, enum instance_type type,
                          isola_error *err);
/* A full, independent copy (isola copy): snapshot on btrfs, upper-layer copy on dir (owners moved from
 * the source's id-map range to the copy's), reflink for VMs. */
int storage_volume_copy(const struct pool_rec *pool, const char *from, const char *to, enum instance_type type,
                        uint32_t from_base, uint32_t to_base, isola_error *err);
/* The VM disk path. */
int storage_vm_disk(const struct pool_rec *pool, const char *name, char *out, size_t len, isola_error *err);
/* Bytes used by the instance's own data. */
int storage_volume_usage(const struct pool_rec *pool, const char *name, enum instance_type type, uint64_t *bytes,
                         isola_error *err);

/* Mount the container rootfs at $ISOLA_DIR/instances/<name>/rootfs (idmapped to uid_base when
 * uid_base != 0); lower: the image layer path (dir pools). Idempotent. Writes the path to rootfs. */
int storage_rootfs_mount(const struct pool_rec *pool, const char *name, const char *lower, uint32_t uid_base,
                         char *rootfs, size_t len, isola_error *err);
int storage_rootfs_unmount(const struct pool_rec *pool, const char *name, isola_error *err);

int storage_snapshot_create(const struct pool_rec *pool, const char *name, enum instance_type type, const char *snap,
                            isola_error *err);
/* The instance must be stopped (rootfs unmounted). */
int storage_snapshot_restore(const struct pool_rec *pool, const char *name, enum instance_type type, const char *snap,
                             isola_error *err);
int storage_snapshot_delete(const struct pool_rec *pool, const char *name, enum instance_type type, const char *snap,
                            isola_error *err);
/* Rename the instance's snapshot directory along with the instance. */
int storage_snapshots_rename(const struct pool_rec *pool, const char *from, const char *to, isola_error *err);

/* A user namespace fd whose map sends 0..65535 to base..base+65535 (for MOUNT_ATTR_IDMAP). */
int userns_fd_for_range(uint32_t base, uint32_t size, isola_error *err);
