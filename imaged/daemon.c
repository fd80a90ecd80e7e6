/* isola-imaged: the image store daemon. One request at a time over lib/ipc.h; the ops are documented in
 * docs/imaged.md (the contract) and dispatched from the table at the bottom. */
#include "cleanup.h"
#include "error.h"
#include "explain.h"
#include "fingerprint.h"
#include "ipc.h"
#include "json.h"
#include "layer.h"
#include "log.h"
#include "simplestreams.h"
#include "store.h"
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct daemon {
	struct store store;
	const char *socket_path;
};

typedef int (*op_fn)(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err);

static void send_progress(json_t *p, void *ud)
{
	int conn = *(int *)ud;
	ipc_progress(conn, p); /* a client that went away only loses progress; the import goes on */
}

static int op_import(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	struct import_req r = { 0 };
	json_t *paths = NULL;
	if (json_get_str(req, "", "path", false, &r.path, err) < 0 || json_get_str(req, "", "dir", false, &r.dir, err) < 0 ||
	    json_get_str(req, "", "url", false, &r.url, err) < 0 ||
	    json_get_str(req, "", "ca_file", false, &r.ca_file, err) < 0 ||
	    json_get_arr(req, "", "paths", false, &paths, err) < 0 ||
	    json_get_obj(req, "", "properties", false, &r.properties, err) < 0 ||
	    json_get_arr(req, "", "aliases", false, &r.aliases, err) < 0 ||
	    json_get_bool(req, "", "privileged", false, &r.privileged, err) < 0)
		return -1;
	if (paths) {
		if (json_array_size(paths) != 2 || !json_is_string(json_array_get(paths, 0)) ||
		    !json_is_string(json_array_get(paths, 1)))
			return isola_err(err, EINVAL, "paths: expected [metadata, rootfs]");
		r.meta = json_string_value(json_array_get(paths, 0));
		r.rootfs = json_string_value(json_array_get(paths, 1));
	}
	r.source = r.url ? "url" : "file";
	return store_import(&d->store, &r, send_progress, &conn, out, err);
}

static int op_list(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	json_t *arr = json_array();
	const char *fp;
	json_t *v;
	json_object_foreach(d->store.images, fp, v) json_array_append_new(arr, store_image_json(&d->store, fp));
	*out = json_pack("{s:o}", "images", arr);
	return 0;
}

static int get_ref(json_t *req, const char **fp, struct daemon *d, isola_error *err)
{
	const char *ref;
	if (json_get_str(req, "", "ref", true, &ref, err) < 0)
		return -1;
	return store_resolve(&d->store, ref, fp, err);
}

static int op_show(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *fp;
	if (get_ref(req, &fp, d, err) < 0)
		return -1;
	_cleanup_free_ char *dir = store_image_dir(&d->store, fp);
	*out = json_pack("{s:o, s:s}", "image", store_image_json(&d->store, fp), "path", dir);
	return 0;
}

static int op_delete(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *ref;
	char fp[65];
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 || store_delete(&d->store, ref, fp, err) < 0)
		return -1;
	*out = json_pack("{s:s}", "fingerprint", fp);
	return 0;
}

static int op_export(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *ref, *dir;
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 || json_get_str(req, "", "dir", true, &dir, err) < 0)
		return -1;
	return store_export(&d->store, ref, dir, out, err);
}

static int op_properties(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *ref, *fp;
	json_t *set = NULL, *unset = NULL;
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 || json_get_obj(req, "", "set", false, &set, err) < 0 ||
	    json_get_arr(req, "", "unset", false, &unset, err) < 0 ||
	    store_set_properties(&d->store, ref, set, unset, err) < 0 || store_resolve(&d->store, ref, &fp, err) < 0)
		return -1;
	*out = json_pack("{s:o}", "image", store_image_json(&d->store, fp));
	return 0;
}

static int op_publish(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *dir, *arch = NULL;
	json_t *props = NULL, *aliases = NULL;
	if (json_get_str(req, "", "dir", true, &dir, err) < 0 ||
	    json_get_str(req, "", "architecture", false, &arch, err) < 0 ||
	    json_get_obj(req, "", "properties", false, &props, err) < 0 ||
	    json_get_arr(req, "", "aliases", false, &aliases, err) < 0)
		return -1;
	return store_publish(&d->store, dir, arch, props, aliases, send_progress, &conn, out, err);
}

static int op_alias_create(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *name, *target, *desc = NULL, *fp;
	if (json_get_str(req, "", "name", true, &name, err) < 0 || json_get_str(req, "", "target", true, &target, err) < 0 ||
	    json_get_str(req, "", "description", false, &desc, err) < 0 ||
	    alias_create(&d->store, name, target, desc, err) < 0 || store_resolve(&d->store, name, &fp, err) < 0)
		return -1;
	*out = json_pack("{s:s, s:s}", "name", name, "target", fp);
	return 0;
}

static int op_alias_delete(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *name;
	if (json_get_str(req, "", "name", true, &name, err) < 0 || alias_delete(&d->store, name, err) < 0)
		return -1;
	*out = json_pack("{s:s}", "name", name);
	return 0;
}

static int op_alias_rename(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *name, *new_name, *fp;
	if (json_get_str(req, "", "name", true, &name, err) < 0 ||
	    json_get_str(req, "", "new_name", true, &new_name, err) < 0 ||
	    alias_rename(&d->store, name, new_name, err) < 0 || store_resolve(&d->store, new_name, &fp, err) < 0)
		return -1;
	*out = json_pack("{s:s, s:s}", "name", new_name, "target", fp);
	return 0;
}

static int op_alias_list(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	*out = json_pack("{s:o}", "aliases", alias_list(&d->store));
	return 0;
}

