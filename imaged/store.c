#include "store.h"
#include "child.h"
#include "cleanup.h"
#include "extract.h"
#include "fetch.h"
#include "fingerprint.h"
#include "json.h"
#include "log.h"
#include "logerr.h"
#include "metadata.h"
#include "pack.h"
#include "util.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- removing trees ---------------------------------------------------------------------------- */

static int remove_children(int dfd, dev_t dev, const char *what, isola_error *err)
{
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0)
		return isola_err(err, errno, "dup for %s", what);
	_cleanup_closedir_ DIR *d = fdopendir(dup);
	if (!d) {
		close(dup);
		return isola_err(err, errno, "opendir %s", what);
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return isola_err(err, errno, "stat %s/%s", what, de->d_name);
		if (S_ISDIR(st.st_mode)) {
			if (st.st_dev != dev)
				return isola_err(err, EBUSY, "%s/%s is a mount point", what, de->d_name);
			_cleanup_close_ int cfd =
			    openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0)
				return isola_err(err, errno, "open %s/%s", what, de->d_name);
			if (remove_children(cfd, dev, de->d_name, err) < 0)
				return -1;
			if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0)
				return isola_err(err, errno, "rmdir %s/%s", what, de->d_name);
		} else if (unlinkat(dfd, de->d_name, 0) < 0) {
			return isola_err(err, errno, "unlink %s/%s", what, de->d_name);
		}
	}
	if (errno)
		return isola_err(err, errno, "readdir %s", what);
	return 0;
}

int remove_tree_at(int dirfd, const char *name, isola_error *err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : isola_err(err, errno, "stat %s", name);
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 ? isola_err(err, errno, "unlink %s", name) : 0;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "open %s", name);
	if (remove_children(fd, st.st_dev, name, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		return isola_err(err, errno, "rmdir %s", name);
	return 0;
}

/* ---- opening ----------------------------------------------------------------------------------- */

static char *path_join(const char *a, const char *b)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static json_t *load_or_empty(struct store *s, const char *name, isola_error *err)
{
	_cleanup_free_ char *p = path_join(s->root, name);
	if (access(p, F_OK) < 0 && errno == ENOENT)
		return json_object();
	json_t *v = json_load_path(p, err);
	if (v && !json_is_object(v)) {
		json_decref(v);
		isola_err(err, EINVAL, "%s: expected an object", p);
		return NULL;
	}
	return v;
}

static int save_json(struct store *s, const char *name, json_t *v, isola_error *err)
{
	_cleanup_free_ char *p = path_join(s->root, name);
	return json_store_path(p, v, true, err);
}

/* layers.json is rewritten on every acquire/release, the hot path of an instance start, so unlike the
 * image records it is not fsync'd: tmp + rename is atomic against a crash of the daemon (the page cache
 * survives kill -9), and after a power loss the mounts it describes are gone anyway — the manager
 * re-acquires for the instances it starts. An fsync here cost ~8 ms per handout on the dev VM. */
int store_save_layers(struct store *s, isola_error *err)
{
	_cleanup_free_ char *p = path_join(s->root, "layers.json"), *tmp = path_join(s->root, ".layers.json.new");
	_cleanup_free_ char *text = json_dumps(s->layers, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!p || !tmp || !text)
		return isola_err(err, ENOMEM, "layers.json");
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return isola_err(err, errno, "create %s", tmp);
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	if (w != (ssize_t)len) {
		int e = w < 0 ? errno : ENOSPC;
		unlink(tmp);
		return isola_err(err, e, "write %s", tmp);
	}
	if (rename(tmp, p) < 0) {
		int e = errno;
		unlink(tmp);
		return isola_err(err, e, "rename %s", tmp);
	}
	return 0;
}
static int save_aliases(struct store *s, isola_error *err)
{
	return save_json(s, "aliases.json", s->aliases, err);
}

int store_open(struct store *s, const char *root, isola_error *err)
{
	memset(s, 0, sizeof *s);
	s->rootfd = -1;
	s->root = strdup(root);
	if (!s->root)
		return isola_err(err, ENOMEM, "store");
	/* mkdir -p of a trusted, configured path */
	_cleanup_free_ char *tmp = strdup(root);
	for (char *p = tmp + 1; p && *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0755);
			*p = '/';
		}
	if (mkdir(root, 0700) < 0 && errno != EEXIST)
		return isola_err(err, errno, "create store %s", root);
	s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		return isola_err(err, errno, "open store %s", root);
	s->images = json_object();
	int dup = fcntl(s->rootfd, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d)
		return isola_err(err, errno, "read store %s", root);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, ".tmp-", 5) == 0) {
			/* an import (or delete) that never finished: kill -9, power loss, ENOSPC we could not clean */
			isola_error e;
			log_info("removing unfinished import %s/%s", root, de->d_name);
			if (remove_tree_at(s->rootfd, de->d_name, &e) < 0)
				log_warn("cannot remove %s/%s: %s", root, de->d_name, ERR_STR(&e));
			continue;
		}
		if (!fp_is_valid(de->d_name))
			continue;
		_cleanup_free_ char *ij = NULL;
		if (asprintf(&ij, "%s/%s/image.json", root, de->d_name) < 0)
			return isola_err(err, ENOMEM, "store");
		isola_error e;
		json_t *img = json_load_path(ij, &e);
		if (!img) {
			log_warn("skipping %s/%s: %s", root, de->d_name, ERR_STR(&e));
			continue;
		}
		json_object_set_new(s->images, de->d_name, img);
	}
	if (!(s->aliases = load_or_empty(s, "aliases.json", err)) ||
	    !(s->layers = load_or_empty(s, "layers.json", err)))
		return -1;
	/* an alias whose image is gone (deleted by hand) is dropped rather than left dangling */
	const char *k;
	json_t *v;
	void *tmpiter;
	json_object_foreach_safe(s->aliases, tmpiter, k, v)
	{
		const char *t = json_string_value(json_object_get(v, "target"));
		if (!t || !json_object_get(s->images, t))
			json_object_del(s->aliases, k);
	}
	return 0;
}

