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
#include "logerr.h"
#include "simplestreams.h"
#include "store.h"
#include <curl/curl.h>
#include <getopt.h>
#include <grp.h>
#include <sys/resource.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* Paths in requests are the daemon's paths: relative ones would resolve against its cwd (/ under
 * systemd), never the client's, so they are refused rather than guessed. */
static int check_abs(const char *field, const char *p, isola_error *err)
{
	if (p && p[0] != '/')
		return isola_err(err, EINVAL, "%s: \"%s\" is not an absolute path", field, p);
	return 0;
}

static int op_import(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	struct import_req r = {0};
	json_t *paths = NULL;
	if (json_get_str(req, "", "path", false, &r.path, err) < 0 ||
	    json_get_str(req, "", "dir", false, &r.dir, err) < 0 ||
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
	if (check_abs("path", r.path, err) < 0 || check_abs("dir", r.dir, err) < 0 ||
	    check_abs("paths[0]", r.meta, err) < 0 || check_abs("paths[1]", r.rootfs, err) < 0 ||
	    check_abs("ca_file", r.ca_file, err) < 0)
		return -1;
	r.source = r.url ? "url" : "file";
	return store_import(&d->store, &r, send_progress, &conn, out, err);
}

static int op_list(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	json_t *arr = json_array();
	const char *fp;
	json_t *v;
	/* templates only in image.show: the list must stay well inside one IPC message (IPC_MAX_MSG) */
	json_object_foreach(d->store.images, fp, v)
	{
		json_t *img = store_image_json(&d->store, fp);
		json_object_del(img, "templates");
		json_array_append_new(arr, img);
	}
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
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 || json_get_str(req, "", "dir", true, &dir, err) < 0 ||
	    check_abs("dir", dir, err) < 0)
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
	    json_get_arr(req, "", "aliases", false, &aliases, err) < 0 || check_abs("dir", dir, err) < 0)
		return -1;
	return store_publish(&d->store, dir, arch, props, aliases, send_progress, &conn, out, err);
}

static int op_alias_create(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *name, *target, *desc = NULL, *fp;
	if (json_get_str(req, "", "name", true, &name, err) < 0 ||
	    json_get_str(req, "", "target", true, &target, err) < 0 ||
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
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 ||
	    json_get_str(req, "", "holder", true, &holder, err) < 0)
		return -1;
	return layer_acquire(&d->store, ref, holder, out, err);
}

static int op_release(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *ref, *holder;
	if (json_get_str(req, "", "ref", true, &ref, err) < 0 ||
	    json_get_str(req, "", "holder", true, &holder, err) < 0)
		return -1;
	return layer_release(&d->store, ref, holder, out, err);
}

static int op_ss_generate(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	const char *dir;
	if (json_get_str(req, "", "dir", true, &dir, err) < 0 || check_abs("dir", dir, err) < 0)
		return -1;
	return ss_generate(&d->store, dir, out, err);
}

