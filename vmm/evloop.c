#include "vmm/evloop.h"
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "explain.h"
#include "log.h"
#include "vmm/sandbox.h"

int evloop_init(struct evloop *l, isola_error *err)
{
	memset(l, 0, sizeof *l);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	EXPLAIN(l->epfd, "epoll_create1(2)", "epoll_create1(EPOLL_CLOEXEC)  /* device thread */");
	if (l->epfd < 0)
		return isola_err(err, errno, "epoll_create1");
	l->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_efd < 0)
		return isola_err(err, errno, "eventfd");
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EVLOOP_MAX};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_efd, &ev) < 0)
		return isola_err(err, errno, "epoll_ctl stop eventfd");
	return 0;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *ctx, isola_error *err)
{
	if (l->n >= EVLOOP_MAX)
		return isola_err(err, 0, "device thread watches too many fds (%d)", EVLOOP_MAX);
	unsigned id = l->n;
	l->slot[id] = (struct evloop_slot){.fd = fd, .fn = fn, .ctx = ctx};
	struct epoll_event ev = {.events = events, .data.u32 = id};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return isola_err(err, errno, "epoll_ctl add fd %d", fd);
	l->n++;
	return (int)id;
}

int evloop_mod(struct evloop *l, int id, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)id};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->slot[id].fd, &ev);
}

static void *evloop_thread(void *arg)
{
	struct evloop *l = arg;
	pthread_setname_np(pthread_self(), "devices");
	isola_error err;
	if (sandbox_thread(SANDBOX_DEVICE, &err) < 0) {
		log_error("device thread: %s", err.msg);
		return NULL;
	}
	for (;;) {
		struct epoll_event evs[32];
		int n = epoll_wait(l->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;
			if (id == EVLOOP_MAX)
				return NULL;
			if (id < l->n)
				l->slot[id].fn(l->slot[id].ctx, evs[i].events);
		}
	}
	return NULL;
}

int evloop_start(struct evloop *l, isola_error *err)
{
	int r = pthread_create(&l->thread, NULL, evloop_thread, l);
	if (r)
		return isola_err(err, r, "start the device thread");
	l->started = true;
	return 0;
}

void evloop_stop(struct evloop *l)
{
	if (l->started) {
		uint64_t one = 1;
		if (write(l->stop_efd, &one, sizeof one) < 0) {
			/* eventfd write of 1 cannot fail short of EAGAIN on overflow */
		}
		pthread_join(l->thread, NULL);
		l->started = false;
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stop_efd >= 0)
		close(l->stop_efd);
}