void store_close(struct store *s)
{
	if (s->rootfd >= 0)
		close(s->rootfd);
	json_decref(s->images);
	json_decref(s->aliases);
	json_decref(s->layers);
	free(s->root);
	memset(s, 0, sizeof *s);
	s->rootfd = -1;
}

int store_load_image(struct store *s, const char *fp, isola_error *err)
{
	if (json_object_get(s->images, fp))
		return 0;
	if (!fp_is_valid(fp))
		return isola_err(err, EINVAL, "load image: bad fingerprint");
	_cleanup_free_ char *ij = NULL;
	if (asprintf(&ij, "%s/%s/image.json", s->root, fp) < 0)
		return isola_err(err, ENOMEM, "load image");
	json_t *img = json_load_path(ij, err);
	if (!img)
		return -1;
	json_object_set_new(s->images, fp, img);
	return 0;
}

/* ---- lookup ------------------------------------------------------------------------------------ */

int store_resolve(struct store *s, const char *ref, const char **fp, isola_error *err)
{
	if (!ref || !*ref)
		return isola_err(err, EINVAL, "ref: empty");
	json_t *a = json_object_get(s->aliases, ref);
	if (a) {
		const char *t = json_string_value(json_object_get(a, "target"));
		void *it = t ? json_object_iter_at(s->images, t) : NULL;
		if (!it)
			return isola_err(err, ENOENT, "alias %s: image %s is gone", ref, t ? t : "?");
		*fp = json_object_iter_key(it);
		return 0;
	}
	size_t n = strlen(ref);
	if (n > FP_HEX_LEN || strspn(ref, "0123456789abcdef") != n)
		return isola_err(err, ENOENT, "image %s: no such alias or fingerprint", ref);
	const char *found = NULL, *k;
	json_t *v;
	json_object_foreach(s->images, k, v)
	{
		if (strncmp(k, ref, n) == 0) {
			if (found)
				return isola_err(err, EINVAL, "image %s: fingerprint prefix is ambiguous", ref);
			found = k;
		}
	}
	if (!found)
		return isola_err(err, ENOENT, "image %s: no such alias or fingerprint", ref);
	*fp = found;
	return 0;
}

json_t *store_image_json(struct store *s, const char *fp)
{
	json_t *img = json_deep_copy(json_object_get(s->images, fp));
	if (!img)
		return NULL;
	json_t *al = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(s->aliases, k, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "target")) ?: "", fp) == 0)
			json_array_append_new(al, json_string(k));
	}
	json_object_set_new(img, "aliases", al);
	return img;
}

char *store_image_dir(struct store *s, const char *fp)
{
	return path_join(s->root, fp);
}

/* ---- aliases ----------------------------------------------------------------------------------- */

bool alias_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 255 || name[0] == ' ' || name[n - 1] == ' ')
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == ':')
			return false;
	return true;
}

static int alias_check_new(struct store *s, const char *name, isola_error *err)
{
	if (!alias_name_valid(name))
		return isola_err(err, EINVAL, "alias \"%s\": not a valid name (1-255 chars, no ':' or control chars)",
		                 name ? name : "");
	json_t *a = json_object_get(s->aliases, name);
	if (a)
		return isola_err(err, EEXIST, "alias %s already exists (→ %.12s)", name,
		                 json_string_value(json_object_get(a, "target")));
	return 0;
}

int alias_create(struct store *s, const char *name, const char *target_ref, const char *desc, isola_error *err)
{
	const char *fp;
	if (alias_check_new(s, name, err) < 0 || store_resolve(s, target_ref, &fp, err) < 0)
		return -1;
	json_object_set_new(s->aliases, name, json_pack("{s:s, s:s}", "target", fp, "description", desc ? desc : ""));
	if (save_aliases(s, err) < 0) {
		json_object_del(s->aliases, name);
		return -1;
	}
	return 0;
}

