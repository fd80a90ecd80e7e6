#include "simplestreams.h"
#include "cleanup.h"
#include "fetch.h"
#include "fingerprint.h"
#include "json.h"
#include "log.h"
#include "logerr.h"
#include "metadata.h"
#include "util.h"
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* kernel architecture names → the Debian names simplestreams servers use in "arch" */
static const char *ss_arch(const char *kernel)
{
	static const char *map[][2] = {{"x86_64", "amd64"}, {"aarch64", "arm64"},   {"i686", "i386"},
	                               {"armv7l", "armhf"}, {"armv6l", "armel"},    {"ppc64le", "ppc64el"},
	                               {"s390x", "s390x"},  {"riscv64", "riscv64"}, {"loongarch64", "loong64"}};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(map[i][0], kernel) == 0)
			return map[i][1];
	return kernel;
}

static const char *prop(json_t *img, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(json_object_get(img, "properties"), k));
	return v && *v ? v : def;
}

/* link(2) when on the same filesystem, else an in-kernel copy */
static int place_file(const char *src, const char *dst, isola_error *err)
{
	struct stat a, b;
	if (stat(src, &a) < 0)
		return isola_err(err, errno, "stat %s", src);
	if (stat(dst, &b) == 0 && b.st_size == a.st_size)
		return 0;
	unlink(dst);
	if (link(src, dst) == 0)
		return 0;
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0)
		return isola_err(err, errno, "copy %s to %s", src, dst);
	if (copy_file_sparse(in, out, NULL, NULL, err) < 0)
		return isola_err_wrap(err, "copy %s to %s", src, dst);
	return 0;
}

static int mkdirs(const char *base, const char *sub, isola_error *err)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/%s", base, sub) < 0)
		return isola_err(err, ENOMEM, "mkdir");
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", base);
	for (char *s = p + strlen(base) + 1;; s++) {
		s = strchr(s, '/');
		if (s)
			*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return isola_err(err, errno, "mkdir %s", p);
		if (!s)
			return 0;
		*s = '/';
	}
}

static json_t *image_items(struct store *s, const char *fp, json_t *img, const char *dir, isola_error *err)
{
	json_t *files = json_object_get(img, "files");
	_cleanup_json_ json_t *items = json_object();
	bool vm = strcmp(json_string_value(json_object_get(img, "type")), "virtual-machine") == 0;
	size_t i;
	json_t *f;
	const char *rf = json_string_value(json_object_get(img, "rootfs_format"));
	const char *combined_key = vm                            ? "combined_disk-kvm-img_sha256"
	                           : strcmp(rf, "squashfs") == 0 ? "combined_squashfs_sha256"
	                                                         : "combined_rootxz_sha256";
	json_array_foreach(files, i, f)
	{
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *role = json_string_value(json_object_get(f, "role"));
		const char *ext = strchr(name, '.') ?: "";
		_cleanup_free_ char *rel = NULL, *src = NULL, *dst = NULL;
		if (asprintf(&rel, "images/%s.%s%s", fp, role, ext) < 0 ||
		    asprintf(&src, "%s/%s/%s", s->root, fp, name) < 0 || asprintf(&dst, "%s/%s", dir, rel) < 0)
			return NULL;
		if (place_file(src, dst, err) < 0)
			return NULL;
		char sha[FP_HEX_LEN + 1];
		const char *paths[] = {src};
		if (strcmp(role, "unified") == 0) {
			snprintf(sha, sizeof sha, "%s", fp);
		} else if (fp_of_files(paths, 1, sha, err) < 0) {
			return NULL;
		}
		json_t *item =
		    json_pack("{s:s, s:s, s:O}", "path", rel, "sha256", sha, "size", json_object_get(f, "size"));
		if (strcmp(role, "unified") == 0) {
			json_object_set_new(item, "ftype",
			                    json_string(str_has_suffix(name, ".tar.xz") ? "incus_combined.tar.xz"
			                                                                : "incus_combined.tar.gz"));
			json_object_set_new(items, "incus_combined.tar.gz", item);
		} else if (strcmp(role, "metadata") == 0) {
			json_object_set_new(item, "ftype", json_string("incus.tar.xz"));
			json_object_set_new(item, combined_key, json_string(fp));
			json_object_set_new(items, "incus.tar.xz", item);
		} else {
			const char *ftype = vm                            ? "disk-kvm.img"
			                    : strcmp(rf, "squashfs") == 0 ? "squashfs"
			                                                  : "root.tar.xz";
			json_object_set_new(item, "ftype", json_string(ftype));
			json_object_set_new(items,
			                    vm                            ? "disk.qcow2"
			                    : strcmp(rf, "squashfs") == 0 ? "root.squashfs"
			                                                  : "root.tar.xz",
			                    item);
		}
	}
	return steal_ptr(&items);
}

