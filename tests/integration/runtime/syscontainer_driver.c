/* Drives the library's system-container mode (runtime.h struct runtime_system_opts) for the integration
 * test: a pty master held by the caller becomes the container's /dev/console and init's stdio,
 * container=isola is in init's environment, and runtime_stop() sends the stop signal (SIGRTMIN+3) before
 * killing. Usage: rt-syscontainer STATE_ROOT BUNDLE ID. Prints what the console showed, then "stopped". */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runtime/runtime.h"

static void die(const char *what, const isola_error *e)
{
	char buf[1200];
	fprintf(stderr, "%s: %s\n", what, isola_err_str(e, buf, sizeof buf));
	exit(1);
}

/* Read the console until needle shows up (or 10 s pass); echo it to stdout. */
static void read_until(int master, const char *needle)
{
	char acc[8192] = "";
	size_t len = 0;
	for (int i = 0; i < 200 && !strstr(acc, needle); i++) {
		struct pollfd p = {master, POLLIN, 0};
		if (poll(&p, 1, 50) > 0 && (p.revents & POLLIN)) {
			ssize_t n = read(master, acc + len, sizeof acc - 1 - len);
			if (n > 0) {
				len += (size_t)n;
				acc[len] = 0;
			}
		}
	}
	fputs(acc, stdout);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: rt-syscontainer STATE_ROOT BUNDLE ID\n");
		return 2;
	}
	isola_error err = {0};
	struct runtime_ctx ctx = {.state_root = argv[1], .cgroup_manager = RUNTIME_CGROUP_CGROUPFS};
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		perror("posix_openpt");
		return 1;
	}
	struct runtime_create_opts o = {.bundle = argv[2], .console_socket_fd = -1, .stdio = RUNTIME_STDIO_INHERIT};
	o.system = (struct runtime_system_opts){
	    .enabled = true, .uuid = "0f1e2d3c-0000-4000-8000-00000000abcd", .console_master = master};
	pid_t pid = runtime_create(&ctx, argv[3], &o, &err);
	if (pid < 0)
		die("create", &err);
	if (runtime_start(&ctx, argv[3], &err) < 0)
		die("start", &err);
	read_until(master, "SYSTEM-READY");
	struct runtime_state st;
	if (runtime_state(&ctx, argv[3], &st, &err) < 0)
		die("state", &err);
	printf("\nstop_signal=%d\n", st.stop_signal);
	if (runtime_stop(&ctx, argv[3], 5000, &err) < 0)
		die("stop", &err);
	read_until(master, "got-stop");
	int status = 0;
	waitpid(pid, &status, 0);
	printf("\nexit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	if (runtime_delete(&ctx, argv[3], false, &err) < 0)
		die("delete", &err);
	printf("stopped\n");
	return 0;
}