int alias_point(struct store *s, const char *name, const char *fp, isola_error *err)
{
	json_t *a = json_object_get(s->aliases, name ? name : "");
	if (!a)
		return alias_create(s, name, fp, NULL, err);
	_cleanup_json_ json_t *old = json_deep_copy(a);
	json_object_set_new(a, "target", json_string(fp));
	if (save_aliases(s, err) < 0) {
		json_object_set(s->aliases, name, old);
		return -1;
	}
	return 0;
}

int alias_delete(struct store *s, const char *name, isola_error *err)
{
	_cleanup_json_ json_t *old = json_incref(json_object_get(s->aliases, name ? name : ""));
	if (!old)
		return isola_err(err, ENOENT, "alias %s: not found", name ? name : "");
	json_object_del(s->aliases, name);
	if (save_aliases(s, err) < 0) {
		json_object_set(s->aliases, name, old);
		return -1;
	}
	return 0;
}

int alias_rename(struct store *s, const char *name, const char *new_name, isola_error *err)
{
	_cleanup_json_ json_t *old = json_incref(json_object_get(s->aliases, name ? name : ""));
	if (!old)
		return isola_err(err, ENOENT, "alias %s: not found", name ? name : "");
	if (alias_check_new(s, new_name, err) < 0)
		return -1;
	json_object_set(s->aliases, new_name, old);
	json_object_del(s->aliases, name);
	if (save_aliases(s, err) < 0) {
		json_object_del(s->aliases, new_name);
		json_object_set(s->aliases, name, old);
		return -1;
	}
	return 0;
}

json_t *alias_list(struct store *s)
{
	json_t *arr = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(s->aliases, k, v)
	{
		json_array_append_new(arr,
		                      json_pack("{s:s, s:O, s:O}", "name", k, "target", json_object_get(v, "target"),
		                                "description", json_object_get(v, "description") ?: json_string("")));
	}
	return arr;
}

/* ---- import ------------------------------------------------------------------------------------ */

struct import_ctx {
	struct store *s;
	char tmpname[32]; /* ".tmp-XXXXXX" under the store */
	int tmpfd;
	bool committed;
	store_progress_fn pf;
	void *ud;
	json_t *files;
	uint64_t total;
	char fp[FP_HEX_LEN + 1];
};

static void import_ctx_done(struct import_ctx *c)
{
	if (c->tmpfd >= 0)
		close(c->tmpfd);
	if (!c->committed && c->tmpname[0]) {
		isola_error e;
		if (remove_tree_at(c->s->rootfd, c->tmpname, &e) < 0)
			log_warn("cannot remove %s/%s: %s (removed at next start)", c->s->root, c->tmpname,
			         ERR_STR(&e));
	}
	json_decref(c->files);
}

static void progress(struct import_ctx *c, const char *stage, uint64_t done, uint64_t total)
{
	if (!c->pf)
		return;
	_cleanup_json_ json_t *p =
	    json_pack("{s:s, s:I, s:I}", "stage", stage, "bytes", (json_int_t)done, "total", (json_int_t)total);
	c->pf(p, c->ud);
}

static int import_begin(struct store *s, struct import_ctx *c, store_progress_fn pf, void *ud, isola_error *err)
{
	memset(c, 0, sizeof *c);
	c->s = s;
	c->tmpfd = -1;
	c->pf = pf;
	c->ud = ud;
	c->files = json_array();
	_cleanup_free_ char *tmpl = path_join(s->root, ".tmp-XXXXXX");
	if (!tmpl || !mkdtemp(tmpl))
		return isola_err(err, errno, "create import dir in %s", s->root);
	snprintf(c->tmpname, sizeof c->tmpname, "%s", strrchr(tmpl, '/') + 1);
	c->tmpfd = openat(s->rootfd, c->tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->tmpfd < 0)
		return isola_err(err, errno, "open %s", tmpl);
	progress(c, "start", 0, 0);
	return 0;
}

static const char *ext_of(int fd)
{
	unsigned char m[8] = {0};
	if (pread(fd, m, sizeof m, 0) < 0)
		return "";
	if (m[0] == 0x1f && m[1] == 0x8b)
		return ".tar.gz";
	if (memcmp(m,
	           "\xfd"
	           "7zXZ\0",
	           6) == 0)
		return ".tar.xz";
	if (memcmp(m, "BZh", 3) == 0)
		return ".tar.bz2";
	if (memcmp(m, "\x28\xb5\x2f\xfd", 4) == 0)
		return ".tar.zst";
	if (memcmp(m, "hsqs", 4) == 0)
		return ".squashfs";
	if (memcmp(m, "QFI\xfb", 4) == 0)
		return ".qcow2";
	/* A raw disk: a whole-disk ext2/3/4 (superblock magic 0xEF53 at byte 1080, ext4(5)), or a partition
	 * table (GPT "EFI PART" at LBA 1, or the MBR boot signature 0x55AA at byte 510). Only these are taken
	 * for disks, so an unreadable tarball is never mistaken for a VM image. */
	unsigned char b[2] = {0}, g[8] = {0}, u[5] = {0};
	if (pread(fd, u, 5, 257) == 5 && memcmp(u, "ustar", 5) == 0) /* POSIX/GNU tar header magic */
		return ".tar";
	if ((pread(fd, b, 2, 1080) == 2 && b[0] == 0x53 && b[1] == 0xEF) ||
	    (pread(fd, g, 8, 512) == 8 && memcmp(g, "EFI PART", 8) == 0) ||
	    (pread(fd, b, 2, 510) == 2 && b[0] == 0x55 && b[1] == 0xAA))
		return ".img";
	return ".tar";
}

