/* Instance verbs: launch/init, start/stop/restart/pause/resume, delete, rename, copy, list, info. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"
#include "manager/config.h"

static const char launch_usage[] =
    "isola launch|init IMAGE NAME [--vm] [-p PROFILE]... [-c KEY=VALUE]... [--network NET] [--storage POOL] "
    "[--ephemeral] [--no-profiles] [--description TEXT]";

static int create_common(struct cli *c, int argc, char **argv, bool start, isola_error *err)
{
	static const struct option opts[] = {{"vm", no_argument, NULL, 'v'},
	                                     {"profile", required_argument, NULL, 'p'},
	                                     {"config", required_argument, NULL, 'c'},
	                                     {"network", required_argument, NULL, 'n'},
	                                     {"storage", required_argument, NULL, 's'},
	                                     {"ephemeral", no_argument, NULL, 'e'},
	                                     {"no-profiles", no_argument, NULL, 'N'},
	                                     {"description", required_argument, NULL, 'd'},
	                                     {NULL, 0, NULL, 0}};
	struct create_opts co = {.type = INSTANCE_CONTAINER};
	_cleanup_json_ json_t *profiles = json_array(), *config = json_object();
	bool no_profiles = false;
	int o;
	while ((o = getopt_long(argc, argv, "p:c:s:n:e", opts, NULL)) != -1) {
		switch (o) {
		case 'v': co.type = INSTANCE_VM, co.type_given = true; break;
		case 'p': json_array_append_new(profiles, json_string(optarg)); break;
		case 'c': {
			char *k, *v;
			if (split_kv(optarg, &k, &v, err) < 0)
				return isola_err_wrap(err, "-c");
			json_object_set_new(config, k, json_string(v));
			break;
		}
		case 'n': co.network = optarg; break;
		case 's': co.storage = optarg; break;
		case 'e': co.ephemeral = true; break;
		case 'N': no_profiles = true; break;
		case 'd': co.description = optarg; break;
		default: return usage_err(err, launch_usage);
		}
	}
	if (argc - optind != 2)
		return usage_err(err, launch_usage);
	co.image = argv[optind];
	co.name = argv[optind + 1];
	co.profiles = json_array_size(profiles) || no_profiles ? profiles : NULL;
	co.config = config;
	if (cli_manager(c, err) < 0)
		return -1;
	if (isatty(1))
		printf("Creating %s\n", co.name);
	if (instance_create(&c->m, &co, err) < 0)
		return -1;
	if (!start)
		return 0;
	if (isatty(1))
		printf("Starting %s\n", co.name);
	if (instance_start(&c->m, co.name, false, err) < 0)
		return -1;
	return 0;
}

int cmd_launch(struct cli *c, int argc, char **argv, isola_error *err)
{
	return create_common(c, argc, argv, true, err);
}

int cmd_init(struct cli *c, int argc, char **argv, isola_error *err)
{
	return create_common(c, argc, argv, false, err);
}

/* Run fn on every NAME argument; the first error is returned after trying all (like incus). */
typedef int (*name_fn)(struct cli *c, const char *name, void *ud, isola_error *err);
static int each_name(struct cli *c, int argc, char **argv, name_fn fn, void *ud, const char *usage, isola_error *err)
{
	if (optind >= argc)
		return usage_err(err, usage);
	if (cli_manager(c, err) < 0)
		return -1;
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		isola_error e = {0};
		if (fn(c, argv[i], ud, &e) < 0) {
			if (rc == 0)
				*err = e;
			else
				isola_err_print("isola", &e);
			rc = -1;
		}
	}
	return rc;
}

static int do_start(struct cli *c, const char *name, void *ud, isola_error *err)
{
	return instance_start(&c->m, name, *(bool *)ud, err);
}

int cmd_start(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {
	    {"all-autostart", no_argument, NULL, 'a'}, {"foreground", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	bool all = false, fg = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			all = true;
		else if (o == 'f')
			fg = true;
		else
			return usage_err(err, "isola start NAME... [--foreground] | isola start --all-autostart");
	}
	if (all) {
		if (cli_manager(c, err) < 0)
			return -1;
		int n;
		int rc = instance_start_autostart(&c->m, &n, err);
		if (isatty(1))
			printf("started %d instance(s)\n", n);
		return rc;
	}
	if (fg && argc - optind != 1)
		return usage_err(err, "isola start --foreground NAME");
	return each_name(c, argc, argv, do_start, &fg, "isola start NAME... [--foreground]", err);
}

struct stop_args {
	bool force;
	int timeout;
	int which; /* 0 stop, 1 restart */
};

static int do_stop(struct cli *c, const char *name, void *ud, isola_error *err)
{
	struct stop_args *a = ud;
	return a->which ? instance_restart(&c->m, name, a->force, a->timeout, err)
	                : instance_stop(&c->m, name, a->force, a->timeout, err);
}

static int stop_common(struct cli *c, int argc, char **argv, int which, isola_error *err)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'}, {"timeout", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
	struct stop_args a = {false, 30, which};
	int o;
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o == 'f')
			a.force = true;
		else if (o == 't')
			a.timeout = atoi(optarg);
		else
			return usage_err(err, "isola stop|restart NAME... [--force] [--timeout S]");
	}
	return each_name(c, argc, argv, do_stop, &a, "isola stop|restart NAME... [--force] [--timeout S]", err);
}

