#include "vmm/dev/serial_port.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "explain.h"
#include "log.h"
#include "vmm/evloop.h"
#include "vmm/vm.h"

int serial_port_open(const char *spec, struct serial_port *p, isola_error *err)
{
	memset(p, 0, sizeof *p);
	p->out_fd = p->in_fd = p->listen_fd = -1;
	p->in_slot = -1;
	if (!strcmp(spec, "none"))
		return 0;
	if (!strcmp(spec, "stdio")) {
		p->out_fd = STDOUT_FILENO;
		p->in_fd = STDIN_FILENO;
		return 0;
	}
	if (!strcmp(spec, "pty")) {
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		EXPLAIN(m, "posix_openpt(3), pty(7)", "posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC|O_NONBLOCK)");
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, p->path, sizeof p->path) != 0) {
			int e = errno;
			if (m >= 0)
				close(m);
			return isola_err(err, e, "allocate a pty for the serial console");
		}
		p->out_fd = p->in_fd = m;
		log_info("serial console: %s", p->path);
		return 0;
	}
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		if (strlen(spec + 5) >= sizeof a.sun_path)
			return isola_err(err, 0, "serial socket path %s is too long", spec + 5);
		strcpy(a.sun_path, spec + 5);
		strcpy(p->path, spec + 5);
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s < 0)
			return isola_err(err, errno, "socket for %s", spec);
		unlink(a.sun_path);
		if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) {
			int e = errno;
			close(s);
			return isola_err(err, e, "listen on %s", spec + 5);
		}
		chmod(a.sun_path, 0600);
		p->listen_fd = s;
		return 0;
	}
	return isola_err(err, 0, "--serial %s: want stdio, pty, unix:PATH or none", spec);
}

static void on_input(void *ctx, uint32_t events)
{
	struct serial_port *p = ctx;
	uint8_t buf[256];
	ssize_t n = read(p->in_fd, buf, sizeof buf);
	if (n > 0) {
		serial_input(p->vm, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF or error: stop watching (stdin closed, client gone). */
	evloop_mod(p->ev, p->in_slot, 0);
	if (p->listen_fd >= 0) {
		pthread_mutex_lock(&p->vm->legacy.lock);
		p->vm->legacy.serial.out_fd = -1;
		pthread_mutex_unlock(&p->vm->legacy.lock);
		close(p->in_fd);
		p->in_fd = -1;
	}
}

static void on_accept(void *ctx, uint32_t events)
{
	struct serial_port *p = ctx;
	int c = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	if (p->in_fd >= 0) { /* one client at a time */
		close(c);
		return;
	}
	isola_error err;
	p->in_fd = c;
	pthread_mutex_lock(&p->vm->legacy.lock);
	p->vm->legacy.serial.out_fd = c;
	pthread_mutex_unlock(&p->vm->legacy.lock);
	if (p->in_slot < 0)
		p->in_slot = evloop_add(p->ev, c, EPOLLIN, on_input, p, &err);
	else {
		p->ev->slot[p->in_slot].fd = c;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)p->in_slot};
		epoll_ctl(p->ev->epfd, EPOLL_CTL_ADD, c, &ev);
	}
}

int serial_port_attach(struct serial_port *p, struct vm *vm, struct evloop *ev, isola_error *err)
{
	p->vm = vm;
	p->ev = ev;
	if (p->listen_fd >= 0)
		return evloop_add(ev, p->listen_fd, EPOLLIN, on_accept, p, err) < 0 ? -1 : 0;
	if (p->in_fd < 0)
		return 0;
	/* stdin may be a file or /dev/null, which epoll refuses (EPERM): then there is no input. */
	isola_error e2;
	p->in_slot = evloop_add(ev, p->in_fd, EPOLLIN, on_input, p, &e2);
	if (p->in_slot < 0 && e2.errnum != EPERM) {
		*err = e2;
		return -1;
	}
	return 0;
}

void serial_port_close(struct serial_port *p)
{
	if (p->out_fd > STDERR_FILENO)
		close(p->out_fd);
	if (p->listen_fd >= 0) {
		close(p->listen_fd);
		unlink(p->path);
	}
}
