/* The cloud-init NoCloud seed disk of a VM (cloud-init docs, datasources/nocloud: a filesystem whose
 * volume label is "cidata" holding meta-data, user-data and, when set, vendor-data and network-config).
 * Containers get the same files in their rootfs (seed.h); a VM gets them on an ISO 9660 image made with
 * genisoimage(1) (cdrkit: what cloud-image-utils' cloud-localds uses), attached read-only as its second
 * virtio-blk disk. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "error.h"

/* Make dir/seed.iso for instance name from config's cloud-init.* keys (meta-data: instance-id and
 * local-hostname = name). The inputs are kept in dir/seed/ (0700: user-data may hold secrets); when they
 * are unchanged and seed.iso exists nothing is rebuilt (*rebuilt false), else seed.iso is replaced
 * atomically. out gets the image's path. */
int seed_disk_build(const char *dir, const char *name, json_t *config, char *out, size_t outlen, bool *rebuilt,
                    isola_error *err);
