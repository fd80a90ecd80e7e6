/* Foreground run/exec: signal forwarding, and the pty proxy for -t (raw mode, SIGWINCH). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "runtime/cli/cli.h"

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD};

static sigset_t forwarded_set(void)
{
	sigset_t s;
	sigemptyset(&s);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&s, forwarded[i]);
	return s;
}

void cli_block_signals(void)
{
	sigset_t s = forwarded_set();
	sigprocmask(SIG_BLOCK, &s, NULL);
}

struct raw_tty {
	int fd;
	struct termios saved;
	bool active;
};

static void raw_restore(struct raw_tty *t)
{
	if (t->active)
		tcsetattr(t->fd, TCSAFLUSH, &t->saved);
}

static void copy_winsize(int from, int to)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* Copy what is readable on from to to; false on EOF/error. */
static bool pump(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof buf);
	if (n <= 0)
		return n < 0 && (errno == EINTR || errno == EAGAIN);
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false;
		off += w;
	}
	return true;
}

int cli_supervise(pid_t pid, int master, isola_error *err)
{
	sigset_t s = forwarded_set();
	_cleanup_close_ int sfd = signalfd(-1, &s, SFD_CLOEXEC);
	if (sfd < 0)
		return isola_err(err, errno, "signalfd");
	_cleanup_(raw_restore) struct raw_tty tty = {.fd = STDIN_FILENO};
	bool in_open = master >= 0, out_open = master >= 0;
	if (master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tty.saved) == 0) {
		struct termios raw = tty.saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
			tty.active = true;
		copy_winsize(STDIN_FILENO, master);
	}
	for (;;) {
		struct pollfd p[3] = {
		    {sfd, POLLIN, 0}, {in_open ? STDIN_FILENO : -1, POLLIN, 0}, {out_open ? master : -1, POLLIN, 0}};
		int r = poll(p, 3, -1);
		if (r < 0 && errno != EINTR)
			return isola_err(err, errno, "poll");
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGWINCH && master >= 0)
					copy_winsize(STDIN_FILENO, master);
				else if (si.ssi_signo != SIGCHLD)
					kill(pid, (int)si.ssi_signo);
			}
			int status;
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				EXPLAIN(w, "wait(2)", "waitpid(%d, {%s %d}, WNOHANG)", pid,
				        WIFEXITED(status) ? "exited" : "killed by",
				        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
				/* drain what the container wrote last */
				while (out_open && poll(&p[2], 1, 0) > 0 && (p[2].revents & POLLIN) &&
				       pump(master, STDOUT_FILENO))
					;
				return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			}
		}
		if (p[1].revents & POLLNVAL)
			in_open = false;
		if (p[2].revents & POLLNVAL)
			out_open = false;
		if (p[1].revents & (POLLIN | POLLHUP)) {
			if (!pump(STDIN_FILENO, master))
				in_open = false;
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!pump(master, STDOUT_FILENO))
				out_open = false;
		}
	}
}