int ss_generate(struct store *s, const char *dir, json_t **out, isola_error *err)
{
	if (!dir || mkdirs(dir, "streams/v1", err) < 0 || mkdirs(dir, "images", err) < 0)
		return dir ? -1 : isola_err(err, EINVAL, "dir: missing");
	_cleanup_json_ json_t *products = json_object();
	const char *fp;
	json_t *img0;
	json_object_foreach(s->images, fp, img0)
	{
		_cleanup_json_ json_t *img = store_image_json(s, fp);
		const char *arch = ss_arch(json_string_value(json_object_get(img, "architecture")));
		const char *os = prop(img, "os", "isola"), *rel = prop(img, "release", "unknown"),
		           *var = prop(img, "variant", "default");
		_cleanup_free_ char *key = NULL;
		if (asprintf(&key, "%s:%s:%s:%s", os, rel, var, arch) < 0)
			return isola_err(err, ENOMEM, "generate");
		json_t *p = json_object_get(products, key);
		if (!p) {
			p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{}}", "aliases", "", "arch", arch, "os", os,
			              "release", rel, "release_title", prop(img, "release", rel), "variant", var,
			              "versions");
			json_object_set_new(products, key, p);
		}
		/* aliases of every version of the product, comma-separated as simplestreams has them */
		size_t i;
		json_t *a;
		json_array_foreach(json_object_get(img, "aliases"), i, a)
		{
			const char *cur = json_string_value(json_object_get(p, "aliases"));
			_cleanup_free_ char *n = NULL;
			if (asprintf(&n, "%s%s%s", cur, *cur ? "," : "", json_string_value(a)) < 0)
				return isola_err(err, ENOMEM, "generate");
			json_object_set_new(p, "aliases", json_string(n));
		}
		time_t t = (time_t)json_integer_value(json_object_get(img, "creation_date"));
		struct tm tm;
		gmtime_r(&t, &tm);
		char ver[64];
		strftime(ver, sizeof ver, "%Y%m%d_%H:%M", &tm);
		json_t *versions = json_object_get(p, "versions");
		if (json_object_get(versions, ver)) /* two images of one product in the same minute */
			snprintf(ver + strlen(ver), sizeof ver - strlen(ver), "_%.8s", fp);
		json_t *items = image_items(s, fp, img, dir, err);
		if (!items)
			return isola_err_wrap(err, "image %.12s", fp);
		json_object_set_new(versions, ver, json_pack("{s:o}", "items", items));
	}
	_cleanup_json_ json_t *images = json_pack("{s:s, s:s, s:s, s:O}", "content_id", "images", "datatype",
	                                          "image-downloads", "format", "products:1.0", "products", products);
	_cleanup_json_ json_t *keys = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(products, k, v)
	{
		json_array_append_new(keys, json_string(k));
	}
	_cleanup_json_ json_t *index =
	    json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:O}}}", "format", "index:1.0", "index", "images", "datatype",
	              "image-downloads", "path", "streams/v1/images.json", "format", "products:1.0", "products", keys);
	_cleanup_free_ char *ip = NULL, *pp = NULL;
	if (asprintf(&ip, "%s/streams/v1/index.json", dir) < 0 || asprintf(&pp, "%s/streams/v1/images.json", dir) < 0)
		return isola_err(err, ENOMEM, "generate");
	if (json_store_path(pp, images, true, err) < 0 || json_store_path(ip, index, true, err) < 0)
		return -1;
	*out = json_pack("{s:s, s:I}", "index", ip, "products", (json_int_t)json_object_size(products));
	return 0;
}

/* ---- pull -------------------------------------------------------------------------------------- */

