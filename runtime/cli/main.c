/* isola-runtime: an OCI runtime (runtime-spec 1.x), CLI compatible with runc/crun where podman and
 * containerd call it. Global flags, then the verb. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "explain.h"
#include "log.h"
#include "runtime/cli/cli.h"
#include "runtime/exesafe.h"

static const struct {
	const char *name;
	cli_verb_fn fn;
	bool enters; /* puts a process into a container: needs the CVE-2019-5736 guard */
} verbs[] = {
    {"spec", cmd_spec, false},     {"create", cmd_create, true},  {"start", cmd_start, false},
    {"run", cmd_run, true},        {"exec", cmd_exec, true},      {"state", cmd_state, false},
    {"kill", cmd_kill, false},     {"delete", cmd_delete, false}, {"list", cmd_list, false},
    {"ps", cmd_ps, false},         {"pause", cmd_pause, false},   {"resume", cmd_resume, false},
    {"update", cmd_update, false}, {"events", cmd_events, false}, {"features", cmd_features, false},
    {"boot", cmd_boot, true},      {"halt", cmd_halt, false}, /* system containers (syscont) */
};

static const char usage[] =
    "usage: isola-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--explain]\n"
    "                     [--systemd-cgroup] [--cgroup-manager cgroupfs|disabled|systemd] COMMAND ...\n"
    "commands: spec create start run exec state kill delete list ps pause resume update events features\n"
    "          boot halt (system containers)\n";

int main(int argc, char **argv)
{
	struct cli c = {0};
	const char *log_file = NULL;
	bool json_log = false, debug = false;
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"log", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"debug", no_argument, NULL, 'd'},
	    {"explain", no_argument, NULL, 'e'},
	    {"systemd-cgroup", no_argument, NULL, 's'},
	    {"cgroup-manager", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'r': c.ctx.state_root = optarg; break;
		case 'l': log_file = optarg; break;
		case 'f':
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				fprintf(stderr, "isola-runtime: --log-format: \"%s\" is not text or json\n", optarg);
				return 1;
			}
			json_log = !strcmp(optarg, "json");
			break;
		case 'd': debug = true; break;
		case 'e': explain_enabled = true; break;
		case 's': c.ctx.cgroup_manager = RUNTIME_CGROUP_SYSTEMD; break;
		case 'c':
			if (!strcmp(optarg, "cgroupfs"))
				c.ctx.cgroup_manager = RUNTIME_CGROUP_CGROUPFS;
			else if (!strcmp(optarg, "disabled"))
				c.ctx.cgroup_manager = RUNTIME_CGROUP_DISABLED;
			else if (!strcmp(optarg, "systemd"))
				c.ctx.cgroup_manager = RUNTIME_CGROUP_SYSTEMD;
			else {
				fprintf(
				    stderr,
				    "isola-runtime: --cgroup-manager: \"%s\" is not cgroupfs, disabled or systemd\n",
				    optarg);
				return 1;
			}
			break;
		case 'v': printf("isola-runtime version 0.1\nspec: 1.2.0\n"); return 0;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 1;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 1;
	}
	if (log_init("isola-runtime", log_file, json_log, debug) < 0) {
		fprintf(stderr, "isola-runtime: --log %s: %m\n", log_file);
		return 1;
	}
	/* a hook or a console peer that goes away must not kill us with SIGPIPE; init.c resets it */
	signal(SIGPIPE, SIG_IGN);
	int verb_idx = optind;
	const char *verb = argv[optind];
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strcmp(verbs[i].name, verb) != 0)
			continue;
		if (verbs[i].enters && exesafe_ensure(argc, argv, &c.err) < 0) {
			isola_err_print("isola-runtime", &c.err);
			return 1;
		}
		/* each verb sees its own argv, argv[0] = the verb, and parses it from optind = 1 */
		int vi = verb_idx;
		optind = 1;
		int rc = verbs[i].fn(&c, argc - vi, &argv[vi]);
		if (rc < 0) {
			isola_err_print("isola-runtime", &c.err);
			return 1;
		}
		return rc;
	}
	fprintf(stderr, "isola-runtime: unknown command \"%s\"\n%s", verb, usage);
	return 1;
}
