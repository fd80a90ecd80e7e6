/* forks N: try to create N children that each sleep 3 s; print "forked=K" and, when a fork failed,
 * "error=EAGAIN" (pids.max answers fork with EAGAIN). A shell cannot do this: busybox sh exits on a
 * failed fork. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20, k = 0, err = 0;
	pid_t kids[1024];
	for (int i = 0; i < n && i < 1024; i++) {
		pid_t p = fork();
		if (p == 0) {
			sleep(3);
			_exit(0);
		}
		if (p < 0) {
			err = errno;
			break;
		}
		kids[k++] = p;
	}
	printf("forked=%d\n", k);
	if (err)
		printf("error=%s\n", err == EAGAIN ? "EAGAIN" : strerror(err));
	fflush(stdout);
	for (int i = 0; i < k; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