int cmd_stop(struct cli *c, int argc, char **argv, isola_error *err)
{
	return stop_common(c, argc, argv, 0, err);
}
int cmd_restart(struct cli *c, int argc, char **argv, isola_error *err)
{
	return stop_common(c, argc, argv, 1, err);
}

static int do_pause(struct cli *c, const char *name, void *ud, isola_error *err)
{
	return *(int *)ud ? instance_pause(&c->m, name, err) : instance_resume(&c->m, name, err);
}

int cmd_pause(struct cli *c, int argc, char **argv, isola_error *err)
{
	int on = 1;
	optind = 1;
	return each_name(c, argc, argv, do_pause, &on, "isola pause NAME...", err);
}

int cmd_resume(struct cli *c, int argc, char **argv, isola_error *err)
{
	int on = 0;
	optind = 1;
	return each_name(c, argc, argv, do_pause, &on, "isola resume NAME...", err);
}

static int do_delete(struct cli *c, const char *name, void *ud, isola_error *err)
{
	return instance_delete(&c->m, name, *(bool *)ud, err);
}

int cmd_delete(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	bool force = false;
	int o;
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o != 'f')
			return usage_err(err, "isola delete NAME... [--force]");
		force = true;
	}
	return each_name(c, argc, argv, do_delete, &force, "isola delete NAME... [--force]", err);
}

int cmd_rename(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc != 3)
		return usage_err(err, "isola rename OLD NEW");
	if (cli_manager(c, err) < 0)
		return -1;
	return instance_rename(&c->m, argv[1], argv[2], err);
}

int cmd_copy(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {{"ephemeral", no_argument, NULL, 'e'}, {NULL, 0, NULL, 0}};
	bool eph = false;
	int o;
	while ((o = getopt_long(argc, argv, "e", opts, NULL)) != -1) {
		if (o != 'e')
			return usage_err(err, "isola copy SOURCE TARGET [--ephemeral]");
		eph = true;
	}
	if (argc - optind != 2)
		return usage_err(err, "isola copy SOURCE TARGET [--ephemeral]");
	if (cli_manager(c, err) < 0)
		return -1;
	return instance_copy(&c->m, argv[optind], argv[optind + 1], eph, err);
}

/* "10.0.3.5 (eth0)" lines, Incus's list column */
static char *addresses(json_t *state, const char *family)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *nic;
	json_t *n;
	bool first = true;
	json_object_foreach(json_object_get(state, "network"), nic, n)
	{
		if (!strcmp(nic, "lo"))
			continue;
		size_t i;
		json_t *a;
		json_array_foreach(json_object_get(n, "addresses"), i, a)
		{
			if (strcmp(json_string_value(json_object_get(a, "family")) ?: "", family) ||
			    strcmp(json_string_value(json_object_get(a, "scope")) ?: "", "global"))
				continue;
			fprintf(f, "%s%s (%s)", first ? "" : "\n", json_string_value(json_object_get(a, "address")),
			        nic);
			first = false;
		}
	}
	fclose(f);
	return buf;
}

int cmd_list(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	enum out_format fmt = FMT_TABLE;
	int o;
	while ((o = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		if (o != 'f' || fmt_parse(optarg, &fmt, err) < 0)
			return o == 'f' ? -1 : usage_err(err, "isola list [--format table|csv|json|yaml] [NAME...]");
	}
	if (cli_manager(c, err) < 0)
		return -1;
	struct instance_rec *v;
	size_t n;
	if (db_instance_list(c->m.db, &v, &n, err) < 0)
		return -1;
	_cleanup_json_ json_t *raw = json_array(), *rows = json_array();
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		/* NAME arguments filter by exact name */
		if (optind < argc) {
			bool want = false;
			for (int k = optind; k < argc; k++)
				want |= !strcmp(argv[k], v[i].name);
			if (!want)
				continue;
		}
		json_t *o2 = instance_json(
		    &c->m, &v[i],
		    fmt == FMT_JSON || fmt == FMT_YAML ? INSTANCE_JSON_STATE : INSTANCE_JSON_STATE_NO_DISK, err);
		if (!o2) {
			rc = -1;
			break;
		}
		json_t *st = json_object_get(o2, "state");
		_cleanup_free_ char *v4 = addresses(st, "inet"), *v6 = addresses(st, "inet6");
		char snaps[16];
		snprintf(snaps, sizeof snaps, "%zu", json_array_size(json_object_get(o2, "snapshots")));
		json_array_append_new(rows,
		                      json_pack("[ssssss]", v[i].name, json_string_value(json_object_get(o2, "status")),
		                                v4 ? v4 : "", v6 ? v6 : "",
		                                v[i].type == INSTANCE_VM ? "VIRTUAL-MACHINE" : "CONTAINER", snaps));
		json_array_append_new(raw, o2);
	}
	instance_list_free(v, n);
	if (rc < 0)
		return -1;
	static const char *const headers[] = {"NAME", "STATE", "IPV4", "IPV6", "TYPE", "SNAPSHOTS"};
	print_list(fmt, headers, 6, rows, raw);
	return 0;
}