static json_t *fetch_json(const char *base, const char *rel, const char *ca_file, isola_error *err)
{
	_cleanup_free_ char *url = NULL, *body = NULL;
	if (asprintf(&url, "%s/%s", base, rel) < 0)
		return NULL;
	size_t len;
	if (fetch_to_mem(url, ca_file, &body, &len, err) < 0)
		return NULL;
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		isola_err(err, EBADMSG, "%s: not a JSON object (line %d: %s)", url, je.line, je.text);
	}
	return j;
}

static bool alias_listed(const char *list, const char *alias)
{
	size_t n = strlen(alias);
	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = strchrnul(p, ',');
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if ((size_t)(t - p) == n && strncmp(p, alias, n) == 0)
			return true;
		p = e;
	}
	return false;
}

static json_t *find_item(json_t *items, const char *const *ftypes)
{
	const char *k;
	json_t *v;
	for (const char *const *f = ftypes; *f; f++)
		json_object_foreach(items, k, v)
		{
			if (strcmp(json_string_value(json_object_get(v, "ftype")) ?: "", *f) == 0)
				return v;
		}
	return NULL;
}

struct dl_ctx {
	store_progress_fn pf;
	void *ud;
};
static void on_dl(uint64_t done, uint64_t total, void *ud)
{
	struct dl_ctx *c = ud;
	if (!c->pf)
		return;
	_cleanup_json_ json_t *p =
	    json_pack("{s:s, s:I, s:I}", "stage", "download", "bytes", (json_int_t)done, "total", (json_int_t)total);
	c->pf(p, c->ud);
}

/* Download one item into dirfd/name, checking its size and sha256 against the index. */
static int download_item(const char *base, json_t *item, const char *ca_file, int dirfd, const char *name,
                         struct dl_ctx *dc, isola_error *err)
{
	const char *path = json_string_value(json_object_get(item, "path"));
	const char *want = json_string_value(json_object_get(item, "sha256"));
	json_t *size = json_object_get(item, "size");
	if (!path || !want || strstr(path, "://") || path[0] == '/')
		return isola_err(err, EINVAL, "simplestreams item: bad path or no sha256");
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s/%s", base, path) < 0)
		return isola_err(err, ENOMEM, "pull");
	char got[FP_HEX_LEN + 1];
	uint64_t n = 0;
	uint64_t max = json_is_integer(size) ? (uint64_t)json_integer_value(size) + 1 : 0;
	if (fetch_to_file(url, ca_file, dirfd, name, max, got, &n, on_dl, dc, err) < 0)
		return -1;
	if (strcmp(got, want) != 0)
		return isola_err(err, EBADMSG, "%s: sha256 mismatch: index says %s, downloaded file has %s", path, want,
		                 got);
	if (json_is_integer(size) && (uint64_t)json_integer_value(size) != n)
		return isola_err(err, EBADMSG, "%s: size mismatch: index says %" JSON_INTEGER_FORMAT ", got %" PRIu64,
		                 path, json_integer_value(size), n);
	return 0;
}

