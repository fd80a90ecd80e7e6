/* Compiled seccomp filter cache; see filtercache.h. */
#include "runtime/filtercache.h"
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "util.h"

#ifndef ISOLA_FILTER_BUILD_ID
#define ISOLA_FILTER_BUILD_ID "dev"
#endif
#define MAGIC "ISOLA-SECCOMP-CACHE-1\n"

struct header {
	char magic[sizeof MAGIC];
	uint32_t flags, bpf_len, key_len;
};

static char *cache_key(json_t *obj)
{
	_cleanup_free_ char *canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	const struct scmp_version *v = seccomp_version();
	char *key = NULL;
	if (!canon || asprintf(&key, "%u.%u.%u %s %s", v->major, v->minor, v->micro, ISOLA_FILTER_BUILD_ID, canon) < 0)
		return NULL;
	return key;
}

static void key_file(const char *key, char *buf, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a: names the file only, the content is compared */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	snprintf(buf, len, "%s/%016llx", FILTERCACHE_DIR, (unsigned long long)h);
}

static struct isola_seccomp *load(const char *path, const char *key)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_file_at(AT_FDCWD, path, &data, &len, NULL) < 0 || len < sizeof(struct header))
		return NULL;
	struct header h;
	memcpy(&h, data, sizeof h);
	size_t klen = strlen(key);
	if (memcmp(h.magic, MAGIC, sizeof MAGIC) || h.key_len != klen || h.bpf_len > 65536 ||
	    len != sizeof h + klen + (size_t)h.bpf_len * 8 || memcmp(data + sizeof h, key, klen))
		return NULL;
	struct isola_seccomp *sc = calloc(1, sizeof *sc);
	void *bpf = malloc((size_t)h.bpf_len * 8 + 1);
	if (!sc || !bpf) {
		free(sc);
		free(bpf);
		return NULL;
	}
	memcpy(bpf, data + sizeof h + klen, (size_t)h.bpf_len * 8);
	sc->bpf = bpf;
	sc->bpf_len = h.bpf_len;
	sc->flags = h.flags;
	return sc;
}

static void store(const char *path, const char *key, const struct isola_seccomp *sc)
{
	/* best effort: the cache is an optimisation */
	if (mkdir("/run/isola", 0755) < 0 && errno != EEXIST)
		return;
	if ((mkdir("/run/isola/cache", 0700) < 0 && errno != EEXIST) ||
	    (mkdir(FILTERCACHE_DIR, 0700) < 0 && errno != EEXIST))
		return;
	struct header h = {.flags = sc->flags, .bpf_len = (uint32_t)sc->bpf_len, .key_len = (uint32_t)strlen(key)};
	memcpy(h.magic, MAGIC, sizeof MAGIC);
	char tmp[512];
	snprintf(tmp, sizeof tmp, "%s.%d", path, getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	bool ok = write(fd, &h, sizeof h) == (ssize_t)sizeof h && write(fd, key, h.key_len) == (ssize_t)h.key_len &&
	          write(fd, sc->bpf, sc->bpf_len * 8) == (ssize_t)(sc->bpf_len * 8);
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
}

int filtercache_build(json_t *obj, const char *jpath, struct isola_seccomp **out, isola_error *err)
{
	*out = NULL;
	if (!obj)
		return 0;
	bool cacheable = !json_object_get(obj, "listenerPath");
	_cleanup_free_ char *key = cacheable ? cache_key(obj) : NULL;
	char path[256] = "";
	if (key) {
		key_file(key, path, sizeof path);
		if ((*out = load(path, key))) {
			EXPLAIN(0, "seccomp(2)", "seccomp filter for %s from the cache %s (%zu instructions)", jpath,
			        path, (*out)->bpf_len);
			return 0;
		}
	}
	if (isola_seccomp_build(obj, jpath, out, err) < 0)
		return -1;
	if (key && *out && !(*out)->notify && !(*out)->listener_path)
		store(path, key, *out);
	return 0;
}
