/* fdscan: what a container process can reach that it should not (CVE-2024-21626, CVE-2016-9962).
 * Prints one line per open fd ("fd N TYPE TARGET"), then "cwd OK PATH" or "cwd LEAK ...". A directory fd
 * or a cwd outside the container's root is the escape the CVEs used: fchdir/openat through it reaches
 * the host. Exit 0 always; the test reads the lines. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		printf("error opendir /proc/self/fd %d\n", errno);
		return 1;
	}
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == self)
			continue;
		char link[64], target[4096] = "?";
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n >= 0)
			target[n] = 0;
		struct stat st;
		const char *type = "?";
		if (fstat(fd, &st) == 0)
			type = S_ISDIR(st.st_mode)    ? "dir"
			       : S_ISREG(st.st_mode)  ? "file"
			       : S_ISCHR(st.st_mode)  ? "chr"
			       : S_ISFIFO(st.st_mode) ? "fifo"
			       : S_ISSOCK(st.st_mode) ? "sock"
			                              : "other";
		printf("fd %d %s %s\n", fd, type, target);
	}
	closedir(d);
	/* getcwd(2) returns "(unreachable)/..." (or ENOENT) when the cwd is outside our root */
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		printf("cwd LEAK getcwd failed errno %d\n", errno);
	else if (cwd[0] != '/')
		printf("cwd LEAK %s\n", cwd);
	else {
		/* walk up with ".." until it stops moving: that must be our "/" */
		struct stat root, cur, up;
		stat("/", &root);
		int fd = open(".", O_RDONLY | O_DIRECTORY);
		for (int i = 0; i < 256; i++) {
			fstat(fd, &cur);
			int nfd = openat(fd, "..", O_RDONLY | O_DIRECTORY);
			fstat(nfd, &up);
			close(fd);
			fd = nfd;
			if (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino)
				break;
		}
		printf(cur.st_dev == root.st_dev && cur.st_ino == root.st_ino ? "cwd OK %s\n"
		                                                              : "cwd LEAK top-is-not-root %s\n",
		       cwd);
	}
	return 0;
}