static int op_acquire(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *ref, *holder;
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 || json_get_str(req, "", "holder", true, &holder, err) < 0)
		return -1;
	return layer_acquire(&d->store, ref, holder, out, err);
}

static int op_release(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *ref, *holder;
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 || json_get_str(req, "", "holder", true, &holder, err) < 0)
		return -1;
	return layer_release(&d->store, ref, holder, out, err);
}

static int op_ss_generate(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *dir;
	if (json_get_str(req, "", "dir", true, &dir, err) < 0)
		return -1;
	return ss_generate(&d->store, dir, out, err);
}

static int op_ss_pull(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	struct ss_pull_req r = { 0 };
	if (json_get_str(req, "", "url", true, &r.url, err) < 0 ||
	    json_get_str(req, "", "product", false, &r.product, err) < 0 ||
	    json_get_str(req, "", "alias", false, &r.alias, err) < 0 ||
	    json_get_str(req, "", "ca_file", false, &r.ca_file, err) < 0 ||
	    json_get_str(req, "", "type", false, &r.type, err) < 0 ||
	    json_get_arr(req, "", "aliases", false, &r.aliases, err) < 0)
		return -1;
	return ss_pull(&d->store, &r, send_progress, &conn, out, err);
}

static int op_status(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	*out = json_pack("{s:s, s:s, s:I, s:I, s:o}", "store", d->store.root, "socket", d->socket_path, "images",
			 (json_int_t)json_object_size(d->store.images), "aliases",
			 (json_int_t)json_object_size(d->store.aliases), "layers", layer_status(&d->store));
	return 0;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
	{ "image.import", op_import },
	{ "image.list", op_list },
	{ "image.show", op_show },
	{ "image.delete", op_delete },
	{ "image.export", op_export },
	{ "image.properties", op_properties },
	{ "image.publish", op_publish },
	{ "alias.create", op_alias_create },
	{ "alias.delete", op_alias_delete },
	{ "alias.rename", op_alias_rename },
	{ "alias.list", op_alias_list },
	{ "layer.acquire", op_acquire },
	{ "layer.release", op_release },
	{ "simplestreams.generate", op_ss_generate },
	{ "simplestreams.pull", op_ss_pull },
	{ "status", op_status },
};

static void serve_one(struct daemon *d, int conn)
{
	_cleanup_json_ json_t *req = NULL;
	isola_error err = { 0 };
	if (ipc_recv(conn, &req, NULL, NULL, &err) < 0) {
		if (err.errnum != ECONNRESET)
			log_warn("receive: %s", err.msg);
		return;
	}
	const char *op = NULL;
	if (json_get_str(req, "", "op", true, &op, &err) < 0) {
		ipc_reply_err(conn, &err);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (strcmp(ops[i].name, op) != 0)
			continue;
		_cleanup_json_ json_t *out = NULL;
		log_debug("request %s", op);
		if (ops[i].fn(d, conn, req, &out, &err) < 0) {
			isola_err_wrap(&err, "%s", op);
			log_info("%s failed: %s", op, err.msg);
			ipc_reply_err(conn, &err);
		} else {
			ipc_reply_ok(conn, out, NULL, 0);
		}
		return;
	}
	isola_err(&err, EOPNOTSUPP, "unknown op \"%s\"", op);
	ipc_reply_err(conn, &err);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

static void usage(FILE *f)
{
	fprintf(f, "usage: isola-imaged [--socket PATH] [--store DIR] [--group GID] [--squashfuse]\n"
		   "                    [--explain] [--debug] [--log FILE] [--log-format text|json]\n"
		   "  the image store daemon; protocol in docs/imaged.md\n");
}

int main(int argc, char **argv)
{
	const char *sock = "/run/isola/imaged.sock", *store_dir = "/var/lib/isola/images", *logf = NULL;
	bool debug = false, json_log = false, squashfuse = false;
	gid_t gid = (gid_t)-1;
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' }, { "store", required_argument, NULL, 'S' },
		{ "group", required_argument, NULL, 'g' },  { "explain", no_argument, NULL, 'e' },
		{ "debug", no_argument, NULL, 'd' },	    { "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' }, { "squashfuse", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },	    { 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'S': store_dir = optarg; break;
		case 'g': gid = (gid_t)strtoul(optarg, NULL, 10); break;
		case 'e': explain_enabled = true; break;
		case 'd': debug = true; break;
		case 'l': logf = optarg; break;
		case 'f': json_log = strcmp(optarg, "json") == 0; break;
		case 'q': squashfuse = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (log_init("isola-imaged", logf, json_log, debug) < 0) {
		perror(logf);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct daemon d = { .socket_path = sock };
	isola_error err = { 0 };
	if (store_open(&d.store, store_dir, &err) < 0) {
		isola_err_print("isola-imaged", &err);
		return 1;
	}
	d.store.force_squashfuse = squashfuse;
	if (layer_restore(&d.store, &err) < 0)
		log_warn("restoring layers: %s", err.msg);
	_cleanup_close_ int lfd = ipc_listen(sock, gid, &err);
	if (lfd < 0) {
		isola_err_print("isola-imaged", &err);
		return 1;
	}
	log_info("serving %s (store %s, %zu images)", sock, store_dir, json_object_size(d.store.images));
	while (!stop) {
		_cleanup_close_ int conn = ipc_accept(lfd, gid, NULL, &err);
		if (conn < 0) {
			if (errno != EINTR && !stop)
				log_warn("%s", err.msg);
			continue;
		}
		serve_one(&d, conn);
	}
	unlink(sock);
	store_close(&d.store);
	curl_global_cleanup();
	return 0;
}
