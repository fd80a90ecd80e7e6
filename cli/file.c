/* file push / pull: `isola file push LOCAL NAME/PATH`, `isola file pull NAME/PATH LOCAL` ("-" = stdio). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"

static const char file_usage[] =
    "isola file push LOCAL NAME/PATH [--uid N] [--gid N] [--mode OCTAL] | isola file pull NAME/PATH LOCAL";

static int split_target(char *s, char **name, char **path, isola_error *err)
{
	char *slash = strchr(s, '/');
	if (!slash || slash == s)
		return isola_err(err, EINVAL, "\"%s\": expected NAME/PATH", s);
	*slash = 0;
	*name = s;
	*path = slash; /* keep the leading '/' by writing it back below */
	return 0;
}

int cmd_file(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {{"uid", required_argument, NULL, 'u'},
	                                     {"gid", required_argument, NULL, 'g'},
	                                     {"mode", required_argument, NULL, 'm'},
	                                     {NULL, 0, NULL, 0}};
	if (argc < 2)
		return usage_err(err, file_usage);
	const char *sub = argv[1];
	int uid = -1, gid = -1, mode = -1, o;
	char **av = argv + 1;
	int ac = argc - 1;
	while ((o = getopt_long(ac, av, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': uid = atoi(optarg); break;
		case 'g': gid = atoi(optarg); break;
		case 'm': mode = (int)strtol(optarg, NULL, 8); break;
		default: return usage_err(err, file_usage);
		}
	}
	if (ac - optind != 2)
		return usage_err(err, file_usage);
	if (cli_manager(c, err) < 0)
		return -1;
	char *name = NULL, *path = NULL;
	if (!strcmp(sub, "push")) {
		const char *local = av[optind];
		char target[4200];
		snprintf(target, sizeof target, "%s", av[optind + 1]);
		if (split_target(target, &name, &path, err) < 0)
			return -1;
		char abs[4200];
		snprintf(abs, sizeof abs, "/%s", path + 1);
		_cleanup_close_ int fd = strcmp(local, "-") ? open(local, O_RDONLY | O_CLOEXEC) : dup(0);
		if (fd < 0)
			return isola_err(err, errno, "open %s", local);
		struct stat st;
		if (mode < 0 && strcmp(local, "-") && fstat(fd, &st) == 0)
			mode = (int)(st.st_mode & 07777); /* incus keeps the local mode by default */
		return instance_file_push(&c->m, name, fd, abs, uid, gid, mode, err);
	}
	if (!strcmp(sub, "pull")) {
		char src[4200];
		snprintf(src, sizeof src, "%s", av[optind]);
		const char *local = av[optind + 1];
		if (split_target(src, &name, &path, err) < 0)
			return -1;
		char abs[4200];
		snprintf(abs, sizeof abs, "/%s", path + 1);
		char tmp[4200];
		_cleanup_close_ int fd = -1;
		if (!strcmp(local, "-")) {
			fd = dup(1);
		} else {
			struct stat st;
			char localp[4200];
			/* a directory target gets the file's own name, as cp does */
			if (stat(local, &st) == 0 && S_ISDIR(st.st_mode)) {
				const char *base = strrchr(abs, '/');
				snprintf(localp, sizeof localp, "%s/%s", local, base + 1);
			} else {
				snprintf(localp, sizeof localp, "%s", local);
			}
			snprintf(tmp, sizeof tmp, "%s", localp);
			fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		}
		if (fd < 0)
			return isola_err(err, errno, "open %s", local);
		return instance_file_pull(&c->m, name, abs, fd, err);
	}
	return usage_err(err, file_usage);
}
