/* `isola agent`: talk to an isola-agent at an address directly — what `exec`/`file` do for a VM, without
 * the instance around it. For debugging a guest's agent (vsock:CID:PORT) and for the tests (unix:PATH).
 *   isola agent ping ADDRESS
 *   isola agent exec ADDRESS [--env K=V]... [--cwd D] [--user U[:G]] [-t|-T] -- CMD...
 *   isola agent push ADDRESS LOCAL PATH [--uid N] [--gid N] [--mode OCTAL]
 *   isola agent pull ADDRESS PATH LOCAL                      ("-" = stdin/stdout) */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"
#include "manager/agent.h"

static const char agent_usage[] =
    "isola agent ping ADDRESS | exec ADDRESS [--env K=V]... [--cwd D] [--user U[:G]] [-t|-T] -- CMD... | "
    "push ADDRESS LOCAL PATH [--uid N] [--gid N] [--mode OCTAL] | pull ADDRESS PATH LOCAL "
    "(ADDRESS: vsock:CID:PORT or unix:PATH)";

int cmd_agent(struct cli *c, int argc, char **argv, isola_error *err)
{
	static const struct option opts[] = {{"env", required_argument, NULL, 'e'},
	                                     {"cwd", required_argument, NULL, 'w'},
	                                     {"user", required_argument, NULL, 'U'},
	                                     {"uid", required_argument, NULL, 'u'},
	                                     {"gid", required_argument, NULL, 'g'},
	                                     {"mode", required_argument, NULL, 'm'},
	                                     {"force-interactive", no_argument, NULL, 't'},
	                                     {"force-noninteractive", no_argument, NULL, 'T'},
	                                     {NULL, 0, NULL, 0}};
	if (argc < 3)
		return usage_err(err, agent_usage);
	const char *sub = argv[1], *addr = argv[2];
	char **av = argv + 2;
	int ac = argc - 2;
	_cleanup_free_ char **env = calloc((size_t)argc + 1, sizeof *env);
	if (!env)
		return isola_err(err, ENOMEM, "agent");
	size_t nenv = 0;
	struct exec_opts eo = {0};
	int tty = -1, uid = -1, gid = -1, mode = -1, o;
	/* exec stops at the command ("+"); push/pull take options anywhere */
	while ((o = getopt_long(ac, av, strcmp(sub, "exec") ? "e:tT" : "+e:tT", opts, NULL)) != -1) {
		switch (o) {
		case 'e':
			if (!strchr(optarg, '='))
				return isola_err(err, EINVAL, "--env \"%s\": expected KEY=VALUE", optarg);
			env[nenv++] = optarg;
			break;
		case 'w': eo.cwd = optarg; break;
		case 'U': eo.user = optarg; break;
		case 'u': uid = atoi(optarg); break;
		case 'g': gid = atoi(optarg); break;
		case 'm': mode = (int)strtol(optarg, NULL, 8); break;
		case 't': tty = 1; break;
		case 'T': tty = 0; break;
		default: return usage_err(err, agent_usage);
		}
	}
	int wait_ms = agent_wait_ms();
	if (!strcmp(sub, "ping") && optind == ac) {
		_cleanup_json_ json_t *info = NULL;
		if (agent_client_ping(addr, wait_ms, &info, err) < 0)
			return -1;
		print_json(info);
		return 0;
	}
	if (!strcmp(sub, "exec") && optind < ac) {
		eo.argv = av + optind;
		eo.env = env;
		eo.tty = tty >= 0 ? tty : (isatty(0) && isatty(1));
		int status = 0;
		if (agent_client_exec(addr, wait_ms, &eo, &status, err) < 0)
			return -1;
		return status;
	}
	if (!strcmp(sub, "push") && ac - optind == 2) {
		const char *local = av[optind];
		_cleanup_close_ int fd = strcmp(local, "-") ? open(local, O_RDONLY | O_CLOEXEC) : dup(0);
		if (fd < 0)
			return isola_err(err, errno, "open %s", local);
		struct stat st;
		if (mode < 0 && strcmp(local, "-") && fstat(fd, &st) == 0)
			mode = (int)(st.st_mode & 07777);
		return agent_client_push(addr, wait_ms, fd, av[optind + 1], uid, gid, mode, err);
	}
	if (!strcmp(sub, "pull") && ac - optind == 2) {
		const char *local = av[optind + 1];
		_cleanup_close_ int fd =
		    strcmp(local, "-") ? open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : dup(1);
		if (fd < 0)
			return isola_err(err, errno, "open %s", local);
		return agent_client_pull(addr, wait_ms, av[optind], fd, err);
	}
	return usage_err(err, agent_usage);
}
