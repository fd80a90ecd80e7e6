/* A cache of compiled seccomp filters. Building isola's default profile with libseccomp costs more CPU
 * than everything else `run` does together (about 30 ms of a 45 ms run on the reference VM), and every
 * container of an image uses the same profile. So the BPF program is kept in
 * /run/isola/cache/seccomp/<hash>, a root-only directory on tmpfs, next to the exact canonical JSON it was
 * built from; a hit requires that JSON to match byte for byte (the hash only names the file, a collision
 * cannot substitute another filter). The key also carries libseccomp's version and a digest of the
 * filter-building sources, so an upgrade never reuses an old program. Filters with a listener
 * (SCMP_ACT_NOTIFY) are never cached. Any cache failure falls back to building. */
#pragma once
#include <jansson.h>
#include "error.h"
#include "runtime/seccomp.h"

#define FILTERCACHE_DIR "/run/isola/cache/seccomp"

/* isola_seccomp_build with the cache in front. Same contract. */
int filtercache_build(json_t *obj, const char *jpath, struct isola_seccomp **out, isola_error *err);