int ss_pull(struct store *s, const struct ss_pull_req *r, store_progress_fn pf, void *ud, json_t **out,
            isola_error *err)
{
	if (!r->product == !r->alias)
		return isola_err(err, EINVAL, "simplestreams.pull: give product or alias");
	bool vm = r->type && strcmp(r->type, "virtual-machine") == 0;
	_cleanup_free_ char *base = strdup(r->url);
	while (base && *base && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = 0;
	_cleanup_json_ json_t *index = fetch_json(base, "streams/v1/index.json", r->ca_file, err);
	if (!index)
		return -1;
	const char *images_path = NULL, *k;
	json_t *v;
	json_object_foreach(json_object_get(index, "index"), k, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "datatype")) ?: "", "image-downloads") == 0)
			images_path = json_string_value(json_object_get(v, "path"));
	}
	if (!images_path || strstr(images_path, "://"))
		return isola_err(err, EBADMSG, "%s: index.json lists no image-downloads", base);
	_cleanup_json_ json_t *images = fetch_json(base, images_path, r->ca_file, err);
	if (!images)
		return -1;
	json_t *products = json_object_get(images, "products"), *product = NULL;
	const char *host = ss_arch(arch_host());
	json_object_foreach(products, k, v)
	{
		bool match = r->product ? strcmp(k, r->product) == 0
		                        : alias_listed(json_string_value(json_object_get(v, "aliases")), r->alias);
		/* an alias usually names one product per architecture: prefer ours */
		if (match && (!product || strcmp(json_string_value(json_object_get(v, "arch")) ?: "", host) == 0))
			product = v;
	}
	if (!product)
		return isola_err(err, ENOENT, "%s: no product %s", base, r->product ? r->product : r->alias);
	static const char *const combined[] = {"incus_combined.tar.gz", "incus_combined.tar.xz", "lxd_combined.tar.gz",
	                                       NULL};
	static const char *const meta[] = {"incus.tar.xz", "lxd.tar.xz", NULL};
	static const char *const ct_root[] = {"squashfs", "root.tar.xz", NULL};
	static const char *const vm_root[] = {"disk-kvm.img", NULL};
	/* the newest version with the files we need; version keys start YYYYMMDD so they sort by date */
	const char *best = NULL;
	json_t *items = NULL, *vv;
	json_object_foreach(json_object_get(product, "versions"), k, vv)
	{
		json_t *its = json_object_get(vv, "items");
		bool usable = (!vm && find_item(its, combined)) ||
		              (find_item(its, meta) && find_item(its, vm ? vm_root : ct_root));
		if (usable && (!best || strcmp(k, best) > 0)) {
			best = k;
			items = its;
		}
	}
	if (!best)
		return isola_err(err, ENOENT, "%s: product has no usable %s version", base,
		                 vm ? "virtual-machine" : "container");
	json_t *comb = vm ? NULL : find_item(items, combined);
	json_t *mitem = comb ? NULL : find_item(items, meta);
	json_t *ritem = comb ? NULL : find_item(items, vm ? vm_root : ct_root);
	const char *expect;
	if (comb) {
		expect = json_string_value(json_object_get(comb, "sha256"));
	} else {
		const char *rt = json_string_value(json_object_get(ritem, "ftype"));
		const char *ck = strcmp(rt, "squashfs") == 0       ? "combined_squashfs_sha256"
		                 : strcmp(rt, "disk-kvm.img") == 0 ? "combined_disk-kvm-img_sha256"
		                                                   : "combined_rootxz_sha256";
		expect = json_string_value(json_object_get(mitem, ck));
	}
	if (!fp_is_valid(expect))
		return isola_err(err, EBADMSG, "%s: version %s has no valid combined sha256", base, best);
	_cleanup_free_ char *src = NULL;
	if (asprintf(&src, "simplestreams:%s", base) < 0)
		return isola_err(err, ENOMEM, "pull");
	struct import_req ir = {.aliases = r->aliases, .expect_fp = expect, .source = src};
	if (json_object_get(s->images, expect)) /* refresh with nothing new: only the aliases */
		return store_import_existing(s, expect, &ir, out, err);
	/* downloads land in a .tmp- dir of the store: removed on failure here, or at the next start */
	_cleanup_free_ char *tmpl = NULL;
	if (asprintf(&tmpl, "%s/.tmp-dl-XXXXXX", s->root) < 0 || !mkdtemp(tmpl))
		return isola_err(err, errno, "download dir in %s", s->root);
	_cleanup_close_ int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dl_ctx dc = {pf, ud};
	int ret = -1;
	_cleanup_free_ char *p1 = NULL, *p2 = NULL;
	if (dfd < 0) {
		isola_err(err, errno, "open %s", tmpl);
	} else if (comb) {
		if (download_item(base, comb, r->ca_file, dfd, "image", &dc, err) == 0 &&
		    asprintf(&p1, "%s/image", tmpl) >= 0) {
			ir.path = p1;
			ret = store_import(s, &ir, pf, ud, out, err);
		}
	} else if (download_item(base, mitem, r->ca_file, dfd, "meta", &dc, err) == 0 &&
	           download_item(base, ritem, r->ca_file, dfd, "rootfs", &dc, err) == 0 &&
	           asprintf(&p1, "%s/meta", tmpl) >= 0 && asprintf(&p2, "%s/rootfs", tmpl) >= 0) {
		ir.meta = p1;
		ir.rootfs = p2;
		ret = store_import(s, &ir, pf, ud, out, err);
	}
	isola_error e;
	if (remove_tree_at(s->rootfd, strrchr(tmpl, '/') + 1, &e) < 0)
		log_warn("%s", ERR_STR(&e));
	return ret;
}