struct copy_cb {
	struct import_ctx *c;
	uint64_t total;
};
static void on_copy(uint64_t done, void *ud)
{
	struct copy_cb *cb = ud;
	progress(cb->c, "copy", done, cb->total);
}

/* Copy src into the tmp dir as role+ext, hashing into ctx. */
static int stage_file(struct import_ctx *c, EVP_MD_CTX *ctx, const char *src, const char *role, uint64_t all,
                      isola_error *err)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return isola_err(err, errno, "open %s", src);
	struct stat st;
	if (fstat(in, &st) < 0)
		return isola_err(err, errno, "stat %s", src);
	if (!S_ISREG(st.st_mode))
		return isola_err(err, EINVAL, "%s: not a regular file", src);
	char name[64];
	snprintf(name, sizeof name, "%s%s", role, ext_of(in));
	_cleanup_close_ int out = openat(c->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return isola_err(err, errno, "create %s/%s", c->tmpname, name);
	struct copy_cb cb = {c, all};
	uint64_t before = c->total;
	if (fp_copy_fd(ctx, in, out, src, &c->total, on_copy, &cb, err) < 0)
		return -1;
	/* the original bytes are the image; make them durable before the rename publishes them */
	if (fsync(out) < 0)
		return isola_err(err, errno, "fsync %s", name);
	json_array_append_new(c->files, json_pack("{s:s, s:I, s:s}", "name", name, "size",
	                                          (json_int_t)(c->total - before), "role", role));
	progress(c, "copy", c->total, all);
	return 0;
}

static void on_fetch(uint64_t done, uint64_t total, void *ud)
{
	progress(ud, "download", done, total);
}

/* https → tmp/unified<ext>; the hash is computed while the bytes arrive */
static int stage_download(struct import_ctx *c, const char *url, const char *ca_file, isola_error *err)
{
	uint64_t size = 0;
	if (fetch_to_file(url, ca_file, c->tmpfd, "download", 0, c->fp, &size, on_fetch, c, err) < 0)
		return -1;
	_cleanup_close_ int fd = openat(c->tmpfd, "download", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "open download");
	char name[64];
	snprintf(name, sizeof name, "unified%s", ext_of(fd));
	if (renameat(c->tmpfd, "download", c->tmpfd, name) < 0)
		return isola_err(err, errno, "rename download");
	c->total = size;
	json_array_append_new(c->files,
	                      json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)size, "role", "unified"));
	return 0;
}

static uint64_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void on_extract(uint64_t entries, uint64_t bytes, void *ud)
{
	struct import_ctx *c = ud;
	if (c->pf) {
		_cleanup_json_ json_t *p = json_pack("{s:s, s:I, s:I}", "stage", "unpack", "entries",
		                                     (json_int_t)entries, "bytes", (json_int_t)bytes);
		c->pf(p, c->ud);
	}
}

static char *tmp_path(struct import_ctx *c, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s/%s", c->s->root, c->tmpname, name) < 0)
		return NULL;
	return p;
}

