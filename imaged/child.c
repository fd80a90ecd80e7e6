#include "child.h"
#include "cleanup.h"
#include "explain.h"
#include "util.h"
#include <fcntl.h>
#include <linux/close_range.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char *read_all(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	if (len < 0)
		return strdup("");
	if (len > (1 << 20))
		len = 1 << 20;
	char *s = calloc(1, (size_t)len + 1);
	if (s && pread(fd, s, (size_t)len, 0) < 0)
		s[0] = 0;
	return s;
}

int run_tool(char *const argv[], char **out, isola_error *err)
{
	/* memfds instead of pipes: no poll loop, no deadlock on a chatty tool */
	_cleanup_close_ int ofd = memfd_create("tool-stdout", MFD_CLOEXEC);
	_cleanup_close_ int efd = memfd_create("tool-stderr", MFD_CLOEXEC);
	if (ofd < 0 || efd < 0)
		return isola_err(err, errno, "memfd_create for %s", argv[0]);
	pid_t pid = fork();
	if (pid < 0)
		return isola_err(err, errno, "fork for %s", argv[0]);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(ofd, 1) < 0 || dup2(efd, 2) < 0)
			_exit(126);
		close_range(3, ~0U, 0);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	EXPLAIN(pid, "fork(2), execve(2)", "spawn %s %s", argv[0], argv[1] ? argv[1] : "");
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return isola_err(err, errno, "wait for %s", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		_cleanup_free_ char *e = read_all(efd);
		size_t n = e ? strlen(e) : 0;
		while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
			e[--n] = 0;
		char *last = e ? strrchr(e, '\n') : NULL;
		return isola_err(err, WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ENOENT : EIO,
		                 "%s failed (%s %d): %s", argv[0], WIFEXITED(status) ? "exit" : "signal",
		                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		                 last ? last + 1 : (e && *e ? e : "no message"));
	}
	if (out)
		*out = read_all(ofd);
	return 0;
}
