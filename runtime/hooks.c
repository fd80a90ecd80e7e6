/* Hook execution; see hooks.h. */
#include "runtime/hooks.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "runtime/process.h"

static int run_one(const struct rt_hook *h, const char *name, const char *state_json, isola_error *err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return isola_err(err, errno, "%s: pipe", name);
	_cleanup_close_ int rd = pipefd[0], wr = pipefd[1];
	int pidfd = -1;
	pid_t pid = process_clone3(0, -1, &pidfd, err);
	if (pid < 0)
		return isola_err_wrap(err, "%s", name);
	if (pid == 0) {
		dup2(rd, 0);
		char *const argv0[] = {h->path, NULL};
		char *const envp0[] = {NULL};
		execve(h->path, h->args ? h->args : argv0, h->env ? h->env : envp0);
		_exit(127);
	}
	_cleanup_close_ int pfd = pidfd;
	EXPLAIN(pid, "runtime-spec config.md Hooks", "run hook %s %s", name, h->path);
	closep(&rd);
	/* A hook that does not read its stdin must not block us: the state is small (< pipe buffer) and
	 * SIGPIPE is avoided by ignoring the write error. */
	size_t len = strlen(state_json);
	ssize_t w = write(wr, state_json, len);
	(void)w;
	closep(&wr);
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, h->timeout > 0 ? h->timeout * 1000 : -1);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		pidfd_send_signal(pfd, SIGKILL, NULL, 0);
		waitpid(pid, NULL, 0);
		return isola_err(err, ETIMEDOUT, "%s %s: timed out after %d s", name, h->path, h->timeout);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return isola_err(err, errno, "%s %s: wait", name, h->path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return isola_err(err, 0, "%s %s: exited with status %d%s", name, h->path, WEXITSTATUS(status),
		                 WEXITSTATUS(status) == 127 ? " (could not be executed)" : "");
	return isola_err(err, 0, "%s %s: killed by signal %d", name, h->path, WTERMSIG(status));
}

int hooks_run(const struct rt_config *cfg, enum rt_hook_kind kind, const char *state_json, isola_error *err)
{
	for (size_t i = 0; i < cfg->n_hooks[kind]; i++) {
		char name[64];
		snprintf(name, sizeof name, "hooks.%s[%zu]", config_hook_name(kind), i);
		if (run_one(&cfg->hooks[kind][i], name, state_json, err) < 0)
			return -1;
	}
	return 0;
}