static int extract_into(struct import_ctx *c, const char *archive_name, const char *dir, bool privileged,
                        struct extract_stats *st, isola_error *err)
{
	if (mkdirat(c->tmpfd, dir, 0755) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", dir);
	_cleanup_close_ int dfd = openat(c->tmpfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return isola_err(err, errno, "open %s", dir);
	_cleanup_free_ char *ap = tmp_path(c, archive_name);
	struct extract_opts o = {.privileged = privileged, .progress = on_extract, .ud = c};
	if (extract_archive(ap, dfd, &o, st, err) < 0)
		return isola_err_wrap(err, "unpack %s", archive_name);
	return 0;
}

/* qcow2 → raw. A qcow2 header can name a backing file or an external data file: any host path. Such an
 * image would make qemu-img read host files into the disk, so refuse both (CVE-2024-4467 class). */
static int qcow2_to_raw(struct import_ctx *c, const char *src_name, isola_error *err)
{
	_cleanup_free_ char *src = tmp_path(c, src_name), *dst = tmp_path(c, "disk.raw"), *info = NULL;
	progress(c, "convert", 0, file_size(src));
	char *iargv[] = {"qemu-img", "info", "-f", "qcow2", "--output=json", src, NULL};
	if (run_tool(iargv, &info, err) < 0)
		return isola_err_wrap(err, "inspect %s", src_name);
	json_error_t je;
	_cleanup_json_ json_t *j = json_loads(info, 0, &je);
	if (!j)
		return isola_err(err, EBADMSG, "qemu-img info %s: unreadable output", src_name);
	if (json_object_get(j, "backing-filename") || json_object_get(j, "full-backing-filename"))
		return isola_err(err, EINVAL, "%s: qcow2 with a backing file refused", src_name);
	json_t *data = json_object_get(json_object_get(j, "format-specific"), "data");
	if (json_object_get(data, "data-file"))
		return isola_err(err, EINVAL, "%s: qcow2 with an external data file refused", src_name);
	char *cargv[] = {"qemu-img", "convert", "-q", "-f", "qcow2", "-O", "raw", src, dst, NULL};
	if (run_tool(cargv, NULL, err) < 0)
		return isola_err_wrap(err, "convert %s to raw", src_name);
	return 0;
}

static int read_metadata(struct import_ctx *c, struct image_metadata *md, isola_error *err)
{
	_cleanup_close_ int fd = openat(c->tmpfd, "tree/metadata.yaml", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno == ENOENT ? EINVAL : errno,
		                 errno == ENOENT ? "the image has no metadata.yaml" : "open metadata.yaml");
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > METADATA_MAX_SIZE)
		return isola_err(err, EINVAL, "metadata.yaml: not a regular file of at most %d bytes",
		                 METADATA_MAX_SIZE);
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? pread(fd, buf, (size_t)st.st_size, 0) : -1;
	if (n < 0)
		return isola_err(err, errno, "read metadata.yaml");
	buf[n] = 0;
	return metadata_parse(buf, (size_t)n, md, err);
}

static bool is_dir_at(int dfd, const char *p)
{
	struct stat st;
	return fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}
static bool is_reg_at(int dfd, const char *p)
{
	struct stat st;
	return fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int store_check_aliases(struct store *s, json_t *aliases, isola_error *err)
{
	size_t i;
	json_t *a;
	json_array_foreach(aliases, i, a)
	{
		if (!json_is_string(a))
			return isola_err(err, EINVAL, "aliases[%zu]: expected a string", i);
		if (alias_check_new(s, json_string_value(a), err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (json_equal(json_array_get(aliases, j), a))
				return isola_err(err, EEXIST, "alias %s given twice", json_string_value(a));
	}
	return 0;
}

int store_import_existing(struct store *s, const char *fp, const struct import_req *r, json_t **out, isola_error *err)
{
	/* already here: a new copy is dropped, the aliases still apply */
	if (store_check_aliases(s, r->aliases, err) < 0)
		return -1;
	size_t i;
	json_t *a;
	json_array_foreach(r->aliases, i, a)
	{
		if (alias_create(s, json_string_value(a), fp, NULL, err) < 0)
			return -1;
	}
	json_t *img = store_image_json(s, fp);
	*out = json_pack("{s:s, s:O, s:b, s:o}", "fingerprint", fp, "type", json_object_get(img, "type"), "already", 1,
	                 "image", img);
	return 0;
}

/* Everything after the original files are staged and hashed: unpack, validate, commit. */
static int import_finish(struct import_ctx *c, const struct import_req *r, const char *format, json_t **out,
                         isola_error *err)
{
	struct store *s = c->s;
	if (r->expect_fp && strcmp(r->expect_fp, c->fp) != 0)
		return isola_err(err, EBADMSG, "fingerprint mismatch: expected %s, the files hash to %s", r->expect_fp,
		                 c->fp);
	/* on disk but not in memory: a concurrent worker committed it since this process forked */
	if (json_object_get(s->images, c->fp) ||
	    (faccessat(s->rootfd, c->fp, F_OK, 0) == 0 && store_load_image(s, c->fp, err) == 0))
		return store_import_existing(s, c->fp, r, out, err);
	struct extract_stats st = {0};
	const char *type = "container", *rootfs_format = "tree";
	if (strcmp(format, "unified") == 0) {
		const char *name = json_string_value(json_object_get(json_array_get(c->files, 0), "name"));
		if (extract_into(c, name, "tree", r->privileged, &st, err) < 0)
			return -1;
		if (is_reg_at(c->tmpfd, "tree/rootfs.img")) {
			type = "virtual-machine";
			rootfs_format = "disk";
			_cleanup_close_ int fd = openat(c->tmpfd, "tree/rootfs.img", O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && strcmp(ext_of(fd), ".qcow2") == 0) {
				if (qcow2_to_raw(c, "tree/rootfs.img", err) < 0)
					return -1;
				unlinkat(c->tmpfd, "tree/rootfs.img", 0);
			} else if (renameat(c->tmpfd, "tree/rootfs.img", c->tmpfd, "disk.raw") < 0) {
				return isola_err(err, errno, "move rootfs.img");
			}
		} else if (!is_dir_at(c->tmpfd, "tree/rootfs")) {
			return isola_err(err, EINVAL, "the image has neither rootfs/ nor rootfs.img");
		}
	} else {
		const char *mname = json_string_value(json_object_get(json_array_get(c->files, 0), "name"));
		const char *rname = json_string_value(json_object_get(json_array_get(c->files, 1), "name"));
		if (extract_into(c, mname, "tree", false, &st, err) < 0)
			return -1;
		if (str_has_suffix(rname, ".squashfs")) {
			rootfs_format = "squashfs";
			/* the mount point; the squashfs is mounted over it on the first layer.acquire */
			if (mkdirat(c->tmpfd, "tree/rootfs", 0755) < 0 && errno != EEXIST)
				return isola_err(err, errno, "mkdir tree/rootfs");
		} else if (str_has_suffix(rname, ".qcow2")) {
			type = "virtual-machine";
			rootfs_format = "disk";
			if (qcow2_to_raw(c, rname, err) < 0)
				return -1;
		} else if (str_has_suffix(rname, ".img")) {
			/* already raw: disk.raw is a second name of the kept original, not a copy */
			type = "virtual-machine";
			rootfs_format = "disk";
			if (linkat(c->tmpfd, rname, c->tmpfd, "disk.raw", 0) < 0)
				return isola_err(err, errno, "link %s to disk.raw", rname);
		} else {
			if (extract_into(c, rname, "tree/rootfs", r->privileged, &st, err) < 0)
				return -1;
		}
	}
	struct image_metadata md;
	if (read_metadata(c, &md, err) < 0)
		return -1;
	_cleanup_json_ json_t *props = json_incref(md.properties);
	json_t *templates = json_incref(md.templates);
	metadata_free(&md);
	const char *k;
	json_t *v;
	json_object_foreach(r->properties, k, v)
	{
		if (!json_is_string(v))
			return isola_err(err, EINVAL, "properties.%s: expected a string", k);
		json_object_set(props, k, v);
	}
	json_t *img =
	    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:O, s:O, s:s, s:b, s:o, s:s, s:I, s:I}", "fingerprint",
	              c->fp, "type", type, "format", format, "architecture", md.architecture, "creation_date",
	              (json_int_t)md.creation_date, "expiry_date", (json_int_t)md.expiry_date, "uploaded_at",
	              (json_int_t)time(NULL), "size", (json_int_t)c->total, "properties", props, "files", c->files,
	              "rootfs_format", rootfs_format, "privileged", r->privileged, "templates", templates, "source",
	              r->source ? r->source : "file", "skipped_devices", (json_int_t)st.skipped_devices,
	              "unpack_warnings", (json_int_t)st.warnings);
	_cleanup_json_ json_t *imgref = img;
	_cleanup_free_ char *ij = tmp_path(c, "image.json");
	if (json_store_path(ij, img, true, err) < 0)
		return -1;
	if (renameat(s->rootfd, c->tmpname, s->rootfd, c->fp) < 0) {
		/* ENOTEMPTY/EEXIST: a concurrent import of the same bytes won the race; ours is dropped */
		if ((errno == ENOTEMPTY || errno == EEXIST) && store_load_image(s, c->fp, err) == 0)
			return store_import_existing(s, c->fp, r, out, err);
		return isola_err(err, errno, "rename %s to %s", c->tmpname, c->fp);
	}
	c->committed = true;
	json_object_set(s->images, c->fp, img);
	size_t i;
	json_t *a;
	json_array_foreach(r->aliases, i, a)
	{
		if (alias_create(s, json_string_value(a), c->fp, NULL, err) < 0)
			return isola_err_wrap(err, "image %s imported, but", c->fp);
	}
	log_info("imported %s (%s, %s, %" JSON_INTEGER_FORMAT " bytes)", c->fp, type, format, (json_int_t)c->total);
	*out = json_pack("{s:s, s:s, s:b, s:o}", "fingerprint", c->fp, "type", type, "already", 0, "image",
	                 store_image_json(s, c->fp));
	return 0;
}

static int pack_into(struct import_ctx *c, const char *mem_yaml, const struct pack_source *srcs, size_t n,
                     isola_error *err)
{
	progress(c, "pack", 0, 0);
	{
		_cleanup_close_ int out =
		    openat(c->tmpfd, "unified.tar.gz", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out < 0)
			return isola_err(err, errno, "create unified.tar.gz");
		if (pack_tar_gz(out, mem_yaml ? "metadata.yaml" : NULL, mem_yaml, mem_yaml ? strlen(mem_yaml) : 0, srcs,
		                n, err) < 0)
			return -1;
		if (fsync(out) < 0)
			return isola_err(err, errno, "fsync unified.tar.gz");
	}
	_cleanup_free_ char *p = tmp_path(c, "unified.tar.gz");
	const char *paths[] = {p};
	if (fp_of_files(paths, 1, c->fp, err) < 0)
		return -1;
	c->total = file_size(p);
	json_array_append_new(c->files, json_pack("{s:s, s:I, s:s}", "name", "unified.tar.gz", "size",
	                                          (json_int_t)c->total, "role", "unified"));
	return 0;
}

int store_import(struct store *s, const struct import_req *r, store_progress_fn pf, void *ud, json_t **out,
                 isola_error *err)
{
	int kinds = !!r->path + !!(r->meta || r->rootfs) + !!r->dir + !!r->url;
	if (kinds != 1)
		return isola_err(err, EINVAL, "image.import: give exactly one of path, paths, dir, url");
	if ((r->meta && !r->rootfs) || (!r->meta && r->rootfs))
		return isola_err(err, EINVAL, "image.import: paths needs [metadata, rootfs]");
	if (store_check_aliases(s, r->aliases, err) < 0)
		return -1;
	_cleanup_(import_ctx_done) struct import_ctx c;
	if (import_begin(s, &c, pf, ud, err) < 0)
		return -1;
	const char *format = "unified";
	if (r->dir) {
		_cleanup_free_ char *m = path_join(r->dir, "metadata.yaml"), *rf = path_join(r->dir, "rootfs"),
		                    *t = path_join(r->dir, "templates");
		struct stat st;
		if (stat(m, &st) < 0 || !S_ISREG(st.st_mode))
			return isola_err(err, EINVAL, "%s: missing or not a file", m);
		if (stat(rf, &st) < 0 || !S_ISDIR(st.st_mode))
			return isola_err(err, EINVAL, "%s: missing or not a directory", rf);
		struct pack_source srcs[3] = {{m, "metadata.yaml"}, {rf, "rootfs"}, {t, "templates"}};
		if (pack_into(&c, NULL, srcs, access(t, F_OK) == 0 ? 3 : 2, err) < 0)
			return -1;
	} else {
		_cleanup_evp_ EVP_MD_CTX *ctx = fp_new(err);
		if (!ctx)
			return -1;
		if (r->url) {
			if (stage_download(&c, r->url, r->ca_file, err) < 0)
				return -1;
		} else if (r->path) {
			if (stage_file(&c, ctx, r->path, "unified", file_size(r->path), err) < 0)
				return -1;
		} else {
			format = "split";
			uint64_t all = file_size(r->meta) + file_size(r->rootfs);
			if (stage_file(&c, ctx, r->meta, "metadata", all, err) < 0 ||
			    stage_file(&c, ctx, r->rootfs, "rootfs", all, err) < 0)
				return -1;
		}
		if (!r->url && fp_final(ctx, c.fp, err) < 0)
			return -1;
	}
	return import_finish(&c, r, format, out, err);
}

int store_publish(struct store *s, const char *dir, const char *arch, json_t *properties, json_t *aliases,
                  store_progress_fn pf, void *ud, json_t **out, isola_error *err)
{
	struct stat st;
	if (!dir)
		return isola_err(err, EINVAL, "publish: dir: missing");
	if (stat(dir, &st) < 0)
		return isola_err(err, errno, "publish: %s", dir);
	if (!S_ISDIR(st.st_mode))
		return isola_err(err, ENOTDIR, "publish: %s is not a directory", dir);
	const char *canon = arch_canonical(arch ? arch : arch_host());
	if (!canon)
		return isola_err(err, ENOTSUP, "publish: unknown architecture \"%s\"", arch);
	if (store_check_aliases(s, aliases, err) < 0)
		return -1;
	/* metadata.yaml: JSON strings are valid YAML double-quoted scalars, so keys and values are emitted
	 * with json_dumps and cannot break out of their line whatever they contain. */
	_cleanup_free_ char *yaml = NULL;
	size_t ylen = 0;
	_cleanup_fclose_ FILE *f = open_memstream(&yaml, &ylen);
	if (!f)
		return isola_err(err, errno, "publish: metadata");
	fprintf(f, "architecture: %s\ncreation_date: %lld\nproperties:\n", canon, (long long)time(NULL));
	const char *k;
	json_t *v;
	json_object_foreach(properties, k, v)
	{
		if (!json_is_string(v))
			return isola_err(err, EINVAL, "properties.%s: expected a string", k);
		_cleanup_free_ char *qk = json_dumps(json_string(k), JSON_ENCODE_ANY);
		_cleanup_free_ char *qv = json_dumps(v, JSON_ENCODE_ANY);
		fprintf(f, "  %s: %s\n", qk, qv);
	}
	if (json_object_size(properties) == 0)
		fprintf(f, "  description: \"published from %s\"\n", dir);
	fclose(steal_ptr(&f));
	_cleanup_(import_ctx_done) struct import_ctx c;
	if (import_begin(s, &c, pf, ud, err) < 0)
		return -1;
	struct pack_source src = {dir, "rootfs"};
	if (pack_into(&c, yaml, &src, 1, err) < 0)
		return -1;
	struct import_req r = {.aliases = aliases, .source = "publish"};
	return import_finish(&c, &r, "unified", out, err);
}

/* ---- delete / export / properties -------------------------------------------------------------- */

int store_delete(struct store *s, const char *ref, char fp_out[65], isola_error *err)
{
	const char *fpp;
	if (store_resolve(s, ref, &fpp, err) < 0)
		return -1;
	char fp[FP_HEX_LEN + 1];
	snprintf(fp, sizeof fp, "%s", fpp);
	json_t *l = json_object_get(s->layers, fp);
	if (json_array_size(json_object_get(l, "holders")) > 0)
		return isola_err(err, EBUSY, "image %.12s is in use by %zu holder(s)", fp,
		                 json_array_size(json_object_get(l, "holders")));
	char gone[80];
	snprintf(gone, sizeof gone, ".tmp-del-%s", fp);
	/* rename first: the image vanishes from the store in one step; the slow removal comes after, and a
	 * crash during it leaves a .tmp- dir that the next start removes */
	if (renameat(s->rootfd, fp, s->rootfd, gone) < 0)
		return isola_err(err, errno, "remove image %s", fp);
	json_object_del(s->images, fp);
	json_object_del(s->layers, fp);
	const char *k;
	json_t *v;
	void *tmp;
	bool changed = false;
	json_object_foreach_safe(s->aliases, tmp, k, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "target")) ?: "", fp) == 0) {
			json_object_del(s->aliases, k);
			changed = true;
		}
	}
	if (changed && save_aliases(s, err) < 0)
		return -1;
	if (remove_tree_at(s->rootfd, gone, err) < 0)
		log_warn("delete %s: %s (removed at next start)", fp, ERR_STR(err));
	isola_err_clear(err);
	snprintf(fp_out, 65, "%s", fp);
	return 0;
}