static void human_bytes(char *out, size_t len, json_int_t b)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4)
		v /= 1024, i++;
	snprintf(out, len, i ? "%.2f%s" : "%.0f%s", v, u[i]);
}

int cmd_info(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc != 2)
		return usage_err(err, "isola info NAME");
	if (cli_manager(c, err) < 0)
		return -1;
	struct instance_rec r;
	if (db_instance_get(c->m.db, argv[1], &r, err) < 0)
		return -1;
	_cleanup_json_ json_t *o = instance_json(&c->m, &r, INSTANCE_JSON_STATE, err);
	instance_rec_clear(&r);
	if (!o)
		return -1;
	json_t *st = json_object_get(o, "state");
	char b[32];
	printf("Name: %s\n", json_string_value(json_object_get(o, "name")));
	printf("Status: %s\n", json_string_value(json_object_get(o, "status")));
	printf("Type: %s%s\n", json_string_value(json_object_get(o, "type")),
	       json_is_true(json_object_get(o, "ephemeral")) ? " (ephemeral)" : "");
	printf("Architecture: %s\n", json_string_value(json_object_get(o, "architecture")));
	printf("Created: %s\n", json_string_value(json_object_get(o, "created_at")));
	printf("Last Used: %s\n", json_string_value(json_object_get(o, "last_used_at")));
	_cleanup_free_ char *profs = json_dumps(json_object_get(o, "profiles"), JSON_COMPACT);
	printf("Profiles: %s\n", profs ? profs : "[]");
	json_int_t pid = json_integer_value(json_object_get(st, "pid"));
	if (pid)
		printf("PID: %lld\nProcesses: %lld\n", (long long)pid,
		       (long long)json_integer_value(json_object_get(st, "processes")));
	printf("\nResources:\n");
	human_bytes(b, sizeof b,
	            json_integer_value(json_object_get(json_object_get(json_object_get(st, "disk"), "root"), "usage")));
	printf("  Disk usage:\n    root: %s\n", b);
	if (pid) {
		json_t *mem = json_object_get(st, "memory");
		human_bytes(b, sizeof b, json_integer_value(json_object_get(mem, "usage")));
		printf("  Memory usage:\n    Memory (current): %s\n", b);
		if (json_integer_value(json_object_get(mem, "usage_peak"))) {
			human_bytes(b, sizeof b, json_integer_value(json_object_get(mem, "usage_peak")));
			printf("    Memory (peak): %s\n", b);
		}
		printf(
		    "  CPU usage:\n    CPU usage (in seconds): %lld\n",
		    (long long)(json_integer_value(json_object_get(json_object_get(st, "cpu"), "usage")) / 1000000000));
		printf("  Network usage:\n");
		const char *nic;
		json_t *n;
		json_object_foreach(json_object_get(st, "network"), nic, n)
		{
			printf("    %s:\n      Type: %s\n      State: %s\n", nic,
			       json_string_value(json_object_get(n, "type")),
			       json_string_value(json_object_get(n, "state")));
			const char *mac = json_string_value(json_object_get(n, "hwaddr"));
			if (mac && *mac)
				printf("      MAC address: %s\n", mac);
			printf("      MTU: %lld\n", (long long)json_integer_value(json_object_get(n, "mtu")));
			size_t i;
			json_t *a;
			json_array_foreach(json_object_get(n, "addresses"), i, a)
			{
				printf("      IP address: %s/%s (%s, %s)\n",
				       json_string_value(json_object_get(a, "address")),
				       json_string_value(json_object_get(a, "netmask")),
				       json_string_value(json_object_get(a, "family")),
				       json_string_value(json_object_get(a, "scope")));
			}
			json_t *cnt = json_object_get(n, "counters");
			human_bytes(b, sizeof b, json_integer_value(json_object_get(cnt, "bytes_received")));
			printf("      Bytes received: %s\n", b);
			human_bytes(b, sizeof b, json_integer_value(json_object_get(cnt, "bytes_sent")));
			printf("      Bytes sent: %s\n", b);
		}
	}
	json_t *snaps = json_object_get(o, "snapshots");
	if (json_array_size(snaps)) {
		printf("\nSnapshots:\n");
		size_t i;
		json_t *s;
		json_array_foreach(snaps, i, s)
		{
			printf("  %s\n", json_string_value(s));
		}
	}
	return 0;
}