static int op_ss_pull(struct daemon *d, int conn, json_t *req, json_t **out, isola_error *err)
{
	struct ss_pull_req r = {0};
	if (json_get_str(req, "", "url", true, &r.url, err) < 0 ||
	    json_get_str(req, "", "product", false, &r.product, err) < 0 ||
	    json_get_str(req, "", "alias", false, &r.alias, err) < 0 ||
	    json_get_str(req, "", "ca_file", false, &r.ca_file, err) < 0 ||
	    json_get_str(req, "", "type", false, &r.type, err) < 0 ||
	    json_get_arr(req, "", "aliases", false, &r.aliases, err) < 0 || check_abs("ca_file", r.ca_file, err) < 0)
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

/* worker: run in a forked process (long: copy, hash, unpack, download) so other requests — above all
 * layer.acquire for starting instances — are answered meanwhile. */
static const struct {
	const char *name;
	op_fn fn;
	bool worker;
} ops[] = {
    {"image.import", op_import, true},        {"image.list", op_list, false},
    {"image.show", op_show, false},           {"image.delete", op_delete, false},
    {"image.export", op_export, false},       {"image.properties", op_properties, false},
    {"image.publish", op_publish, true},      {"alias.create", op_alias_create, false},
    {"alias.delete", op_alias_delete, false}, {"alias.rename", op_alias_rename, false},
    {"alias.list", op_alias_list, false},     {"layer.acquire", op_acquire, false},
    {"layer.release", op_release, false},     {"simplestreams.generate", op_ss_generate, false},
    {"simplestreams.pull", op_ss_pull, true}, {"status", op_status, false},
};

#define MAX_WORKERS 8

/* A long request in a worker process: the client's connection stays with the daemon, which replies
 * once the worker reports back over its socketpair. */
struct job {
	pid_t pid;
	int sock; /* our end of the socketpair, -1 when the slot is free */
	int conn; /* the client */
	json_t *aliases;
	bool move_aliases; /* simplestreams.pull refresh: existing aliases move to the new image */
	char op[32];
};

struct daemon_jobs {
	struct job j[MAX_WORKERS];
	int lfd;
};
static struct daemon_jobs jobs;

static void job_clear(struct job *j)
{
	if (j->sock >= 0)
		close(j->sock);
	if (j->conn >= 0)
		close(j->conn);
	json_decref(j->aliases);
	memset(j, 0, sizeof *j);
	j->sock = j->conn = -1;
}

/* In the worker: no aliases (the daemon adds them when the image is in), report, exit. */
static void worker_main(struct daemon *d, int conn, int sock, op_fn fn, json_t *req)
{
	/* dies with the daemon: a kill -9 of isola-imaged must not leave an import finishing behind its back
	 * (the next start removes the .tmp- dir instead) */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	close(jobs.lfd);
	for (size_t i = 0; i < MAX_WORKERS; i++)
		if (jobs.j[i].sock >= 0) {
			close(jobs.j[i].sock);
			close(jobs.j[i].conn);
		}
	json_object_del(req, "aliases");
	_cleanup_json_ json_t *out = NULL;
	isola_error err = {0};
	isola_error ierr;
	if (fn(d, conn, req, &out, &err) < 0) {
		_cleanup_json_ json_t *e = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", err.msg, "errno", err.errnum);
		ipc_send(sock, e, NULL, 0, &ierr);
		_exit(1);
	}
	json_object_set_new(out, "ok", json_true());
	ipc_send(sock, out, NULL, 0, &ierr);
	_exit(0);
}

static int start_job(struct daemon *d, int conn, json_t *req, const char *op, op_fn fn, isola_error *err)
{
	struct job *slot = NULL;
	for (size_t i = 0; i < MAX_WORKERS && !slot; i++)
		if (jobs.j[i].sock < 0)
			slot = &jobs.j[i];
	if (!slot)
		return isola_err(err, EAGAIN, "%d imports already running; retry later", MAX_WORKERS);
	json_t *aliases = NULL;
	bool refresh = false;
	if (json_get_arr(req, "", "aliases", false, &aliases, err) < 0 ||
	    json_get_bool(req, "", "refresh", false, &refresh, err) < 0)
		return -1;
	refresh = refresh && strcmp(op, "simplestreams.pull") == 0;
	size_t ai;
	json_t *av;
	json_array_foreach(aliases, ai, av)
	{
		if (!json_is_string(av) || !alias_name_valid(json_string_value(av)))
			return isola_err(err, EINVAL, "aliases[%zu]: not a valid alias name", ai);
	}
	if (!refresh && store_check_aliases(&d->store, aliases, err) < 0) /* fail fast, before any work */
		return -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return isola_err(err, errno, "socketpair");
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return isola_err(err, errno, "fork worker");
	}
	if (pid == 0) {
		close(sv[0]);
		worker_main(d, conn, sv[1], fn, req);
	}
	close(sv[1]);
	slot->pid = pid;
	slot->sock = sv[0];
	slot->conn = conn;
	slot->aliases = json_incref(aliases);
	slot->move_aliases = refresh;
	snprintf(slot->op, sizeof slot->op, "%s", op);
	log_debug("%s: worker %d", op, pid);
	return 0;
}

