/* NOTIFY_SOCKET proxy; see notify.h. */
#include "runtime/notify.h"
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"

static socklen_t fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n >= sizeof sa->sun_path)
		n = sizeof sa->sun_path - 1;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@') /* abstract namespace, as systemd writes it */
		sa->sun_path[0] = 0;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
}

int notify_proxy_open(struct notify_proxy *np, const char *state_dir, const char *host_socket, isola_error *err)
{
	snprintf(np->host, sizeof np->host, "%s", host_socket);
	char p[4200];
	snprintf(p, sizeof p, "%s/notify/notify.sock", state_dir);
	struct sockaddr_un sa;
	if (strlen(p) >= sizeof sa.sun_path)
		return isola_err(err, ENAMETOOLONG, "notify socket %s", p);
	np->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (np->fd < 0)
		return isola_err(err, errno, "socket");
	unlink(p);
	socklen_t l = fill_addr(&sa, p);
	int r = bind(np->fd, (struct sockaddr *)&sa, l);
	EXPLAIN(r, "bind(2), sd_notify(3)", "bind(%d, \"%s\")  /* NOTIFY_SOCKET inside the container */", np->fd, p);
	if (r < 0)
		return isola_err(err, errno, "bind %s", p);
	/* any uid of the container may notify, as with systemd's own socket */
	chmod(p, 0777);
	return 0;
}

int notify_proxy_forward(struct notify_proxy *np, pid_t pid, isola_error *err)
{
	char buf[4096];
	/* a container that exits (or never speaks sd_notify and dies) must not leave us waiting forever */
	_cleanup_close_ int pfd = pidfd_open(pid, 0);
	for (;;) {
		struct pollfd p[2] = {{np->fd, POLLIN, 0}, {pfd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return isola_err(err, errno, "poll notify socket");
		}
		if (!(p[0].revents & POLLIN) && (p[1].revents & POLLIN))
			return isola_err(err, ECHILD, "container init %d exited before sending READY=1", pid);
		if (!(p[0].revents & POLLIN))
			continue;
		ssize_t n = recv(np->fd, buf, sizeof buf - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isola_err(err, errno, "read notify socket");
		buf[n] = 0;
		/* each line is KEY=VALUE; READY=1 is what the caller waits for */
		if (!strstr(buf, "READY=1"))
			continue;
		char out[4200];
		int len = snprintf(out, sizeof out, "%s%sMAINPID=%d\n", buf, n && buf[n - 1] != '\n' ? "\n" : "", pid);
		_cleanup_close_ int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa;
		socklen_t l = fill_addr(&sa, np->host);
		ssize_t w = s < 0 ? -1 : sendto(s, out, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&sa, l);
		EXPLAIN(w, "sendto(2), sd_notify(3)", "sendto(\"%s\", \"READY=1 MAINPID=%d\")", np->host, pid);
		if (w < 0)
			return isola_err(err, errno, "forward READY=1 to %s", np->host);
		return 0;
	}
}

void notify_proxy_close(struct notify_proxy *np)
{
	closep(&np->fd);
}
