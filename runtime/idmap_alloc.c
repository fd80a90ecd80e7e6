/* Host id-range allocator; see idmap_alloc.h. */
#include "runtime/idmap_alloc.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "json.h"
#include "util.h"

static bool overlaps(uint64_t a, uint64_t asz, uint64_t b, uint64_t bsz)
{
	return a < b + bsz && b < a + asz;
}

int idmap_range_pick(const struct idmap_range *used, size_t n, uint64_t first, uint64_t size, uint64_t *out,
                     isola_error *err)
{
	if (!size)
		return isola_err(err, EINVAL, "id range size 0");
	uint64_t base = (first + size - 1) / size * size;
	while (base + size - 1 <= IDMAP_ID_LIMIT) {
		bool clash = false;
		for (size_t i = 0; i < n; i++) {
			if (overlaps(base, size, used[i].base, used[i].size)) {
				/* jump past the clashing range, re-aligned */
				uint64_t end = used[i].base + used[i].size;
				base = (end + size - 1) / size * size;
				clash = true;
				break;
			}
		}
		if (!clash) {
			*out = base;
			return 0;
		}
	}
	return isola_err(err, ENOSPC, "no free block of %llu host ids left", (unsigned long long)size);
}

int idmap_range_parse_subid(const char *text, struct idmap_range **v, size_t *n, isola_error *err)
{
	_cleanup_free_ char *copy = strdup(text);
	if (!copy)
		return isola_err(err, ENOMEM, "subid");
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (*l == '#')
			continue;
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		char *e1, *e2;
		errno = 0;
		unsigned long long start = strtoull(c1 + 1, &e1, 10), count = strtoull(c2 + 1, &e2, 10);
		if (errno || e1 != c2 || e1 == c1 + 1 || e2 == c2 + 1 || (*e2 && *e2 != ' ' && *e2 != '\t') || !count)
			continue;
		struct idmap_range *nv = realloc(*v, (*n + 1) * sizeof **v);
		if (!nv)
			return isola_err(err, ENOMEM, "subid");
		*v = nv;
		(*v)[(*n)++] = (struct idmap_range){start, count};
	}
	return 0;
}

/* The locked database: the lock fd and the parsed document. */
struct idmap_db {
	int lockfd;
	char path[4096];
	json_t *doc;
	json_t *ranges; /* borrowed from doc */
};

static void idmap_db_close(struct idmap_db *db)
{
	json_decref(db->doc);
	closep(&db->lockfd); /* closing the fd drops the flock */
}

static int idmap_db_open(const char *dir, struct idmap_db *db, isola_error *err)
{
	dir = dir ? dir : IDMAP_DEFAULT_DIR;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return isola_err(err, errno, "id map directory %s", dir);
	char lock[4096];
	snprintf(lock, sizeof lock, "%s/idmap.lock", dir);
	snprintf(db->path, sizeof db->path, "%s/idmap.json", dir);
	db->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (db->lockfd < 0)
		return isola_err(err, errno, "open %s", lock);
	int r;
	do
		r = flock(db->lockfd, LOCK_EX);
	while (r < 0 && errno == EINTR);
	EXPLAIN(r, "flock(2)", "flock(%d <%s>, LOCK_EX)  /* one id-range allocator at a time */", db->lockfd, lock);
	if (r < 0)
		return isola_err(err, errno, "lock %s", lock);
	if (access(db->path, F_OK) < 0 && errno == ENOENT) {
		db->doc = json_pack("{s:[]}", "ranges");
	} else {
		db->doc = json_load_path(db->path, err);
		if (!db->doc)
			return -1;
	}
	if (!db->doc)
		return isola_err(err, ENOMEM, "id map");
	if (json_get_arr(db->doc, db->path, "ranges", true, &db->ranges, err) < 0)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(db->ranges, i, e)
	{
		const char *owner;
		uint64_t base, size;
		const char *jp = json_path_idx("ranges", i);
		if (json_get_str(e, jp, "owner", true, &owner, err) < 0 ||
		    json_get_uint(e, jp, "base", true, &base, err) < 0 ||
		    json_get_uint(e, jp, "size", true, &size, err) < 0)
			return isola_err_wrap(err, "%s", db->path);
	}
	return 0;
}

static json_t *find_owner(struct idmap_db *db, const char *owner, size_t *idx)
{
	size_t i;
	json_t *e;
	json_array_foreach(db->ranges, i, e)
	{
		if (!strcmp(json_string_value(json_object_get(e, "owner")), owner)) {
			if (idx)
				*idx = i;
			return e;
		}
	}
	return NULL;
}