static int copy_file(int srcdir, const char *src, const char *dst, isola_error *err)
{
	_cleanup_close_ int in = openat(srcdir, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return isola_err(err, errno, "open %s", src);
	_cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return isola_err(err, errno, "create %s", dst);
	/* copy_file_range(2) per data extent: in-kernel, a reflink on filesystems that can; holes stay holes */
	if (copy_file_sparse(in, out, NULL, NULL, err) < 0)
		return isola_err_wrap(err, "copy %s to %s", src, dst);
	return 0;
}

int store_export(struct store *s, const char *ref, const char *dir, json_t **out, isola_error *err)
{
	const char *fp;
	if (store_resolve(s, ref, &fp, err) < 0)
		return -1;
	if (!dir)
		return isola_err(err, EINVAL, "image.export: dir: missing");
	_cleanup_free_ char *idir = store_image_dir(s, fp);
	_cleanup_close_ int ifd = open(idir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ifd < 0)
		return isola_err(err, errno, "open %s", idir);
	_cleanup_json_ json_t *names = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(json_object_get(s->images, fp), "files"), i, f)
	{
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *role = json_string_value(json_object_get(f, "role"));
		_cleanup_free_ char *dst = NULL;
		/* <fp>.tar.gz for a unified image; <fp>.metadata.tar.xz + <fp>.rootfs.squashfs for split */
		if (asprintf(&dst, "%s/%s%s%s", dir, fp, strcmp(role, "unified") == 0 ? "" : ".",
		             strcmp(role, "unified") == 0 ? strchr(name, '.') : name) < 0)
			return isola_err(err, ENOMEM, "export");
		if (copy_file(ifd, name, dst, err) < 0)
			return -1;
		json_array_append_new(names, json_string(dst));
	}
	*out = json_pack("{s:s, s:O}", "fingerprint", fp, "files", names);
	return 0;
}

int store_set_properties(struct store *s, const char *ref, json_t *set, json_t *unset, isola_error *err)
{
	const char *fp;
	if (store_resolve(s, ref, &fp, err) < 0)
		return -1;
	_cleanup_json_ json_t *img = json_deep_copy(json_object_get(s->images, fp));
	json_t *props = json_object_get(img, "properties");
	const char *k;
	json_t *v;
	json_object_foreach(set, k, v)
	{
		if (!json_is_string(v))
			return isola_err(err, EINVAL, "set.%s: expected a string", k);
		json_object_set(props, k, v);
	}
	size_t i;
	json_array_foreach(unset, i, v)
	{
		if (!json_is_string(v))
			return isola_err(err, EINVAL, "unset[%zu]: expected a string", i);
		json_object_del(props, json_string_value(v));
	}
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/%s/image.json", s->root, fp) < 0)
		return isola_err(err, ENOMEM, "properties");
	if (json_store_path(p, img, true, err) < 0)
		return -1;
	json_object_set(s->images, fp, img);
	return 0;
}