static void finish_job(struct daemon *d, struct job *j)
{
	_cleanup_json_ json_t *res = NULL;
	isola_error err = {0};
	int r = ipc_recv(j->sock, &res, NULL, NULL, &err);
	int status = 0;
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0) {
		isola_err(&err, EIO, "%s: worker died (%s %d)", j->op, WIFSIGNALED(status) ? "signal" : "exit",
		          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		ipc_reply_err(j->conn, &err);
	} else if (!json_is_true(json_object_get(res, "ok"))) {
		const char *msg = json_string_value(json_object_get(res, "error"));
		isola_err(&err, (int)json_integer_value(json_object_get(res, "errno")), "%s: %s", j->op,
		          msg ? msg : "?");
		log_info("%s", ERR_STR(&err));
		ipc_reply_err(j->conn, &err);
	} else {
		const char *fp = json_string_value(json_object_get(res, "fingerprint"));
		size_t i;
		json_t *a;
		int ok = fp && store_load_image(&d->store, fp, &err) == 0 ? 0 : -1;
		json_array_foreach(j->aliases, i, a)
		{
			if (ok == 0 &&
			    (j->move_aliases ? alias_point(&d->store, json_string_value(a), fp, &err)
			                     : alias_create(&d->store, json_string_value(a), fp, NULL, &err)) < 0) {
				isola_err_wrap(&err, "image %s is in, but", fp);
				ok = -1;
			}
		}
		if (ok < 0) {
			isola_err_wrap(&err, "%s", j->op);
			ipc_reply_err(j->conn, &err);
		} else {
			json_object_del(res, "ok");
			json_object_set_new(res, "image", store_image_json(&d->store, fp));
			ipc_reply_ok(j->conn, res, NULL, 0);
		}
	}
	job_clear(j);
}

/* Returns true when the connection was handed to a worker (the caller must not close it). */
static bool serve_one(struct daemon *d, int conn)
{
	_cleanup_json_ json_t *req = NULL;
	isola_error err = {0};
	if (ipc_recv(conn, &req, NULL, NULL, &err) < 0) {
		if (err.errnum != ECONNRESET)
			log_warn("receive: %s", ERR_STR(&err));
		return false;
	}
	const char *op = NULL;
	if (json_get_str(req, "", "op", true, &op, &err) < 0) {
		ipc_reply_err(conn, &err);
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (strcmp(ops[i].name, op) != 0)
			continue;
		_cleanup_json_ json_t *out = NULL;
		log_debug("request %s", op);
		if (ops[i].worker) {
			if (start_job(d, conn, req, op, ops[i].fn, &err) == 0)
				return true;
		} else if (ops[i].fn(d, conn, req, &out, &err) == 0) {
			ipc_reply_ok(conn, out, NULL, 0);
			return false;
		}
		isola_err_wrap(&err, "%s", op);
		log_info("%s", ERR_STR(&err));
		ipc_reply_err(conn, &err);
		return false;
	}
	isola_err(&err, EOPNOTSUPP, "unknown op \"%s\"", op);
	ipc_reply_err(conn, &err);
	return false;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	stop = sig;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: isola-imaged [--socket PATH] [--store DIR] [--group GID] [--squashfuse]\n"
	           "                    [--explain] [--debug] [--log FILE] [--log-format text|json]\n"
	           "         the image store daemon; protocol in docs/imaged.md\n"
	           "       isola-imaged [--socket PATH] call OP [JSON-ARGS]\n"
	           "         one request to a running daemon, e.g. call image.import '{\"path\": \"x.tar.gz\"}';\n"
	           "         progress messages and the reply are printed as JSON, one per line\n");
}

