/* cloud-init NoCloud seed for containers (cloud-init docs, datasources/nocloud: "seed directory"
 * /var/lib/cloud/seed/nocloud/ holding meta-data, user-data, vendor-data, network-config). Written
 * inside the instance rootfs (a hostile tree: every path opened with lib/path.h safe_openat, as the
 * container's root user via setfsuid(2) so ownership is right and nothing root-only can be touched). */
#pragma once
#include <stdint.h>
#include <jansson.h>
#include "error.h"

/* Write meta-data always (instance-id, local-hostname), user-data / vendor-data / network-config when the
 * matching cloud-init.* key is set. */
int seed_write(const char *rootfs, const char *name, json_t *config, uint32_t uid_base, isola_error *err);
/* Write one file inside rootfs as the container's root (setfsuid to uid_base). mode for a new file. */
int rootfs_write_file(const char *rootfs, const char *path, const void *data, size_t len, mode_t mode,
                      uint32_t uid_base, isola_error *err);