/* What may not be handed out: every allocated block plus /etc/subuid and /etc/subgid. */
static int used_ranges(struct idmap_db *db, struct idmap_range **v, size_t *n, isola_error *err)
{
	*v = NULL;
	*n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(db->ranges, i, e)
	{
		struct idmap_range *nv = realloc(*v, (*n + 1) * sizeof **v);
		if (!nv)
			return isola_err(err, ENOMEM, "id map");
		*v = nv;
		(*v)[(*n)++] = (struct idmap_range){json_integer_value(json_object_get(e, "base")),
		                                    json_integer_value(json_object_get(e, "size"))};
	}
	static const char *const subid[] = {"/etc/subuid", "/etc/subgid"};
	for (size_t k = 0; k < ARRAY_SIZE(subid); k++) {
		_cleanup_free_ char *text = NULL;
		size_t len;
		isola_error ig = {0};
		if (read_file_at(AT_FDCWD, subid[k], &text, &len, &ig) < 0)
			continue; /* absent: nothing delegated */
		if (idmap_range_parse_subid(text, v, n, err) < 0)
			return -1;
	}
	return 0;
}

int idmap_range_alloc(const char *dir, const char *owner, uint64_t *base, isola_error *err)
{
	_cleanup_(idmap_db_close) struct idmap_db db = {.lockfd = -1};
	if (idmap_db_open(dir, &db, err) < 0)
		return -1;
	json_t *e = find_owner(&db, owner, NULL);
	if (e) {
		*base = (uint64_t)json_integer_value(json_object_get(e, "base"));
		return 0;
	}
	_cleanup_free_ struct idmap_range *used = NULL;
	size_t n;
	if (used_ranges(&db, &used, &n, err) < 0)
		return -1;
	uint64_t b;
	if (idmap_range_pick(used, n, IDMAP_FIRST_BASE, IDMAP_RANGE_SIZE, &b, err) < 0)
		return isola_err_wrap(err, "allocate host ids for %s", owner);
	if (json_array_append_new(db.ranges, json_pack("{s:s, s:I, s:I}", "owner", owner, "base", (json_int_t)b, "size",
	                                               (json_int_t)IDMAP_RANGE_SIZE)) < 0)
		return isola_err(err, ENOMEM, "id map");
	if (json_store_path(db.path, db.doc, true, err) < 0)
		return -1;
	*base = b;
	return 0;
}

int idmap_range_adopt(const char *dir, const char *owner, uint64_t base, uint64_t size, isola_error *err)
{
	if (!size || base + size - 1 > IDMAP_ID_LIMIT)
		return isola_err(err, EINVAL, "id range %llu+%llu of %s is outside the id space",
		                 (unsigned long long)base, (unsigned long long)size, owner);
	_cleanup_(idmap_db_close) struct idmap_db db = {.lockfd = -1};
	if (idmap_db_open(dir, &db, err) < 0)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(db.ranges, i, e)
	{
		const char *o = json_string_value(json_object_get(e, "owner"));
		uint64_t b = (uint64_t)json_integer_value(json_object_get(e, "base"));
		uint64_t n = (uint64_t)json_integer_value(json_object_get(e, "size"));
		if (!strcmp(o, owner)) {
			if (b == base && n == size)
				return 0; /* already recorded (a migration that ran before a crash) */
			return isola_err(err, EEXIST, "%s: %s already has host ids %llu+%llu, not %llu+%llu", db.path,
			                 owner, (unsigned long long)b, (unsigned long long)n, (unsigned long long)base,
			                 (unsigned long long)size);
		}
		if (overlaps(base, size, b, n))
			return isola_err(err, EEXIST, "%s: host ids %llu+%llu of %s overlap %s's %llu+%llu", db.path,
			                 (unsigned long long)base, (unsigned long long)size, owner, o,
			                 (unsigned long long)b, (unsigned long long)n);
	}
	if (json_array_append_new(db.ranges, json_pack("{s:s, s:I, s:I}", "owner", owner, "base", (json_int_t)base,
	                                               "size", (json_int_t)size)) < 0)
		return isola_err(err, ENOMEM, "id map");
	return json_store_path(db.path, db.doc, true, err);
}

int idmap_range_lookup(const char *dir, const char *owner, uint64_t *base, isola_error *err)
{
	_cleanup_(idmap_db_close) struct idmap_db db = {.lockfd = -1};
	if (idmap_db_open(dir, &db, err) < 0)
		return -1;
	json_t *e = find_owner(&db, owner, NULL);
	if (!e)
		return isola_err(err, ENOENT, "%s has no host id range in %s", owner, db.path);
	*base = (uint64_t)json_integer_value(json_object_get(e, "base"));
	return 0;
}

int idmap_range_release(const char *dir, const char *owner, isola_error *err)
{
	_cleanup_(idmap_db_close) struct idmap_db db = {.lockfd = -1};
	if (idmap_db_open(dir, &db, err) < 0)
		return -1;
	size_t idx;
	if (!find_owner(&db, owner, &idx))
		return 0;
	json_array_remove(db.ranges, idx);
	return json_store_path(db.path, db.doc, true, err);
}
