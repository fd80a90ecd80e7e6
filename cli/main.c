/* isola: the user-facing command. `isola [--dir DIR] [--explain] [--debug] [--log FILE] VERB ...` */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "explain.h"
#include "log.h"

static const struct {
	const char *name, *alias;
	verb_fn fn;
	const char *help;
} verbs[] = {
    {"launch", NULL, cmd_launch,
     "IMAGE NAME [--vm] [-p PROFILE]... [-c K=V]... [--network NET] [--storage POOL] [--ephemeral]"},
    {"init", "create", cmd_init, "IMAGE NAME [same options as launch]: create without starting"},
    {"start", NULL, cmd_start, "NAME... | --all-autostart [--foreground]"},
    {"stop", NULL, cmd_stop, "NAME... [--force] [--timeout S]"},
    {"restart", NULL, cmd_restart, "NAME... [--force] [--timeout S]"},
    {"pause", "freeze", cmd_pause, "NAME..."},
    {"resume", "unfreeze", cmd_resume, "NAME..."},
    {"delete", "rm", cmd_delete, "NAME... [--force]"},
    {"rename", "move", cmd_rename, "OLD NEW"},
    {"copy", "cp", cmd_copy, "SOURCE TARGET [--ephemeral]"},
    {"list", "ls", cmd_list, "[--format table|csv|json|yaml]"},
    {"info", NULL, cmd_info, "NAME"},
    {"exec", NULL, cmd_exec, "NAME [--env K=V]... [--cwd D] [--user U[:G]] [-t|-T] -- CMD..."},
    {"console", NULL, cmd_console, "NAME [--show-log]   (ctrl+a q detaches)"},
    {"file", NULL, cmd_file, "push LOCAL NAME/PATH | pull NAME/PATH LOCAL"},
    {"config", NULL, cmd_config, "get|set|unset|show|edit|device ..."},
    {"profile", NULL, cmd_profile,
     "list|show|create|copy|rename|delete|edit|get|set|unset|device|add|remove|assign ..."},
    {"snapshot", NULL, cmd_snapshot, "create|restore|delete|list NAME [SNAP]"},
    {"image", NULL, cmd_image, "import|list|show|delete|export|alias ..."},
    {"network", NULL, cmd_network, "create|list|show|set|delete|list-leases ..."},
    {"storage", NULL, cmd_storage, "list|show ..."},
    {"admin", NULL, cmd_admin, "init [--minimal | --preseed FILE] | snapshot-tick"},
    {"systemd", NULL, cmd_systemd, "install NAME | uninstall NAME"},
    {"agent", NULL, cmd_agent, "ping|exec|push|pull ADDRESS ...: a VM guest agent, directly"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: isola [--dir DIR] [--explain] [--debug] [--log FILE] VERB ...\n\nverbs:\n");
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\nstate: $ISOLA_DIR (default /var/lib/isola); sockets: $ISOLA_RUN_DIR (default /run/isola)\n");
}

int cli_manager(struct cli *c, isola_error *err)
{
	if (c->opened)
		return 0;
	if (manager_open(&c->m, err) < 0)
		return -1;
	c->m.progress = progress_bar;
	c->opened = true;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
	                                     {"explain", no_argument, NULL, 'x'},
	                                     {"debug", no_argument, NULL, 'D'},
	                                     {"log", required_argument, NULL, 'l'},
	                                     {"log-format", required_argument, NULL, 'f'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {NULL, 0, NULL, 0}};
	/* fds 0-2 closed by our caller: the next socket would take one, and exec would relay a command's
	 * output into its own agent connection (or read "stdin" from it). /dev/null takes their place. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
			return 125;
	const char *logfile = NULL;
	bool debug = false, json_log = false;
	int o;
	/* "+": stop at the verb, whose own options follow it */
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'd': setenv("ISOLA_DIR", optarg, 1); break;
		case 'x': explain_enabled = true; break;
		case 'D': debug = true; break;
		case 'l': logfile = optarg; break;
		case 'f': json_log = !strcmp(optarg, "json"); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("isola 0.1\n"); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	log_init("isola", logfile, json_log, debug);
	signal(SIGPIPE, SIG_IGN);
	const char *verb = argv[optind];
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strcmp(verb, verbs[i].name) && (!verbs[i].alias || strcmp(verb, verbs[i].alias)))
			continue;
		struct cli c = {.prog = "isola"};
		isola_error err = {0};
		int v = optind;
		optind = 0; /* glibc: 0 fully re-initialises getopt for the verb's own options */
		int rc = verbs[i].fn(&c, argc - v, argv + v, &err);
		progress_done();
		if (c.opened)
			manager_close(&c.m);
		if (rc < 0) {
			isola_err_print("isola", &err);
			return err.errnum == EINVAL && !strncmp(err.msg, "usage:", 6) ? 2 : 1;
		}
		return rc;
	}
	fprintf(stderr, "isola: unknown verb \"%s\" (isola --help lists them)\n", verb);
	return 2;
}
