/* The device thread: one epoll loop over ioeventfds (virtqueue notifications), the tap fd and console
 * input. Handlers run on that thread only, so device back ends need no locking among themselves; they
 * still take their device's lock against vCPU-thread register accesses. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"

#define EVLOOP_MAX 128

typedef void (*evloop_fn)(void *ctx, uint32_t events);

struct evloop {
	int epfd;
	int stop_efd;
	pthread_t thread;
	bool started;
	unsigned n;
	struct evloop_slot {
		int fd;
		evloop_fn fn;
		void *ctx;
	} slot[EVLOOP_MAX];
};

int evloop_init(struct evloop *l, isola_error *err);
/* Watch fd for events (EPOLLIN...); fn(ctx, events) runs on the device thread. Returns a slot id. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *ctx, isola_error *err);
/* Change the events watched on slot id (0 = pause it). */
int evloop_mod(struct evloop *l, int id, uint32_t events);
int evloop_start(struct evloop *l, isola_error *err);
void evloop_stop(struct evloop *l);