static void print_progress(json_t *p, void *ud)
{
	json_dumpf(p, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
}

/* `isola-imaged call OP [ARGS]`: the protocol from a shell, for people and scripts (the isola CLI is
 * the real front end). */
static int call_main(const char *sock, int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		usage(stderr);
		return 2;
	}
	json_error_t je;
	_cleanup_json_ json_t *req = argc == 2 ? json_loads(argv[1], 0, &je) : json_object();
	if (!req || !json_is_object(req)) {
		fprintf(stderr, "isola-imaged: call: arguments must be a JSON object%s%s\n", req ? "" : ": ",
		        req ? "" : je.text);
		return 2;
	}
	json_object_set_new(req, "op", json_string(argv[0]));
	/* the daemon wants absolute paths; from a shell, relative ones mean relative to here */
	static const char *const fields[] = {"path", "dir", "ca_file"};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *p = json_string_value(json_object_get(req, fields[i]));
		_cleanup_free_ char *abs = p && p[0] != '/' ? realpath(p, NULL) : NULL;
		if (abs)
			json_object_set_new(req, fields[i], json_string(abs));
	}
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(req, "paths"), i, p)
	{
		_cleanup_free_ char *abs =
		    json_is_string(p) && json_string_value(p)[0] != '/' ? realpath(json_string_value(p), NULL) : NULL;
		if (abs)
			json_array_set_new(json_object_get(req, "paths"), i, json_string(abs));
	}
	_cleanup_json_ json_t *reply = NULL;
	isola_error err = {0};
	if (ipc_call(sock, req, NULL, 0, &reply, NULL, NULL, print_progress, NULL, &err) < 0) {
		isola_err_print("isola-imaged", &err);
		return 1;
	}
	json_dumpf(reply, stdout, JSON_INDENT(2));
	putchar('\n');
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = "/run/isola/imaged.sock", *store_dir = "/var/lib/isola/images", *logf = NULL;
	bool debug = false, json_log = false, squashfuse = false;
	gid_t gid = (gid_t)-1;
	static const struct option lo[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"store", required_argument, NULL, 'S'},
	    {"group", required_argument, NULL, 'g'},
	    {"explain", no_argument, NULL, 'e'},
	    {"debug", no_argument, NULL, 'd'},
	    {"log", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"squashfuse", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'S': store_dir = optarg; break;
		case 'g': {
			struct group *gr = getgrnam(optarg);
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (!gr && (*end || end == optarg)) {
				fprintf(stderr, "isola-imaged: --group %s: no such group\n", optarg);
				return 2;
			}
			gid = gr ? gr->gr_gid : (gid_t)n;
			break;
		}
		case 'e': explain_enabled = true; break;
		case 'd': debug = true; break;
		case 'l': logf = optarg; break;
		case 'f': json_log = strcmp(optarg, "json") == 0; break;
		case 'q': squashfuse = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "call") == 0)
		return call_main(sock, argc - optind - 1, argv + optind + 1);
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (log_init("isola-imaged", logf, json_log, debug) < 0) {
		perror(logf);
		return 1;
	}
	/* removing a hostile image's deepest tree holds two fds per level (PATH_MAX ≈ 2,000 levels): take
	 * the hard limit rather than fail the cleanup at the default soft 1,024 */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct daemon d = {.socket_path = sock};
	isola_error err = {0};
	if (store_open(&d.store, store_dir, &err) < 0) {
		isola_err_print("isola-imaged", &err);
		return 1;
	}
	d.store.force_squashfuse = squashfuse;
	if (layer_restore(&d.store, &err) < 0)
		log_warn("restoring layers: %s", ERR_STR(&err));
	_cleanup_close_ int lfd = ipc_listen(sock, gid, &err);
	if (lfd < 0) {
		isola_err_print("isola-imaged", &err);
		return 1;
	}
	log_info("serving %s (store %s, %zu images)", sock, store_dir, json_object_size(d.store.images));
	jobs.lfd = lfd;
	for (size_t i = 0; i < MAX_WORKERS; i++)
		job_clear(&jobs.j[i]);
	/* Accepted connections wait in the poll set until their request arrives, so a client that connects
	 * and says nothing (or says it slowly) never stalls anyone else. */
	enum { MAX_PENDING = 64 };
	int pending[MAX_PENDING];
	for (size_t i = 0; i < MAX_PENDING; i++)
		pending[i] = -1;
	while (!stop) {
		struct pollfd pfd[1 + MAX_WORKERS + MAX_PENDING] = {{.fd = lfd, .events = POLLIN}};
		for (size_t i = 0; i < MAX_WORKERS; i++)
			pfd[1 + i] = (struct pollfd){.fd = jobs.j[i].sock, .events = POLLIN};
		for (size_t i = 0; i < MAX_PENDING; i++)
			pfd[1 + MAX_WORKERS + i] = (struct pollfd){.fd = pending[i], .events = POLLIN};
		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0)
			continue; /* EINTR: a signal; the loop condition decides */
		for (size_t i = 0; i < MAX_WORKERS; i++)
			if (jobs.j[i].sock >= 0 && pfd[1 + i].revents)
				finish_job(&d, &jobs.j[i]);
		for (size_t i = 0; i < MAX_PENDING; i++) {
			if (pending[i] < 0 || !pfd[1 + MAX_WORKERS + i].revents)
				continue;
			int conn = pending[i];
			pending[i] = -1;
			if (!serve_one(&d, conn))
				close(conn);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		_cleanup_close_ int conn = ipc_accept(lfd, gid, NULL, &err);
		if (conn < 0) {
			if (errno != EINTR && !stop)
				log_warn("%s", ERR_STR(&err));
			continue;
		}
		size_t slot = 0;
		while (slot < MAX_PENDING && pending[slot] >= 0)
			slot++;
		if (slot == MAX_PENDING) {
			isola_err(&err, EAGAIN, "too many connections waiting to send their request");
			ipc_reply_err(conn, &err);
			continue;
		}
		pending[slot] = steal_fd(&conn);
	}
	unlink(sock);
	store_close(&d.store);
	curl_global_cleanup();
	return 0;
}
